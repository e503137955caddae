//! The calendar/contact planner as tables and properties.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::dav::store::{Etag, Href};
use crate::dav::vobject::ContentHash;
use crate::guard::Refusal;
use crate::policy::{Direction, OnEmpty, SyncPolicy};
use crate::side::Side;

fn v(href: &str, etag: &str, content: &str) -> ItemVersion {
    ItemVersion {
        href: Href::new(href),
        etag: Etag::new(etag),
        hash: ContentHash::from_hex(format!("hash-of-{content}")),
    }
}

fn status(uid: &str, content: &str) -> StatusRow {
    StatusRow {
        id: 1,
        uid: uid.to_owned(),
        a: v("a", "ea", content),
        b: v("b", "eb", content),
    }
}

fn policy() -> ItemPolicy {
    ItemPolicy {
        sync: SyncPolicy::both_ways(),
        ..ItemPolicy::default()
    }
}

fn with_direction(direction: Direction) -> ItemPolicy {
    let mut p = policy();
    p.sync.direction = direction;
    p
}

fn with_conflict(conflict: ConflictPolicy) -> ItemPolicy {
    ItemPolicy {
        conflict,
        ..policy()
    }
}

/// Side states in the table: what each side holds relative to the status row `x`.
#[derive(Clone, Copy, Debug)]
enum S {
    Gone,
    /// The version the status recorded.
    Same,
    /// A new etag, same content (a server rewrote DTSTAMP).
    Touched,
    /// New content `y`.
    Changed,
    /// New content `z` (differs from the other side's change).
    Other,
}

fn state(side: &str, s: S) -> Option<ItemVersion> {
    match s {
        S::Gone => None,
        S::Same => Some(v(side, &format!("e{side}"), "x")),
        S::Touched => Some(v(side, &format!("e{side}-2"), "x")),
        S::Changed => Some(v(side, &format!("e{side}-3"), "y")),
        S::Other => Some(v(side, &format!("e{side}-4"), "z")),
    }
}

fn act(uid: &str, kind: &str, side: Side) -> Option<ItemAction> {
    let uid = uid.to_owned();
    Some(match kind {
        "copy" => ItemAction::Copy { uid, from: side },
        "update" => ItemAction::Update { uid, from: side },
        "delete" => ItemAction::Delete { uid, side },
        "record" => ItemAction::Record { uid },
        "forget" => ItemAction::Forget { uid },
        "conflict" => ItemAction::Conflict { uid },
        _ => return None,
    })
}

#[test]
fn decision_table_with_a_status_row() {
    use S::*;
    let row = status("u", "x");
    let table = [
        (Same, Same, "none", Side::A),
        (Touched, Same, "record", Side::A),
        (Same, Touched, "record", Side::A),
        (Changed, Same, "update", Side::A),
        (Same, Changed, "update", Side::B),
        (Changed, Touched, "update", Side::A),
        (Changed, Changed, "record", Side::A), // same new content on both: not a conflict
        (Changed, Other, "conflict", Side::A),
        (Same, Gone, "delete", Side::A),
        (Touched, Gone, "delete", Side::A),
        (Gone, Same, "delete", Side::B),
        (Changed, Gone, "copy", Side::A), // a change beats a deletion
        (Gone, Other, "copy", Side::B),
        (Gone, Gone, "forget", Side::A),
    ];
    for (a, b, kind, side) in table {
        let got = decide(
            "u",
            Some(&row),
            state("a", a).as_ref(),
            state("b", b).as_ref(),
            &policy(),
        );
        assert_eq!(got, act("u", kind, side), "a={a:?} b={b:?}");
    }
}

#[test]
fn decision_table_without_a_status_row() {
    let p = policy();
    let x = v("a", "1", "x");
    let y = v("b", "2", "y");
    let x_on_b = v("b", "9", "x");
    assert_eq!(
        decide("u", None, Some(&x), None, &p),
        act("u", "copy", Side::A)
    );
    assert_eq!(
        decide("u", None, None, Some(&y), &p),
        act("u", "copy", Side::B)
    );
    // Both sides already hold it (moving from vdirsyncer, or a copy that landed before an
    // interrupted run recorded it): recorded, never duplicated.
    assert_eq!(
        decide("u", None, Some(&x), Some(&x_on_b), &p),
        act("u", "record", Side::A)
    );
    assert_eq!(
        decide("u", None, Some(&x), Some(&y), &p),
        act("u", "conflict", Side::A)
    );
}

#[test]
fn each_conflict_policy() {
    let row = status("u", "x");
    let (a, b) = (state("a", S::Changed), state("b", S::Other));
    let decide_with = |p: &ItemPolicy| decide("u", Some(&row), a.as_ref(), b.as_ref(), p);
    assert_eq!(
        decide_with(&with_conflict(ConflictPolicy::KeepA)),
        act("u", "update", Side::A)
    );
    assert_eq!(
        decide_with(&with_conflict(ConflictPolicy::KeepB)),
        act("u", "update", Side::B)
    );
    assert_eq!(
        decide_with(&with_conflict(ConflictPolicy::Report)),
        act("u", "conflict", Side::A)
    );
    let cmd = ConflictPolicy::Command(vec!["vimdiff".into()]);
    assert_eq!(
        decide_with(&with_conflict(cmd)),
        act("u", "conflict", Side::A),
        "the command runs in resolve-conflicts, through the executor"
    );
    // A one-way pair's source wins whatever the policy.
    let mut mirror = with_direction(Direction::BToA);
    mirror.conflict = ConflictPolicy::KeepA;
    assert_eq!(decide_with(&mirror), act("u", "update", Side::B));
}

#[test]
fn one_way_pairs_leave_the_mirrors_own_changes_alone() {
    use S::*;
    let row = status("u", "x");
    let p = with_direction(Direction::AToB);
    let table = [
        (Changed, Same, "update", Side::A),
        (Same, Changed, "none", Side::A),
        (Gone, Same, "delete", Side::B),
        (Same, Gone, "none", Side::A),
        (Gone, Changed, "none", Side::A),
        (Changed, Gone, "copy", Side::A),
    ];
    for (a, b, kind, side) in table {
        let got = decide(
            "u",
            Some(&row),
            state("a", a).as_ref(),
            state("b", b).as_ref(),
            &p,
        );
        assert_eq!(got, act("u", kind, side), "a={a:?} b={b:?}");
    }
    assert_eq!(decide("n", None, None, Some(&v("b", "1", "q")), &p), None);
}

#[test]
fn operations_limit_new_items_and_deletions() {
    let mut p = policy();
    p.sync.operations.new = false;
    p.sync.operations.delete = false;
    let row = status("u", "x");
    assert_eq!(decide("n", None, Some(&v("a", "1", "q")), None, &p), None);
    assert_eq!(
        decide("u", Some(&row), state("a", S::Same).as_ref(), None, &p),
        None
    );
}

fn side_map(items: &[(&str, ItemVersion)]) -> BTreeMap<String, ItemVersion> {
    items
        .iter()
        .map(|(u, v)| (u.to_string(), v.clone()))
        .collect()
}

#[test]
fn an_emptied_side_is_refused_unless_on_empty_is_sync() {
    let rows = vec![status("u1", "x"), status("u2", "x")];
    let a = side_map(&[("u1", v("a", "ea", "x")), ("u2", v("a", "ea", "x"))]);
    let empty = BTreeMap::new();
    let plan = plan_items(&rows, &a, &empty, &policy());
    assert!(plan.actions.is_empty());
    assert_eq!(
        plan.refused,
        Some(Refusal::EmptySide {
            side: Side::B,
            known: 2,
            deletions: 2
        })
    );
    let mut sync = policy();
    sync.sync.on_empty = OnEmpty::Sync;
    let plan = plan_items(&rows, &a, &empty, &sync);
    assert_eq!(plan.refused, None);
    assert_eq!(plan.counts().deleted.a, 2);
    // Both sides empty: nothing is deleted, the rows are forgotten.
    let plan = plan_items(&rows, &empty, &empty, &policy());
    assert_eq!(plan.refused, None);
    assert_eq!(plan.actions.len(), 2);
}

#[test]
fn a_side_that_lost_most_items_is_refused_unless_max_delete_allows() {
    let rows: Vec<StatusRow> = (0..10)
        .map(|i| StatusRow {
            id: i,
            ..status(&format!("u{i}"), "x")
        })
        .collect();
    let on = |side: &str, uids: std::ops::Range<i64>| {
        let etag = format!("e{side}");
        uids.map(|i| (format!("u{i}"), v(side, &etag, "x")))
            .collect::<BTreeMap<_, _>>()
    };
    let a = on("a", 0..10);
    // B kept one of ten: deleting nine on A is refused, and nothing at all is planned.
    let plan = plan_items(&rows, &a, &on("b", 9..10), &policy());
    assert!(plan.actions.is_empty());
    assert!(
        matches!(
            &plan.refused,
            Some(Refusal::TooManyDeletions { side: Side::B, known: 10, deletions: 9, rows, .. })
                if rows.len() == 9
        ),
        "{:?}",
        plan.refused
    );
    // Half is allowed, and so is a forced run.
    assert_eq!(
        plan_items(&rows, &a, &on("b", 5..10), &policy()).refused,
        None
    );
    let mut forced = policy();
    forced.sync.max_delete = crate::policy::MaxDelete::UNLIMITED;
    let plan = plan_items(&rows, &a, &on("b", 9..10), &forced);
    assert_eq!(plan.refused, None);
    assert_eq!(plan.counts().deleted.a, 9);
    // A deletion that may not flow is no deletion: a one-way pair from A ignores B's losses.
    let one_way = with_direction(Direction::AToB);
    assert_eq!(
        plan_items(&rows, &a, &on("b", 9..10), &one_way).refused,
        None
    );
}

#[test]
fn plans_are_in_uid_order_and_count_per_side() {
    let a = side_map(&[("b", v("a1", "1", "p")), ("a", v("a2", "1", "q"))]);
    let b = side_map(&[("c", v("b1", "1", "r"))]);
    let plan = plan_items(&[], &a, &b, &policy());
    let uids: Vec<&str> = plan.actions.iter().map(ItemAction::uid).collect();
    assert_eq!(uids, ["a", "b", "c"]);
    let counts = plan.counts();
    assert_eq!((counts.created.b, counts.created.a), (2, 1));
    assert_eq!(counts.to_string(), "1 created on a, 2 created on b");
    assert_eq!(ItemCounts::default().to_string(), "nothing");
}

// ---- Model-based property: executing a plan in a model converges and loses nothing. ----

/// One side in the model: uid -> (etag counter, content).
type Model = BTreeMap<String, (u32, u8)>;

fn version_of(side: &str, etag: u32, content: u8) -> ItemVersion {
    v(side, &format!("{side}{etag}"), &content.to_string())
}

fn view(side: &str, model: &Model) -> BTreeMap<String, ItemVersion> {
    model
        .iter()
        .map(|(uid, (etag, content))| (uid.clone(), version_of(side, *etag, *content)))
        .collect()
}

#[derive(Clone, Debug)]
struct World {
    a: Model,
    b: Model,
    /// uid -> (etag on a, etag on b, content) both sides agreed on.
    status: BTreeMap<String, (u32, u32, u8)>,
}

impl World {
    fn rows(&self) -> Vec<StatusRow> {
        self.status
            .iter()
            .map(|(uid, (ea, eb, c))| StatusRow {
                id: 0,
                uid: uid.clone(),
                a: version_of("a", *ea, *c),
                b: version_of("b", *eb, *c),
            })
            .collect()
    }

    fn side(&mut self, side: Side) -> &mut Model {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Carries out `plan` as the executor would; returns the UIDs left in conflict.
    fn execute(&mut self, plan: &ItemPlan) -> Vec<String> {
        let mut conflicts = Vec::new();
        for action in &plan.actions {
            let uid = action.uid().to_owned();
            match action {
                ItemAction::Copy { from, .. } | ItemAction::Update { from, .. } => {
                    let content = self.side(*from)[&uid].1;
                    let to = self.side(from.other());
                    let etag = to.get(&uid).map_or(100, |(e, _)| e + 1);
                    to.insert(uid.clone(), (etag, content));
                    self.record(&uid);
                }
                ItemAction::Record { .. } => self.record(&uid),
                ItemAction::Delete { side, .. } => {
                    self.side(*side).remove(&uid);
                    self.status.remove(&uid);
                }
                ItemAction::Forget { .. } => {
                    self.status.remove(&uid);
                }
                ItemAction::Conflict { .. } => conflicts.push(uid),
            }
        }
        conflicts
    }

    fn record(&mut self, uid: &str) {
        let (ea, c) = self.a[uid];
        let (eb, _) = self.b[uid];
        self.status.insert(uid.to_owned(), (ea, eb, c));
    }
}

/// For each of 5 UIDs: the agreed content (or none), then what each side did since.
fn world() -> impl Strategy<Value = World> {
    let one = (prop::option::of(0u8..3), 0u8..4, 0u8..4, 0u8..3, 0u8..3);
    prop::collection::vec(one, 5).prop_map(|uids| {
        let mut world = World {
            a: Model::new(),
            b: Model::new(),
            status: BTreeMap::new(),
        };
        for (i, (agreed, did_a, did_b, new_a, new_b)) in uids.into_iter().enumerate() {
            let uid = format!("u{i}");
            // 0 = untouched, 1 = etag moved only, 2 = new content, 3 = deleted (or absent).
            let apply = |did: u8, new: u8, model: &mut Model| match (agreed, did) {
                (Some(c), 0) => {
                    model.insert(uid.clone(), (1, c));
                }
                (Some(c), 1) => {
                    model.insert(uid.clone(), (2, c));
                }
                (_, 2) => {
                    model.insert(uid.clone(), (3, new));
                }
                _ => {}
            };
            apply(did_a, new_a, &mut world.a);
            apply(did_b, new_b, &mut world.b);
            if let Some(c) = agreed {
                world.status.insert(uid, (1, 1, c));
            }
        }
        world
    })
}

proptest! {
    #[test]
    fn a_plan_converges_in_one_run_and_loses_no_change(mut world in world(), keep in 0u8..3) {
        let conflict = match keep {
            0 => ConflictPolicy::Report,
            1 => ConflictPolicy::KeepA,
            _ => ConflictPolicy::KeepB,
        };
        let mut p = with_conflict(conflict.clone());
        p.sync.on_empty = OnEmpty::Sync;
        let before = world.clone();
        let plan = plan_items(&world.rows(), &view("a", &world.a), &view("b", &world.b), &p);
        let conflicts = world.execute(&plan);
        if conflict != ConflictPolicy::Report {
            prop_assert!(conflicts.is_empty());
        }

        // Converged: both sides hold the same content, except for open conflicts.
        for uid in world.a.keys().chain(world.b.keys()) {
            if conflicts.contains(uid) {
                continue;
            }
            prop_assert_eq!(world.a.get(uid).map(|x| x.1), world.b.get(uid).map(|x| x.1), "{}", uid);
            prop_assert!(world.status.contains_key(uid), "{} unrecorded", uid);
        }
        // Idempotent: planning again finds nothing but the same conflicts.
        let again = plan_items(&world.rows(), &view("a", &world.a), &view("b", &world.b), &p);
        for action in &again.actions {
            prop_assert!(matches!(action, ItemAction::Conflict { .. }), "{:?}", action);
        }
        // Nothing changed since the status is ever deleted: new content survives somewhere.
        for (side, model) in [(Side::A, &before.a), (Side::B, &before.b)] {
            for (uid, (etag, content)) in model {
                let changed = before.status.get(uid).is_none_or(|(_, _, c)| c != content) && *etag == 3
                    || !before.status.contains_key(uid);
                if changed {
                    let survives = world.a.get(uid).is_some_and(|x| x.1 == *content)
                        || world.b.get(uid).is_some_and(|x| x.1 == *content)
                        || conflicts.contains(uid)
                        || (conflict != ConflictPolicy::Report
                            && world.a.contains_key(uid)
                            && world.b.contains_key(uid));
                    prop_assert!(survives, "{} changed on {} to {} was lost", uid, side, content);
                }
            }
        }
    }
}

#[test]
fn named_collections_on_neither_side_are_created_on_both() {
    let id = |s: &str| crate::dav::store::CollectionId::new(s).unwrap();
    let selection = Selection {
        from_a: true,
        from_b: false,
        explicit: vec![ExplicitCollection {
            name: "home".to_owned(),
            a: id("personal"),
            b: id("privat"),
        }],
        matches: &|c| c.as_str().starts_with("team"),
    };
    let steps =
        |on_a: &[&str], on_b: &[&str], policy: &ItemPolicy| -> Vec<(String, CollectionStep)> {
            let on_a: Vec<_> = on_a.iter().map(|s| id(s)).collect();
            let on_b: Vec<_> = on_b.iter().map(|s| id(s)).collect();
            plan_collections(&on_a, &on_b, &[], &selection, policy)
                .into_iter()
                .map(|p| (p.name, p.step))
                .collect()
        };
    assert_eq!(
        steps(&["work"], &[], &policy()),
        [
            ("home".to_owned(), CollectionStep::CreateBoth),
            ("work".to_owned(), CollectionStep::Create(Side::B)),
        ]
    );
    // "from a" without "from b": a collection only on b is not selected, unless a pattern
    // picks it.
    assert_eq!(
        steps(&[], &["bonly", "team-x"], &policy()),
        [
            ("home".to_owned(), CollectionStep::CreateBoth),
            ("team-x".to_owned(), CollectionStep::Create(Side::A)),
        ]
    );
    // Once one side has it, it is an ordinary one-sided collection.
    assert_eq!(
        steps(&[], &["privat"], &policy()),
        [("home".to_owned(), CollectionStep::Create(Side::A))]
    );
    // A pair that may not create on a side leaves a named collection alone, saying why.
    let one_way = with_direction(Direction::AToB);
    let planned = steps(&[], &[], &one_way);
    assert!(
        matches!(&planned[0].1, CollectionStep::Skip(why) if why.contains("does not create")),
        "{planned:?}"
    );
    let rendered = plan_collections(&[], &[], &[], &selection, &policy())[0].to_string();
    assert_eq!(
        rendered,
        "collection home (a: personal, b: privat): create on a and b"
    );
}
