//! Recognising late copies: messages an interrupted run's APPEND stored after a later run had
//! already given that copy up and made it again (see `status::AbandonedCopy`).
//!
//! Such a message is unknown to the status, so without this it would look like new mail and be
//! copied back: a duplicate on both sides. It is recognised, and may be removed, only when all
//! of these hold, so that mail the user put there is never taken for it:
//! - a copy to that side of an item was given up (an abandoned-copy record names the item);
//! - that item is now paired with another message on the same side (the copy made again);
//! - the unknown message has the item's fingerprint (Message-ID, Date, From, Subject, size).
//!
//! Each record accounts for one late message at most. Unknown messages are what content
//! pairing (`plan::pairing::pair_unknown`) left: it confirms a copy still pending without a
//! known key first, by multiplicity (one identical unknown message per pending copy), so that
//! when two killed runs both stored their copy, one confirms the pending row there and the
//! other is found here, as the late copy of the attempt that was given up.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::mail::fingerprint::Fingerprint;
use crate::mail::item::ItemKey;
use crate::mail::plan::pairing::Candidate;
use crate::mail::status::{AbandonedCopy, StatusItem};
use crate::side::{PerSide, Side};

/// A late copy found: the message `key` on `side`, accounted for by the record `abandoned`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateCopy {
    /// The abandoned-copy record it matches.
    pub abandoned: i64,
    /// The side it is on.
    pub side: Side,
    /// Its key there.
    pub key: ItemKey,
}

/// How long after a copy was given up its late copy may still land: a server stores a dead
/// connection's command within seconds, or a minute on a loaded machine (a later run's wait
/// for the folder to settle is not enough there), never an hour later.
pub const LANDING: Duration = Duration::from_secs(3600);

/// True once `record`'s late copy can no longer land ([`LANDING`]).
pub fn past_landing(record: &AbandonedCopy, now: SystemTime) -> bool {
    now.duration_since(record.abandoned_at)
        .is_ok_and(|age| age >= LANDING)
}

/// What [`find`] recognised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Late copies, to remove.
    pub late: Vec<LateCopy>,
    /// Records older than [`LANDING`] whose copy was made again and for which no late copy is
    /// there: nothing is left for them to find once the side has finished storing what
    /// earlier runs sent (`MailStore::settle`), and kept they would take an identical copy the
    /// user makes there for a late one.
    pub stale: Vec<i64>,
}

impl Found {
    /// True if nothing was recognised.
    pub fn is_empty(&self) -> bool {
        self.late.is_empty() && self.stale.is_empty()
    }
}

/// Finds late copies. `unknown` holds the fingerprints of every item each side lists that no
/// row knows (on a side with records); `sources` the fingerprints of the abandoned copies'
/// source items, on the side they are on; `now` tells stale records.
pub fn find(
    abandoned: &[AbandonedCopy],
    rows: &[StatusItem],
    unknown: &PerSide<Vec<Candidate>>,
    sources: &PerSide<Vec<Candidate>>,
    now: SystemTime,
) -> Found {
    // The records of one item on one side, in order.
    let mut groups: Vec<((Side, &ItemKey), Vec<&AbandonedCopy>)> = Vec::new();
    for record in abandoned {
        let group = (record.side, &record.source_key);
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, records)) => records.push(record),
            None => groups.push((group, vec![record])),
        }
    }
    let mut found = Found::default();
    let mut claimed: HashSet<(Side, &ItemKey)> = HashSet::new();
    for ((side, source_key), records) in groups {
        let source_side = side.other();
        let copied_again = rows.iter().any(|row| {
            row.key(source_side) == Some(source_key)
                && row.pending.is_none()
                && row.key(side).is_some()
        });
        if !copied_again {
            continue;
        }
        let source_fingerprints: HashMap<&ItemKey, &Fingerprint> = sources
            .get(source_side)
            .iter()
            .filter_map(|c| c.fingerprint.as_ref().map(|f| (&c.key, f)))
            .collect();
        let Some(fingerprint) = source_fingerprints.get(source_key) else {
            continue;
        };
        let matches: Vec<&Candidate> = unknown
            .get(side)
            .iter()
            .filter(|c| {
                c.fingerprint.as_ref() == Some(*fingerprint) && !claimed.contains(&(side, &c.key))
            })
            .collect();
        let (late, rest) = records.split_at(records.len().min(matches.len()));
        for (record, candidate) in late.iter().zip(matches) {
            claimed.insert((side, &candidate.key));
            found.late.push(LateCopy {
                abandoned: record.id,
                side,
                key: candidate.key.clone(),
            });
        }
        found.stale.extend(
            rest.iter()
                .filter(|record| past_landing(record, now))
                .map(|record| record.id),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::flags::Flags;

    fn fingerprint(text: &str) -> Fingerprint {
        let message = format!("Message-ID: <{text}@x>\r\nSubject: {text}\r\n\r\nbody\r\n");
        Fingerprint::of_message(message.as_bytes())
            .unwrap()
            .unwrap()
    }

    fn candidate(key: &str, text: &str) -> Candidate {
        Candidate {
            key: ItemKey::new(key),
            fingerprint: Some(fingerprint(text)),
            flags: Flags::default(),
        }
    }

    fn paired(id: i64, key_a: &str, key_b: &str) -> StatusItem {
        StatusItem {
            id,
            key_a: Some(ItemKey::new(key_a)),
            key_b: Some(ItemKey::new(key_b)),
            flags: Flags::default(),
            pending: None,
            expired: None,
        }
    }

    /// When the tests run: records are given up an hour and a half before.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn record(id: i64, side: Side, source_key: &str) -> AbandonedCopy {
        AbandonedCopy {
            id,
            side,
            source_key: ItemKey::new(source_key),
            abandoned_at: now() - LANDING - Duration::from_secs(1800),
        }
    }

    /// Side A is the server the copies went to; side B holds the sources.
    fn sides(unknown_a: Vec<Candidate>, sources_b: Vec<Candidate>) -> [PerSide<Vec<Candidate>>; 2] {
        [
            PerSide {
                a: unknown_a,
                b: Vec::new(),
            },
            PerSide {
                a: Vec::new(),
                b: sources_b,
            },
        ]
    }

    #[test]
    fn a_late_message_with_the_sources_fingerprint_is_found_once_per_record() {
        let rows = [paired(1, "uid-10", "local-1")];
        let [unknown, sources] = sides(
            vec![candidate("uid-9", "m1"), candidate("uid-11", "m1")],
            vec![candidate("local-1", "m1")],
        );
        let one = find(
            &[record(7, Side::A, "local-1")],
            &rows,
            &unknown,
            &sources,
            now(),
        );
        assert_eq!(
            one.late,
            [LateCopy {
                abandoned: 7,
                side: Side::A,
                key: ItemKey::new("uid-9")
            }]
        );
        // Two attempts were given up: both late messages are accounted for.
        let two = [record(7, Side::A, "local-1"), record(8, Side::A, "local-1")];
        let found = find(&two, &rows, &unknown, &sources, now());
        assert_eq!(found.late.len(), 2);
        assert_ne!(found.late[0].key, found.late[1].key);
        // Three attempts given up, two late copies there: the third record finds nothing.
        let three = [
            two[0].clone(),
            two[1].clone(),
            record(9, Side::A, "local-1"),
        ];
        assert_eq!(find(&three, &rows, &unknown, &sources, now()).stale, [9]);
        // Within the landing window the record is kept: its copy may still be on its way.
        let young = AbandonedCopy {
            abandoned_at: now() - LANDING + Duration::from_secs(60),
            ..record(9, Side::A, "local-1")
        };
        let three = [two[0].clone(), two[1].clone(), young];
        assert!(
            find(&three, &rows, &unknown, &sources, now())
                .stale
                .is_empty()
        );
    }

    #[test]
    fn a_pending_copy_among_identical_candidates_is_confirmed_and_the_rest_are_late() {
        // Run 1 was killed during the APPEND of local-1; run 2 gave it up (record 7) and was
        // killed during the new APPEND; now both arrived and neither has a known UID.
        let pending = StatusItem {
            key_a: None,
            pending: Some(Side::A),
            ..paired(1, "x", "local-1")
        };
        let arrived = vec![
            candidate("uid-9", "m1"),
            candidate("uid-11", "m1"),
            candidate("uid-12", "m2"),
        ];
        // Content pairing confirms one copy by multiplicity: the destination holds more
        // copies of the message than the status pairs there.
        let changes = crate::mail::plan::pairing::pair_unknown(
            3,
            std::slice::from_ref(&pending),
            &arrived,
            &[candidate("local-1", "m1")],
        );
        assert_eq!(
            changes,
            [crate::mail::status::StatusChange::FinishCopy {
                id: 1,
                to: Side::A,
                key: ItemKey::new("uid-11")
            }]
        );
        // The other identical one is the late copy of the attempt that was given up.
        let confirmed = paired(1, "uid-11", "local-1");
        let [unknown, sources] = sides(
            vec![candidate("uid-9", "m1"), candidate("uid-12", "m2")],
            vec![candidate("local-1", "m1")],
        );
        assert_eq!(
            find(
                &[record(7, Side::A, "local-1")],
                &[confirmed],
                &unknown,
                &sources,
                now()
            )
            .late,
            [LateCopy {
                abandoned: 7,
                side: Side::A,
                key: ItemKey::new("uid-9")
            }]
        );
        // Without a record, an identical unknown message is left alone (new mail).
        assert_eq!(
            find(
                &[],
                &[paired(1, "uid-11", "local-1")],
                &unknown,
                &sources,
                now()
            ),
            Found::default()
        );
    }

    #[test]
    fn nothing_is_found_without_every_condition() {
        let rows = [paired(1, "uid-10", "local-1")];
        let [unknown, sources] = sides(
            vec![candidate("uid-11", "m1")],
            vec![candidate("local-1", "m1")],
        );
        // No record.
        assert_eq!(
            find(&[], &rows, &unknown, &sources, now()),
            Found::default()
        );
        // The record is for the other side.
        assert!(
            find(
                &[record(7, Side::B, "local-1")],
                &rows,
                &unknown,
                &sources,
                now()
            )
            .is_empty()
        );
        // The source was not copied again (its copy is still pending, or it has no row).
        let pending = [StatusItem {
            key_a: None,
            pending: Some(Side::A),
            ..paired(1, "x", "local-1")
        }];
        assert!(
            find(
                &[record(7, Side::A, "local-1")],
                &pending,
                &unknown,
                &sources,
                now()
            )
            .is_empty()
        );
        assert!(
            find(
                &[record(7, Side::A, "local-1")],
                &[],
                &unknown,
                &sources,
                now()
            )
            .is_empty()
        );
        // A different message: the user's own mail is never taken for a late copy, and the
        // record has found nothing.
        let [other, sources] = sides(
            vec![candidate("uid-11", "m2")],
            vec![candidate("local-1", "m1")],
        );
        let found = find(
            &[record(7, Side::A, "local-1")],
            &rows,
            &other,
            &sources,
            now(),
        );
        assert_eq!((found.late, found.stale), (vec![], vec![7]));
        // The source could not be fingerprinted.
        let unreadable = PerSide {
            a: Vec::new(),
            b: vec![Candidate {
                fingerprint: None,
                ..candidate("local-1", "m1")
            }],
        };
        assert!(
            find(
                &[record(7, Side::A, "local-1")],
                &rows,
                &unknown,
                &unreadable,
                now()
            )
            .is_empty()
        );
    }
}
