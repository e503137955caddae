//! Finding vdirsyncer's or pimsync's state for a calendar/contact pair that has none of its
//! own: the [`Adopter`] the engine asks, per collection, on the pair's first sync
//! (`pimlink_core::dav::adopt` builds the rows).
//!
//! A tool's state does not say which local directory it belongs to (that is in its
//! configuration, which may be gone or elsewhere), so each collection status found is matched
//! by content: its local side's file names must be files in the pair's vdir collection, and
//! its server hrefs must lie in the collection the pair syncs there. The status naming the
//! most existing files wins; one naming none is not this collection's.
//!
//! The server hrefs a tool recorded are spelt as pimlink's DAV storage spells them
//! (`canonical`), so that the sync's listing recognises each unchanged item by href and etag.
//!
//! Not here: reading the tools' files (`pimlink_foreign::state`), the rows (core).

use std::path::{Path, PathBuf};

use pimlink_core::Side;
use pimlink_core::dav::CollectionPlan;
use pimlink_core::dav::adopt::{Adopter, Foreign, ForeignItem};
use pimlink_core::dav::store::{Etag, Href};
use pimlink_dav::proto::href::{canonical, percent_decode};
use pimlink_foreign::state::dav::{CollectionStatus, StateError, Tool, ToolSide};
use pimlink_foreign::state::{pimsync, vdirsyncer};

use crate::config::{Config, PairConfig, StorageKind};
use crate::output::Output;

/// Where to look for another tool's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Both tools' default status directories (`$XDG_DATA_HOME`, else `~/.local/share`).
    Defaults,
    /// This tool's state, in its default place or at the path given.
    Tool(Tool, Option<PathBuf>),
}

/// The statuses `source` names, in the order they are tried.
pub fn load(source: &Source) -> Result<Vec<CollectionStatus>, StateError> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let data = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from);
    let default = |tool: Tool| match tool {
        Tool::Vdirsyncer => vdirsyncer::default_status_dir(data.as_deref(), &home),
        Tool::Pimsync => pimsync::default_status_dir(data.as_deref(), &home),
    };
    let read = |tool: Tool, path: &Path| match tool {
        Tool::Vdirsyncer => vdirsyncer::find(path),
        Tool::Pimsync => pimsync::find(path),
    };
    match source {
        Source::Defaults => {
            let mut all = Vec::new();
            for tool in [Tool::Vdirsyncer, Tool::Pimsync] {
                all.extend(read(tool, &default(tool))?);
            }
            Ok(all)
        }
        Source::Tool(tool, path) => match path {
            Some(path) => read(*tool, path),
            None => read(*tool, &default(*tool)),
        },
    }
}

/// The adopter for `pair` if one of its sides is a vdir (the other tool's local copy), taking
/// state from `source`; `None` otherwise. Nothing is read until a collection asks.
pub fn for_pair(
    config: &Config,
    pair: &PairConfig,
    source: Source,
    output: Output,
) -> Option<ForeignDav> {
    // Mail pairs have no such state.
    pair.dav.as_ref()?;
    let vdir = |name: &str| match config.storages.get(name).map(|s| &s.kind) {
        Some(StorageKind::Vdir(v)) => Some(v.path.clone()),
        _ => None,
    };
    let (local, root) = match (vdir(&pair.a), vdir(&pair.b)) {
        (Some(root), None) => (Side::A, root),
        (None, Some(root)) => (Side::B, root),
        _ => return None,
    };
    Some(ForeignDav {
        pair: pair.name.clone(),
        local,
        root,
        source,
        statuses: None,
        output,
    })
}

/// Another tool's statuses, offered to a pair's collections.
pub struct ForeignDav {
    pair: String,
    /// The pair's vdir side and its root directory.
    local: Side,
    root: PathBuf,
    source: Source,
    /// Read on the first collection that asks (most runs never do).
    statuses: Option<Vec<CollectionStatus>>,
    output: Output,
}

impl ForeignDav {
    /// Reads the statuses now, if not done yet; how many collection statuses there are.
    pub fn load(&mut self) -> Result<usize, StateError> {
        if self.statuses.is_none() {
            self.statuses = Some(load(&self.source)?);
        }
        Ok(self.statuses.as_ref().map_or(0, Vec::len))
    }
}

impl Adopter for ForeignDav {
    fn find(&mut self, plan: &CollectionPlan) -> pimlink_core::Result<Option<Foreign>> {
        if let Err(error) = self.load() {
            // Reported once; the sync then matches items by UID, as without such state.
            eprintln!(
                "pimlink: {}: warning: another tool's state is not taken over: {error}",
                self.pair
            );
            self.statuses = Some(Vec::new());
        }
        let dir = self.root.join(plan.id(self.local).as_str());
        let remote = decode(plan.id(self.local.other()).as_str());
        let mut best: Option<(usize, &CollectionStatus, ToolSide)> = None;
        for status in self.statuses.iter().flatten() {
            let Some(side) = status.local_side() else {
                continue;
            };
            let found = status
                .items
                .iter()
                .filter(|i| in_collection(&i.side(other(side)).href, &remote))
                .filter(|i| dir.join(i.side(side).file_name()).is_file())
                .count();
            if found > 0 && best.is_none_or(|(n, _, _)| found > n) {
                best = Some((found, status, side));
            }
        }
        let Some((_, status, side)) = best else {
            return Ok(None);
        };
        let items: Vec<ForeignItem> = status
            .items
            .iter()
            .filter(|i| in_collection(&i.side(other(side)).href, &remote))
            .map(|i| ForeignItem {
                ident: i.ident.clone(),
                local_href: Href::new(i.side(side).file_name()),
                local_etag: i.side(side).etag.clone(),
                // As pimlink's DAV storage lists it, so that an unchanged item is recognised
                // by href and etag without a GET.
                remote_href: Href::new(canonical(&i.side(other(side)).href)),
                remote_etag: Etag::new(i.side(other(side)).etag.clone()),
            })
            .collect();
        let tool = status.tool;
        self.output.info(format!(
            "{}: collection {}: taking over {}'s state of {} items ({})",
            self.pair,
            plan.name,
            tool.name(),
            items.len(),
            status.file.display()
        ));
        Ok(Some(Foreign {
            source: format!("{} ({})", tool.name(), status.file.display()),
            local: self.local,
            items,
            unchanged: Box::new(move |recorded, now| {
                pimlink_vdir::etag_stamp(now)
                    .is_some_and(|(ns, inode)| tool.local_etag_matches(recorded, ns, inode))
            }),
        }))
    }
}

fn other(side: ToolSide) -> ToolSide {
    match side {
        ToolSide::A => ToolSide::B,
        ToolSide::B => ToolSide::A,
    }
}

/// A percent-decoded path segment (the tools encode `@` and non-ASCII differently).
fn decode(segment: &str) -> String {
    String::from_utf8_lossy(&percent_decode(segment)).into_owned()
}

/// True if a server href lies directly in the collection whose last path segment is
/// `collection` (percent-decoded), as pimlink names DAV collections.
fn in_collection(href: &str, collection: &str) -> bool {
    let mut segments = href.trim_end_matches('/').rsplit('/');
    segments.next();
    segments
        .next()
        .is_some_and(|parent| decode(parent) == collection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_hrefs_are_matched_to_the_collection_by_their_parent_segment() {
        assert!(in_collection("/dav/user/work/u1.ics", "work"));
        assert!(in_collection("/dav/user/my%20cal/u1.ics", "my cal"));
        assert!(!in_collection("/dav/user/home/u1.ics", "work"));
        assert!(!in_collection("u1.ics", "work"));
    }
}
