//! Failures: keeping one item that keeps failing from holding up the others, and saying
//! what failed.
//!
//! A copy that failed in an earlier run (the status still holds its pending row, so the plan
//! says it `replaces` that row) may fail again for the same reason: a message larger than
//! what the connection carries before it drops, one the server refuses. Delivered in one
//! batch with others (an IMAP MULTIAPPEND is all or nothing, and a connection lost in its
//! middle leaves the whole batch's outcome unknown), it would take the same companions down
//! with it in every run. So such copies come after the new ones, and each is delivered on its
//! own; the new ones keep their batches.

use std::ops::Range;

use crate::error::{Error, ErrorKind};
use crate::mail::item::Content;
use crate::mail::plan::{CollectionPlan, ItemAction};

/// True for a copy that replaces the pending row of an earlier attempt.
pub(super) fn is_retry(action: &ItemAction) -> bool {
    matches!(
        action,
        ItemAction::Copy {
            replaces: Some(_),
            ..
        }
    )
}

/// Puts the copies that failed before after the others, keeping each group's order.
pub(super) fn retries_last(copies: Vec<ItemAction>) -> Vec<ItemAction> {
    let (retries, fresh): (Vec<ItemAction>, Vec<ItemAction>) =
        copies.into_iter().partition(is_retry);
    fresh.into_iter().chain(retries).collect()
}

/// How copies, in order, go to the destination: runs of new copies together, each retry
/// alone. `retry[i]` says whether copy `i` is a retry; the ranges cover every index once.
pub(super) fn delivery_groups(retry: &[bool]) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for (index, &is_retry) in retry.iter().enumerate() {
        if is_retry {
            if start < index {
                groups.push(start..index);
            }
            groups.push(index..index + 1);
            start = index + 1;
        }
    }
    if start < retry.len() {
        groups.push(start..retry.len());
    }
    groups
}

/// What a failure report says the failed action was: the collection, the action and the
/// item's size if known (for a message that cannot get through a connection that keeps
/// dropping, the likeliest reason).
pub(super) fn failure_context(
    plan: &CollectionPlan,
    action: &ItemAction,
    size: Option<u64>,
) -> String {
    let name = &plan.name_a;
    match size {
        Some(size) => format!("collection {name}: {action} ({})", human_size(size)),
        None => format!("collection {name}: {action}"),
    }
}

/// The error of a side whose collections could not be listed. A refused login says which
/// account it was in the storage's own words (the program knows it by its configured name).
pub(super) fn listing_error(error: Error, side: &str) -> Error {
    if error.kind() == ErrorKind::Auth {
        error
    } else {
        error.context(format!("listing collections of {side}"))
    }
}

/// The size of a message read for a copy (a file's from its metadata).
pub(super) fn content_size(content: &Content) -> Option<u64> {
    match content {
        Content::Bytes(bytes) => Some(bytes.len() as u64),
        Content::File(file) => file.metadata().ok().map(|m| m.len()),
    }
}

/// `999 bytes`, `12 KB`, `1.3 MB`, `2.0 GB` (powers of 1000, as mail clients show sizes).
pub(crate) fn human_size(bytes: u64) -> String {
    const KB: u64 = 1_000;
    const MB: u64 = 1_000_000;
    const GB: u64 = 1_000_000_000;
    // Precision does not matter here; the value only has to read right.
    #[allow(clippy::cast_precision_loss)]
    let tenths = |unit: u64| (bytes as f64) / (unit as f64);
    match bytes {
        0..KB => format!("{bytes} bytes"),
        KB..MB => format!("{} KB", bytes / KB),
        MB..GB => format!("{:.1} MB", tenths(MB)),
        _ => format!("{:.1} GB", tenths(GB)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::flags::Flags;
    use crate::mail::item::ItemKey;
    use crate::side::Side;

    fn copy(key: &str, replaces: Option<crate::mail::status::ItemId>) -> ItemAction {
        ItemAction::Copy {
            from: Side::A,
            key: ItemKey::new(key),
            flags: Flags::new(),
            replaces,
            size: None,
        }
    }

    fn keys(copies: &[ItemAction]) -> Vec<String> {
        copies
            .iter()
            .map(|action| match action {
                ItemAction::Copy { key, .. } => key.as_str().to_owned(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn copies_that_failed_before_come_last_in_their_order() {
        let copies = vec![
            copy("r1", Some(1)),
            copy("n1", None),
            copy("r2", Some(2)),
            copy("n2", None),
        ];
        assert_eq!(keys(&retries_last(copies)), ["n1", "n2", "r1", "r2"]);
    }

    #[test]
    // The table's expected values are lists of ranges, some of one range.
    #[allow(clippy::single_range_in_vec_init)]
    fn new_copies_go_together_and_each_retry_alone() {
        let table: [(&[bool], &[Range<usize>]); 6] = [
            (&[], &[]),
            (&[false, false, false], &[0..3]),
            (&[true, true], &[0..1, 1..2]),
            (&[false, false, true, true], &[0..2, 2..3, 3..4]),
            (&[true, false, false], &[0..1, 1..3]),
            (&[false, true, false], &[0..1, 1..2, 2..3]),
        ];
        for (retry, expected) in table {
            assert_eq!(delivery_groups(retry), expected, "{retry:?}");
        }
    }

    #[test]
    fn sizes_read_as_a_mail_client_shows_them() {
        let table = [
            (0, "0 bytes"),
            (999, "999 bytes"),
            (40_960, "40 KB"),
            (999_999, "999 KB"),
            (1_300_059, "1.3 MB"),
            (2_000_000, "2.0 MB"),
            (3_500_000_000, "3.5 GB"),
        ];
        for (bytes, expected) in table {
            assert_eq!(human_size(bytes), expected);
        }
    }
}
