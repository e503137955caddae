//! `--json`: a run as JSON Lines on stdout, one event per line, for scripts and status bars.
//! The schema is versioned (`"schema": 1` in every event) and documented for users in
//! docs/json-events.md (with an example); within a version a field is only ever added, never
//! renamed or removed. Keep that file and this list in step.
//!
//! Every event has `schema`, `event`, `pair` and `ts` (seconds since the Unix epoch, UTC, as a
//! float). The events:
//! - `collection`: a collection's step was decided: `collection`, `step` (`sync`, `create`,
//!   `remove`, `delete`, `forget`, `skip`), `side` (`"a"`/`"b"`, for steps that have one;
//!   `create` on both sides has `"ab"`), `reason` (for `skip`).
//! - `planned`: in a dry run, one item action that would be carried out: `collection`, `action`
//!   (as the human output words it). Mail's held-back copies come as `held_back` events.
//! - `action`: an item action was carried out: `collection`, `action` (mail: `copy`, `flags`,
//!   `delete`, `expire`, `forget`; calendars and contacts: `copy`, `update`, `delete`,
//!   `record`, `forget`, `conflict`), `text` (as the human output words it).
//! - `action_failed`: the same fields and `error`.
//! - `move`: a mail message moved between folders on the other side is moved on `side` too:
//!   `from`, `to`, `side`, `key`.
//! - `collection_finished`: `collection`, `counts` (mail: `copied_a_to_b`, `copied_b_to_a`,
//!   `flags`, `deleted_on_a`, `deleted_on_b`, `moved`, `renamed`, `expired`, `held_back`; calendars and
//!   contacts: `created_on_a`, `created_on_b`, `updated_on_a`, `updated_on_b`, `deleted_on_a`,
//!   `deleted_on_b`, `conflicts`), `errors` (list of strings), `refused` (string or null),
//!   `unchanged` (mail: the folder was not listed because nothing changed).
//! - `summary`: the end of the pair's run: `outcome` (`clean`, `partial`, `refused`),
//!   `dry_run`, `collections`, `errors`, and `counts` summed over the collections.
//!
//! Failures that stop a whole pair (a server that cannot be reached) are not events: they go
//! to stderr as without `--json`, and the exit status says what happened.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use pimlink_core::dav::{self, Dav};
use pimlink_core::mail::Mail;
use pimlink_core::mail::plan::{self as mail_plan, ItemAction as MailAction, PlanCounts};
use pimlink_core::run::{CollectionReport, Family, Observer, PairReport};
use pimlink_core::{Error, ItemKey, PerSide, Side};
use serde_json::{Map, Value, json};

/// The version of the events' schema; raised when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// Writes one event on stdout: `schema`, `event`, the `owner` field (`pair` and its name for a
/// sync; `replication` for `replicate --verify`), `ts`, then `fields`.
pub fn write_event(event: &str, owner: (&str, &str), fields: Value) {
    let mut line = Map::new();
    line.insert("schema".into(), json!(SCHEMA));
    line.insert("event".into(), json!(event));
    line.insert(owner.0.into(), json!(owner.1));
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    line.insert("ts".into(), json!((ts * 1000.0).round() / 1000.0));
    if let Value::Object(fields) = fields {
        line.extend(fields);
    }
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (the reader went away) must not stop the run.
    let _ = writeln!(stdout, "{}", Value::Object(line));
    let _ = stdout.flush();
}

/// Writes a pair's run as JSON Lines on stdout.
pub struct JsonEvents {
    pair: String,
    dry_run: bool,
}

impl JsonEvents {
    /// For pair `pair`.
    pub fn new(pair: &str, dry_run: bool) -> Self {
        Self {
            pair: pair.to_owned(),
            dry_run,
        }
    }

    /// One event: the common fields, then `fields`.
    pub(crate) fn emit(&self, event: &str, fields: Value) {
        write_event(event, ("pair", &self.pair), fields);
    }

    fn collection_finished<F: Family>(
        &self,
        name: &str,
        collection: &CollectionReport<F>,
        counts: Value,
        unchanged: bool,
    ) {
        self.emit(
            "collection_finished",
            json!({
                "collection": name,
                "counts": counts,
                "errors": collection.errors.iter().map(|e| format!("{e:#}")).collect::<Vec<_>>(),
                "refused": collection.refused.as_ref().map(ToString::to_string),
                "unchanged": unchanged,
            }),
        );
    }

    fn summary<F: Family>(&self, report: &PairReport<F>, counts: Value) {
        let outcome = report.outcome().as_str();
        let errors: usize = report.collections.iter().map(|c| c.errors.len()).sum();
        self.emit(
            "summary",
            json!({
                "outcome": outcome,
                "dry_run": self.dry_run,
                "collections": report.collections.len(),
                "errors": errors,
                "counts": counts,
            }),
        );
    }
}

fn side(side: Side) -> &'static str {
    match side {
        Side::A => "a",
        Side::B => "b",
    }
}

fn mail_counts(counts: &PlanCounts) -> Value {
    json!({
        "copied_a_to_b": counts.copies.a,
        "copied_b_to_a": counts.copies.b,
        "flags": counts.flags,
        "deleted_on_a": counts.deletions.a,
        "deleted_on_b": counts.deletions.b,
        "moved": counts.moves,
        "renamed": counts.renamed,
        "expired": counts.expired,
        "held_back": counts.held_back,
    })
}

fn dav_counts(counts: &dav::ItemCounts) -> Value {
    json!({
        "created_on_a": counts.created.a,
        "created_on_b": counts.created.b,
        "updated_on_a": counts.updated.a,
        "updated_on_b": counts.updated.b,
        "deleted_on_a": counts.deleted.a,
        "deleted_on_b": counts.deleted.b,
        "conflicts": counts.conflicts,
    })
}

fn mail_action_kind(action: &MailAction) -> &'static str {
    match action {
        MailAction::Copy { .. } => "copy",
        MailAction::Flags { .. } => "flags",
        MailAction::Delete { .. } => "delete",
        MailAction::Forget { .. } => "forget",
        MailAction::Discard { .. } => "discard",
        MailAction::Expire { .. } => "expire",
    }
}

fn dav_action_kind(action: &dav::ItemAction) -> &'static str {
    match action {
        dav::ItemAction::Copy { .. } => "copy",
        dav::ItemAction::Update { .. } => "update",
        dav::ItemAction::Delete { .. } => "delete",
        dav::ItemAction::Record { .. } => "record",
        dav::ItemAction::Forget { .. } => "forget",
        dav::ItemAction::Conflict { .. } => "conflict",
    }
}

impl Observer<Mail> for JsonEvents {
    fn collection_planned(&mut self, plan: &mail_plan::CollectionPlan) {
        use mail_plan::CollectionStep as Step;
        let (step, on, reason) = match &plan.step {
            Step::Sync => ("sync", None, None),
            Step::Create(s) => ("create", Some(side(*s)), None),
            Step::Remove(s) if plan.replica == Some(*s) => {
                ("remove", Some(side(*s)), Some("only on the replica"))
            }
            Step::Remove(s) => ("remove", Some(side(*s)), None),
            Step::Skip(why) => ("skip", None, Some(why.as_str())),
        };
        self.emit(
            "collection",
            json!({"collection": plan.name_a.as_str(), "step": step, "side": on, "reason": reason}),
        );
    }

    fn items_planned(
        &mut self,
        collection: &mail_plan::CollectionPlan,
        plan: &mail_plan::ItemPlan,
    ) {
        if plan.refused.is_some() {
            return;
        }
        let name = collection.name_a.as_str();
        // Replication (issue 15): the replica changes a mirror undoes.
        for undone in &plan.undone {
            self.emit(
                "undone",
                json!({"collection": name, "key": undone.key.as_str(), "text": undone.to_string()}),
            );
        }
        if !self.dry_run {
            return;
        }
        for action in &plan.actions {
            self.emit(
                "planned",
                json!({"collection": name, "action": mail_action_kind(action), "text": action.to_string()}),
            );
        }
        for held in &plan.held_back {
            self.emit(
                "held_back",
                json!({"collection": name, "text": held.to_string()}),
            );
        }
    }

    fn action_done(&mut self, collection: &mail_plan::CollectionPlan, action: &MailAction) {
        self.emit(
            "action",
            json!({"collection": collection.name_a.as_str(), "action": mail_action_kind(action), "text": action.to_string()}),
        );
    }

    fn action_failed(
        &mut self,
        collection: &mail_plan::CollectionPlan,
        action: &MailAction,
        error: &Error,
    ) {
        self.emit(
            "action_failed",
            json!({
                "collection": collection.name_a.as_str(),
                "action": mail_action_kind(action),
                "text": action.to_string(),
                "error": format!("{error:#}"),
            }),
        );
    }

    fn move_planned(
        &mut self,
        from: &mail_plan::CollectionPlan,
        to: &mail_plan::CollectionPlan,
        on: Side,
        key: &ItemKey,
    ) {
        self.emit(
            "move",
            json!({"from": from.name_a.as_str(), "to": to.name_a.as_str(), "side": side(on), "key": key.to_string()}),
        );
    }

    fn held_back(&mut self, collection: &mail_plan::CollectionPlan, held: PerSide<usize>) {
        self.emit(
            "read_only_waiting",
            json!({"collection": collection.name_a.as_str(), "for_a": held.a, "for_b": held.b}),
        );
    }

    fn finished(&mut self, report: &PairReport<Mail>) {
        let mut total = PlanCounts::default();
        for collection in &report.collections {
            total.add(&collection.done);
            self.collection_finished(
                collection.plan.name_a.as_str(),
                collection,
                mail_counts(&collection.done),
                collection.details.unchanged,
            );
        }
        self.summary(report, mail_counts(&total));
    }
}

impl Observer<Dav> for JsonEvents {
    fn collection_planned(&mut self, plan: &dav::CollectionPlan) {
        use dav::CollectionStep as Step;
        let (step, on, reason) = match &plan.step {
            Step::Sync => ("sync", None, None),
            Step::Create(s) => ("create", Some(side(*s)), None),
            Step::CreateBoth => ("create", Some("ab"), None),
            Step::Delete(s) => ("delete", Some(side(*s)), None),
            Step::Forget => ("forget", None, None),
            Step::Skip(why) => ("skip", None, Some(why.as_str())),
        };
        self.emit(
            "collection",
            json!({"collection": plan.name, "step": step, "side": on, "reason": reason}),
        );
    }

    fn items_planned(&mut self, collection: &dav::CollectionPlan, plan: &dav::ItemPlan) {
        if !self.dry_run || plan.refused.is_some() {
            return;
        }
        for action in &plan.actions {
            self.emit(
                "planned",
                json!({"collection": collection.name, "action": dav_action_kind(action), "text": action.to_string()}),
            );
        }
    }

    fn action_done(&mut self, collection: &dav::CollectionPlan, action: &dav::ItemAction) {
        self.emit(
            "action",
            json!({"collection": collection.name, "action": dav_action_kind(action), "text": action.to_string()}),
        );
    }

    fn action_failed(
        &mut self,
        collection: &dav::CollectionPlan,
        action: &dav::ItemAction,
        error: &Error,
    ) {
        self.emit(
            "action_failed",
            json!({
                "collection": collection.name,
                "action": dav_action_kind(action),
                "text": action.to_string(),
                "error": format!("{error:#}"),
            }),
        );
    }

    fn finished(&mut self, report: &PairReport<Dav>) {
        let mut total = dav::ItemCounts::default();
        for collection in &report.collections {
            total.add(&collection.done);
            self.collection_finished(
                &collection.plan.name,
                collection,
                dav_counts(&collection.done),
                false,
            );
        }
        self.summary(report, dav_counts(&total));
    }
}
