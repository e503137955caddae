//! The comparer: two snapshots in, the differences out. Pure: no I/O, no clock.
//!
//! Folders are matched by name, messages by content ([`Identity`]), never by UID or
//! UIDVALIDITY, which a replica is free to have of its own. A folder may hold several
//! identical copies of a message; they are compared as a multiset: copies whose compared
//! attributes agree pair first, the remaining copies of the same message pair in a stable
//! order and each such pair reports what differs, and the surplus on either side is one
//! missing or extra message with its number of copies.

use std::collections::{BTreeMap, BTreeSet};

use super::difference::{Difference, What};
use super::snapshot::{Folder, Identity, Level, Message, Snapshot};

/// Every difference between `master` and `replica` that `level` looks at, in folder order.
/// Attributes the level did not read are `None` on both sides and never differ.
pub fn compare(master: &Snapshot, replica: &Snapshot, level: Level) -> Vec<Difference> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = master
        .folders
        .keys()
        .chain(replica.folders.keys())
        .collect();
    for name in names {
        let folder = |what| Difference {
            folder: name.clone(),
            message: None,
            what,
        };
        match (master.folders.get(name), replica.folders.get(name)) {
            (Some(_), None) => out.push(folder(What::MissingFolder)),
            (None, Some(_)) => out.push(folder(What::ExtraFolder)),
            (Some(m), Some(r)) => compare_folder(name, m, r, level, &mut out),
            (None, None) => {}
        }
        if let (Some(m), Some(r)) = (&master.special_use, &replica.special_use)
            && replica.takes_special_use
        {
            let (m, r) = (m.get(name), r.get(name));
            let both = master.folders.contains_key(name) && replica.folders.contains_key(name);
            if both && !same_special_use(m, r) {
                out.push(folder(What::SpecialUse {
                    master: m.cloned(),
                    replica: r.cloned(),
                }));
            }
        }
    }
    if let (Some(m), Some(r)) = (&master.subscriptions, &replica.subscriptions) {
        for name in m.difference(r) {
            out.push(Difference {
                folder: name.clone(),
                message: None,
                what: What::MissingSubscription,
            });
        }
        for name in r.difference(m) {
            out.push(Difference {
                folder: name.clone(),
                message: None,
                what: What::ExtraSubscription,
            });
        }
    }
    out
}

/// Servers spell special-use attributes in any case (RFC 6154 names them case-insensitively).
fn same_special_use(a: Option<&String>, b: Option<&String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

fn compare_folder(name: &str, m: &Folder, r: &Folder, level: Level, out: &mut Vec<Difference>) {
    if m.selectable != r.selectable {
        out.push(Difference {
            folder: name.to_owned(),
            message: None,
            what: What::Selectable {
                master: m.selectable,
                replica: r.selectable,
            },
        });
        return;
    }
    if level == Level::Counts
        && let (Some(master), Some(replica)) = (m.count, r.count)
        && master != replica
    {
        out.push(Difference {
            folder: name.to_owned(),
            message: None,
            what: What::Count { master, replica },
        });
    }
    if level.lists_messages() {
        compare_messages(name, &m.messages, &r.messages, out);
    }
}

/// The messages of one folder, as multisets per identity.
fn compare_messages(folder: &str, m: &[Message], r: &[Message], out: &mut Vec<Difference>) {
    let mut groups: BTreeMap<&Identity, (Vec<&Message>, Vec<&Message>)> = BTreeMap::new();
    for message in m {
        groups.entry(&message.identity).or_default().0.push(message);
    }
    for message in r {
        groups.entry(&message.identity).or_default().1.push(message);
    }
    for (identity, (mut m, mut r)) in groups {
        m.sort_by_key(|message| attributes(message));
        r.sort_by_key(|message| attributes(message));
        let (m, r) = without_equal_copies(m, r);
        let push = |out: &mut Vec<Difference>, what| {
            out.push(Difference {
                folder: folder.to_owned(),
                message: Some(identity.clone()),
                what,
            })
        };
        for (a, b) in m.iter().zip(&r) {
            for what in attribute_differences(a, b) {
                push(out, what);
            }
        }
        if m.len() > r.len() {
            push(
                out,
                What::MissingMessage {
                    copies: m.len() - r.len(),
                },
            );
        }
        if r.len() > m.len() {
            push(
                out,
                What::ExtraMessage {
                    copies: r.len() - m.len(),
                },
            );
        }
    }
}

type Attributes = (String, Option<u64>, Option<i64>, Option<String>);

/// What the comparer looks at in a message besides its identity, in an order to sort by.
fn attributes(message: &Message) -> Attributes {
    (
        message.flags.to_status_text(),
        message.size,
        message.internal_date,
        message.sha256.clone(),
    )
}

/// Both sorted lists without the copies that agree in every attribute (a sorted merge).
fn without_equal_copies<'a>(
    m: Vec<&'a Message>,
    r: Vec<&'a Message>,
) -> (Vec<&'a Message>, Vec<&'a Message>) {
    let (mut left_m, mut left_r) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < m.len() && j < r.len() {
        match attributes(m[i]).cmp(&attributes(r[j])) {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                left_m.push(m[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                left_r.push(r[j]);
                j += 1;
            }
        }
    }
    left_m.extend(&m[i..]);
    left_r.extend(&r[j..]);
    (left_m, left_r)
}

fn attribute_differences(m: &Message, r: &Message) -> Vec<What> {
    let mut out = Vec::new();
    if m.flags != r.flags {
        out.push(What::Flags {
            master: m.flags.clone(),
            replica: r.flags.clone(),
        });
    }
    if m.size != r.size {
        out.push(What::Size {
            master: m.size,
            replica: r.size,
        });
    }
    if m.internal_date != r.internal_date {
        out.push(What::InternalDate {
            master: m.internal_date,
            replica: r.internal_date,
        });
    }
    if m.sha256 != r.sha256 {
        out.push(What::Content {
            master: m.sha256.clone(),
            replica: r.sha256.clone(),
        });
    }
    out
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
