//! Whether a collection may be skipped because neither side changed since the last clean sync,
//! and what to record for the next run to decide that: pure functions, tested by tables.
//!
//! Each side of a collection has a [`CollectionState`] now, from one of two sources:
//! - a *marker* the storage read with its collection listing (a server's `getctag`, or its
//!   `getlastmodified` where the storage trusts it), which changes whenever any item changes;
//! - a *digest* of the side's full listing (every href and etag), for storages that list
//!   cheaply and have no marker (a vdir: one `readdir` and a `stat` per file).
//!
//! A side with neither (a server without `getctag`, a last-modified too recent to trust) has no
//! state, and its collection is synced as before: an unknown state never means "unchanged".
//! The two sources are stored with different prefixes so that one can never be compared with
//! the other.
//!
//! What is recorded after a clean run must equal what the next run will see if nothing else
//! changes, and must never equal it when something did:
//! - a digest is computed from the status rows the run left (each item's href and etag on that
//!   side), not from a listing taken after the writes: an edit made by someone else during the
//!   run then differs from the status and shows up next time;
//! - a marker is the one read *before* the side was listed, and only when the run wrote
//!   nothing to that side. After our own writes the server's new marker is unknown, and the old
//!   one must not be kept: servers derive markers from content (Radicale hashes every item), so
//!   someone undoing our write would bring the old marker back while the status holds the write.

use crate::dav::store::{CollectionState, Etag, Href};
use crate::side::{PerSide, Side};

use super::collections::CollectionStep;
use super::plan::ItemAction;
use crate::digest::sha256_hex;

/// A side's state from a marker its storage reported with the collection listing.
pub fn marker_state(marker: &CollectionState) -> CollectionState {
    CollectionState::new(format!("marker {}", marker.as_str()))
}

/// A side's state from its full listing (or from the status rows a clean run left for it):
/// a digest of every href and etag, independent of their order.
pub fn listing_state<'a>(items: impl IntoIterator<Item = (&'a Href, &'a Etag)>) -> CollectionState {
    let mut lines: Vec<String> = items
        .into_iter()
        .map(|(href, etag)| {
            // Length-prefixed, so that no two different pairs can spell the same line.
            let (href, etag) = (href.as_str(), etag.as_str());
            format!("{}:{href}{}:{etag}\n", href.len(), etag.len())
        })
        .collect();
    lines.sort_unstable();
    CollectionState::new(format!("listing {}", sha256_hex(lines.concat().as_bytes())))
}

/// True if the collection needs nothing this run: it is synced on both sides (not created,
/// deleted or forgotten), and both sides' states are known now and equal to those recorded.
pub fn unchanged(
    step: &CollectionStep,
    recorded: &PerSide<Option<CollectionState>>,
    now: &PerSide<Option<CollectionState>>,
) -> bool {
    matches!(step, CollectionStep::Sync)
        && [Side::A, Side::B]
            .into_iter()
            .all(|side| matches!((recorded.get(side), now.get(side)), (Some(r), Some(n)) if r == n))
}

/// True if carrying out `actions` may write to `side` (a conflict may be resolved by writing
/// either side).
pub fn writes_to(actions: &[ItemAction], side: Side) -> bool {
    actions.iter().any(|action| match action {
        ItemAction::Copy { from, .. } | ItemAction::Update { from, .. } => from.other() == side,
        ItemAction::Delete { side: on, .. } => *on == side,
        ItemAction::Conflict { .. } => true,
        ItemAction::Record { .. } | ItemAction::Forget { .. } => false,
    })
}

/// What a side's state came from this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Nothing: the next run syncs the collection again.
    Unknown,
    /// A marker (already wrapped by [`marker_state`]) read before the side was listed.
    Marker(CollectionState),
    /// A digest of the listing; what to record is computed from the status rows afterwards.
    Listing,
}

/// The state to record for a side after a clean run. `rows_state` computes the digest of the
/// side's status rows (only called for [`Observed::Listing`]).
pub fn to_record(
    observed: &Observed,
    wrote: bool,
    rows_state: impl FnOnce() -> CollectionState,
) -> Option<CollectionState> {
    match observed {
        Observed::Unknown => None,
        Observed::Marker(_) if wrote => None,
        Observed::Marker(marker) => Some(marker.clone()),
        Observed::Listing => Some(rows_state()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(s: &str) -> Option<CollectionState> {
        Some(CollectionState::new(s))
    }

    fn sides(
        a: Option<CollectionState>,
        b: Option<CollectionState>,
    ) -> PerSide<Option<CollectionState>> {
        PerSide { a, b }
    }

    #[test]
    fn skip_only_when_both_states_are_known_and_unchanged() {
        let sync = CollectionStep::Sync;
        // (step, recorded a, recorded b, now a, now b, skip?)
        let table: Vec<(CollectionStep, _, _, _, _, bool)> = vec![
            (sync.clone(), st("x"), st("y"), st("x"), st("y"), true),
            (sync.clone(), st("x"), st("y"), st("x2"), st("y"), false),
            (sync.clone(), st("x"), st("y"), st("x"), st("y2"), false),
            // Unknown now (a server without getctag) or never recorded: sync.
            (sync.clone(), st("x"), st("y"), None, st("y"), false),
            (sync.clone(), st("x"), st("y"), st("x"), None, false),
            (sync.clone(), None, st("y"), st("x"), st("y"), false),
            (sync.clone(), st("x"), None, st("x"), st("y"), false),
            (sync.clone(), None, None, None, None, false),
            // Creating, deleting, forgetting are never skipped.
            (
                CollectionStep::Create(Side::B),
                st("x"),
                st("y"),
                st("x"),
                st("y"),
                false,
            ),
            (
                CollectionStep::CreateBoth,
                st("x"),
                st("y"),
                st("x"),
                st("y"),
                false,
            ),
            (
                CollectionStep::Delete(Side::A),
                st("x"),
                st("y"),
                st("x"),
                st("y"),
                false,
            ),
            (
                CollectionStep::Forget,
                st("x"),
                st("y"),
                st("x"),
                st("y"),
                false,
            ),
        ];
        for (step, ra, rb, na, nb, want) in table {
            let got = unchanged(
                &step,
                &sides(ra.clone(), rb.clone()),
                &sides(na.clone(), nb.clone()),
            );
            assert_eq!(
                got, want,
                "{step:?} recorded {ra:?}/{rb:?} now {na:?}/{nb:?}"
            );
        }
    }

    #[test]
    fn a_marker_and_a_digest_never_compare_equal() {
        let marker = marker_state(&CollectionState::new("abc"));
        let digest = listing_state([]);
        assert_ne!(marker, digest);
        assert!(marker.as_str().starts_with("marker "));
        assert!(digest.as_str().starts_with("listing "));
    }

    #[test]
    fn the_digest_sees_every_href_and_etag_but_not_their_order() {
        let (h1, h2) = (Href::new("a.ics"), Href::new("b.ics"));
        let (e1, e2) = (Etag::new("1"), Etag::new("2"));
        let base = listing_state([(&h1, &e1), (&h2, &e2)]);
        assert_eq!(base, listing_state([(&h2, &e2), (&h1, &e1)]));
        // An edit, a deletion, an addition, a rename: each is a change.
        assert_ne!(base, listing_state([(&h1, &e2), (&h2, &e2)]));
        assert_ne!(base, listing_state([(&h1, &e1)]));
        let h3 = Href::new("c.ics");
        assert_ne!(base, listing_state([(&h1, &e1), (&h2, &e2), (&h3, &e1)]));
        assert_ne!(base, listing_state([(&h1, &e1), (&h3, &e2)]));
        // Fields cannot run into each other.
        let (x, y) = (Href::new("a"), Etag::new("b\0c"));
        let (x2, y2) = (Href::new("a\0b"), Etag::new("c"));
        assert_ne!(listing_state([(&x, &y)]), listing_state([(&x2, &y2)]));
    }

    #[test]
    fn which_actions_write_to_which_side() {
        let uid = || "u".to_owned();
        // (action, writes to A?, writes to B?)
        let table = [
            (
                ItemAction::Copy {
                    uid: uid(),
                    from: Side::A,
                },
                false,
                true,
            ),
            (
                ItemAction::Update {
                    uid: uid(),
                    from: Side::B,
                },
                true,
                false,
            ),
            (
                ItemAction::Delete {
                    uid: uid(),
                    side: Side::A,
                },
                true,
                false,
            ),
            (ItemAction::Conflict { uid: uid() }, true, true),
            (ItemAction::Record { uid: uid() }, false, false),
            (ItemAction::Forget { uid: uid() }, false, false),
        ];
        for (action, a, b) in table {
            let actions = [action.clone()];
            assert_eq!(writes_to(&actions, Side::A), a, "{action:?} on A");
            assert_eq!(writes_to(&actions, Side::B), b, "{action:?} on B");
        }
        assert!(!writes_to(&[], Side::A));
    }

    #[test]
    fn what_is_recorded_after_a_clean_run() {
        let marker = marker_state(&CollectionState::new("m"));
        let digest = || CollectionState::new("listing d");
        // (observed, wrote to the side, recorded)
        let table = [
            (Observed::Unknown, false, None),
            (Observed::Unknown, true, None),
            (
                Observed::Marker(marker.clone()),
                false,
                Some(marker.clone()),
            ),
            // Our writes moved the server's marker to a value we did not see.
            (Observed::Marker(marker.clone()), true, None),
            (Observed::Listing, false, Some(digest())),
            (Observed::Listing, true, Some(digest())),
        ];
        for (observed, wrote, want) in table {
            assert_eq!(
                to_record(&observed, wrote, digest),
                want,
                "{observed:?} wrote {wrote}"
            );
        }
    }
}
