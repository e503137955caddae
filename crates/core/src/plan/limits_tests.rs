//! The limits (`max_size`, `max_messages`, `max_age`): tables of single decisions, and a
//! model-based property test that any history converges, never touches the far side because
//! of a limit, never expires unread or flagged mail, and then plans nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::limits::{LimitReason, apply_limits};
use super::*;
use crate::flags::{Flag, Flags};
use crate::item::{ItemEntry, ItemKey};
use crate::policy::{Limits, SyncPolicy};
use crate::side::Side;
use crate::status::StatusItem;

const DAY: u64 = 86_400;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1000 * DAY)
}

/// A day `n` days before [`now`].
fn days_ago(n: u64) -> SystemTime {
    now() - Duration::from_secs(n * DAY)
}

/// One message on a side: flags, size, and (far side) arrival date in days ago.
#[derive(Clone, Debug)]
struct Msg {
    flags: Flags,
    size: u64,
    age: Option<u64>,
}

type SideMap = BTreeMap<String, Msg>;

/// The far side is A, the near side B, as in an `a = imap`, `b = maildir` pair.
struct World {
    far: SideMap,
    near: SideMap,
    status: Vec<StatusItem>,
    next: i64,
    policy: SyncPolicy,
}

fn msg(flags: &str, size: u64, age: u64) -> Msg {
    Msg {
        flags: Flags::from_status_text(flags),
        size,
        age: Some(age),
    }
}

fn listing(side: &SideMap) -> Vec<ItemEntry> {
    side.iter()
        .map(|(k, m)| ItemEntry {
            key: ItemKey::new(k.clone()),
            flags: m.flags.clone(),
            size: Some(m.size),
        })
        .collect()
}

impl World {
    fn new(limits: Limits) -> Self {
        Self {
            far: SideMap::new(),
            near: SideMap::new(),
            status: Vec::new(),
            next: 0,
            policy: SyncPolicy {
                limits: Limits {
                    near: Some(Side::B),
                    ..limits
                },
                // Histories may delete most of a side: the deletion-share guard's business.
                max_delete: crate::policy::MaxDelete::UNLIMITED,
                ..SyncPolicy::both_ways()
            },
        }
    }

    fn plan(&self) -> ItemPlan {
        let (a, b) = (listing(&self.far), listing(&self.near));
        let mut plan = plan_items(&self.status, &a, &b, &self.policy);
        let dates: HashMap<ItemKey, SystemTime> = self
            .far
            .iter()
            .filter_map(|(k, m)| m.age.map(|age| (ItemKey::new(k.clone()), days_ago(age))))
            .collect();
        apply_limits(&mut plan, &self.status, &a, &b, &dates, &self.policy, now());
        plan
    }

    /// Carries a plan out the way the executor does.
    fn apply(&mut self, plan: &ItemPlan) {
        for action in &plan.actions {
            match action {
                ItemAction::Copy {
                    from,
                    key,
                    flags,
                    replaces,
                    ..
                } => {
                    self.status.retain(|r| Some(r.id) != *replaces);
                    self.next += 1;
                    let new_key = format!("n{}", self.next);
                    let (src, dst) = match from {
                        Side::A => (&self.far, &mut self.near),
                        Side::B => (&self.near, &mut self.far),
                    };
                    let mut copy = src[key.as_str()].clone();
                    copy.flags = flags.clone();
                    dst.insert(new_key.clone(), copy);
                    let (ka, kb) = match from {
                        Side::A => (key.clone(), ItemKey::new(new_key)),
                        Side::B => (ItemKey::new(new_key), key.clone()),
                    };
                    self.status.push(StatusItem {
                        id: self.next,
                        key_a: Some(ka),
                        key_b: Some(kb),
                        flags: flags.clone(),
                        pending: None,
                        expired: None,
                    });
                }
                ItemAction::Flags {
                    id,
                    set_a,
                    set_b,
                    agreed,
                } => {
                    if let Some((k, f)) = set_a {
                        self.far.get_mut(k.as_str()).unwrap().flags = f.clone();
                    }
                    if let Some((k, f)) = set_b {
                        self.near.get_mut(k.as_str()).unwrap().flags = f.clone();
                    }
                    let row = self.status.iter_mut().find(|r| r.id == *id).unwrap();
                    row.flags = agreed.clone();
                }
                ItemAction::Delete { id, side, key, .. } => {
                    match side {
                        Side::A => self.far.remove(key.as_str()),
                        Side::B => self.near.remove(key.as_str()),
                    };
                    self.status.retain(|r| r.id != *id);
                }
                ItemAction::Forget { id } => self.status.retain(|r| r.id != *id),
                ItemAction::Expire { id, side, key } => {
                    assert_eq!(*side, Side::B, "limits only ever remove from the near side");
                    self.near.remove(key.as_str());
                    let row = self.status.iter_mut().find(|r| r.id == *id).unwrap();
                    row.expired = Some(Side::B);
                    row.key_b = None;
                }
            }
        }
    }

    fn sync(&mut self) -> ItemPlan {
        let plan = self.plan();
        self.apply(&plan);
        plan
    }

    /// The far keys whose message is on the near side now.
    fn on_near(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .status
            .iter()
            .filter(|r| {
                r.key_b
                    .as_ref()
                    .is_some_and(|k| self.near.contains_key(k.as_str()))
            })
            .filter_map(|r| r.key_a.as_ref().map(|k| k.as_str().to_owned()))
            .collect();
        keys.sort();
        keys
    }
}

fn held(plan: &ItemPlan) -> Vec<(String, LimitReason)> {
    plan.held_back
        .iter()
        .map(|h| (h.key.as_str().to_owned(), h.reason))
        .collect()
}

#[test]
fn max_size_holds_back_big_copies_to_the_near_side_only() {
    let mut w = World::new(Limits {
        max_size: Some(1000),
        ..Limits::default()
    });
    w.far.insert("small".into(), msg("S", 1000, 1));
    w.far.insert("big".into(), msg("S", 1001, 1));
    w.near.insert("local-big".into(), msg("S", 5000, 1));
    let plan = w.sync();
    assert_eq!(
        held(&plan),
        [(
            "big".to_owned(),
            LimitReason::TooBig {
                size: 1001,
                max: 1000
            }
        )]
    );
    assert_eq!(
        w.on_near().len(),
        2,
        "small, and the near side's own big message"
    );
    assert!(!w.on_near().contains(&"big".to_owned()));
    assert_eq!(w.far.len(), 3, "the near side's big message is uploaded");
    let again = w.sync();
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    assert_eq!(again.held_back.len(), 1, "still reported, still not copied");
    assert!(w.far.contains_key("big"), "never deleted on the far side");
}

#[test]
fn max_age_skips_old_read_mail_but_never_unread_or_flagged() {
    let mut w = World::new(Limits {
        max_age: Some(Duration::from_secs(30 * DAY)),
        ..Limits::default()
    });
    w.far.insert("new".into(), msg("S", 10, 29));
    w.far.insert("old".into(), msg("S", 10, 31));
    w.far.insert("old-unread".into(), msg("", 10, 400));
    w.far.insert("old-flagged".into(), msg("FS", 10, 400));
    let plan = w.sync();
    assert_eq!(held(&plan), [("old".to_owned(), LimitReason::TooOld)]);
    assert_eq!(w.on_near(), ["new", "old-flagged", "old-unread"]);
    assert!(w.sync().actions.is_empty());

    // Read and unflagged on the near side: the change reaches the far side first, and only
    // the next run expires the messages there.
    for key in ["old-unread", "old-flagged"] {
        let row = w
            .status
            .iter()
            .find(|r| r.key_a.as_ref().unwrap().as_str() == key);
        let near_key = row.unwrap().key_b.clone().unwrap();
        w.near.get_mut(near_key.as_str()).unwrap().flags = Flags::from_status_text("S");
    }
    let plan = w.sync();
    assert_eq!(plan.counts().flags, 2);
    assert_eq!(plan.counts().expired, 0);
    assert_eq!(w.far["old-flagged"].flags, Flags::from_status_text("S"));
    let plan = w.sync();
    assert_eq!(plan.counts().expired, 2, "{:?}", plan.actions);
    assert_eq!(w.on_near(), ["new"]);
    assert_eq!(w.far.len(), 4, "expiry never deletes on the far side");
    let again = w.sync();
    assert!(again.actions.is_empty(), "{:?}", again.actions);
}

#[test]
fn max_messages_keeps_the_newest_and_expires_the_rest_on_the_near_side() {
    let mut w = World::new(Limits {
        max_messages: Some(2),
        ..Limits::default()
    });
    for (key, age) in [("m1", 1), ("m2", 2), ("m3", 3)] {
        w.far.insert(key.into(), msg("S", 10, age));
    }
    let plan = w.sync();
    assert_eq!(
        held(&plan),
        [("m3".to_owned(), LimitReason::BeyondCount { max: 2 })]
    );
    assert_eq!(w.on_near(), ["m1", "m2"]);
    // Two newer messages arrive while m1 is answered on the near side: m2 is expired on the
    // near side, m1 only once its flag change has reached the far side; never deleted far.
    w.far.insert("m0".into(), msg("S", 10, 0));
    w.far.insert("mx".into(), msg("S", 10, 0));
    let m1_near = w
        .status
        .iter()
        .find(|r| r.key_a.as_ref().unwrap().as_str() == "m1");
    let m1_near = m1_near.unwrap().key_b.clone().unwrap();
    w.near.get_mut(m1_near.as_str()).unwrap().flags = Flags::from_status_text("RS");
    let plan = w.sync();
    assert_eq!(plan.counts().expired, 1);
    assert_eq!(plan.counts().copies.a, 2);
    assert_eq!(w.far["m1"].flags, Flags::from_status_text("RS"));
    let plan = w.sync();
    assert_eq!(plan.counts().expired, 1);
    assert_eq!(w.on_near(), ["m0", "mx"]);
    assert_eq!(w.far.len(), 5);
    assert!(w.sync().actions.is_empty());
    // An expired message marked unread on the far side comes back (it is kept now).
    w.far.get_mut("m1").unwrap().flags = Flags::new();
    let plan = w.sync();
    assert_eq!(plan.counts().copies.a, 1, "{:?}", plan.actions);
    assert_eq!(w.on_near(), ["m0", "m1", "mx"]);
    assert!(w.sync().actions.is_empty());
    // Deleting on the far side removes it from the near side as usual.
    w.far.remove("m1");
    w.far.remove("m2");
    let plan = w.sync();
    assert_eq!(plan.counts().deletions.b, 1);
    assert_eq!(w.on_near(), ["m0", "mx"]);
    assert!(
        w.status
            .iter()
            .all(|r| r.key_a.as_ref().unwrap().as_str() != "m2")
    );
    assert!(w.sync().actions.is_empty());
}

#[test]
fn an_expired_message_is_not_a_deletion_and_does_not_come_back() {
    let mut w = World::new(Limits {
        max_messages: Some(1),
        ..Limits::default()
    });
    w.far.insert("old".into(), msg("S", 10, 5));
    w.sync();
    w.far.insert("new".into(), msg("S", 10, 1));
    w.sync();
    assert_eq!(w.on_near(), ["new"]);
    let row = w
        .status
        .iter()
        .find(|r| r.expired.is_some())
        .unwrap()
        .clone();
    // Without the limits' help the planner must still never delete on the far side.
    let plain = plan_items(&w.status, &listing(&w.far), &listing(&w.near), &w.policy);
    assert!(
        !plain
            .actions
            .iter()
            .any(|a| matches!(a, ItemAction::Delete { .. })),
        "{:?}",
        plain.actions
    );
    // Removing the limits brings the message back (how a user asks for everything again).
    w.policy.limits = Limits::default();
    let plan = w.sync();
    assert!(
        plan.actions.contains(&ItemAction::Forget { id: row.id })
            && plan.actions.iter().any(|a| matches!(
                a,
                ItemAction::Copy { from: Side::A, key, replaces: None, .. } if key.as_str() == "old"
            )),
        "{:?}",
        plan.actions
    );
    assert_eq!(w.on_near(), ["new", "old"]);
    assert!(w.sync().actions.is_empty());
}

#[test]
fn an_unknown_date_does_not_bring_an_expired_message_back() {
    let mut w = World::new(Limits {
        max_age: Some(Duration::from_secs(30 * DAY)),
        ..Limits::default()
    });
    w.far.insert("old".into(), msg("", 10, 40));
    w.sync();
    w.far.get_mut("old").unwrap().flags = Flags::from_status_text("S");
    w.sync();
    let plan = w.sync();
    assert_eq!(plan.counts().expired, 1, "{:?}", plan.actions);
    // The far side's date cannot be read this time.
    w.far.get_mut("old").unwrap().age = None;
    assert!(w.plan().actions.is_empty());
    // Unless it is unread again: then it is kept whatever its date.
    w.far.get_mut("old").unwrap().flags = Flags::new();
    assert_eq!(w.plan().counts().copies.a, 1);
}

#[test]
fn an_interrupted_expiry_is_finished_not_propagated() {
    let mut w = World::new(Limits::default());
    w.far.insert("f".into(), msg("S", 10, 5));
    w.sync();
    // Marked expired, but the run died before (or after) removing the near copy.
    w.status[0].expired = Some(Side::B);
    let near_key = w.status[0].key_b.clone().unwrap();
    w.policy.limits.max_messages = Some(0);
    let plan = w.plan();
    assert_eq!(
        plan.actions,
        [ItemAction::Expire {
            id: w.status[0].id,
            side: Side::B,
            key: near_key.clone()
        }]
    );
    w.near.remove(near_key.as_str());
    let plan = w.plan();
    assert!(
        matches!(plan.actions[..], [ItemAction::Expire { .. }]),
        "the key is forgotten once the removal is recorded: {:?}",
        plan.actions
    );
    w.apply(&plan);
    assert!(w.sync().actions.is_empty());
    assert!(w.far.contains_key("f"));
}

fn limits_strategy() -> impl Strategy<Value = Limits> {
    (
        proptest::option::of(1u64..200),
        proptest::option::of(0usize..6),
        proptest::option::of(1u64..20),
    )
        .prop_map(|(size, count, days)| Limits {
            near: Some(Side::B),
            max_size: size,
            max_messages: count,
            max_age: days.map(|d| Duration::from_secs(d * DAY)),
        })
}

#[derive(Clone, Debug)]
enum Edit {
    /// New mail on the far side: (seen, flagged, size, age in days).
    Arrive(bool, bool, u64, u64),
    /// New mail on the near side.
    Local(bool),
    /// Toggle \Seen or \Flagged of a message on a side.
    Toggle(bool, usize, bool),
    /// Delete a message on a side.
    Delete(bool, usize),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<bool>(), any::<bool>(), 1u64..300, 0u64..30)
            .prop_map(|(s, f, size, age)| Edit::Arrive(s, f, size, age)),
        any::<bool>().prop_map(Edit::Local),
        (any::<bool>(), any::<usize>(), any::<bool>()).prop_map(|(n, i, f)| Edit::Toggle(n, i, f)),
        (any::<bool>(), any::<usize>()).prop_map(|(n, i)| Edit::Delete(n, i)),
    ]
}

fn edit(w: &mut World, e: &Edit) {
    w.next += 1;
    let key = format!("e{}", w.next);
    match *e {
        Edit::Arrive(seen, flagged, size, age) => {
            let mut flags = Flags::new();
            flags.set(Flag::Seen, seen);
            flags.set(Flag::Flagged, flagged);
            w.far.insert(
                key,
                Msg {
                    flags,
                    size,
                    age: Some(age),
                },
            );
        }
        Edit::Local(seen) => {
            let mut flags = Flags::new();
            flags.set(Flag::Seen, seen);
            w.near.insert(
                key,
                Msg {
                    flags,
                    size: 5,
                    age: None,
                },
            );
        }
        Edit::Toggle(near, i, flagged) => {
            let side = if near { &mut w.near } else { &mut w.far };
            if side.is_empty() {
                return;
            }
            let key = side.keys().nth(i % side.len()).unwrap().clone();
            let flags = &mut side.get_mut(&key).unwrap().flags;
            let flag = if flagged { Flag::Flagged } else { Flag::Seen };
            let on = flags.contains(flag);
            flags.set(flag, !on);
        }
        Edit::Delete(near, i) => {
            let side = if near { &mut w.near } else { &mut w.far };
            // Never empty a side: that is the empty-side guard's business.
            if side.len() < 2 {
                return;
            }
            let key = side.keys().nth(i % side.len()).unwrap().clone();
            side.remove(&key);
        }
    }
}

proptest! {
    #[test]
    fn any_history_with_limits_converges_and_keeps_the_far_side(
        limits in limits_strategy(),
        rounds in proptest::collection::vec(proptest::collection::vec(edit_strategy(), 0..8), 1..6)
    ) {
        let mut w = World::new(limits);
        for round in &rounds {
            for e in round {
                edit(&mut w, e);
            }
            let far_before: Vec<String> = w.far.keys().cloned().collect();
            let plan = w.sync();
            prop_assert_eq!(plan.refused.clone(), None);
            // Limits never delete on the far side: only deletions made on the near side by the
            // user (there are none in this round's plan unless edits deleted near items).
            let deleted_far = plan.actions.iter().filter(|a| matches!(a, ItemAction::Delete { side: Side::A, .. })).count();
            let gone: Vec<&String> = far_before.iter().filter(|k| !w.far.contains_key(*k)).collect();
            prop_assert_eq!(gone.len(), deleted_far);
            // Every far message that is unread or flagged and fits max_size is on the near side.
            let on_near = w.on_near();
            for (key, m) in &w.far {
                let fits = limits.max_size.is_none_or(|max| m.size <= max);
                let protected = !m.flags.contains(Flag::Seen) || m.flags.contains(Flag::Flagged);
                if fits && protected {
                    prop_assert!(on_near.contains(key), "{} missing on the near side", key);
                }
            }
            // Every near message is paired (nothing local is lost or left behind).
            for key in w.near.keys() {
                prop_assert!(
                    w.status.iter().any(|r| r.key_b.as_ref().is_some_and(|k| k.as_str() == key)),
                    "{} not paired", key
                );
            }
            // Within the limits once flag changes have settled, and idempotent.
            let plan = w.sync();
            let third = w.sync();
            prop_assert!(third.actions.is_empty(), "{:?} after {:?}", third.actions, plan.actions);
            if let Some(max) = limits.max_messages {
                let unprotected = w.near.values().filter(|m| m.flags.contains(Flag::Seen) && !m.flags.contains(Flag::Flagged)).count();
                prop_assert!(unprotected <= max, "{} read messages kept, max_messages {}", unprotected, max);
            }
        }
    }
}
