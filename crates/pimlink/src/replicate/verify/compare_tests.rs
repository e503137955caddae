use std::collections::{BTreeMap, BTreeSet};

use pimlink_core::{Flag, Flags};
use proptest::prelude::*;

use super::*;

fn identity(n: u8) -> Identity {
    Identity {
        fingerprint: format!("{n:016x}"),
        message_id: Some(format!("<{n}@example.org>")),
    }
}

fn message(n: u8, flags: Flags) -> Message {
    Message {
        identity: identity(n),
        flags,
        size: Some(100 + u64::from(n)),
        internal_date: Some(1_700_000_000 + i64::from(n)),
        sha256: Some(format!("sha-{n}")),
    }
}

/// The snapshot as the reader gives it at `level`: what the level does not read is absent.
fn at_level(snapshot: &Snapshot, level: Level) -> Snapshot {
    let mut out = snapshot.clone();
    for folder in out.folders.values_mut() {
        folder.count =
            (level == Level::Counts && folder.selectable).then_some(folder.messages.len() as u32);
        if !level.lists_messages() {
            folder.messages.clear();
        }
        for message in &mut folder.messages {
            if level < Level::SizesDates {
                message.size = None;
                message.internal_date = None;
            }
            if level < Level::Content {
                message.sha256 = None;
            }
        }
    }
    out
}

fn kinds(differences: &[Difference]) -> Vec<(&str, &str)> {
    differences
        .iter()
        .map(|d| (d.folder.as_str(), d.what.kind()))
        .collect()
}

fn one_folder(messages: Vec<Message>) -> Snapshot {
    let mut folders = BTreeMap::new();
    folders.insert(
        "INBOX".to_owned(),
        Folder {
            selectable: true,
            count: None,
            messages,
        },
    );
    Snapshot {
        folders,
        subscriptions: Some(BTreeSet::from(["INBOX".to_owned()])),
        special_use: Some(BTreeMap::new()),
        takes_special_use: true,
    }
}

#[test]
fn identical_snapshots_have_no_difference_at_any_level() {
    let seen = Flags::new().with(Flag::Seen);
    let snapshot = one_folder(vec![
        message(1, seen.clone()),
        message(1, seen),
        message(2, Flags::new()),
    ]);
    for n in 1..=5 {
        let level = Level::from_number(n).unwrap();
        let s = at_level(&snapshot, level);
        assert!(compare(&s, &s, level).is_empty(), "level {n}");
    }
}

#[test]
fn identical_copies_are_counted() {
    let master = one_folder(vec![message(1, Flags::new()); 3]);
    let replica = one_folder(vec![message(1, Flags::new()); 2]);
    let found = compare(&master, &replica, Level::Content);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].what, What::MissingMessage { copies: 1 });
    assert_eq!(found[0].message, Some(identity(1)));
    let found = compare(&replica, &master, Level::Content);
    assert_eq!(found[0].what, What::ExtraMessage { copies: 1 });
}

#[test]
fn a_flag_changed_on_one_of_two_copies_is_one_difference() {
    let seen = Flags::new().with(Flag::Seen);
    let master = one_folder(vec![message(1, seen.clone()), message(1, Flags::new())]);
    let replica = one_folder(vec![message(1, seen.clone()), message(1, seen.clone())]);
    let found = compare(&master, &replica, Level::Flags);
    assert_eq!(
        found.iter().map(|d| &d.what).collect::<Vec<_>>(),
        [&What::Flags {
            master: Flags::new(),
            replica: seen
        }]
    );
}

#[test]
fn a_noselect_parent_against_a_folder_is_reported_once() {
    let mut master = one_folder(vec![]);
    let mut replica = master.clone();
    master.folders.insert("a".into(), Folder::default());
    replica.folders.insert(
        "a".into(),
        Folder {
            selectable: true,
            ..Folder::default()
        },
    );
    assert_eq!(
        kinds(&compare(&master, &replica, Level::Content)),
        [("a", "selectable")]
    );
}

#[test]
fn special_use_is_compared_without_case_and_only_where_both_sides_tell() {
    let mut master = one_folder(vec![]);
    let mut replica = master.clone();
    master.special_use = Some(BTreeMap::from([("INBOX".into(), "\\Sent".into())]));
    replica.special_use = Some(BTreeMap::from([("INBOX".into(), "\\SENT".into())]));
    assert!(compare(&master, &replica, Level::Folders).is_empty());
    replica.special_use = None;
    replica.subscriptions = None;
    assert!(compare(&master, &replica, Level::Folders).is_empty());
    replica.special_use = Some(BTreeMap::new());
    assert_eq!(
        kinds(&compare(&master, &replica, Level::Folders)),
        [("INBOX", "special-use")]
    );
}

/// A replica whose special-use attributes no client can set (no METADATA: Dovecot keeps them
/// in its configuration) cannot be made to match by replication, so they are not compared;
/// otherwise verify would report the same difference after every pass.
#[test]
fn special_use_is_not_compared_on_a_replica_that_cannot_take_it() {
    let mut master = one_folder(vec![]);
    let mut replica = master.clone();
    master.special_use = Some(BTreeMap::from([("INBOX".into(), "\\Sent".into())]));
    replica.takes_special_use = false;
    assert!(compare(&master, &replica, Level::Folders).is_empty());
    // The master's own ability does not matter: it is only read.
    master.takes_special_use = false;
    replica.takes_special_use = true;
    assert_eq!(
        kinds(&compare(&master, &replica, Level::Folders)),
        [("INBOX", "special-use")]
    );
}

/// A random mailbox: folders with messages drawn from a small pool, so that identical copies
/// and shared messages are common.
fn mailbox() -> impl Strategy<Value = Snapshot> {
    let flags = (0u8..64, prop::bool::ANY).prop_map(|(bits, junk)| {
        let mut flags = Flags::new();
        for (i, flag) in Flag::ALL.into_iter().enumerate() {
            flags.set(flag, bits & (1 << i) != 0);
        }
        flags.set_keyword("$Junk", junk);
        flags
    });
    let message = (0u8..6, flags).prop_map(|(n, flags)| message(n, flags));
    let folder = (
        prop::bool::weighted(0.9),
        prop::collection::vec(message, 0..8),
    )
        .prop_map(|(selectable, messages)| Folder {
            selectable,
            count: None,
            messages: if selectable { messages } else { Vec::new() },
        });
    (
        prop::collection::btree_map("[a-c]{1,2}", folder, 1..5),
        prop::collection::vec(prop::bool::ANY, 5),
        prop::collection::vec(prop::sample::select(vec!["\\Sent", "\\Trash"]), 5),
    )
        .prop_map(|(folders, subscribed, uses)| {
            let subscriptions = folders
                .keys()
                .zip(&subscribed)
                .filter(|(_, on)| **on)
                .map(|(name, _)| name.clone())
                .collect();
            let special_use = folders
                .keys()
                .zip(&uses)
                .step_by(2)
                .map(|(name, use_)| (name.clone(), (*use_).to_owned()))
                .collect();
            Snapshot {
                folders,
                subscriptions: Some(subscriptions),
                special_use: Some(special_use),
                takes_special_use: true,
            }
        })
}

/// One planted difference, chosen by `kind` among those the mailbox allows, applied to the
/// replica; returns the folder, the message (if any) and the expected difference at level 5.
fn plant(
    replica: &mut Snapshot,
    kind: usize,
    pick: prop::sample::Index,
) -> Option<(String, Option<Identity>, What)> {
    let names: Vec<String> = replica.folders.keys().cloned().collect();
    let name = pick.get(&names).clone();
    let folder = replica.folders.get_mut(&name)?;
    let has_messages = !folder.messages.is_empty();
    let index = if has_messages {
        pick.index(folder.messages.len())
    } else {
        0
    };
    match kind {
        1 => {
            replica.folders.insert("zz".into(), Folder::default());
            Some(("zz".into(), None, What::ExtraFolder))
        }
        2 => {
            let subscriptions = replica.subscriptions.as_mut()?;
            if subscriptions.remove(&name) {
                Some((name, None, What::MissingSubscription))
            } else {
                subscriptions.insert(name.clone());
                Some((name, None, What::ExtraSubscription))
            }
        }
        3 => {
            let uses = replica.special_use.as_mut()?;
            let master = uses.remove(&name);
            let replica_use = master.is_none().then(|| "\\Junk".to_owned());
            if let Some(new) = &replica_use {
                uses.insert(name.clone(), new.clone());
            }
            Some((
                name,
                None,
                What::SpecialUse {
                    master,
                    replica: replica_use,
                },
            ))
        }
        4 if folder.selectable => {
            folder.messages.push(message(200, Flags::new()));
            Some((name, Some(identity(200)), What::ExtraMessage { copies: 1 }))
        }
        5 if has_messages => {
            let removed = folder.messages.remove(index);
            Some((
                name,
                Some(removed.identity),
                What::MissingMessage { copies: 1 },
            ))
        }
        6 if has_messages => {
            let message = &mut folder.messages[index];
            let before = message.flags.clone();
            let on = !before.contains(Flag::Seen);
            message.flags.set(Flag::Seen, on);
            Some((
                name,
                Some(message.identity.clone()),
                What::Flags {
                    master: before,
                    replica: message.flags.clone(),
                },
            ))
        }
        7 if has_messages => {
            let message = &mut folder.messages[index];
            let before = message.internal_date;
            message.internal_date = before.map(|d| d + 3600);
            Some((
                name,
                Some(message.identity.clone()),
                What::InternalDate {
                    master: before,
                    replica: message.internal_date,
                },
            ))
        }
        8 if has_messages => {
            let message = &mut folder.messages[index];
            let before = message.sha256.clone();
            message.sha256 = Some("changed".into());
            Some((
                name,
                Some(message.identity.clone()),
                What::Content {
                    master: before,
                    replica: message.sha256.clone(),
                },
            ))
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A random mailbox and a copy with one random planted difference: at the planted
    /// difference's level and above exactly that difference is found, below it none (a
    /// changed message count shows as the count at level 2).
    #[test]
    fn a_planted_difference_is_found_exactly_at_its_level(
        master in mailbox(),
        kind in 1usize..9,
        pick in any::<prop::sample::Index>(),
    ) {
        let mut replica = master.clone();
        let planted = plant(&mut replica, kind, pick);
        for n in 1..=5 {
            let level = Level::from_number(n).unwrap();
            let found = compare(&at_level(&master, level), &at_level(&replica, level), level);
            let Some((folder, message, what)) = &planted else {
                prop_assert!(found.is_empty(), "nothing planted, found {found:?}");
                continue;
            };
            let counted = matches!(what, What::ExtraMessage { .. } | What::MissingMessage { .. });
            if level == Level::Counts && counted {
                prop_assert_eq!(kinds(&found), [(folder.as_str(), "count")]);
            } else if level >= what.level() {
                prop_assert_eq!(found, vec![Difference {
                    folder: folder.clone(),
                    message: message.clone(),
                    what: what.clone(),
                }]);
            } else {
                prop_assert!(found.is_empty(), "level {n} found {found:?}");
            }
        }
    }

    /// A removed folder is reported as missing at every level, together with its lost
    /// subscription and special-use at most.
    #[test]
    fn a_removed_folder_is_missing(master in mailbox(), pick in any::<prop::sample::Index>()) {
        let mut replica = master.clone();
        let names: Vec<String> = master.folders.keys().cloned().collect();
        let name = pick.get(&names).clone();
        replica.folders.remove(&name);
        replica.subscriptions.as_mut().unwrap().remove(&name);
        let found = compare(&master, &replica, Level::Content);
        prop_assert_eq!(&found[0].what, &What::MissingFolder);
        for difference in &found[1..] {
            prop_assert_eq!(&difference.folder, &name);
            prop_assert_eq!(&difference.what, &What::MissingSubscription);
        }
    }
}

#[test]
fn a_difference_reads_as_one_line() {
    let master = one_folder(vec![message(1, Flags::new().with(Flag::Replied))]);
    let mut later = Flags::new().with(Flag::Replied);
    later.set_keyword("$Later", true);
    let replica = one_folder(vec![message(1, later)]);
    let found = compare(&master, &replica, Level::Flags);
    assert_eq!(
        found[0].line("alice"),
        "alice: folder \"INBOX\": message <1@example.org> [0000000000000001]: \
         flags (\\Answered) on the master, (\\Answered $Later) on the replica"
    );
}
