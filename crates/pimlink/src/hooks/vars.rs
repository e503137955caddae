//! The environment variables a hook gets. Every hook: `PIMLINK_HOOK` (`pre_sync`,
//! `post_sync`, `new_mail`), `PIMLINK_PAIR`, `PIMLINK_STORAGE_A`, `PIMLINK_STORAGE_B`,
//! `PIMLINK_DRY_RUN` (`0`/`1`). After the run (`post_sync`, `new_mail`): `PIMLINK_RESULT`
//! (`ok`, `partial`, `refused`, `failed`) and the counts `PIMLINK_{CREATED,UPDATED,DELETED}_
//! {A,B}`, `PIMLINK_FLAGS`, `PIMLINK_CONFLICTS` (0 where the family has no such thing, and
//! all 0 when the run failed before its report). `new_mail` also: `PIMLINK_LOCAL_SIDE`,
//! `PIMLINK_NEW_MAIL` (messages copied into the local side) and `PIMLINK_FOLDERS` (their
//! folders by the local storage's names, one per line, INBOX first).
//!
//! Only names, counts and folder names: never a password, token or command output.

use anyhow::Result;
use pimlink_core::runner::Outcome;
use pimlink_core::{CollectionName, Side};

use super::summary::RunSummary;
use crate::config::PairConfig;

/// Every variable pimlink sets; a hook never inherits any of them from pimlink's own
/// environment (a `pimlink sync` run by a hook would otherwise pass its caller's counts on).
pub const ALL: &[&str] = &[
    "PIMLINK_HOOK",
    "PIMLINK_PAIR",
    "PIMLINK_STORAGE_A",
    "PIMLINK_STORAGE_B",
    "PIMLINK_DRY_RUN",
    "PIMLINK_RESULT",
    "PIMLINK_CREATED_A",
    "PIMLINK_CREATED_B",
    "PIMLINK_UPDATED_A",
    "PIMLINK_UPDATED_B",
    "PIMLINK_DELETED_A",
    "PIMLINK_DELETED_B",
    "PIMLINK_FLAGS",
    "PIMLINK_CONFLICTS",
    "PIMLINK_LOCAL_SIDE",
    "PIMLINK_NEW_MAIL",
    "PIMLINK_FOLDERS",
];

/// The variables known so far.
#[derive(Clone, Debug)]
pub struct Vars(Vec<(&'static str, String)>);

impl Vars {
    /// What every hook of `pair` gets.
    pub fn new(pair: &PairConfig, dry_run: bool) -> Self {
        Self(vec![
            ("PIMLINK_PAIR", pair.name.clone()),
            ("PIMLINK_STORAGE_A", pair.a.clone()),
            ("PIMLINK_STORAGE_B", pair.b.clone()),
            ("PIMLINK_DRY_RUN", u8::from(dry_run).to_string()),
        ])
    }

    /// These and what the run did.
    pub fn after(&self, result: &Result<Outcome>, summary: Option<&RunSummary>) -> Self {
        let outcome = match result {
            Ok(Outcome::Clean) => "ok",
            Ok(Outcome::Partial) => "partial",
            Ok(Outcome::Refused) => "refused",
            Ok(Outcome::Stopped) => "stopped",
            Err(_) => "failed",
        };
        let none = RunSummary::default();
        let s = summary.unwrap_or(&none);
        let mut vars = self.0.clone();
        vars.extend([
            ("PIMLINK_RESULT", outcome.to_owned()),
            ("PIMLINK_CREATED_A", s.created.a.to_string()),
            ("PIMLINK_CREATED_B", s.created.b.to_string()),
            ("PIMLINK_UPDATED_A", s.updated.a.to_string()),
            ("PIMLINK_UPDATED_B", s.updated.b.to_string()),
            ("PIMLINK_DELETED_A", s.deleted.a.to_string()),
            ("PIMLINK_DELETED_B", s.deleted.b.to_string()),
            ("PIMLINK_FLAGS", s.flags.to_string()),
            ("PIMLINK_CONFLICTS", s.conflicts.to_string()),
        ]);
        Self(vars)
    }

    /// These and the new mail: `arrived` per folder (the pair's names) on side `local`.
    pub fn new_mail(
        &self,
        pair: &PairConfig,
        local: Side,
        arrived: &[(CollectionName, usize)],
    ) -> Self {
        let mut folders: Vec<CollectionName> = arrived
            .iter()
            .map(|(name, _)| crate::mbnames::local_name(pair, local, name))
            .collect();
        folders.sort_by_key(|name| (!name.is_inbox(), name.clone()));
        folders.dedup();
        let lines: Vec<&str> = folders.iter().map(CollectionName::as_str).collect();
        let count: usize = arrived.iter().map(|(_, n)| n).sum();
        let mut vars = self.0.clone();
        vars.extend([
            ("PIMLINK_LOCAL_SIDE", local.to_string()),
            ("PIMLINK_NEW_MAIL", count.to_string()),
            ("PIMLINK_FOLDERS", lines.join("\n")),
        ]);
        Self(vars)
    }

    /// The variables for hook `key` (`pre_sync_hook` gives `PIMLINK_HOOK=pre_sync`).
    pub fn with_hook(&self, key: &str) -> Vec<(&'static str, String)> {
        let mut vars = self.0.clone();
        vars.push(("PIMLINK_HOOK", key.trim_end_matches("_hook").to_owned()));
        vars
    }
}
