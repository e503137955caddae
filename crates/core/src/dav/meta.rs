//! Collection metadata (display name, colour, description): a three-way merge per property,
//! like items but on single values.

use crate::policy::Direction;
use crate::side::Side;

use super::model::{ConflictPolicy, ItemPolicy};

/// What to do with one metadata property of one collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetaAction {
    /// Nothing: both sides agree with the status.
    Nothing,
    /// Both sides agree, the status is out of date: record the value.
    Record(Option<String>),
    /// Set the property on `on` (to `None`: remove it), then record the value.
    Set {
        /// The side to change.
        on: Side,
        /// The new value.
        value: Option<String>,
    },
    /// Both sides changed it differently and the policy picks no winner.
    Conflict,
}

/// Decides one property. `status` is `None` if it was never recorded, `Some(None)` if both
/// sides agreed it was unset.
pub fn plan_meta(
    status: Option<Option<&str>>,
    a: Option<&str>,
    b: Option<&str>,
    policy: &ItemPolicy,
) -> MetaAction {
    let owned = |v: Option<&str>| v.map(str::to_owned);
    if a == b {
        return if status == Some(a) {
            MetaAction::Nothing
        } else {
            MetaAction::Record(owned(a))
        };
    }
    let (changed_a, changed_b) = match status {
        Some(s) => (a != s, b != s),
        // Never recorded: a value set on one side only is new there, not a conflict.
        None => (a.is_some(), b.is_some()),
    };
    let from = match (changed_a, changed_b) {
        (true, false) => Side::A,
        (false, true) => Side::B,
        _ => match (policy.sync.direction, &policy.conflict) {
            (Direction::AToB | Direction::Mirror, _) | (Direction::Both, ConflictPolicy::KeepA) => {
                Side::A
            }
            (Direction::BToA, _) | (Direction::Both, ConflictPolicy::KeepB) => Side::B,
            _ => return MetaAction::Conflict,
        },
    };
    if !policy.sync.direction.allows_from(from) {
        return MetaAction::Nothing;
    }
    MetaAction::Set {
        on: from.other(),
        value: owned(if from == Side::A { a } else { b }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SyncPolicy;

    fn policy(conflict: ConflictPolicy, direction: Direction) -> ItemPolicy {
        ItemPolicy {
            sync: SyncPolicy {
                direction,
                ..SyncPolicy::both_ways()
            },
            conflict,
            ..ItemPolicy::default()
        }
    }

    #[test]
    fn three_way_merge_of_one_property() {
        let both = policy(ConflictPolicy::Report, Direction::Both);
        let set = |on, v: Option<&str>| MetaAction::Set {
            on,
            value: v.map(str::to_owned),
        };
        // (status, a, b) -> action
        type Row<'a> = (
            Option<Option<&'a str>>,
            Option<&'a str>,
            Option<&'a str>,
            MetaAction,
        );
        let table: [Row<'_>; 9] = [
            (None, None, None, MetaAction::Record(None)),
            (Some(None), None, None, MetaAction::Nothing),
            (None, Some("Work"), None, set(Side::B, Some("Work"))),
            (None, None, Some("Work"), set(Side::A, Some("Work"))),
            (
                None,
                Some("x"),
                Some("x"),
                MetaAction::Record(Some("x".into())),
            ),
            (
                Some(Some("x")),
                Some("y"),
                Some("x"),
                set(Side::B, Some("y")),
            ),
            (Some(Some("x")), Some("x"), None, set(Side::A, None)),
            (Some(Some("x")), Some("y"), Some("z"), MetaAction::Conflict),
            (None, Some("y"), Some("z"), MetaAction::Conflict),
        ];
        for (status, a, b, want) in table {
            assert_eq!(
                plan_meta(status, a, b, &both),
                want,
                "{status:?} {a:?} {b:?}"
            );
        }
    }

    #[test]
    fn conflicts_follow_the_policy_and_one_way_pairs() {
        let keep_b = policy(ConflictPolicy::KeepB, Direction::Both);
        assert_eq!(
            plan_meta(Some(Some("x")), Some("y"), Some("z"), &keep_b),
            MetaAction::Set {
                on: Side::A,
                value: Some("z".into())
            }
        );
        let mirror = policy(ConflictPolicy::Report, Direction::AToB);
        assert_eq!(
            plan_meta(Some(Some("x")), Some("x"), Some("mine"), &mirror),
            MetaAction::Nothing,
            "a mirror's own change is left alone"
        );
        assert_eq!(
            plan_meta(Some(Some("x")), Some("y"), Some("mine"), &mirror),
            MetaAction::Set {
                on: Side::B,
                value: Some("y".into())
            }
        );
    }
}
