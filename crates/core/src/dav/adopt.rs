//! Taking over another tool's knowledge of a collection (vdirsyncer, pimsync) on a pair's
//! first sync, so that nothing is downloaded, uploaded or rewritten for items unchanged since
//! that tool's last run.
//!
//! The tool recorded, per item, its href and etag on the server and in the vdir when both
//! sides last agreed. Its content hashes are its own, so [`rows`] builds pimlink's status rows
//! from what can be known without the network:
//! - the local file is unchanged since (the tool's local etag still describes it): both
//!   sides' rows get the hash of the file as it is, and the server side the etag the tool saw
//!   (in the server's current spelling when it is still the same). A server item whose etag
//!   did not move is then taken from the status without a GET; one that moved is fetched and
//!   compared with that hash, as in any later run;
//! - the local file changed since: both rows get [`CHANGED`], a hash no content has, and the
//!   local row the tool's etag, so the next plan sees a local change (and a conflict if the
//!   server changed too, unless both now hold the same content);
//! - the local file is gone: the same, under the tool's identity, so the deletion reaches the
//!   server unless the server changed the item meanwhile.
//!
//! Items whose file has another UID than the tool recorded, or none, get no row and are
//! matched by UID as on any first sync.
//!
//! Not here: finding the tool's state (the binary's [`Adopter`]), listing and reading the
//! sides (`exec/adopt.rs`).

use std::collections::HashMap;

use crate::dav::store::{Etag, Href, ItemRef};
use crate::dav::vobject::{ContentHash, content_hash, uid as item_uid};
use crate::dav::{CollectionPlan, ItemVersion, RowChange};
use crate::error::Result;
use crate::side::Side;

/// The hash recorded for a version whose content is unknown: no content hashes to it, so the
/// planner takes the other side's version for changed.
pub const CHANGED: &str = "adopted-changed";

/// What another tool recorded of one item at its last run, in pimlink's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignItem {
    /// The tool's identity for the item (its UID).
    pub ident: String,
    /// The file's href in the local collection (its name).
    pub local_href: Href,
    /// The tool's etag of the file (its own format, see [`Foreign::unchanged`]).
    pub local_etag: String,
    /// The item's href on the server.
    pub remote_href: Href,
    /// The server's etag then.
    pub remote_etag: Etag,
}

/// Another tool's state of one collection, found by an [`Adopter`].
pub struct Foreign {
    /// The tool's name and where its state was found, for messages.
    pub source: String,
    /// The pair's side that is the local copy (the vdir the tool wrote).
    pub local: Side,
    /// The tool's records.
    pub items: Vec<ForeignItem>,
    /// True if the tool's recorded local etag (first) still describes the file that the
    /// local storage now lists with this etag (second).
    pub unchanged: Box<dyn Fn(&str, &Etag) -> bool + Send>,
}

/// Finds another tool's state for a collection of a pair that has none of its own.
pub trait Adopter {
    /// The state another tool left for the collection pairing `plan`, if any.
    fn find(&mut self, plan: &CollectionPlan) -> Result<Option<Foreign>>;
}

/// One local item as the adoption read it.
pub struct LocalItem {
    /// Its etag when read.
    pub etag: Etag,
    /// Its content.
    pub data: String,
}

/// The status rows for `foreign`'s items, given the local items read now (by href) and the
/// server's listing now; see the module docs for what each row holds.
pub fn rows(
    foreign: &Foreign,
    local: &HashMap<Href, LocalItem>,
    remote: &[ItemRef],
) -> Vec<RowChange> {
    let remote: HashMap<String, &ItemRef> = remote
        .iter()
        .map(|r| (path_key(r.href.as_str()), r))
        .collect();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in &foreign.items {
        let listed = remote.get(&path_key(item.remote_href.as_str()));
        let remote_href = listed.map_or_else(|| item.remote_href.clone(), |r| r.href.clone());
        let remote_etag = match listed {
            Some(r) if same_etag(&r.etag, &item.remote_etag) => r.etag.clone(),
            _ => item.remote_etag.clone(),
        };
        let changed = ContentHash::from_hex(CHANGED);
        let (uid, local_version, hash) = match local.get(&item.local_href) {
            Some(file) => {
                if item_uid(&file.data).as_deref() != Some(item.ident.as_str()) {
                    continue;
                }
                if (foreign.unchanged)(&item.local_etag, &file.etag) {
                    let hash = content_hash(&file.data);
                    let version = ItemVersion {
                        href: item.local_href.clone(),
                        etag: file.etag.clone(),
                        hash: hash.clone(),
                    };
                    (item.ident.clone(), version, hash)
                } else {
                    (item.ident.clone(), recorded(item, &changed), changed)
                }
            }
            None => (item.ident.clone(), recorded(item, &changed), changed),
        };
        if !seen.insert(uid.clone()) {
            continue;
        }
        let remote_version = ItemVersion {
            href: remote_href,
            etag: remote_etag,
            hash,
        };
        let (a, b) = match foreign.local {
            Side::A => (local_version, remote_version),
            Side::B => (remote_version, local_version),
        };
        out.push(RowChange::Record { uid, a, b });
    }
    out
}

/// The local version as the tool recorded it.
fn recorded(item: &ForeignItem, hash: &ContentHash) -> ItemVersion {
    ItemVersion {
        href: item.local_href.clone(),
        etag: Etag::new(item.local_etag.clone()),
        hash: hash.clone(),
    }
}

/// An href's path, percent-decoded: the tools and pimlink encode the same path differently.
fn path_key(href: &str) -> String {
    let path = match href.find("://") {
        Some(at) => href[at + 3..]
            .find('/')
            .map_or("/", |s| &href[at + 3 + s..]),
        None => href,
    };
    percent_decoded(path)
}

/// `text` with every `%XX` decoded (invalid UTF-8 replaced): how two spellings of one href
/// or collection name are compared.
pub fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(h), Some(l)) => {
                // Two hex digits make at most 255.
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True if two etags name the same version: servers and tools differ in keeping the quotes
/// and the weak marker.
fn same_etag(a: &Etag, b: &Etag) -> bool {
    let bare = |e: &Etag| {
        let e = e.as_str().trim();
        let e = e.strip_prefix("W/").unwrap_or(e);
        e.trim_matches('"').to_owned()
    };
    bare(a) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ics(uid: &str, summary: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{summary}\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    fn foreign(local: Side, items: Vec<ForeignItem>) -> Foreign {
        Foreign {
            source: "test".into(),
            local,
            items,
            // The tool's etag is "old-<pimlink etag>" while the file is untouched.
            unchanged: Box::new(|recorded, now| recorded == format!("old-{}", now.as_str())),
        }
    }

    fn item(uid: &str) -> ForeignItem {
        ForeignItem {
            ident: uid.into(),
            local_href: Href::new(format!("{uid}.ics")),
            local_etag: format!("old-{uid}-etag"),
            remote_href: Href::new(format!("/dav/cal/{uid}%40x.ics")),
            remote_etag: Etag::new(format!("\"{uid}\"")),
        }
    }

    fn listed(uid: &str, etag: &str) -> ItemRef {
        ItemRef {
            href: Href::new(format!("/dav/cal/{uid}@x.ics")),
            etag: Etag::new(etag),
        }
    }

    #[test]
    fn rows_hold_what_lets_the_next_plan_see_exactly_the_changes_since_the_tool() {
        let mut local = HashMap::new();
        for (uid, etag) in [("same", "same-etag"), ("edited", "new"), ("other", "x")] {
            let etag = if etag == "same-etag" {
                "same-etag"
            } else {
                etag
            };
            local.insert(
                Href::new(format!("{uid}.ics")),
                LocalItem {
                    etag: Etag::new(etag),
                    data: ics(if uid == "other" { "renamed" } else { uid }, "s"),
                },
            );
        }
        let items = vec![item("same"), item("edited"), item("gone"), item("other")];
        let remote = vec![
            // Unquoted by this server, and encoded differently: still the same version.
            listed("same", "same"),
            listed("edited", "\"edited\""),
            listed("gone", "\"moved\""),
        ];
        let rows = rows(&foreign(Side::B, items), &local, &remote);
        assert_eq!(
            rows.len(),
            3,
            "the item whose UID changed gets no row: {rows:?}"
        );
        let get = |uid: &str| match rows
            .iter()
            .find(|r| matches!(r, RowChange::Record { uid: u, .. } if u == uid))
        {
            Some(RowChange::Record { a, b, .. }) => (a.clone(), b.clone()),
            _ => panic!("no row for {uid}"),
        };

        let (server, file) = get("same");
        assert_eq!(
            server.href.as_str(),
            "/dav/cal/same@x.ics",
            "the listing's spelling"
        );
        assert_eq!(server.etag.as_str(), "same", "the listing's spelling");
        assert_eq!(file.etag.as_str(), "same-etag");
        assert_eq!(file.hash, content_hash(&ics("same", "s")));
        assert_eq!(server.hash, file.hash);

        let (server, file) = get("edited");
        assert_eq!(
            file.etag.as_str(),
            "old-edited-etag",
            "a local change stays visible"
        );
        assert_eq!(file.hash.as_str(), CHANGED);
        assert_eq!(server.etag.as_str(), "\"edited\"");
        assert_eq!(server.hash.as_str(), CHANGED);

        let (server, file) = get("gone");
        assert_eq!(file.href.as_str(), "gone.ics");
        assert_eq!(file.hash.as_str(), CHANGED);
        assert_eq!(
            server.etag.as_str(),
            "\"gone\"",
            "the server moved on: the tool's etag"
        );
    }
}
