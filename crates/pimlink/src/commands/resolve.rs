//! `pimlink resolve-conflicts [PAIR...]`: syncs calendar/contact pairs, handing each item that
//! changed differently on both sides to the pair's `conflict_resolution` command.
//!
//! The command is run as `COMMAND... FILE_A FILE_B` with both versions in temporary files (as
//! vdirsyncer does). When it exits successfully and both files hold the same text, that text
//! is written to both sides; otherwise the conflict stays and is reported.

use std::process::Command;

use anyhow::Result;
use pimlink_core::dav::{ConflictPolicy, ConflictResolver};
use pimlink_core::runner::Request;
use pimlink_core::{Error, ErrorKind};

use crate::cli::exit;
use crate::config::{Config, Family, PairConfig};
use crate::failure::{UsageError, exit_code};
use crate::output::Output;

use super::sync::sync_pair;

/// Runs `resolve-conflicts` and returns the exit status.
pub fn run(config: &Config, pairs: &[String], dry_run: bool, output: &Output) -> u8 {
    let pairs = match super::select_pairs(config, pairs) {
        Ok(pairs) => pairs,
        Err(error) => {
            output.error(&error);
            return exit_code(&error);
        }
    };
    let named = !pairs.is_empty();
    let mut code = exit::OK;
    for pair in pairs {
        let result: Result<u8> = (|| {
            if pair.family() != Family::Dav {
                return Err(UsageError(format!(
                    "pair {} syncs mail, which has no item conflicts to resolve",
                    pair.name
                ))
                .into());
            }
            let Some(command) = conflict_command(pair) else {
                return Err(UsageError(format!(
                    "pair {} has no conflict_resolution command (set conflict_resolution = \
                     [\"program\", \"args\"...])",
                    pair.name
                ))
                .into());
            };
            let mut resolver = CommandResolver {
                command: command.to_vec(),
            };
            let request = Request {
                dry_run,
                ..Request::default()
            };
            sync_pair(config, pair, None, request, Some(&mut resolver), output)
        })();
        let pair_code = match result {
            Ok(code) => code,
            // Pairs picked implicitly that cannot resolve conflicts are simply not for us.
            Err(error) if !named && error.downcast_ref::<UsageError>().is_some() => continue,
            Err(error) => {
                let error = error.context(format!("pair {}", pair.name));
                output.storage_error(config, &[&pair.a, &pair.b], &error);
                exit_code(&error)
            }
        };
        code = code.max(pair_code);
    }
    code
}

/// The pair's `conflict_resolution` command, if it has one (`resolve-conflicts` needs one).
fn conflict_command(pair: &PairConfig) -> Option<&[String]> {
    match pair.dav.as_ref().map(|d| &d.conflict) {
        Some(ConflictPolicy::Command(command)) => Some(command),
        _ => None,
    }
}

/// Runs the user's merge command on both versions of an item.
struct CommandResolver {
    command: Vec<String>,
}

impl ConflictResolver for CommandResolver {
    fn resolve(
        &mut self,
        collection: &str,
        uid: &str,
        a: &str,
        b: &str,
    ) -> pimlink_core::Result<String> {
        let dir = tempfile::Builder::new()
            .prefix("pimlink-conflict-")
            .tempdir()
            .map_err(|e| Error::io("creating a directory for the conflicting versions", e))?;
        let ext = if a.contains("BEGIN:VCARD") {
            "vcf"
        } else {
            "ics"
        };
        let path_a = dir.path().join(format!("a.{ext}"));
        let path_b = dir.path().join(format!("b.{ext}"));
        for (path, text) in [(&path_a, a), (&path_b, b)] {
            std::fs::write(path, text)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        }
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| Error::new(ErrorKind::Config, "conflict_resolution command is empty"))?;
        let status = Command::new(program)
            .args(args)
            .arg(&path_a)
            .arg(&path_b)
            .status()
            .map_err(|e| {
                Error::io(
                    format!("running conflict_resolution command {program:?}"),
                    e,
                )
            })?;
        if !status.success() {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "collection {collection}: conflict_resolution command {program:?} failed \
                     ({status}) for item {uid}; the conflict stays"
                ),
            ));
        }
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))
        };
        let (merged_a, merged_b) = (read(&path_a)?, read(&path_b)?);
        if merged_a != merged_b {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "collection {collection}: conflict_resolution command {program:?} left the \
                     two versions of item {uid} different; the conflict stays"
                ),
            ));
        }
        Ok(merged_a)
    }
}
