//! What a replica check needs of the folders besides the engine's listing: which are
//! subscribed, their special-use attributes, and (on request) their message counts, in as few
//! round trips as the server allows (LIST, LSUB, then STATUS pipelined).

use pimlink_core::{CollectionName, Error};
use tracing::warn;

use super::ImapStore;
use super::names::canonical_name;
use super::retry::Repeat;

/// One folder as `LIST`, `LSUB` and `STATUS` describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderDetails {
    /// The engine's name (`/` between levels).
    pub name: CollectionName,
    /// False for `\Noselect` and `\NonExistent`.
    pub selectable: bool,
    /// The special-use attribute (RFC 6154), e.g. `\Sent`.
    pub special_use: Option<String>,
    /// STATUS MESSAGES, when counts were asked for and the folder is selectable.
    pub messages: Option<u32>,
}

/// The folders and the subscribed names (subscriptions may name folders that do not exist).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountDetails {
    /// Every folder, in name order.
    pub folders: Vec<FolderDetails>,
    /// Every subscribed name, in the engine's form.
    pub subscribed: Vec<CollectionName>,
    /// The server offers METADATA, through which a client can set special-use attributes
    /// (RFC 6154 section 5.1); without it they are the server's own configuration.
    pub metadata: bool,
}

impl ImapStore {
    /// Every folder with its special-use attribute and, with `counts`, its STATUS MESSAGES,
    /// and the subscriptions; read-only, repeated after a dropped connection like a listing.
    pub async fn account_details(&mut self, counts: bool) -> Result<AccountDetails, Error> {
        let mut failures = 0;
        loop {
            match self.read_account_details(counts).await {
                Ok(details) => return Ok(details),
                Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
            }
        }
    }

    async fn read_account_details(&mut self, counts: bool) -> Result<AccountDetails, Error> {
        let describe = self.describe_quiet();
        let client = self.client().await?;
        let metadata = client.has("METADATA");
        let entries = client.list("", "*").await?;
        let subscribed = client.lsub("", "*").await?;
        let selectable: Vec<&str> = entries
            .iter()
            .filter(|e| counts && e.selectable())
            .map(|e| e.name.as_str())
            .collect();
        let mut statuses = if selectable.is_empty() {
            Vec::new()
        } else {
            client.status_many(&selectable).await?
        }
        .into_iter();
        let engine_name = |name: &str, delimiter| match canonical_name(name, delimiter) {
            Ok(name) => Some(name),
            Err(why) => {
                warn!("{describe}: skipping folder {name:?}: {why}");
                None
            }
        };
        let mut folders = Vec::with_capacity(entries.len());
        for entry in &entries {
            let messages = if counts && entry.selectable() {
                statuses.next().transpose()?.and_then(|s| s.messages)
            } else {
                None
            };
            let Some(name) = engine_name(&entry.name, entry.delimiter) else {
                continue;
            };
            folders.push(FolderDetails {
                name,
                selectable: entry.selectable(),
                special_use: entry.special_use().map(str::to_owned),
                messages,
            });
        }
        folders.sort_by(|a, b| a.name.cmp(&b.name));
        let subscribed = subscribed
            .iter()
            .filter_map(|e| engine_name(&e.name, e.delimiter))
            .collect();
        Ok(AccountDetails {
            folders,
            subscribed,
            metadata,
        })
    }
}
