//! Human-readable plans, for `--dry-run` and `-v`.

use std::fmt;

use super::action::{ItemAction, ItemPlan, PlanCounts};
use super::collections::{CollectionPlan, CollectionStep};

impl fmt::Display for CollectionPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name_a == self.name_b {
            self.name_a.to_string()
        } else {
            format!("{} <-> {}", self.name_a, self.name_b)
        };
        match &self.step {
            CollectionStep::Sync => write!(f, "collection {name}: sync"),
            CollectionStep::Create(side) => {
                write!(f, "collection {name}: create on {side}, then sync")
            }
            CollectionStep::Remove(side) if self.replica == Some(*side) => {
                write!(f, "collection {name}: remove from the replica (only there)")
            }
            CollectionStep::Remove(side) => write!(
                f,
                "collection {name}: remove on {side} (deleted on {})",
                side.other()
            ),
            CollectionStep::Skip(why) => write!(f, "collection {name}: skip ({why})"),
        }
    }
}

impl fmt::Display for ItemAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemAction::Copy {
                from, key, flags, ..
            } => write!(f, "copy {from}->{} {key} [{flags}]", from.other()),
            ItemAction::Flags {
                set_a,
                set_b,
                agreed,
                ..
            } => {
                let mut parts = Vec::new();
                if let Some((key, flags)) = set_a {
                    parts.push(format!("flags on a {key} -> [{flags}]"));
                }
                if let Some((key, flags)) = set_b {
                    parts.push(format!("flags on b {key} -> [{flags}]"));
                }
                if parts.is_empty() {
                    parts.push(format!("record flags [{agreed}]"));
                }
                f.write_str(&parts.join("; "))
            }
            ItemAction::Delete {
                side,
                key,
                trash,
                keep_row,
                ..
            } => {
                write!(f, "delete on {side} {key}")?;
                if let Some(trash) = trash {
                    write!(f, " (into {trash})")?;
                }
                if *keep_row {
                    write!(f, " (kept on {}, marked deleted)", side.other())?;
                }
                Ok(())
            }
            ItemAction::Discard { side, key, trash } => {
                write!(f, "discard on {side} {key}, found only there")?;
                if let Some(trash) = trash {
                    write!(f, " (into {trash})")?;
                }
                Ok(())
            }
            ItemAction::Forget { .. } => f.write_str("forget an item gone from both sides"),
            ItemAction::Expire { side, key, .. } => {
                write!(f, "expire on {side} {key} (kept on {})", side.other())
            }
        }
    }
}

impl ItemPlan {
    /// How many actions of each kind the plan holds.
    pub fn counts(&self) -> PlanCounts {
        let mut counts = PlanCounts::default();
        for action in &self.actions {
            counts.record(action);
        }
        counts.held_back = self.held_back.len();
        counts
    }
}

impl fmt::Display for PlanCounts {
    /// `"3 copied a->b, 1 copied b->a, 2 flag changes, 1 deleted on b"` or `"nothing"`; the
    /// copies held back by the limits are left out (the summary reports them on their own).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.copies.a > 0 {
            parts.push(format!("{} copied a->b", self.copies.a));
        }
        if self.copies.b > 0 {
            parts.push(format!("{} copied b->a", self.copies.b));
        }
        if self.moves > 0 {
            parts.push(format!("{} moved", self.moves));
        }
        if self.renamed > 0 {
            parts.push(format!("{} renamed by another program", self.renamed));
        }
        if self.flags > 0 {
            parts.push(format!("{} flag changes", self.flags));
        }
        if self.deletions.a > 0 {
            parts.push(format!("{} deleted on a", self.deletions.a));
        }
        if self.deletions.b > 0 {
            parts.push(format!("{} deleted on b", self.deletions.b));
        }
        if self.expired > 0 {
            parts.push(format!("{} expired", self.expired));
        }
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}
