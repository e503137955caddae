//! `pimlink status`: what the last runs of each pair did, from the state store's run journal
//! alone (no storage is opened, no network is used, no lock is taken, so it answers while a
//! sync or the daemon runs).

use anyhow::{Context, Result};
use chrono::{Local, TimeZone};
use pimlink_core::status::{CollectionJournal, JournalReader, RunEntry, unix_now};

use crate::cli::exit;
use crate::config::{Config, PairConfig};
use crate::failure::exit_code;
use crate::output::Output;

/// Runs `status` and returns the exit status: 1 if the last run of a shown pair failed, was
/// partial or was refused, 0 otherwise (a pair that never synced included).
pub fn run(config: &Config, pairs: &[String], output: &Output) -> u8 {
    let pairs = match super::select_pairs(config, pairs) {
        Ok(pairs) => pairs,
        Err(error) => {
            output.error(&error);
            return exit_code(&error);
        }
    };
    let now = unix_now();
    let mut code = exit::OK;
    for pair in pairs {
        match pair_status(config, pair, now) {
            Ok((lines, healthy)) => {
                for line in lines {
                    println!("{line}");
                }
                if !healthy {
                    code = code.max(exit::PARTIAL);
                }
            }
            Err(error) => {
                output.error(&error);
                code = code.max(exit_code(&error));
            }
        }
    }
    code
}

/// The lines shown for one pair, and false if its last run did not end cleanly.
fn pair_status(config: &Config, pair: &PairConfig, now: i64) -> Result<(Vec<String>, bool)> {
    let name = &pair.name;
    let Some(journal) = JournalReader::open(&config.state_dir, name)
        .with_context(|| format!("reading the state of pair {name}"))?
    else {
        return Ok((
            vec![format!(
                "{name}: never synced (no state in {})",
                config.state_dir.display()
            )],
            true,
        ));
    };
    let runs = journal.runs(1)?;
    let Some(last) = runs.first() else {
        return Ok((
            vec![format!(
                "{name}: no run recorded yet (the state predates pimlink status, or no run \
                 has finished)"
            )],
            true,
        ));
    };
    let mut lines = vec![run_line(name, last, now)];
    if last.outcome != "clean" {
        let clean = journal.last_clean()?;
        lines.push(format!(
            "  last clean sync: {}",
            clean.map_or("never".to_owned(), |at| when(at, now))
        ));
    }
    for collection in journal.collections()? {
        if let Some(line) = collection_line(name, &collection, now) {
            lines.push(line);
        }
    }
    Ok((lines, last.outcome == "clean"))
}

fn run_line(pair: &str, run: &RunEntry, now: i64) -> String {
    let at = when(run.finished_at, now);
    match run.outcome.as_str() {
        "failed" => format!(
            "{pair}: last sync {at}: FAILED: {}",
            run.error.as_deref().unwrap_or("unknown error")
        ),
        outcome => {
            let mut line = format!(
                "{pair}: last sync {at}: {outcome}, {} collections, changed: {}",
                run.collections, run.changes
            );
            if run.errors > 0 {
                line.push_str(&format!(", {} errors", run.errors));
            }
            line
        }
    }
}

/// A collection's line, only for one that needs attention: its last run failed or was
/// refused, it holds items back or conflicts open.
fn collection_line(pair: &str, c: &CollectionJournal, now: i64) -> Option<String> {
    let name = &c.last.name;
    let mut notes = Vec::new();
    if c.error_count > 0 {
        let first = c.last.errors.first().map_or("", String::as_str);
        notes.push(format!("{} errors in its last run: {first}", c.error_count));
        notes.push(format!(
            "last clean run {}",
            c.last_ok_at.map_or("never".to_owned(), |at| when(at, now))
        ));
    }
    if let Some(why) = &c.last.refused {
        notes.push(format!(
            "changes refused: {why} (to apply them once: pimlink sync --force {pair}/{name})"
        ));
    }
    if c.last.held_back > 0 {
        notes.push(format!(
            "{} messages held back by the limits (max_size, max_messages, max_age; big ones \
             once: pimlink sync --fetch-big {pair}/{name})",
            c.last.held_back
        ));
    }
    if c.last.conflicts > 0 {
        notes.push(format!(
            "{} conflicts open (pimlink resolve-conflicts {pair})",
            c.last.conflicts
        ));
    }
    if notes.is_empty() {
        return None;
    }
    Some(format!("  {name}: {}", notes.join("; ")))
}

/// A time as the user's clock shows it, with how long ago.
fn when(at: i64, now: i64) -> String {
    let shown = Local.timestamp_opt(at, 0).single().map_or_else(
        || at.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    );
    format!("{shown} ({})", ago(now - at))
}

fn ago(seconds: i64) -> String {
    match seconds {
        s if s < 0 => "in the future: is the clock right?".to_owned(),
        s if s < 90 => format!("{s} s ago"),
        s if s < 90 * 60 => format!("{} min ago", (s + 30) / 60),
        s if s < 36 * 3600 => format!("{} h ago", (s + 1800) / 3600),
        s => format!("{} days ago", (s + 43200) / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_rounds_to_a_readable_unit() {
        assert_eq!(ago(5), "5 s ago");
        assert_eq!(ago(600), "10 min ago");
        assert_eq!(ago(3 * 3600 + 100), "3 h ago");
        assert_eq!(ago(3 * 86400), "3 days ago");
        assert!(ago(-5).contains("clock"));
    }
}
