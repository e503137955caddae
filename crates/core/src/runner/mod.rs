//! The pair runner: the one entry point that runs a pair of either family, so that the
//! commands (`sync`, `list`, `resolve-conflicts`) and the coming `daemon` and `replicate` never
//! branch on the family themselves.
//!
//! A run goes: [`PairRun::lock`] opens the pair's status, which takes its lock, before any
//! side is opened (a busy pair connects nowhere), and notes whether the status knew nothing
//! ([`PairRun::without_state`], for the binary's warning); the caller opens both sides and
//! hands them over as an [`AnyPair`]; [`PairRun::sync`] applies what this run was asked
//! ([`Request`]: dry run, `--force` once, `--fetch-big`) to the pair's policy, runs the wing's
//! executor with the one [`Selection`] (the pair's patterns, the collections named on the
//! command line), hands the report to the observer ([`Observer::finished`]) and returns how
//! the run ended ([`Outcome`], which the binary maps to an exit status). [`list`] plans the
//! collections only, for `pimlink list`; [`check_side`] asks one storage of either family
//! ([`AnySide`]) whether it answers, for `pimlink check`.
//!
//! The family-specific parts (list the sides, plan, execute) come in through a small private
//! trait, `Wing`, implemented here over each wing's public entry points: [`MailWing`]
//! (`mail::exec::Pair`) and [`DavWing`] (`dav::ItemPair`). The runner may import both wings;
//! the wings never import the runner.
//!
//! Not here: opening storages from a configuration (the binary), what is printed (the
//! binary's observer), the planners and executors themselves (the wings).

mod dav;
mod list;
mod mail;
mod side;

use std::future::Future;
use std::path::{Path, PathBuf};

pub use dav::DavWing;
pub use list::{PairListing, list};
pub use mail::MailWing;
pub use side::{AnySide, SideCheck, check_side};

use crate::dav::Dav;
use crate::dav::store::ItemStore;
use crate::error::Result;
use crate::mail::Mail;
use crate::mail::store::MailStore;
use crate::policy::{MaxDelete, OnEmpty, SyncPolicy};
pub use crate::run::Outcome;
use crate::run::{Family, Observer, PairReport, RunOptions};
use crate::status::{StatusStore, unix_now};

/// Which collections of a pair run.
#[derive(Clone, Copy)]
pub struct Selection<'s> {
    /// The pair's `collections` patterns: true for a name (a mail folder's name in the pair,
    /// a collection id) they select. A calendar/contact pair selects by `"from a"`, `"from b"`
    /// and aliases too ([`DavWing`]); its patterns only add to those.
    pub patterns: &'s dyn Fn(&str) -> bool,
    /// The collections named on the command line (`PAIR/COLLECTION`), by the pair's name for
    /// them; `None`: every selected one.
    pub only: Option<&'s [String]>,
}

impl Selection<'_> {
    /// True if the command line leaves collection `name` in.
    fn only(&self, name: &str) -> bool {
        self.only.is_none_or(|only| only.iter().any(|c| c == name))
    }
}

/// What the user asked of one run, on top of the pair's configured policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request {
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// `--force`: this run carries out what the safety checks would withhold (a side that
    /// looks emptied, more deletions than `max_delete`, a re-pairing that recognised too few
    /// items), once; the configuration is not changed.
    pub force: bool,
    /// `--fetch-big`: this run copies messages over `max_size` too.
    pub fetch_big: bool,
}

impl Request {
    /// The pair's policy for this run.
    fn apply(&self, policy: &mut SyncPolicy) {
        if self.force {
            policy.on_empty = OnEmpty::Sync;
            policy.max_delete = MaxDelete::UNLIMITED;
        }
        if self.fetch_big {
            policy.limits.max_size = None;
        }
    }

    /// What the executors are told.
    fn options(&self) -> RunOptions {
        RunOptions {
            dry_run: self.dry_run,
            force: self.force,
        }
    }
}

/// What the runner needs of one family: its sides and policy, listing and planning its
/// collections, and its executor.
trait Wing {
    /// The family's vocabulary, for the observer and the report.
    type Family: Family;

    /// The policy the run may adjust ([`Request`]).
    fn policy_mut(&mut self) -> &mut SyncPolicy;

    /// Lists both sides' collections and plans them against `known` (none for a pair that
    /// never synced), changing nothing.
    fn list(
        &mut self,
        known: Option<&StatusStore>,
        patterns: &dyn Fn(&str) -> bool,
    ) -> impl Future<Output = Result<PairListing>>;

    /// Runs the pair's executor.
    fn sync(
        &mut self,
        status: &mut StatusStore,
        selection: Selection<'_>,
        options: RunOptions,
        observer: &mut dyn Observer<Self::Family>,
    ) -> impl Future<Output = Result<PairReport<Self::Family>>>;
}

/// A pair of either family with both sides open, as the binary builds it from the
/// configuration: `M` is its mail storage type, `I` its calendar/contact storage type.
pub enum AnyPair<'r, M, I> {
    /// A mail pair.
    Mail(MailWing<M>),
    /// A calendar/contact pair.
    Dav(DavWing<'r, I>),
}

/// One run of a pair, from its lock to its outcome.
pub struct PairRun {
    status: StatusStore,
    /// The state file, if the status recorded nothing when it was opened.
    without_state: Option<PathBuf>,
}

impl PairRun {
    /// Opens the status of pair `pair` in `state_dir`, which takes the pair's lock (a run of
    /// the same pair meanwhile gets `ErrorKind::Busy`). Call it before opening the sides.
    pub fn lock(state_dir: &Path, pair: &str) -> Result<Self> {
        let status = StatusStore::open(state_dir, pair)?;
        let without_state = if status.knows_nothing()? {
            Some(status.path().map(PathBuf::from).unwrap_or_default())
        } else {
            None
        };
        Ok(Self {
            status,
            without_state,
        })
    }

    /// The pair's state file, if it recorded nothing when the run began: a first sync or a
    /// lost state, in which items on both sides are matched rather than copied.
    pub fn without_state(&self) -> Option<&Path> {
        self.without_state.as_deref()
    }

    /// The pair's status, to read (another tool's state is written from it after a run).
    pub fn status(&self) -> &StatusStore {
        &self.status
    }

    /// Records in the run journal that this run could not sync the pair at all (a side could
    /// not be opened), with why, for `pimlink status`. A journal that cannot be written is
    /// only logged: the caller reports the failure itself.
    pub fn record_failure(mut self, error: &str) {
        if let Err(e) = self.status.record_failure(unix_now(), error) {
            tracing::warn!("cannot write the run journal: {e}");
        }
    }

    /// Records which storage each side is (`now`, in words, from the configuration); when one
    /// is not the storage the status describes, the status forgets what it knew of the pair
    /// (see `status/storages.rs`), so that this run is a first run, matching by content, and
    /// the changed sides are returned for a warning. A dry run does that in a private copy of
    /// the status, which its executor then works on. Call it before taking over another
    /// tool's state.
    pub fn note_storages(
        &mut self,
        now: &crate::side::PerSide<String>,
        dry_run: bool,
    ) -> Result<Vec<crate::status::StorageChange>> {
        let path = self.status.path().map(PathBuf::from);
        if dry_run {
            if self.status.storage_changes(now)?.is_empty() {
                return Ok(Vec::new());
            }
            self.status = self.status.dry_run_copy()?;
        }
        let changes = self.status.note_storages(now)?;
        if !changes.is_empty() {
            self.without_state = Some(path.unwrap_or_default());
        }
        Ok(changes)
    }

    /// Writes another tool's knowledge of a mail pair into its status before the run (see
    /// [`crate::mail::adopt`]): the run then continues from that tool's last run instead of
    /// matching items by content. `replace` discards state the pair already has.
    pub fn adopt_mail(
        &mut self,
        adoption: &crate::mail::adopt::Adoption,
        server: crate::side::Side,
        spelling: &dyn crate::mail::adopt::ServerSpelling,
        replace: bool,
    ) -> Result<crate::mail::adopt::AdoptSummary> {
        let summary = self.status.adopt(adoption, server, spelling, replace)?;
        if summary.folders > 0 {
            self.without_state = None;
        }
        Ok(summary)
    }

    /// Runs `pair` as `request` asks, on the collections `selection` picks; `observer` sees
    /// each step and the report. Fails as a whole only when a side cannot be listed or the
    /// status cannot be read; everything else is in the report.
    pub async fn sync<M, I, O>(
        mut self,
        pair: AnyPair<'_, M, I>,
        selection: Selection<'_>,
        request: Request,
        observer: &mut O,
    ) -> Result<Outcome>
    where
        M: MailStore,
        I: ItemStore,
        O: Observer<Mail> + Observer<Dav>,
    {
        let result = match pair {
            AnyPair::Mail(mut wing) => {
                run(&mut wing, &mut self.status, selection, request, observer).await
            }
            AnyPair::Dav(mut wing) => {
                run(&mut wing, &mut self.status, selection, request, observer).await
            }
        };
        if let (Err(error), false) = (&result, request.dry_run) {
            self.record_failure(&format!("{error:#}"));
        }
        result
    }
}

/// The family-neutral run: the request applied to the policy, the executor, the report.
async fn run<W: Wing>(
    wing: &mut W,
    status: &mut StatusStore,
    selection: Selection<'_>,
    request: Request,
    observer: &mut dyn Observer<W::Family>,
) -> Result<Outcome> {
    request.apply(wing.policy_mut());
    let report = wing
        .sync(status, selection, request.options(), observer)
        .await?;
    let outcome = if observer.stop_requested() {
        Outcome::Stopped
    } else {
        report.outcome()
    };
    if !request.dry_run {
        let (run, collections) = report.journal(unix_now(), outcome);
        // The journal is for `pimlink status`; a run whose sync went through is not failed
        // because its journal line could not be written.
        if let Err(error) = status.record_run(&run, &collections) {
            tracing::warn!("cannot write the run journal: {error}");
        }
    }
    observer.finished(&report);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::name::CollectionName;

    #[test]
    fn force_and_fetch_big_change_this_run_only() {
        let mut configured = SyncPolicy::default();
        configured.limits.max_size = Some(1024);
        let mut policy = configured.clone();
        Request::default().apply(&mut policy);
        assert_eq!(policy, configured, "a plain run keeps the policy");
        let request = Request {
            dry_run: true,
            force: true,
            fetch_big: true,
        };
        request.apply(&mut policy);
        assert_eq!(policy.on_empty, OnEmpty::Sync);
        assert_eq!(policy.max_delete, MaxDelete::UNLIMITED);
        assert_eq!(policy.limits.max_size, None);
        let options = request.options();
        assert!(options.dry_run && options.force);
    }

    #[test]
    fn the_lock_is_taken_before_anything_else_and_a_new_status_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let run = PairRun::lock(dir.path(), "p").unwrap();
        assert_eq!(
            run.without_state(),
            Some(dir.path().join("p.sqlite").as_path())
        );
        let busy = PairRun::lock(dir.path(), "p").err().map(|e| e.kind());
        assert_eq!(busy, Some(ErrorKind::Busy));
        drop(run);

        let mut status = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        status.collection_id(&inbox, &inbox).unwrap();
        drop(status);
        let run = PairRun::lock(dir.path(), "p").unwrap();
        assert_eq!(run.without_state(), None, "the status knows a collection");
    }

    #[test]
    fn the_command_line_narrows_the_selection() {
        let everything = |_: &str| true;
        let named = ["INBOX".to_owned()];
        let all = Selection {
            patterns: &everything,
            only: None,
        };
        let narrowed = Selection {
            only: Some(&named),
            ..all
        };
        assert!(all.only("Sent") && all.only("INBOX"));
        assert!(narrowed.only("INBOX") && !narrowed.only("Sent"));
    }
}
