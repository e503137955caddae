//! `pimlink`: the command-line program. This crate is glue: it reads the configuration, opens
//! the storages a pair names, and hands them to the engine in `pimlink-core`. Protocols,
//! file formats and sync decisions live in the library crates.

mod cli;
mod commands;
mod config;
mod failure;
mod item_storages;
mod output;
mod renamed;
mod storages;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use output::Output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    let output = Output::new(cli.verbose, cli.quiet);
    let code = match &cli.command {
        Command::Version => {
            println!("pimlink {}", env!("CARGO_PKG_VERSION"));
            cli::exit::OK
        }
        command => match load_config(&cli) {
            Ok(config) => match command {
                Command::Sync(args) => commands::sync::run(&config, args, &output),
                Command::Check(args) => commands::check::run(&config, &args.pairs, &output),
                Command::List(args) => commands::list::run(&config, &args.pairs, &output),
                Command::Discover(args) => commands::discover::run(&config, &args.storage, &output),
                Command::ResolveConflicts(args) => {
                    commands::resolve::run(&config, &args.pairs, args.dry_run, &output)
                }
                Command::Repair(args) => {
                    commands::repair::run(&config, &args.storage, args.dry_run, &output)
                }
                Command::Version => cli::exit::OK,
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
    let path = match &cli.config {
        Some(path) => path.clone(),
        None => config::default_config_path()?,
    };
    Ok(config::load(&path)?)
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}
