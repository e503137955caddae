//! A small namespace-aware XML tree: WebDAV responses are small enough to hold whole, and a
//! tree keeps the response parsers short and obviously correct.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::ProtoError;

/// How deep elements may nest; a multistatus needs about 8. Stops hostile input from making
/// the tree (and its recursive drop) arbitrarily deep.
const MAX_DEPTH: usize = 64;

/// One element: its namespace URI, local name, text content and children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI (`DAV:`), empty if unbound.
    pub ns: String,
    /// Local name (`href`).
    pub name: String,
    /// The concatenated text directly inside this element (entities and CDATA resolved).
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// True if this element is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The first child `{ns}name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// Every child `{ns}name`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The first element `{ns}name` anywhere below this one (depth first).
    pub fn find(&self, ns: &str, name: &str) -> Option<&Element> {
        for child in &self.children {
            if child.is(ns, name) {
                return Some(child);
            }
            if let Some(found) = child.find(ns, name) {
                return Some(found);
            }
        }
        None
    }
}

fn xml_error(err: impl std::fmt::Display) -> ProtoError {
    ProtoError::new(format!("malformed XML: {err}"))
}

/// Parses a whole document and returns its root element.
pub fn parse(text: &str) -> Result<Element, ProtoError> {
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(xml_error)?;
        let ns = match resolved {
            ResolveResult::Bound(ns) => ns.0.to_owned(),
            _ => String::new(),
        };
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(ProtoError::new("XML has content after the root element"));
            }
            Event::Start(start) | Event::Empty(start) if stack.len() >= MAX_DEPTH => {
                let _ = start;
                return Err(ProtoError::new("XML nested too deeply"));
            }
            Event::Start(start) => stack.push(element(ns, &start)),
            Event::Empty(start) => {
                // An empty element has no End event: close it at once.
                stack.push(element(ns, &start));
                close(&mut stack, &mut root);
            }
            Event::End(_) => close(&mut stack, &mut root),
            Event::Text(t) => push_text(&mut stack, &t.xml10_content()),
            Event::CData(c) => push_text(&mut stack, &c.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(xml_error)? {
                    Some(c) => c.to_string(),
                    None => match r.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => return Err(xml_error(format!("unknown entity &{other};"))),
                    },
                };
                push_text(&mut stack, &resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(ProtoError::new("XML ends inside an element"));
    }
    root.ok_or_else(|| ProtoError::new("XML document has no root element"))
}

fn element(ns: String, start: &quick_xml::events::BytesStart<'_>) -> Element {
    Element {
        ns,
        name: start.local_name().as_ref().to_owned(),
        ..Element::default()
    }
}

fn close(stack: &mut Vec<Element>, root: &mut Option<Element>) {
    let Some(done) = stack.pop() else {
        return; // quick-xml reports unmatched end tags itself.
    };
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None => *root = Some(done),
    }
}

fn push_text(stack: &mut [Element], text: &str) {
    if let Some(current) = stack.last_mut() {
        current.text.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_entities_and_cdata() {
        let doc = r#"<?xml version="1.0"?>
            <d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
              <d:response><d:href>/a%20b/</d:href><x/>
                <c:calendar-data>A &amp; B&#13;&#x41;<![CDATA[<raw>]]></c:calendar-data>
              </d:response>
            </d:multistatus>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("DAV:", "multistatus"));
        let response = root.child("DAV:", "response").unwrap();
        assert_eq!(response.child("DAV:", "href").unwrap().text, "/a%20b/");
        assert!(response.child("", "x").is_some());
        let data = root
            .find("urn:ietf:params:xml:ns:caldav", "calendar-data")
            .unwrap();
        assert_eq!(data.text, "A & B\rA<raw>");
    }

    #[test]
    fn default_namespace_applies_to_unprefixed_elements() {
        let root = parse(r#"<multistatus xmlns="DAV:"><response/></multistatus>"#).unwrap();
        assert!(root.is("DAV:", "multistatus"));
        assert!(root.child("DAV:", "response").is_some());
    }

    #[test]
    fn rejects_broken_documents() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<a>&bogus;</a>",
            "not xml",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(&deep).is_err());
    }
}
