//! One account of a migration: a one-way pair from the source (read only) to the destination,
//! run by the pair runner with its own state, so that a rerun copies only what is new and never
//! copies a message twice (the status pairs messages by UID, whatever the destination does to
//! their headers).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use pimlink_core::dav::Dav;
use pimlink_core::mail::Mail;
use pimlink_core::mail::nametrans::NameTranslation;
use pimlink_core::mail::plan::{CollectionPlan, ItemAction, ItemPlan};
use pimlink_core::policy::{Direction, MaxDelete, OnEmpty, Operations, SideOptions};
use pimlink_core::run::Observer;
use pimlink_core::runner::{Outcome, PairRun, Request, Selection};
use pimlink_core::{PerSide, Side};

use super::accounts::Account;
use super::folders::{self, FolderPlan};
use super::progress::AccountLine;
use super::report::{AccountReport, Status};
use super::throttle::{Throttle, utc_day};
use super::{login, state};
use crate::config::{
    AdoptMode, CollectionFilter, Config, FolderMatching, MigrationConfig, PairConfig, StorageKind,
};

/// Why an account stopped for the day.
const DAILY_CAP: &str = "the daily byte cap (daily_bytes) is reached; a run on the next UTC day \
                         goes on from here";

/// What one account's run shares with the others.
pub struct Shared<'a> {
    pub config: &'a Config,
    pub migration: &'a MigrationConfig,
    pub dry_run: bool,
    /// The limits of the whole run.
    pub total: &'a Mutex<Throttle>,
    /// The run's monotonic clock starts here.
    pub start: Instant,
}

/// Migrates `account`; never fails as a whole: a failure is the report's status.
pub fn migrate(shared: &Shared<'_>, account: &Account, line: &AccountLine<'_>) -> AccountReport {
    let mut report = AccountReport::new(account);
    let dir = state::account_dir(
        &shared.config.state_dir,
        &shared.migration.name,
        &account.source_user,
    );
    let now = shared.start.elapsed();
    let mut throttle = Throttle::new(&shared.migration.per_account, now, state::read_daily(&dir));
    if throttle.daily_cap_reached(today()) {
        report.status = Status::Throttled;
        report.error = Some(DAILY_CAP.into());
        return report;
    }
    let result = run(shared, account, &dir, &mut throttle, line, &mut report);
    if let Some(cap) = throttle.daily()
        && !shared.dry_run
        && let Err(e) = state::write_daily(&dir, &cap)
    {
        tracing::warn!("{}: cannot keep the daily byte count: {e}", dir.display());
    }
    match result {
        Ok(Outcome::Clean) => report.status = Status::Done,
        Ok(Outcome::Stopped) => {
            report.status = Status::Throttled;
            report.error = Some(DAILY_CAP.into());
        }
        Ok(Outcome::Partial) => {
            report.status = Status::Failed;
            let first = report.error.take().unwrap_or_default();
            report.error = Some(format!(
                "{} message(s) or folder(s) failed, the rest was copied (a rerun tries them \
                 again); first: {first}",
                report.errors.max(1)
            ));
        }
        Ok(Outcome::Refused) => {
            report.status = Status::Failed;
            report.error = Some("a safety check withheld changes (see the messages above)".into());
        }
        Err(error) => {
            report.status = Status::Failed;
            report.errors += 1;
            report.error = Some(format!("{error:#}"));
        }
    }
    report
}

fn run(
    shared: &Shared<'_>,
    account: &Account,
    dir: &Path,
    throttle: &mut Throttle,
    line: &AccountLine<'_>,
    report: &mut AccountReport,
) -> Result<Outcome> {
    let migration = shared.migration;
    let source_password = account
        .source_password
        .resolve()
        .context("the source password")?;
    let destination_password = account
        .destination_password
        .resolve()
        .context("the destination password")?;
    let mut config = shared.config.clone();
    login::storage_as_account(
        &mut config,
        &migration.source,
        &account.source_user,
        source_password,
    );
    login::storage_as_account(
        &mut config,
        &migration.destination,
        &account.destination_user,
        destination_password,
    );
    let mut run = PairRun::lock(dir, "migration")
        .with_context(|| format!("opening the migration state in {}", dir.display()))?;
    // A source or destination now on another server is not the one this state describes.
    let label = format!("{} -> {}", account.source_user, account.destination_user);
    crate::identity::forget_other_storages(
        &config,
        &label,
        [&migration.source, &migration.destination],
        &mut run,
        shared.dry_run,
    )?;
    crate::commands::runtime()?.block_on(async {
        let plan = match (migration.folders, state::read_folder_plan(dir)) {
            (FolderMatching::Names, _) => FolderPlan::default(),
            (FolderMatching::SpecialUse, Some(kept)) => kept,
            (FolderMatching::SpecialUse, None) => {
                let plan = folder_plan(&config, migration).await?;
                if !shared.dry_run {
                    state::write_folder_plan(dir, &plan)
                        .with_context(|| format!("keeping the folder plan in {}", dir.display()))?;
                }
                plan
            }
        };
        let translation = NameTranslation::new(PerSide::default(), &plan.renames)
            .map_err(|e| anyhow!("matching folders by special use: {}", e.message))?;
        let pair = pair_config(migration, translation);
        let sides = crate::pair::open(&config, &pair, None).await?;
        let skipped = plan.skipped;
        let selection = Selection {
            patterns: &|name| !skipped.iter().any(|s| s == name),
            only: None,
        };
        let request = Request {
            dry_run: shared.dry_run,
            ..Request::default()
        };
        let mut observer = Counter {
            shared,
            throttle,
            line,
            report,
            stop: false,
        };
        anyhow::Ok(run.sync(sides, selection, request, &mut observer).await?)
    })
}

/// Lists both accounts' folders and matches them by use.
async fn folder_plan(config: &Config, migration: &MigrationConfig) -> Result<FolderPlan> {
    let list = |name: &str| {
        let options = config.storages.get(name).and_then(|s| match &s.kind {
            StorageKind::Imap(imap) => {
                let mut options = crate::storages::mail::imap_options(imap);
                let secret = match imap.credentials.as_ref().map(|c| c.password.resolve()) {
                    Some(Ok(secret)) => secret,
                    _ => return None,
                };
                options.password = pimlink_imap::Secret::new(secret.expose());
                Some(options)
            }
            _ => None,
        });
        let name = name.to_owned();
        async move {
            let options = options.ok_or_else(|| anyhow!("storage {name:?} has no login"))?;
            folders::list(options)
                .await
                .with_context(|| format!("listing the folders of storage {name:?}"))
        }
    };
    let source = list(&migration.source).await?;
    let destination = list(&migration.destination).await?;
    Ok(folders::plan(&source, &destination))
}

/// The one-way pair of an account: new messages and flags go from the source (never written,
/// opened with EXAMINE) to the destination; nothing is deleted anywhere, so a message deleted
/// on the source during the migration stays on the destination.
fn pair_config(migration: &MigrationConfig, translation: NameTranslation) -> PairConfig {
    PairConfig {
        name: migration.name.clone(),
        a: migration.source.clone(),
        b: migration.destination.clone(),
        collections: CollectionFilter::all(),
        direction: Direction::AToB,
        operations: Operations {
            new: true,
            flags: true,
            delete: false,
        },
        create: PerSide { a: false, b: true },
        on_empty: OnEmpty::Refuse,
        max_delete: MaxDelete::DEFAULT,
        dav: None,
        names: crate::config::MailNames {
            translation,
            keywords: true,
        },
        limits: Default::default(),
        sides: PerSide {
            a: SideOptions {
                read_only: true,
                ..SideOptions::default()
            },
            b: SideOptions::default(),
        },
        hooks: Default::default(),
        adopt: AdoptMode::Never,
    }
}

/// Counts what the run copies, applies the limits after each copy, and stops the run at the
/// daily cap.
struct Counter<'a, 's> {
    shared: &'a Shared<'s>,
    throttle: &'a mut Throttle,
    line: &'a AccountLine<'a>,
    report: &'a mut AccountReport,
    stop: bool,
}

impl Counter<'_, '_> {
    fn count(&mut self, bytes: u64, collection: &CollectionPlan) {
        self.report.messages += 1;
        self.report.bytes += bytes;
        self.line
            .copied(bytes, collection.name_a.as_str(), self.report);
    }
}

/// The size of a copy from the source (unknown sizes count as 0), or `None` for other actions.
fn copied_bytes(action: &ItemAction) -> Option<u64> {
    match action {
        ItemAction::Copy {
            from: Side::A,
            size,
            ..
        } => Some(size.unwrap_or(0)),
        _ => None,
    }
}

impl Observer<Mail> for Counter<'_, '_> {
    fn collection_planned(&mut self, _plan: &CollectionPlan) {
        self.report.folders += 1;
    }

    fn items_planned(&mut self, collection: &CollectionPlan, plan: &ItemPlan) {
        // A dry run carries nothing out: what it would copy is counted from the plan.
        if self.shared.dry_run && plan.refused.is_none() {
            for action in &plan.actions {
                if let Some(bytes) = copied_bytes(action) {
                    self.count(bytes, collection);
                }
            }
        }
    }

    fn action_done(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        let Some(bytes) = copied_bytes(action) else {
            return;
        };
        if self.shared.dry_run {
            return;
        }
        self.count(bytes, collection);
        let now = self.shared.start.elapsed();
        let day = today();
        let own = self.throttle.charge(bytes, now, day);
        // A poisoned lock means another account's thread panicked; its limits still hold.
        let total = match self.shared.total.lock() {
            Ok(mut total) => total.charge(bytes, now, day),
            Err(poisoned) => poisoned.into_inner().charge(bytes, now, day),
        };
        self.stop |= own.daily_cap_reached;
        let wait = own.wait.max(total.wait);
        if !wait.is_zero() {
            // The account's connections wait with it: that is the throttle.
            std::thread::sleep(wait.min(Duration::from_secs(60)));
        }
    }

    fn action_failed(
        &mut self,
        _collection: &CollectionPlan,
        _action: &ItemAction,
        error: &pimlink_core::Error,
    ) {
        self.report.errors += 1;
        if self.report.error.is_none() {
            self.report.error = Some(error.to_string());
        }
    }

    fn stop_requested(&self) -> bool {
        self.stop
    }
}

impl Observer<Dav> for Counter<'_, '_> {}

/// Days since the epoch, UTC.
fn today() -> u64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_day(secs)
}
