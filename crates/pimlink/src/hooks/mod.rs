//! The hooks of a pair (OfflineIMAP's presynchook, postsynchook and newmail_hook) and, after
//! the run, the mailbox list file (`mbnames`): [`Hooked::run`] wraps one run of a pair, for
//! `sync` and `daemon` alike.
//!
//! Around a run, in this order:
//! 1. `pre_sync_hook`, after the pair's lock is taken and before its sides are opened (so it
//!    never runs beside another run of the same pair);
//! 2. the run itself, its observer wrapped in a [`Recorder`] that keeps the counts;
//! 3. the mailbox list, after a real run of a mail pair that reached its report, so that it is
//!    current when the hooks run;
//! 4. `post_sync_hook`, whatever the outcome (`PIMLINK_RESULT` says it);
//! 5. `new_mail_hook`, once per run (not per folder: a notification or `notmuch new` wants one
//!    call; `PIMLINK_FOLDERS` lists the folders), only if messages were copied into the local
//!    side, and after `post_sync_hook` so that an index that hook updates is current.
//!
//! A dry run runs `pre_sync_hook` and `post_sync_hook` with `PIMLINK_DRY_RUN=1` (they may set
//! up what reaching a server needs, and undo it), never `new_mail_hook` (no mail arrived), and
//! writes no mailbox list. A hook's failure (start, exit status, `hook_timeout`: killed with
//! its process group) is a warning naming the pair and the hook; it never stops the run and
//! never changes the exit status. The variables are in `vars`; no secret is ever among them.

mod command;
mod summary;
mod vars;

use anyhow::Result;
use pimlink_core::runner::Outcome;
pub use summary::Recorder;
use summary::RunSummary;

use crate::config::{Config, PairConfig};
use vars::Vars;

/// A run of `pair` that its hooks and the mailbox list follow.
pub struct Hooked<'c> {
    /// The whole configuration (`hook_timeout`, `[mbnames]`, the other pairs).
    pub config: &'c Config,
    /// The pair.
    pub pair: &'c PairConfig,
    /// A dry run (see the module's documentation).
    pub dry_run: bool,
    /// True if the command line named only some of the pair's collections.
    pub narrowed: bool,
}

impl Hooked<'_> {
    /// Runs the hooks around `run`, which gets `observer` wrapped in a [`Recorder`]; returns
    /// what `run` returned.
    pub fn run<O>(
        self,
        observer: O,
        run: impl FnOnce(&mut Recorder<O>) -> Result<Outcome>,
    ) -> Result<Outcome> {
        let pair = self.pair;
        let local = crate::mbnames::local_side(self.config, pair);
        let vars = Vars::new(pair, self.dry_run);
        self.call("pre_sync_hook", pair.hooks.pre_sync.as_deref(), &vars);
        let mut recorder = Recorder::new(observer, local);
        let result = run(&mut recorder);
        let summary = recorder.into_summary();
        // A dry run's summary is what would change: counts for the hooks, nothing to record.
        let real = summary.as_ref().filter(|_| !self.dry_run);
        if let Some(summary) = real.filter(|_| pair.dav.is_none()) {
            self.update_mailbox_list(local, summary);
        }
        let vars = vars.after(&result, summary.as_ref());
        self.call("post_sync_hook", pair.hooks.post_sync.as_deref(), &vars);
        if let Some(summary) = real.filter(|s| !s.new_mail.is_empty()) {
            let vars = vars.new_mail(pair, local, &summary.new_mail);
            self.call("new_mail_hook", pair.hooks.new_mail.as_deref(), &vars);
        }
        result
    }

    /// Records the folders of a real run and rewrites the mailbox list if it changed; a
    /// failure is a warning.
    fn update_mailbox_list(&self, local: pimlink_core::Side, summary: &RunSummary) {
        let pair = self.pair;
        let whole = !self.narrowed;
        match crate::mbnames::after_run(self.config, pair, local, &summary.folders, whole) {
            Ok(true) => tracing::info!("{}: mailbox list rewritten", pair.name),
            Ok(false) => {}
            Err(error) => eprintln!("pimlink: {}: warning: {error:#}", pair.name),
        }
    }

    /// Runs hook `key` if the pair has one; a failure is a warning.
    fn call(&self, key: &str, command: Option<&str>, vars: &Vars) {
        let Some(command) = command else { return };
        let pair = &self.pair.name;
        tracing::info!("{pair}: running {key}: {command}");
        let vars = vars.with_hook(key);
        if let Err(failure) = command::run(command, &vars, vars::ALL, self.config.hook_timeout) {
            eprintln!("pimlink: {pair}: warning: {key} {command:?} {failure}");
        }
    }
}
