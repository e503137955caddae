//! `pimlink`: the command-line program. This crate is glue: it reads the configuration, opens
//! the storages a pair names (`storages`, `pair`), and hands them to the pair runner in
//! `pimlink-core` (`pimlink_core::runner`), which runs either family; `output` shows what it
//! does. Protocols, file formats and sync decisions live in the library crates.

mod adopt_dav;
mod adopt_mail;
mod atomic_file;
mod cli;
mod commands;
mod daemon;
mod endpoint;
mod error_groups;
mod failure;
mod hooks;
mod identity;
mod import;
mod mbnames;
// Migration (issue 15).
mod migrate;
mod next_step;
mod no_state;
mod output;
mod pair;
mod renamed;
// Replication (issue 15).
mod replicate;
mod storages;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use output::Output;

// The configuration parser lives in the library half of this package, so that the fuzz
// targets can reach it; `crate::config` paths in the binary resolve through this import.
use pimlink::config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before anything opens a file (see daemon::ReadyFd::take).
    let ready_fd = match &cli.command {
        Command::Daemon(args) => args.ready_fd.and_then(daemon::ReadyFd::take),
        _ => None,
    };
    init_tracing(cli.verbose, cli.quiet);
    raise_open_file_limit();
    let output = Output::new(cli.verbose, cli.quiet);
    let code = match &cli.command {
        Command::Version => {
            println!("pimlink {}", env!("CARGO_PKG_VERSION"));
            cli::exit::OK
        }
        Command::Completions(args) => {
            cli::write_completions(args.shell, &mut std::io::stdout());
            cli::exit::OK
        }
        Command::Init(args) => match config_path(&cli) {
            Ok(path) => commands::init::run(args, &path, &output),
            Err(error) => {
                output.error(&error);
                failure::exit_code(&error)
            }
        },
        // Needs no configuration: it makes one.
        Command::Import(args) => commands::import::run(args, cli.config.as_deref(), &output),
        command => match load_config(&cli) {
            Ok(config) => match command {
                Command::Sync(args) => commands::sync::run(&config, args, &output),
                Command::Check(args) => commands::check::run(&config, &args.pairs, &output),
                Command::List(args) => commands::list::run(&config, &args.pairs, &output),
                Command::Discover(args) => commands::discover::run(&config, &args.storage, &output),
                Command::ResolveConflicts(args) => {
                    commands::resolve::run(&config, &args.pairs, args.dry_run, &output)
                }
                Command::Status(args) => commands::status::run(&config, &args.pairs, &output),
                Command::Repair(args) => {
                    commands::repair::run(&config, &args.storage, args.dry_run, &output)
                }
                Command::Version
                | Command::Completions(_)
                | Command::Init(_)
                | Command::Import(_) => cli::exit::OK,
                Command::Adopt(args) => commands::adopt::run(&config, args, &output),
                Command::Daemon(args) => daemon::run(config, args, ready_fd, &output),
                Command::Replicate(args) => replicate::run(&config, args, &output),
                Command::Migrate(args) => migrate::run(&config, args, &output),
                Command::Auth(args) => commands::auth::run(&config, args, &output),
            },
            Err(error) => {
                output.error(&error);
                failure::exit_code(&error)
            }
        },
    };
    ExitCode::from(code)
}

fn load_config(cli: &Cli) -> anyhow::Result<config::Config> {
    Ok(config::load(&config_path(cli)?)?)
}

/// The configuration file: `-c FILE`, or the default path.
fn config_path(cli: &Cli) -> anyhow::Result<std::path::PathBuf> {
    Ok(match &cli.config {
        Some(path) => path.clone(),
        None => config::default_config_path()?,
    })
}

/// A download keeps each message file it wrote open until its batch is made durable (up to a
/// few hundred per connection), so several connections can need more descriptors than the soft
/// limit of 1,024 that systemd services and most login shells start with. The hard limit is
/// usually far higher and raising the soft one up to it needs no privilege, as many servers do
/// at start. If it cannot be raised, pimlink goes on: only a large download could then fail,
/// with an error naming the file it could not open.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(error) = setrlimit(Resource::Nofile, limit) {
            tracing::debug!("could not raise the open-file limit: {error}");
        }
    }
}

/// Diagnostics go to stderr through `tracing`; `RUST_LOG` overrides the level from `-v`.
fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use std::io::IsTerminal;
    let colour = output::colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .init();
}
