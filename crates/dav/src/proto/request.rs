//! Request builders: each returns the method, path, headers and body of one WebDAV request.

use pimlink_core::dav::store::{CollectionKind, Etag, MetaProperty, SyncToken};
use quick_xml::escape::escape;

use super::stamp::ChangeStamp;
use super::{APPLE_ICAL, CALDAV, CALENDARSERVER, CARDDAV, DAV};

/// The `Depth` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// The resource itself.
    Zero,
    /// The resource and its direct members.
    One,
}

/// The condition of a PUT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// `If-None-Match: *`: only if nothing is there yet.
    Create,
    /// `If-Match: <etag>`: only if the item is still at this version.
    IfMatch(Etag),
}

/// One HTTP request, ready for a transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method (`PROPFIND`, `REPORT`, ...).
    pub method: &'static str,
    /// The target: an absolute path (canonical href) or a full URL.
    pub target: String,
    /// Extra headers (Depth, If-Match, Content-Type, ...).
    pub headers: Vec<(&'static str, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

impl Request {
    fn new(method: &'static str, target: &str) -> Self {
        Self {
            method,
            target: target.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn depth(mut self, depth: Depth) -> Self {
        let value = match depth {
            Depth::Zero => "0",
            Depth::One => "1",
        };
        self.headers.push(("Depth", value.to_owned()));
        self
    }

    fn xml(mut self, body: String) -> Self {
        self.headers
            .push(("Content-Type", "application/xml; charset=utf-8".to_owned()));
        self.body = Some(format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}"
        ));
        self
    }

    /// The value of header `name`, if the request has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The namespace declarations every request body uses, so property names can be prefixed.
const XMLNS: &str = r#"xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:ic="http://apple.com/ns/ical/" xmlns:cs="http://calendarserver.org/ns/""#;

fn prefix(ns: &str) -> &'static str {
    match ns {
        CALDAV => "c",
        CARDDAV => "cr",
        APPLE_ICAL => "ic",
        CALENDARSERVER => "cs",
        _ => "d",
    }
}

fn prop_list(props: &[(&str, &str)]) -> String {
    props
        .iter()
        .map(|(ns, name)| format!("<{}:{name}/>", prefix(ns)))
        .collect()
}

/// `PROPFIND` for the given properties.
pub fn propfind(target: &str, depth: Depth, props: &[(&str, &str)]) -> Request {
    Request::new("PROPFIND", target).depth(depth).xml(format!(
        "<d:propfind {XMLNS}><d:prop>{}</d:prop></d:propfind>",
        prop_list(props)
    ))
}

/// The properties that describe a collection. Deliberately neither `sync-token` nor `getctag`:
/// servers compute those per request from every item (Radicale 3: 0.9 s and 0.2 s for a home
/// of 7,000 items), and the sync only needs to know whether sync-collection is offered.
pub const COLLECTION_PROPS: [(&str, &str); 7] = [
    (DAV, "resourcetype"),
    (DAV, "displayname"),
    (DAV, "supported-report-set"),
    (APPLE_ICAL, "calendar-color"),
    (CALDAV, "calendar-description"),
    (CARDDAV, "addressbook-description"),
    (CALDAV, "supported-calendar-component-set"),
];

/// Depth-1 `PROPFIND` on a home set: its collections and their metadata, and each one's change
/// stamp if `stamp` asks for one, which lets a run skip a collection that did not change
/// without asking it anything more (see [`super::stamp`]). Only on request: servers that store
/// the ctag answer it at no cost, but Radicale 3 computes it from every item of every
/// collection in the home (about 1 s for 7,000 items on a loaded machine, as much as one
/// sync-collection REPORT per collection); its `getlastmodified` costs a `stat` per item
/// (0.08 s for 7,000), which is why the default ([`ChangeStamp::Auto`]) asks for that one.
pub fn list_collections(home: &str, stamp: ChangeStamp) -> Request {
    let mut props = COLLECTION_PROPS.to_vec();
    match stamp {
        ChangeStamp::Off => {}
        ChangeStamp::Ctag => props.push((CALENDARSERVER, "getctag")),
        ChangeStamp::LastModified | ChangeStamp::Auto => props.push((DAV, "getlastmodified")),
    }
    propfind(home, Depth::One, &props)
}

/// Depth-1 `PROPFIND` on a collection: every member's etag.
pub fn list_etags(collection: &str) -> Request {
    propfind(
        collection,
        Depth::One,
        &[(DAV, "resourcetype"), (DAV, "getetag")],
    )
}

/// Where a metadata property lives for a collection kind.
pub fn meta_property(kind: CollectionKind, property: MetaProperty) -> (&'static str, &'static str) {
    match (property, kind) {
        (MetaProperty::DisplayName, _) => (DAV, "displayname"),
        (MetaProperty::Color, _) => (APPLE_ICAL, "calendar-color"),
        (MetaProperty::Description, CollectionKind::Calendar) => (CALDAV, "calendar-description"),
        (MetaProperty::Description, CollectionKind::AddressBook) => {
            (CARDDAV, "addressbook-description")
        }
    }
}

/// `calendar-multiget` / `addressbook-multiget` (RFC 4791 7.9, RFC 6352 8.7) for `hrefs`
/// (canonical paths).
pub fn multiget(kind: CollectionKind, collection: &str, hrefs: &[String]) -> Request {
    let (report, data) = match kind {
        CollectionKind::Calendar => ("c:calendar-multiget", "c:calendar-data"),
        CollectionKind::AddressBook => ("cr:addressbook-multiget", "cr:address-data"),
    };
    let hrefs: String = hrefs
        .iter()
        .map(|h| format!("<d:href>{}</d:href>", escape(h.as_str())))
        .collect();
    Request::new("REPORT", collection)
        .depth(Depth::One)
        .xml(format!(
            "<{report} {XMLNS}><d:prop><d:getetag/><{data}/></d:prop>{hrefs}</{report}>"
        ))
}

/// `sync-collection` (RFC 6578) from `token`, or from the beginning without one.
pub fn sync_collection(collection: &str, token: Option<&SyncToken>) -> Request {
    let token = token
        .map(|t| escape(t.as_str()).into_owned())
        .unwrap_or_default();
    // RFC 6578 3.2: the Depth header must be 0 (the scope is the sync-level element).
    Request::new("REPORT", collection)
        .depth(Depth::Zero)
        .xml(format!(
            "<d:sync-collection {XMLNS}><d:sync-token>{token}</d:sync-token>\
         <d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"
        ))
}

/// `PUT` of an item with a precondition.
pub fn put(kind: CollectionKind, href: &str, data: &str, precondition: &Precondition) -> Request {
    let mut request = Request::new("PUT", href);
    request
        .headers
        .push(("Content-Type", kind.media_type().to_owned()));
    match precondition {
        Precondition::Create => request.headers.push(("If-None-Match", "*".to_owned())),
        Precondition::IfMatch(etag) => request.headers.push(("If-Match", etag.to_string())),
    }
    request.body = Some(data.to_owned());
    request
}

/// `DELETE` of an item if it is still at `etag`.
pub fn delete(href: &str, etag: &Etag) -> Request {
    let mut request = Request::new("DELETE", href);
    request.headers.push(("If-Match", etag.to_string()));
    request
}

/// `DELETE` of a collection.
pub fn delete_collection(collection: &str) -> Request {
    Request::new("DELETE", collection)
}

/// `GET` of a resource (a webcal feed).
pub fn get(target: &str) -> Request {
    Request::new("GET", target)
}

/// `MKCALENDAR` (RFC 4791 5.3.1) for a calendar, extended `MKCOL` (RFC 5689) for an address
/// book.
pub fn make_collection(kind: CollectionKind, collection: &str) -> Request {
    match kind {
        CollectionKind::Calendar => Request::new("MKCALENDAR", collection),
        CollectionKind::AddressBook => Request::new("MKCOL", collection).xml(format!(
            "<d:mkcol {XMLNS}><d:set><d:prop><d:resourcetype><d:collection/><cr:addressbook/>\
             </d:resourcetype></d:prop></d:set></d:mkcol>"
        )),
    }
}

/// `PROPPATCH` setting (or with `None` removing) one property.
pub fn proppatch(target: &str, property: (&str, &str), value: Option<&str>) -> Request {
    let (ns, name) = property;
    let tag = format!("{}:{name}", prefix(ns));
    let action = match value {
        Some(value) => format!(
            "<d:set><d:prop><{tag}>{}</{tag}></d:prop></d:set>",
            escape(value)
        ),
        None => format!("<d:remove><d:prop><{tag}/></d:prop></d:remove>"),
    };
    Request::new("PROPPATCH", target).xml(format!(
        "<d:propertyupdate {XMLNS}>{action}</d:propertyupdate>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::xml;

    #[test]
    fn a_change_stamp_is_asked_only_on_request() {
        let body = |stamp| list_collections("/home/", stamp).body.unwrap_or_default();
        // (stamp, asks getctag, asks getlastmodified)
        let table = [
            (ChangeStamp::Off, false, false),
            (ChangeStamp::Ctag, true, false),
            (ChangeStamp::LastModified, false, true),
            (ChangeStamp::Auto, false, true),
        ];
        for (stamp, ctag, modified) in table {
            let body = body(stamp);
            assert_eq!(body.contains("<cs:getctag/>"), ctag, "{stamp:?}");
            assert_eq!(body.contains("<d:getlastmodified/>"), modified, "{stamp:?}");
            // Never the properties Radicale computes from every item.
            assert!(
                !body.contains("getetag") && !body.contains("sync-token"),
                "{body}"
            );
        }
    }

    #[test]
    fn bodies_are_well_formed_and_escaped() {
        let requests = [
            list_collections("/home/", ChangeStamp::Off),
            list_collections("/home/", ChangeStamp::Ctag),
            list_collections("/home/", ChangeStamp::LastModified),
            list_etags("/home/cal/"),
            multiget(
                CollectionKind::Calendar,
                "/c/",
                &["/c/a&b.ics".to_owned(), "/c/x.ics".to_owned()],
            ),
            multiget(CollectionKind::AddressBook, "/c/", &["/c/x.vcf".to_owned()]),
            sync_collection("/c/", Some(&SyncToken::new("http://t/<1>"))),
            make_collection(CollectionKind::AddressBook, "/c/"),
            proppatch("/c/", (APPLE_ICAL, "calendar-color"), Some("#ff0000 & <b>")),
            proppatch("/c/", (DAV, "displayname"), None),
        ];
        for request in requests {
            let body = request.body.as_deref().unwrap();
            let root = xml::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
            assert!(!root.name.is_empty());
        }
        let get = multiget(CollectionKind::Calendar, "/c/", &["/c/a&b.ics".to_owned()]);
        let root = xml::parse(get.body.as_deref().unwrap()).unwrap();
        assert!(root.is(CALDAV, "calendar-multiget"));
        assert_eq!(root.child(DAV, "href").unwrap().text, "/c/a&b.ics");
        assert!(root.find(CALDAV, "calendar-data").is_some());
        assert_eq!(get.header("depth"), Some("1"));

        let patch = proppatch("/c/", (APPLE_ICAL, "calendar-color"), Some("#ff0000 & <b>"));
        let root = xml::parse(patch.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            root.find(APPLE_ICAL, "calendar-color").unwrap().text,
            "#ff0000 & <b>"
        );

        let sync = sync_collection("/c/", Some(&SyncToken::new("http://t/<1>")));
        let root = xml::parse(sync.body.as_deref().unwrap()).unwrap();
        assert_eq!(root.child(DAV, "sync-token").unwrap().text, "http://t/<1>");
        assert_eq!(sync.header("Depth"), Some("0"));
    }

    #[test]
    fn puts_carry_their_precondition() {
        let create = put(
            CollectionKind::Calendar,
            "/c/x.ics",
            "DATA",
            &Precondition::Create,
        );
        assert_eq!(create.header("If-None-Match"), Some("*"));
        assert_eq!(create.header("If-Match"), None);
        assert!(
            create
                .header("Content-Type")
                .unwrap()
                .starts_with("text/calendar")
        );
        let update = put(
            CollectionKind::AddressBook,
            "/c/x.vcf",
            "DATA",
            &Precondition::IfMatch(Etag::new("\"e1\"")),
        );
        assert_eq!(update.header("If-Match"), Some("\"e1\""));
        assert!(
            update
                .header("Content-Type")
                .unwrap()
                .starts_with("text/vcard")
        );
        assert_eq!(update.body.as_deref(), Some("DATA"));
        assert_eq!(
            delete("/c/x", &Etag::new("\"e\"")).header("If-Match"),
            Some("\"e\"")
        );
    }
}
