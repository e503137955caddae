//! The command line, defined once: `--help` and the man page are generated from these
//! definitions.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Exit statuses, documented in `--help` so that scripts can rely on them.
pub mod exit {
    /// Everything was done.
    pub const OK: u8 = 0;
    /// Some items or collections failed; the rest was synced. Running again may help.
    pub const PARTIAL: u8 = 1;
    /// The command line or the configuration is wrong; nothing was done.
    pub const USAGE: u8 = 2;
    /// A storage or the state store could not be opened or reached (a server that is down or
    /// refused the login, a certificate that is not trusted).
    pub const UNAVAILABLE: u8 = 3;
    /// Another pimlink is working on the same pair.
    pub const BUSY: u8 = 4;
    /// A safety check refused to apply changes (a side that suddenly looks empty, or that lost
    /// more of a collection than `max_delete` allows).
    pub const REFUSED: u8 = 5;
}

const AFTER_HELP: &str = "\
Exit status:
  0  everything was done
  1  some items or collections failed; the rest was synced (running again may help)
  2  usage or configuration error; nothing was done
  3  a storage or the state store could not be opened or reached (e.g. a refused login or
     an untrusted certificate)
  4  a pair is busy: another pimlink is syncing it
  5  a safety check refused changes (a side that suddenly looks empty or lost more of a
     collection than max_delete allows); nothing was deleted there
When several apply, the highest number is returned.

Warnings and errors on stderr are coloured only when stderr is a terminal, and not at all when
NO_COLOR is set to a non-empty value.

Configuration: $XDG_CONFIG_HOME/pimlink/config.toml (default ~/.config/pimlink/config.toml).
Every key of the file is described in pimlink-config(5) (docs/pimlink-config.5) and shown in
docs/config.example.toml.";

/// Keeps mail, calendars and contacts in sync between servers and local files.
#[derive(Debug, Parser)]
#[command(name = "pimlink", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Configuration file to read instead of the default.
    #[arg(short, long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Say more (-v: every change, -vv: debugging, -vvv: protocol traces without secrets).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Synchronise pairs (all pairs if none is named).
    #[command(
        after_help = "Examples:\n  pimlink sync\n  pimlink sync work\n  pimlink sync work/INBOX --dry-run"
    )]
    Sync(SyncArgs),
    /// Validate the configuration and check that every storage of the named pairs can be reached.
    Check(PairsArg),
    /// List the collections on both sides of each pair and how they are matched.
    List(PairsArg),
    /// List the calendars or address books a caldav, carddav, webcal or vdir storage holds,
    /// with the ids a pair's `collections` refers to.
    #[command(after_help = "Example:\n  pimlink discover my-caldav")]
    Discover(StorageArg),
    /// Sync calendar/contact pairs, handing each item changed differently on both sides to the
    /// pair's `conflict_resolution` command (run as COMMAND... FILE_A FILE_B; when it leaves
    /// both files equal, that text is written to both sides).
    ResolveConflicts(ResolveArgs),
    /// Give every calendar/contact item of a storage that has no UID a new one, so that it
    /// can be synced.
    Repair(RepairArgs),
    /// Show how the last runs of each pair ended, from the state alone (no network; works
    /// while a sync or the daemon runs): the last run, and the collections that need
    /// attention (failures, refused changes, messages held back, open conflicts). Exit status
    /// 1 if a pair's last run did not end cleanly.
    #[command(after_help = "Examples:\n  pimlink status\n  pimlink status work")]
    Status(PairsArg),
    /// Print a starting configuration for one account (mail, calendars, contacts), or write it
    /// where pimlink looks for it (--write). Guesses from --address are marked CHECK.
    #[command(
        after_help = "Examples:\n  pimlink init --address me@example.org\n  pimlink init --address me@example.org --write\n  pimlink -c ~/work.toml init --write"
    )]
    Init(InitArgs),
    /// Print a completion script for a shell, to be loaded by it (e.g. `pimlink completions
    /// bash > ~/.local/share/bash-completion/completions/pimlink`).
    #[command(
        after_help = "Where each shell looks:\n  bash: ~/.local/share/bash-completion/completions/pimlink\n  zsh:  a directory in $fpath, as _pimlink\n  fish: ~/.config/fish/completions/pimlink.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the version.
    Version,
    // -- adoption (issue 16) --
    /// Take over what another sync tool knew about a pair's local copy, so that the pair's
    /// first sync downloads nothing again and renames no file: mbsync or OfflineIMAP for a mail
    /// pair (written into the pair's status), vdirsyncer or pimsync for a calendar/contact pair
    /// (the pair is then synced). `pimlink sync` does the same on its own from the tools'
    /// default places (pair key `adopt`).
    #[command(
        after_help = "Examples:\n  pimlink adopt mail --from mbsync\n  pimlink adopt mail --from mbsync ~/.mbsync\n  pimlink adopt mail --from offlineimap\n  pimlink adopt calendars --from vdirsyncer\n  pimlink adopt calendars --from pimsync ~/.local/share/pimsync/status/calendars.status"
    )]
    Adopt(AdoptArgs),
    // Importing another tool's configuration (issue 16).
    /// Translate the configuration of mbsync, OfflineIMAP, vdirsyncer or pimsync into
    /// pimlink's and print it (or write it with --write). Options without an equivalent are
    /// listed in comments saying why; passwords stay where they were (a command, a file, a
    /// keyring).
    #[command(
        after_help = "Examples:\n  pimlink import mbsync\n  pimlink import offlineimap ~/.offlineimaprc > config.toml\n  pimlink import vdirsyncer --write\n\nDefault FILE: mbsync ~/.mbsyncrc or $XDG_CONFIG_HOME/isync/mbsyncrc; offlineimap\n~/.offlineimaprc or $XDG_CONFIG_HOME/offlineimap/config; vdirsyncer $VDIRSYNCER_CONFIG,\n~/.vdirsyncer/config or $XDG_CONFIG_HOME/vdirsyncer/config; pimsync\n$XDG_CONFIG_HOME/pimsync/pimsync.conf."
    )]
    Import(ImportArgs),
    /// Keep pairs in sync continuously: sync them all (or the named ones) once, then whenever
    /// a storage changes, until SIGTERM or SIGINT stops it at a safe point.
    #[command(after_help = DAEMON_HELP)]
    Daemon(DaemonArgs),
    // -- replication (issue 15) --
    /// Make a replica storage identical to its master for each user of a
    /// `[replication.NAME]`: the master wins, changes made on the replica are undone and
    /// reported. Once (the default), rolling (-r), or compare only (--verify).
    #[command(after_help = REPLICATE_HELP)]
    Replicate(ReplicateArgs),
    // -- migration (issue 15) --
    /// Copy many accounts from one IMAP server to another ([migration.NAME]), a few at a time:
    /// each account is a one-way pair with its own state, so a rerun copies only what is new
    /// and never a message twice.
    #[command(after_help = MIGRATE_HELP)]
    Migrate(MigrateArgs),
    // OAuth2 (issue 18).
    /// Authorize pimlink at a storage's OAuth2 provider (its `oauth2` table) and keep the
    /// refresh token: in the keyring (Secret Service) if one is reachable, else in a file
    /// readable by you only under the state directory. Syncs then get access tokens from it.
    /// Opens the provider's page in a browser and waits for it on 127.0.0.1, or with --device
    /// prints a code to enter on any other device.
    #[command(
        after_help = "Examples:\n  pimlink auth gmail\n  pimlink auth gmail --no-browser\n  pimlink auth work --device"
    )]
    Auth(AuthArgs),
}

// -- replication (issue 15) --
const REPLICATE_HELP: &str = "\
Rolling mode (-r): each cycle replicates the users and mailboxes that changed, as the change
log (`log`, or -f) names them or as the master's watchers see them, then waits at least -d.
The log is renamed to LOG-run, replicated, then removed; a LOG-run left by a crash is
replayed first. A server that cannot be reached is tried again after 15 s, doubling up to
max_backoff (with -o: exit 3 instead). SIGTERM or SIGINT ends the running cycle at its next
safe point and exits 0 (a second one exits at once); the shutdown file (-F) is removed and
ends the run with status 6 once no cycle runs.

Exit status of replicate:
  0  done (with --verify: master and replica are identical)
  1  some users or mailboxes failed; the rest was replicated
  2  usage or configuration error
  3  a storage could not be reached or refused the login (one-shot mode, or -o)
  5  a safety check refused changes
  6  stopped by the shutdown file (-F): the cycle finished
  7  --verify found differences

Examples:
  pimlink replicate backup -A
  pimlink replicate backup -u alice -u bob -m INBOX
  pimlink replicate backup -A --dry-run
  pimlink replicate backup -r -F /run/pimlink/stop
  pimlink replicate backup -r -d 5s -t 30m
  pimlink replicate backup -1 -f /var/spool/pimlink/changes
  pimlink replicate backup -A --verify --level 3";

/// Arguments of `replicate`.
#[derive(Debug, Args)]
pub struct ReplicateArgs {
    /// The replication (`[replication.NAME]`).
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Replicate these users (repeat, or several after one -u). Default with neither -u nor
    /// -A: the one account of a replication whose sides log in as themselves.
    #[arg(short = 'u', long = "user", value_name = "USER", num_args = 1..)]
    pub users: Vec<String>,

    /// Replicate only these mailboxes (folders) of each user: their messages and whether
    /// they are subscribed; other folders' subscriptions stay as they are.
    #[arg(short = 'm', long = "mailbox", value_name = "MAILBOX", num_args = 1..)]
    pub mailboxes: Vec<String>,

    /// Replicate the users and mailboxes named in this file, once, leaving it in place; with
    /// -r or -1, use it as the change log instead of `log` (renamed to FILE-run, processed,
    /// removed), then exit. One change a line: `USER alice`, `MAILBOX alice "Sent Items"`,
    /// or a name alone (a user); names with spaces in double quotes.
    #[arg(short = 'f', long = "log-file", value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Replicate every configured user (`users`, `users_file`, `users_command`).
    #[arg(short = 'A', long = "all-users", conflicts_with = "users")]
    pub all_users: bool,

    /// Rolling mode: keep replicating what the change log (`log`) names, or, without a log,
    /// every user once and then what changes on the master (watched as the daemon watches),
    /// until stopped. Without -u it serves every configured user.
    #[arg(short = 'r', long)]
    pub rolling: bool,

    /// Rolling mode: process the change log once, then exit.
    #[arg(short = '1', long = "once-log")]
    pub once_log: bool,

    /// Connect once: exit with status 3 instead of retrying when a storage cannot be reached.
    #[arg(short = 'o', long = "connect-once")]
    pub connect_once: bool,

    /// Rolling mode: start cycles at least this long apart, batching the changes of that
    /// time (default 1s; e.g. `3s`).
    #[arg(short = 'd', long = "delay", value_name = "DURATION")]
    pub delay: Option<String>,

    /// Rolling mode: make the master's watching connections anew once they are this old, at
    /// the end of a cycle (e.g. `30m`; default: never).
    #[arg(short = 't', long = "restart-after", value_name = "DURATION")]
    pub restart_after: Option<String>,

    /// Rolling mode: stop cleanly at the end of the cycle in which this file appears, and
    /// remove it (exit status 6).
    #[arg(short = 'F', long = "shutdown-file", value_name = "FILE")]
    pub shutdown_file: Option<PathBuf>,

    /// Compare master and replica and print each difference; change nothing (exit status 7
    /// if any).
    #[arg(long)]
    pub verify: bool,

    /// With --verify: how deep to compare (default 4): 1 folders, subscriptions and special-use;
    /// 2 + message counts; 3 + each message by content with its flags and keywords; 4 + sizes
    /// and internal dates; 5 + a SHA-256 of every message's bytes.
    #[arg(long, value_name = "N", requires = "verify", value_parser = clap::value_parser!(u8).range(1..=5))]
    pub level: Option<u8>,

    /// Show what would be done, and do nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print the run as JSON Lines on stdout, as `sync --json` does.
    #[arg(long)]
    pub json: bool,
}

// -- migration (issue 15) --
const MIGRATE_HELP: &str = "\
Accounts file: one account per line, imapsync's format,
  source_user;source_password;destination_user;destination_password
with # comments. A password field may be cmd:COMMAND (the first line the command prints),
file:PATH (the file's first line) or env:VAR instead of the password itself.

Exit status: 0 every account (of this shard) done; 1 some accounts failed or stopped at their
daily cap (daily_bytes), the others are done (run again: each goes on where it stopped); 2 usage
or configuration error.

Examples:
  pimlink migrate to-new --accounts accounts.txt --jobs 4 --report report.csv
  pimlink migrate to-new --accounts accounts.txt --shard $JOB_COMPLETION_INDEX/8";

/// Arguments of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The [migration.NAME] table to use.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// The accounts file.
    #[arg(long, value_name = "FILE")]
    pub accounts: PathBuf,

    /// How many accounts to copy at once.
    #[arg(short, long, value_name = "N", default_value = "1")]
    pub jobs: std::num::NonZeroUsize,

    /// Take only the accounts whose source user hashes to shard K of N (FNV-1a 64 modulo N),
    /// to split one accounts file over N machines.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::migrate::Shard>,

    /// Write a report with each account's status and counts to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// The report's format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "csv")]
    pub report_format: crate::migrate::ReportFormat,

    /// Show what would be copied, and copy nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// Arguments of `auth`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The storage (one with an `oauth2` table).
    #[arg(value_name = "STORAGE")]
    pub storage: String,

    /// Use the device flow (RFC 8628): print a URL and a code to enter there from any device,
    /// for a machine without a browser.
    #[arg(long)]
    pub device: bool,

    /// Print the authorization URL without opening it (with xdg-open).
    #[arg(long, conflicts_with = "device")]
    pub no_browser: bool,
}

const DAEMON_HELP: &str = "\
Each storage is watched for changes where pimlink can (otherwise polled every poll_interval),
and a change syncs only the collections it touched, after [daemon] debounce; every pair is
synced whole every full_sync_interval. A pair whose storage fails is retried with a growing
wait (at most max_backoff) while the others go on. Each password_cmd runs once at start and
again after a pair failed.

Signals:
  SIGTERM, SIGINT  stop: running syncs end at their next safe point (what was copied is
                   recorded, the next start does the rest); exit status 0. A second one
                   exits at once.
  SIGHUP           read the configuration again: pairs added, removed or changed take effect
                   (each pair syncs whole); a file that does not parse is reported and the
                   configuration in use stays.
  SIGUSR1          sync every pair now, also those waiting to retry.

Readiness: once the configuration is read, every password_cmd of the pairs has run and the
first syncs have started, pimlink writes READY=1 and a newline to --ready-fd, and sends
READY=1 to $NOTIFY_SOCKET (systemd Type=notify), with STATUS= lines after, WATCHDOG=1 at half
of $WATCHDOG_USEC, and STOPPING=1 when stopping.

Examples:
  pimlink daemon
  pimlink daemon work --ready-fd 3
  systemctl --user enable --now pimlink.service   (contrib/systemd/)";

/// Arguments of `daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Pairs to keep in sync. Default: every pair.
    #[arg(value_name = "PAIR")]
    pub pairs: Vec<String>,

    /// Write \"READY=1\\n\" to this file descriptor once ready (see below), then close it;
    /// for s6 and other supervisors.
    #[arg(long, value_name = "N")]
    pub ready_fd: Option<i32>,
}

/// Arguments of `adopt`.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The pair: an imap and a maildir storage for mbsync and OfflineIMAP, a calendar/contact
    /// pair with a vdir for vdirsyncer and pimsync.
    #[arg(value_name = "PAIR")]
    pub pair: String,

    /// The tool whose state is taken over.
    #[arg(long = "from", value_enum, value_name = "TOOL")]
    pub from: AdoptFrom,

    /// Where that tool keeps its state. mbsync: its `SyncState` directory (default: the
    /// `.mbsyncstate` file in each folder, `SyncState *`). OfflineIMAP: its `metadata`
    /// directory (default ~/.offlineimap). vdirsyncer: its `status_path` directory; pimsync:
    /// its `PAIR.status` database or `status_path` (default: the tool's place under
    /// $XDG_DATA_HOME, ~/.local/share).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,

    /// Mail pairs: replace the pair's existing state.
    #[arg(long)]
    pub force: bool,

    /// Calendar/contact pairs: show what would be done, and do nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// The tools `adopt` takes state over from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AdoptFrom {
    /// mbsync (isync 1.x).
    Mbsync,
    /// OfflineIMAP 7/8 (offlineimap3).
    Offlineimap,
    /// vdirsyncer's status (`<status_path>/<pair>/<collection>.items`).
    Vdirsyncer,
    /// pimsync's status database (`<status_path>/<pair>.status`).
    Pimsync,
}

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The account's e-mail address: user names and server names are guessed from it.
    #[arg(long, value_name = "ADDRESS")]
    pub address: Option<String>,

    /// Write the configuration to the file pimlink reads (-c FILE, or the default path)
    /// instead of printing it; an existing file is kept.
    #[arg(long)]
    pub write: bool,

    /// With --write: replace an existing file.
    #[arg(long, requires = "write")]
    pub force: bool,

    /// The mail provider, whose preset (server, login, quirks) the configuration uses; guessed
    /// from the address's domain when not given. Without --address and --provider, on a
    /// terminal, pimlink asks for both.
    #[arg(
        long,
        value_name = "PROVIDER",
        value_parser = clap::builder::PossibleValuesParser::new(["gmail", "outlook", "fastmail", "icloud", "other"])
    )]
    pub provider: Option<String>,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `shell` to `out`: generated from the one definition of the
/// command line, so it cannot drift from `--help` and the man page.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "pimlink", out);
}

/// Arguments of `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Pairs to sync, optionally narrowed to one collection (`PAIR/COLLECTION`, e.g.
    /// `work/Lists/rust`). Default: every pair.
    #[arg(value_name = "PAIR[/COLLECTION]")]
    pub targets: Vec<String>,

    /// Show exactly what would be done, and do nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Apply deletions that a safety check refused: where a side that had items now looks
    /// empty (`on_empty = "refuse"`) or lost more of a collection than `max_delete` allows,
    /// for this run.
    #[arg(long)]
    pub force: bool,

    /// Copy messages bigger than the pair's `max_size` too, this run (e.g.
    /// `pimlink sync --fetch-big work/INBOX`). Once copied they stay; later runs keep the limit
    /// for new mail.
    #[arg(long)]
    pub fetch_big: bool,

    /// Print the run as JSON Lines on stdout (one event per line: collections, actions,
    /// failures, a summary per pair; schema 1, described in docs/json-events.md) instead of
    /// text. Errors still go to stderr.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The tool whose configuration to read.
    #[arg(value_name = "TOOL", value_enum)]
    pub tool: crate::import::Tool,

    /// Its configuration file. Default: where the tool looks for it.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Write the result to the configuration file (-c FILE, else the default path) instead
    /// of printing it. An existing file is not replaced unless --force is given.
    #[arg(long)]
    pub write: bool,

    /// With --write: replace an existing configuration file.
    #[arg(long, requires = "write")]
    pub force: bool,
}

/// One storage name.
#[derive(Debug, Args)]
pub struct StorageArg {
    /// A storage name (`[storage.NAME]`).
    #[arg(value_name = "STORAGE")]
    pub storage: String,
}

/// Arguments of `resolve-conflicts`.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Pair names. Default: every calendar/contact pair with a conflict_resolution command.
    #[arg(value_name = "PAIR")]
    pub pairs: Vec<String>,

    /// Show what would be done, and do nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// Arguments of `repair`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// A caldav, carddav or vdir storage name.
    #[arg(value_name = "STORAGE")]
    pub storage: String,

    /// Show which items would get a UID, and change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// A list of pair names.
#[derive(Debug, Args)]
pub struct PairsArg {
    /// Pair names. Default: every pair.
    #[arg(value_name = "PAIR")]
    pub pairs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// docs/pimlink.1 is generated from this definition; this test keeps it current. Run with
    /// `PIMLINK_UPDATE_DOCS=1` to rewrite it after changing a flag.
    #[test]
    fn man_page_is_current() {
        let mut page = Vec::new();
        let command = Cli::command();
        clap_mangen::Man::new(command.clone())
            .render(&mut page)
            .unwrap();
        for sub in command.get_subcommands() {
            clap_mangen::Man::new(sub.clone())
                .title(format!("pimlink-{}", sub.get_name()))
                .render(&mut page)
                .unwrap();
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/pimlink.1");
        if std::env::var_os("PIMLINK_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &page).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == page,
            "docs/pimlink.1 is stale: run PIMLINK_UPDATE_DOCS=1 cargo test -p pimlink man_page"
        );
    }

    #[test]
    fn completions_offer_every_command_and_option() {
        let command = Cli::command();
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut script = Vec::new();
            write_completions(shell, &mut script);
            let script = String::from_utf8(script).unwrap();
            for sub in command.get_subcommands() {
                assert!(
                    script.contains(sub.get_name()),
                    "{shell}: no {}",
                    sub.get_name()
                );
                for arg in sub.get_arguments() {
                    if let Some(long) = arg.get_long() {
                        assert!(script.contains(long), "{shell}: no --{long}");
                    }
                }
            }
        }
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for line in [
            "0  everything was done",
            "4  a pair is busy",
            "5  a safety check",
        ] {
            assert!(help.contains(line), "{line} missing from:\n{help}");
        }
    }
}
