//! `207 Multi-Status` bodies and what they answer: principals, home sets, collections, etags,
//! multiget items and sync-collection changes.

use pimlink_core::dav::store::{CollectionKind, CollectionMeta, CollectionState, Etag, SyncToken};

use super::href::canonical;
use super::xml::{self, Element};
use super::{APPLE_ICAL, CALDAV, CALENDARSERVER, CARDDAV, DAV, ProtoError};

/// One `<response>`: an href, its own status (for whole-resource answers such as a deleted
/// member in sync-collection) and the properties that came back with a 2xx status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The canonical href.
    pub href: String,
    /// The response-level status code, if given.
    pub status: Option<u16>,
    /// `<prop>` elements of propstats with a 2xx status.
    pub found: Vec<Element>,
}

impl Response {
    /// The first found property `{ns}name`.
    pub fn prop(&self, ns: &str, name: &str) -> Option<&Element> {
        self.found.iter().find_map(|prop| prop.child(ns, name))
    }

    /// A found property's text, trimmed, if it is not empty.
    pub fn text(&self, ns: &str, name: &str) -> Option<String> {
        self.prop(ns, name)
            .map(|e| e.text.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// The first `<href>` inside a found property (current-user-principal, home sets).
    pub fn href_in(&self, ns: &str, name: &str) -> Option<String> {
        self.prop(ns, name)
            .and_then(|p| p.child(DAV, "href"))
            .map(|h| canonical(&h.text))
    }

    fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

/// A whole multistatus: its responses and, for sync-collection, the new token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Multistatus {
    /// Every response in order.
    pub responses: Vec<Response>,
    /// The top-level `<sync-token>`, if any.
    pub sync_token: Option<SyncToken>,
}

/// Parses a status line such as `HTTP/1.1 404 Not Found` to its code.
fn status_code(element: Option<&Element>) -> Option<u16> {
    element?.text.split_whitespace().nth(1)?.parse().ok()
}

/// Parses a `207 Multi-Status` body.
pub fn parse(body: &str) -> Result<Multistatus, ProtoError> {
    let root = xml::parse(body)?;
    if !root.is(DAV, "multistatus") {
        return Err(ProtoError::new(format!(
            "expected a DAV:multistatus, got {{{}}}{}",
            root.ns, root.name
        )));
    }
    let mut responses = Vec::new();
    for response in root.children_named(DAV, "response") {
        // RFC 4918 allows several hrefs for a status-only response; the first one names it.
        let Some(href) = response.child(DAV, "href") else {
            return Err(ProtoError::new("a DAV:response has no DAV:href"));
        };
        let found = response
            .children_named(DAV, "propstat")
            .filter(|ps| {
                // A propstat without a status is taken as found: lenient with broken servers.
                status_code(ps.child(DAV, "status")).is_none_or(|c| (200..300).contains(&c))
            })
            .filter_map(|ps| ps.child(DAV, "prop").cloned())
            .collect();
        responses.push(Response {
            href: canonical(&href.text),
            status: status_code(response.child(DAV, "status")),
            found,
        });
    }
    let sync_token = root
        .child(DAV, "sync-token")
        .map(|t| t.text.trim())
        .filter(|t| !t.is_empty())
        .map(SyncToken::new);
    Ok(Multistatus {
        responses,
        sync_token,
    })
}

/// A collection found below a home set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundCollection {
    /// Its canonical href (ending in `/`).
    pub href: String,
    /// Its metadata.
    pub meta: CollectionMeta,
    /// Whether the server offers the sync-collection REPORT (RFC 6578) on it.
    pub supports_sync: bool,
    /// Its `getctag`, which changes whenever any of its items does; `None` if not given.
    pub ctag: Option<CollectionState>,
    /// Its `getlastmodified` as sent (an HTTP date); `None` if not given. What it is worth
    /// depends on the server (see [`super::stamp`]).
    pub last_modified: Option<String>,
}

/// Whether a listed collection offers sync-collection: its `supported-report-set` names the
/// report, or (from servers that send it unasked) it has a `sync-token`. Read from the report
/// set rather than asked as a `sync-token` property because servers compute that token on
/// demand: Radicale 3 spends about 0.2 s per 1,000 items on each collection's token, which
/// made a listing of a big home set take a second on every run.
fn offers_sync(response: &Response) -> bool {
    response
        .prop(DAV, "supported-report-set")
        .is_some_and(|set| set.find(DAV, "sync-collection").is_some())
        || response.text(DAV, "sync-token").is_some()
}

fn is_collection_of(response: &Response, kind: CollectionKind) -> bool {
    let marker = match kind {
        CollectionKind::Calendar => (CALDAV, "calendar"),
        CollectionKind::AddressBook => (CARDDAV, "addressbook"),
    };
    response
        .prop(DAV, "resourcetype")
        .is_some_and(|rt| rt.child(marker.0, marker.1).is_some())
}

fn is_collection(response: &Response) -> bool {
    response
        .prop(DAV, "resourcetype")
        .is_some_and(|rt| rt.child(DAV, "collection").is_some())
        || response.href.ends_with('/')
}

/// The collections of `kind` in a depth-1 listing of a home set (the home itself excluded).
pub fn collections(ms: &Multistatus, home: &str, kind: CollectionKind) -> Vec<FoundCollection> {
    let home = canonical(home);
    ms.responses
        .iter()
        .filter(|r| r.href.trim_end_matches('/') != home.trim_end_matches('/'))
        .filter(|r| is_collection_of(r, kind))
        .map(|r| {
            let description = match kind {
                CollectionKind::Calendar => r.text(CALDAV, "calendar-description"),
                CollectionKind::AddressBook => r.text(CARDDAV, "addressbook-description"),
            };
            let href = if r.href.ends_with('/') {
                r.href.clone()
            } else {
                format!("{}/", r.href)
            };
            FoundCollection {
                href,
                meta: CollectionMeta {
                    displayname: r.text(DAV, "displayname"),
                    color: r.text(APPLE_ICAL, "calendar-color"),
                    description,
                },
                supports_sync: offers_sync(r),
                ctag: r.text(CALENDARSERVER, "getctag").map(CollectionState::new),
                last_modified: r.text(DAV, "getlastmodified"),
            }
        })
        .collect()
}

/// The members of a collection with their etags, from a depth-1 listing (sub-collections and
/// the collection itself excluded). Members without an etag are skipped: they cannot be synced
/// safely, and the caller logs them.
pub fn etags(ms: &Multistatus, collection: &str) -> (Vec<(String, Etag)>, Vec<String>) {
    let collection = canonical(collection);
    let mut with = Vec::new();
    let mut without = Vec::new();
    for r in &ms.responses {
        if r.href.trim_end_matches('/') == collection.trim_end_matches('/') || is_collection(r) {
            continue;
        }
        match r.text(DAV, "getetag") {
            Some(etag) => with.push((r.href.clone(), Etag::new(etag))),
            None => without.push(r.href.clone()),
        }
    }
    (with, without)
}

/// One answer of a multiget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultigetEntry {
    /// The item with its etag and data.
    Item {
        /// Canonical href.
        href: String,
        /// Etag of this data.
        etag: Etag,
        /// The iCalendar/vCard text.
        data: String,
    },
    /// The href is gone (404).
    Missing(String),
    /// The server answered without data or etag; the caller reports it per item.
    Broken {
        /// Canonical href.
        href: String,
        /// What was wrong.
        why: String,
    },
}

/// The entries of a multiget answer.
pub fn multiget_entries(ms: &Multistatus, kind: CollectionKind) -> Vec<MultigetEntry> {
    let data_prop = match kind {
        CollectionKind::Calendar => (CALDAV, "calendar-data"),
        CollectionKind::AddressBook => (CARDDAV, "address-data"),
    };
    ms.responses
        .iter()
        .map(|r| {
            if r.is_not_found() {
                return MultigetEntry::Missing(r.href.clone());
            }
            let etag = r.text(DAV, "getetag");
            let data = r.prop(data_prop.0, data_prop.1).map(|d| d.text.clone());
            match (etag, data) {
                (Some(etag), Some(data)) if !data.trim().is_empty() => MultigetEntry::Item {
                    href: r.href.clone(),
                    etag: Etag::new(etag),
                    data,
                },
                (_, _) if r.found.is_empty() => MultigetEntry::Missing(r.href.clone()),
                (etag, _) => MultigetEntry::Broken {
                    href: r.href.clone(),
                    why: format!(
                        "the server sent {} for it",
                        if etag.is_none() { "no etag" } else { "no data" }
                    ),
                },
            }
        })
        .collect()
}

/// Changes from a sync-collection answer: (changed with etags, deleted).
pub fn sync_changes(ms: &Multistatus, collection: &str) -> (Vec<(String, Etag)>, Vec<String>) {
    let collection = canonical(collection);
    let mut changed = Vec::new();
    let mut deleted = Vec::new();
    for r in &ms.responses {
        if r.href.trim_end_matches('/') == collection.trim_end_matches('/') {
            continue;
        }
        if r.is_not_found() {
            deleted.push(r.href.clone());
        } else if let Some(etag) = r.text(DAV, "getetag")
            && !is_collection(r)
        {
            changed.push((r.href.clone(), Etag::new(etag)));
        }
    }
    (changed, deleted)
}

/// Whether an error body says the sync token is no longer valid (RFC 6578 3.2:
/// `<DAV:error><DAV:valid-sync-token/></DAV:error>`).
pub fn is_invalid_sync_token(body: &str) -> bool {
    xml::parse(body)
        .is_ok_and(|root| root.is(DAV, "error") && root.child(DAV, "valid-sync-token").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped like Radicale 3 answers (namespaces and statuses as it sends them).
    const HOME_LISTING: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:ICAL="http://apple.com/ns/ical/">
<response><href>/test/</href><propstat><prop><resourcetype><principal/><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/test/my%20cal/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><displayname>My Cal</displayname><ICAL:calendar-color>#ff0000</ICAL:calendar-color><sync-token>http://radicale.org/ns/sync/abc</sync-token></prop><status>HTTP/1.1 200 OK</status></propstat>
<propstat><prop><C:calendar-description/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
<response><href>/test/book/</href><propstat><prop><resourcetype><CR:addressbook/><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response>
</multistatus>"#;

    #[test]
    fn collections_of_each_kind_with_metadata() {
        let ms = parse(HOME_LISTING).unwrap();
        let cals = collections(&ms, "/test/", CollectionKind::Calendar);
        assert_eq!(cals.len(), 1);
        assert_eq!(cals[0].href, "/test/my%20cal/");
        assert_eq!(cals[0].meta.displayname.as_deref(), Some("My Cal"));
        assert_eq!(cals[0].meta.color.as_deref(), Some("#ff0000"));
        assert_eq!(cals[0].meta.description, None);
        assert!(cals[0].supports_sync);
        let books = collections(&ms, "/test", CollectionKind::AddressBook);
        assert_eq!(books.len(), 1);
        assert_eq!(books[0].href, "/test/book/");
        assert!(!books[0].supports_sync);
    }

    #[test]
    fn getctag_is_the_collection_state_and_absent_or_empty_means_unknown() {
        let body = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
<response><href>/u/tagged/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><CS:getctag>"abc"</CS:getctag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/u/unknown/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat>
<propstat><prop><CS:getctag/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
<response><href>/u/empty/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><CS:getctag>  </CS:getctag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
</multistatus>"#;
        let ms = parse(body).unwrap();
        let found: Vec<(String, Option<String>)> =
            collections(&ms, "/u/", CollectionKind::Calendar)
                .into_iter()
                .map(|c| (c.href, c.ctag.map(|t| t.as_str().to_owned())))
                .collect();
        assert_eq!(
            found,
            [
                ("/u/tagged/".to_owned(), Some("\"abc\"".to_owned())),
                ("/u/unknown/".to_owned(), None),
                ("/u/empty/".to_owned(), None),
            ]
        );
    }

    #[test]
    fn getlastmodified_is_kept_as_sent_and_absent_or_empty_means_none() {
        let body = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<response><href>/u/dated/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><getlastmodified>Fri, 27 Nov 2026 20:15:00 GMT</getlastmodified></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/u/unknown/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat>
<propstat><prop><getlastmodified/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
<response><href>/u/empty/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><getlastmodified/></prop><status>HTTP/1.1 200 OK</status></propstat></response>
</multistatus>"#;
        let ms = parse(body).unwrap();
        let found: Vec<(String, Option<String>)> =
            collections(&ms, "/u/", CollectionKind::Calendar)
                .into_iter()
                .map(|c| (c.href, c.last_modified))
                .collect();
        assert_eq!(
            found,
            [
                (
                    "/u/dated/".to_owned(),
                    Some("Fri, 27 Nov 2026 20:15:00 GMT".to_owned())
                ),
                ("/u/unknown/".to_owned(), None),
                ("/u/empty/".to_owned(), None),
            ]
        );
    }

    #[test]
    fn sync_support_is_read_from_the_supported_report_set() {
        let body = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<response><href>/u/sync/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><supported-report-set><supported-report><report><C:calendar-multiget/></report></supported-report><supported-report><report><sync-collection/></report></supported-report></supported-report-set></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/u/nosync/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><supported-report-set><supported-report><report><C:calendar-multiget/></report></supported-report></supported-report-set></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/u/unknown/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat>
<propstat><prop><supported-report-set/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
</multistatus>"#;
        let ms = parse(body).unwrap();
        let found: Vec<(String, bool)> = collections(&ms, "/u/", CollectionKind::Calendar)
            .into_iter()
            .map(|c| (c.href, c.supports_sync))
            .collect();
        assert_eq!(
            found,
            [
                ("/u/sync/".to_owned(), true),
                ("/u/nosync/".to_owned(), false),
                ("/u/unknown/".to_owned(), false),
            ]
        );
    }

    #[test]
    fn sync_answers_split_changed_and_deleted() {
        let body = r#"<d:multistatus xmlns:d="DAV:">
            <d:response><d:href>/c/</d:href><d:propstat><d:prop><d:getetag>"col"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            <d:response><d:href>/c/a.ics</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            <d:response><d:href>http://h/c/b.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>
            <d:sync-token>tok-2</d:sync-token></d:multistatus>"#;
        let ms = parse(body).unwrap();
        assert_eq!(ms.sync_token, Some(SyncToken::new("tok-2")));
        let (changed, deleted) = sync_changes(&ms, "/c/");
        assert_eq!(changed, [("/c/a.ics".to_owned(), Etag::new("\"1\""))]);
        assert_eq!(deleted, ["/c/b.ics"]);
    }

    #[test]
    fn multiget_reports_items_missing_and_broken() {
        let body = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
            <response><href>/c/a.ics</href><propstat><prop><getetag>"1"</getetag><C:calendar-data>BEGIN:VCALENDAR&#13;
END:VCALENDAR&#13;
</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>
            <response><href>/c/gone.ics</href><status>HTTP/1.1 404 Not Found</status></response>
            <response><href>/c/odd.ics</href><propstat><prop><getetag>"2"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
            </multistatus>"#;
        let entries = multiget_entries(&parse(body).unwrap(), CollectionKind::Calendar);
        assert_eq!(
            entries[0],
            MultigetEntry::Item {
                href: "/c/a.ics".into(),
                etag: Etag::new("\"1\""),
                data: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into()
            }
        );
        assert_eq!(entries[1], MultigetEntry::Missing("/c/gone.ics".into()));
        assert!(
            matches!(&entries[2], MultigetEntry::Broken { why, .. } if why.contains("no data"))
        );
    }

    #[test]
    fn etag_listing_skips_the_collection_and_subcollections() {
        let body = r#"<multistatus xmlns="DAV:">
            <response><href>/c/</href><propstat><prop><resourcetype><collection/></resourcetype><getetag>"c"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
            <response><href>/c/sub/</href><propstat><prop><resourcetype><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response>
            <response><href>/c/a.ics</href><propstat><prop><resourcetype/><getetag>"a"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
            <response><href>/c/noetag.ics</href><propstat><prop><resourcetype/></prop><status>HTTP/1.1 200 OK</status></propstat></response>
            </multistatus>"#;
        let (with, without) = etags(&parse(body).unwrap(), "/c/");
        assert_eq!(with, [("/c/a.ics".to_owned(), Etag::new("\"a\""))]);
        assert_eq!(without, ["/c/noetag.ics"]);
    }

    /// Issue 12, found by fuzzing (fuzz/fuzz_targets/dav_multistatus.rs; the input as
    /// minimised): an href whose decoded path holds `://` lost its start when canonicalised
    /// again, so one item had two canonical forms (a listing's and a multiget's).
    #[test]
    fn response_hrefs_are_canonical_for_good() {
        let minimised: &[u8] = br#"<ns0:multistatus xmlns:ns0="DAV:"><ns0:response><ns0:href>h%3A//</ns0:href></ns0:response></ns0:multistatus>"#;
        let ms = parse(std::str::from_utf8(minimised).unwrap()).unwrap();
        let href = &ms.responses[0].href;
        assert_eq!(href, "/h://");
        assert_eq!(&canonical(href), href);
        // The fuzzer started from a Xandikos answer naming its collection by a full URL.
        let once = canonical("http%3A//127.0.0.1%3A39341/user/calendars/work/");
        assert_eq!(canonical(&once), once);
    }

    #[test]
    fn recognises_invalid_token_errors_and_rejects_other_documents() {
        assert!(is_invalid_sync_token(
            r#"<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>"#
        ));
        assert!(!is_invalid_sync_token(
            "<error xmlns=\"DAV:\"><other/></error>"
        ));
        assert!(!is_invalid_sync_token("Bad Request"));
        assert!(parse("<error xmlns=\"DAV:\"/>").is_err());
        assert!(parse("<multistatus xmlns=\"DAV:\"><response/></multistatus>").is_err());
    }
}
