//! The limits (`max_size`, `max_messages`, `max_age`): tables of single decisions, and a
//! model-based property test that any history converges, never touches the far side because
//! of a limit, never expires unread or flagged mail, and then plans nothing.
//!
//! One file: the tables and the model share the date, message and listing builders at its top.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::limits::{Arrivals, LimitReason, apply_limits};
use super::*;
use crate::mail::flags::{Flag, Flags};
use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::status::StatusItem;
use crate::policy::{Limits, SyncPolicy};
use crate::side::Side;

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
    /// What the status caches of arrivals, as the executor keeps it: far dates by far key,
    /// and when near-only items were first found, by near key.
    cached: Arrivals,
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
            cached: Arrivals::default(),
        }
    }

    /// What the executor gathers for the limits (`exec::limits`): cached arrivals plus the
    /// dates of far items not cached yet (ranked for the first time), and near items the
    /// status does not know, found now.
    fn arrivals(&self) -> Arrivals {
        if !self.policy.limits.needs_dates() {
            return Arrivals::default();
        }
        let mut arrivals = self.cached.clone();
        arrivals.first_ranked = HashSet::new();
        for (key, m) in &self.far {
            let key = ItemKey::new(key.clone());
            if !arrivals.far.contains_key(&key) {
                if let Some(age) = m.age {
                    arrivals.far.insert(key.clone(), days_ago(age));
                }
                arrivals.first_ranked.insert(key);
            }
        }
        let known: HashSet<&str> = self
            .status
            .iter()
            .filter_map(|r| r.key_b.as_ref().map(ItemKey::as_str))
            .collect();
        for key in self.near.keys().filter(|k| !known.contains(k.as_str())) {
            arrivals
                .near
                .entry(ItemKey::new(key.clone()))
                .or_insert(now());
        }
        arrivals
    }

    fn plan(&self) -> ItemPlan {
        self.plan_with(&self.arrivals())
    }

    fn plan_with(&self, arrivals: &Arrivals) -> ItemPlan {
        let (a, b) = (listing(&self.far), listing(&self.near));
        let mut plan = plan_items(&self.status, &a, &b, &self.policy);
        apply_limits(
            &mut plan,
            &self.status,
            &a,
            &b,
            arrivals,
            &self.policy,
            now(),
        );
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
                ItemAction::Discard { .. } => unreachable!("only mirrors discard"),
                ItemAction::Expire { id, side, key } => {
                    assert_eq!(*side, Side::B, "limits only ever remove from the near side");
                    self.near.remove(key.as_str());
                    let row = self.status.iter_mut().find(|r| r.id == *id).unwrap();
                    row.expired = Some(Side::B);
                    row.key_b = None;
                }
            }
        }
        for held in &plan.held_back {
            assert_eq!(
                held.from,
                Side::A,
                "only copies to the near side are held back"
            );
            self.next += 1;
            self.status.push(StatusItem {
                id: self.next,
                key_a: Some(held.key.clone()),
                key_b: None,
                flags: held.flags.clone(),
                pending: None,
                expired: Some(Side::B),
            });
        }
    }

    fn sync(&mut self) -> ItemPlan {
        let mut arrivals = self.arrivals();
        let plan = self.plan_with(&arrivals);
        self.apply(&plan);
        // The cache forgets keys that are gone, as `StatusStore::update_item_dates` does.
        arrivals
            .far
            .retain(|k, _| self.far.contains_key(k.as_str()));
        arrivals
            .near
            .retain(|k, _| self.near.contains_key(k.as_str()));
        self.cached = arrivals;
        plan
    }

    /// The near key of the row whose far key is `far`.
    fn near_key(&self, far: &str) -> ItemKey {
        let row = self
            .status
            .iter()
            .find(|r| r.key_a.as_ref().is_some_and(|k| k.as_str() == far));
        row.and_then(|r| r.key_b.clone())
            .unwrap_or_else(|| panic!("{far} is not on the near side"))
    }

    /// The far key of the row whose near key is `near`.
    fn far_key(&self, near: &str) -> String {
        let row = self
            .status
            .iter()
            .find(|r| r.key_b.as_ref().is_some_and(|k| k.as_str() == near));
        row.and_then(|r| r.key_a.as_ref())
            .map(|k| k.as_str().to_owned())
            .unwrap_or_else(|| panic!("{near} is not paired"))
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
    // The status knows the held-back message now (listings count it), so it is neither
    // reported nor copied again.
    assert!(
        w.status
            .iter()
            .any(|r| r.key_a.as_ref().unwrap().as_str() == "big"
                && r.key_b.is_none()
                && r.expired == Some(Side::B))
    );
    let again = w.sync();
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    assert!(again.held_back.is_empty(), "{:?}", again.held_back);
    assert!(w.far.contains_key("big"), "never deleted on the far side");
    // Without the limit it is copied: --fetch-big, or a raised limit.
    w.policy.limits.max_size = None;
    let fetched = w.sync();
    assert_eq!(fetched.counts().copies.a, 1, "{:?}", fetched.actions);
    assert!(w.on_near().contains(&"big".to_owned()));
    w.policy.limits.max_size = Some(1000);
    assert!(w.sync().actions.is_empty(), "once copied, it stays");
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
    // The cached date is lost, and the far side's date cannot be read this time.
    w.cached.far.clear();
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

#[test]
fn an_upload_ranks_by_when_it_was_found_on_the_near_side_not_by_its_old_date() {
    let mut w = World::new(Limits {
        max_messages: Some(2),
        ..Limits::default()
    });
    w.far.insert("m1".into(), msg("S", 10, 1));
    w.far.insert("m2".into(), msg("S", 10, 2));
    w.sync();
    // Moved into the local folder by a mail reader: its file keeps a date of long ago, and
    // the upload gives the server's copy that date too.
    w.near.insert("archived".into(), msg("S", 10, 400));
    let upload = w.sync();
    assert_eq!(upload.counts().copies.b, 1);
    assert_eq!(
        upload.counts().expired,
        1,
        "m2 makes room: {:?}",
        upload.actions
    );
    let far_key = w.far_key("archived");
    assert_eq!(w.far[&far_key].age, Some(400));
    let mut expected = vec![far_key.clone(), "m1".to_owned()];
    expected.sort();
    assert_eq!(w.on_near(), expected);
    // Newest by its arrival in the folder: neither the next run nor any later one removes it
    // for its old date.
    for _ in 0..3 {
        let again = w.sync();
        assert!(again.actions.is_empty(), "{:?}", again.actions);
    }
    // It leaves once two messages arrived after it, like any other.
    w.far.insert("m0".into(), msg("S", 10, 0));
    assert_eq!(w.sync().counts().expired, 1);
    assert!(w.on_near().contains(&far_key));
    w.far.insert("mx".into(), msg("S", 10, 0));
    assert_eq!(w.sync().counts().expired, 1);
    assert_eq!(w.on_near(), ["m0", "mx"]);
    assert!(
        w.far.contains_key(&far_key),
        "expiry never deletes on the far side"
    );
    assert!(w.sync().actions.is_empty());
}

#[test]
fn the_run_after_an_upload_keeps_it_whatever_its_rank() {
    let mut w = World::new(Limits {
        max_messages: Some(1),
        ..Limits::default()
    });
    w.far.insert("m1".into(), msg("S", 10, 1));
    w.sync();
    w.near.insert("archived".into(), msg("S", 10, 400));
    w.sync();
    let far_key = w.far_key("archived");
    // Two messages arrive on the far side before the next run: by rank, the upload is out.
    w.far.insert("mx".into(), msg("S", 10, 0));
    w.far.insert("my".into(), msg("S", 10, 0));
    let next = w.sync();
    assert_eq!(next.counts().expired, 0, "{:?}", next.actions);
    assert!(w.on_near().contains(&far_key));
    assert_eq!(
        held(&next),
        [("mx".to_owned(), LimitReason::BeyondCount { max: 1 })]
    );
    // The run after that treats it like any other message.
    let later = w.sync();
    assert_eq!(later.counts().expired, 1, "{:?}", later.actions);
    assert_eq!(w.on_near(), ["my"]);
    assert!(w.sync().actions.is_empty());
}

#[test]
fn a_held_back_message_is_recorded_and_follows_the_far_flags() {
    let mut w = World::new(Limits {
        max_messages: Some(1),
        ..Limits::default()
    });
    w.far.insert("m1".into(), msg("S", 10, 1));
    w.far.insert("m2".into(), msg("S", 10, 2));
    let first = w.sync();
    assert_eq!(
        held(&first),
        [("m2".to_owned(), LimitReason::BeyondCount { max: 1 })]
    );
    let row = |w: &World| {
        w.status
            .iter()
            .find(|r| r.key_a.as_ref().unwrap().as_str() == "m2")
            .cloned()
            .unwrap()
    };
    assert_eq!((row(&w).key_b, row(&w).expired), (None, Some(Side::B)));
    // Answered on the far side: the row records it (an incremental listing starts from the
    // row's flags), without changing either side.
    w.far.get_mut("m2").unwrap().flags = Flags::from_status_text("RS");
    let plan = w.sync();
    assert_eq!(plan.counts(), PlanCounts::default(), "{:?}", plan.actions);
    assert_eq!(row(&w).flags, Flags::from_status_text("RS"));
    assert!(w.sync().actions.is_empty());
    // Kept once the limit allows it, with the flags it has now.
    w.policy.limits.max_messages = Some(2);
    let plan = w.sync();
    assert_eq!(plan.counts().copies.a, 1, "{:?}", plan.actions);
    assert_eq!(
        w.near[w.near_key("m2").as_str()].flags,
        Flags::from_status_text("RS")
    );
    assert!(w.sync().actions.is_empty());
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
    /// New mail on the near side: (seen, age of its file in days).
    Local(bool, u64),
    /// Toggle \Seen or \Flagged of a message on a side.
    Toggle(bool, usize, bool),
    /// Delete a message on a side.
    Delete(bool, usize),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<bool>(), any::<bool>(), 1u64..300, 0u64..30)
            .prop_map(|(s, f, size, age)| Edit::Arrive(s, f, size, age)),
        (any::<bool>(), 0u64..400).prop_map(|(s, age)| Edit::Local(s, age)),
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
        Edit::Local(seen, age) => {
            let mut flags = Flags::new();
            flags.set(Flag::Seen, seen);
            // Uploaded with its file's date, as the server's arrival date.
            w.near.insert(
                key,
                Msg {
                    flags,
                    size: 5,
                    age: Some(age),
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
            let known_near: Vec<ItemKey> = w.status.iter().filter_map(|r| r.key_b.clone()).collect();
            let local: Vec<ItemKey> = w.near.keys().map(|k| ItemKey::new(k.clone())).filter(|k| !known_near.contains(k)).collect();
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
            // The run after an upload never expires it. Within the limits once flag changes
            // have settled, and idempotent.
            let plan = w.sync();
            for action in &plan.actions {
                if let ItemAction::Expire { key, .. } = action {
                    prop_assert!(!local.contains(key), "{:?} expired right after its upload", key);
                }
            }
            // (An upload kept by that rule alone leaves in the run after.)
            let plan = w.sync();
            let fourth = w.sync();
            prop_assert!(fourth.actions.is_empty(), "{:?} after {:?}", fourth.actions, plan.actions);
            if let Some(max) = limits.max_messages {
                let unprotected = w.near.values().filter(|m| m.flags.contains(Flag::Seen) && !m.flags.contains(Flag::Flagged)).count();
                prop_assert!(unprotected <= max, "{} read messages kept, max_messages {}", unprotected, max);
            }
        }
    }
}
