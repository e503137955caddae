//! Taking over another tool's knowledge of a collection (vdirsyncer, pimsync) on a pair's
//! first sync, so that nothing is downloaded, uploaded or rewritten for items unchanged since
//! that tool's last run.
//!
//! The tool recorded, per item, its href and etag on the server and in the vdir when both
//! sides last agreed. Its content hashes are its own, so [`rows`] builds pimlink's status rows
//! from what can be known without the network and without reading unchanged files:
//! - the local file is unchanged since (the tool's local etag still describes the file as the
//!   local listing shows it): both sides' rows get [`UNREAD`], the local side the etag listed
//!   now, and the server side the etag the tool saw. The file is not read: an unchanged
//!   server item is then taken from the status without a GET, and one whose etag moved is
//!   fetched and, before planning, compared with the file read then (`exec/unread.rs`);
//! - the local file changed since: it is read (to check its UID), and both rows get
//!   [`CHANGED`], a hash no content has, and the local row the tool's etag, so the next plan
//!   sees a local change (and a conflict if the server changed too, unless both now hold the
//!   same content);
//! - the local file is gone: the same, under the tool's identity, so the deletion reaches the
//!   server unless the server changed the item meanwhile.
//!
//! Items whose changed file has another UID than the tool recorded, or none, get no row and
//! are matched by UID as on any first sync. An unchanged file is the one the tool paired under
//! that identity, so its UID is not checked.
//!
//! Nothing here asks the server: its listing in the sync that follows tells what moved.
//!
//! Not here: finding the tool's state and spelling its hrefs as pimlink's DAV storage does
//! (the binary's [`Adopter`]), listing and reading the local files (`exec/adopt.rs`).

use std::collections::{HashMap, HashSet};

use crate::dav::store::{Etag, Href};
use crate::dav::vobject::{ContentHash, uid as item_uid};
use crate::dav::{CollectionPlan, ItemVersion, RowChange};
use crate::error::Result;
use crate::side::Side;

/// The hash recorded for a version whose content is unknown: no content hashes to it, so the
/// planner takes the other side's version for changed.
pub const CHANGED: &str = "adopted-changed";

/// The hash recorded for a version adopted unread: its content is the same on both sides, but
/// not known. No content hashes to it; a run that fetches the other side's version because
/// its etag moved reads this one too before planning (`exec/unread.rs`).
pub const UNREAD: &str = "adopted-unread";

/// What another tool recorded of one item at its last run, in pimlink's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignItem {
    /// The tool's identity for the item (its UID).
    pub ident: String,
    /// The file's href in the local collection (its name).
    pub local_href: Href,
    /// The tool's etag of the file (its own format, see [`Foreign::unchanged`]).
    pub local_etag: String,
    /// The item's href on the server, spelt as the server storage lists it.
    pub remote_href: Href,
    /// The server's etag then.
    pub remote_etag: Etag,
}

/// Whether a tool's etag of a local file (first) still describes the file the local storage
/// lists with an etag (second).
pub type LocalCheck = dyn Fn(&str, &Etag) -> bool + Send;

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
    pub unchanged: Box<LocalCheck>,
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

/// The hrefs of the local files [`rows`] must read: those the tool recorded that the local
/// listing (`listed`: href and etag now) shows changed since the tool's run.
pub fn to_read<'f>(foreign: &'f Foreign, listed: &HashMap<Href, Etag>) -> Vec<&'f Href> {
    foreign
        .items
        .iter()
        .filter(|item| {
            listed
                .get(&item.local_href)
                .is_some_and(|etag| !(foreign.unchanged)(&item.local_etag, etag))
        })
        .map(|item| &item.local_href)
        .collect()
}

/// The status rows for `foreign`'s items, given the local listing now (`listed`: href and
/// etag) and the files [`to_read`] named, as read (by href); see the module docs for what each
/// row holds.
pub fn rows(
    foreign: &Foreign,
    listed: &HashMap<Href, Etag>,
    read: &HashMap<Href, LocalItem>,
) -> Vec<RowChange> {
    let changed = ContentHash::from_hex(CHANGED);
    let unread = ContentHash::from_hex(UNREAD);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for item in &foreign.items {
        let (local_version, hash) = match listed.get(&item.local_href) {
            Some(etag) if (foreign.unchanged)(&item.local_etag, etag) => {
                let version = ItemVersion {
                    href: item.local_href.clone(),
                    etag: etag.clone(),
                    hash: unread.clone(),
                };
                (version, unread.clone())
            }
            Some(_) => {
                // Changed since, or gone between the listing and the read.
                let Some(file) = read.get(&item.local_href) else {
                    continue;
                };
                if item_uid(&file.data).as_deref() != Some(item.ident.as_str()) {
                    continue;
                }
                (recorded(item, &changed), changed.clone())
            }
            None => (recorded(item, &changed), changed.clone()),
        };
        // Two records of one UID (two files the tool both paired): neither is trusted twice.
        if !seen.insert(item.ident.clone()) {
            continue;
        }
        let remote_version = ItemVersion {
            href: item.remote_href.clone(),
            etag: item.remote_etag.clone(),
            hash,
        };
        let (a, b) = match foreign.local {
            Side::A => (local_version, remote_version),
            Side::B => (remote_version, local_version),
        };
        out.push(RowChange::Record {
            uid: item.ident.clone(),
            a,
            b,
        });
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
            remote_href: Href::new(format!("/dav/cal/{uid}.ics")),
            remote_etag: Etag::new(format!("\"{uid}\"")),
        }
    }

    #[test]
    fn rows_hold_what_lets_the_next_plan_see_exactly_the_changes_since_the_tool() {
        let mut listed = HashMap::new();
        let mut files = HashMap::new();
        for (uid, etag, content_uid) in [
            ("same", "same-etag", "same"),
            ("edited", "new", "edited"),
            ("other", "rewritten", "renamed"),
        ] {
            listed.insert(Href::new(format!("{uid}.ics")), Etag::new(etag));
            files.insert(
                Href::new(format!("{uid}.ics")),
                LocalItem {
                    etag: Etag::new(etag),
                    data: ics(content_uid, "s"),
                },
            );
        }
        let items = vec![item("same"), item("edited"), item("gone"), item("other")];
        let tool = foreign(Side::B, items);
        let wanted: Vec<&str> = to_read(&tool, &listed)
            .into_iter()
            .map(Href::as_str)
            .collect();
        assert_eq!(
            wanted,
            ["edited.ics", "other.ics"],
            "only the files changed since the tool's run are read"
        );
        files.retain(|href, _| wanted.contains(&href.as_str()));
        let rows = rows(&tool, &listed, &files);
        assert_eq!(
            rows.len(),
            3,
            "the file whose UID changed gets no row: {rows:?}"
        );
        let get = |uid: &str| {
            rows.iter()
                .find_map(|r| match r {
                    RowChange::Record { uid: u, a, b } if u == uid => Some((a.clone(), b.clone())),
                    _ => None,
                })
                .unwrap()
        };

        // Unchanged: not read, the same unknown content on both sides; the server keeps the
        // tool's etag, the file the etag listed now.
        let (server, file) = get("same");
        assert_eq!(server.href.as_str(), "/dav/cal/same.ics");
        assert_eq!(server.etag.as_str(), "\"same\"");
        assert_eq!(file.etag.as_str(), "same-etag");
        assert_eq!(file.hash.as_str(), UNREAD);
        assert_eq!(server.hash, file.hash);

        // Edited locally: the local row keeps the tool's etag and neither hash is content's.
        let (server, file) = get("edited");
        assert_eq!(
            file.etag.as_str(),
            "old-edited-etag",
            "a local change stays visible"
        );
        assert_eq!(file.hash.as_str(), CHANGED);
        assert_eq!(server.etag.as_str(), "\"edited\"");
        assert_eq!(server.hash.as_str(), CHANGED);

        // Deleted locally: a row under the tool's identity, so the deletion reaches the server.
        let (server, file) = get("gone");
        assert_eq!(file.href.as_str(), "gone.ics");
        assert_eq!(file.hash.as_str(), CHANGED);
        assert_eq!(server.hash.as_str(), CHANGED);

        // With the local side on A, the versions swap places.
        let rows_a = super::rows(&foreign(Side::A, vec![item("same")]), &listed, &files);
        match &rows_a[0] {
            RowChange::Record { a, b, .. } => {
                assert_eq!(a.etag.as_str(), "same-etag");
                assert_eq!(b.etag.as_str(), "\"same\"");
            }
            other => panic!("{other:?}"),
        }
    }
}
