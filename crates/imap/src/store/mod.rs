//! The IMAP storage: [`ImapStore`], one side of a sync pair on an IMAP account.
//!
//! # Connection
//! The store connects on first use (listing collections of a Maildir-only pair never touches
//! the server) over one connection, and resolves the password only then. When the connection
//! drops or times out ([`ErrorKind::Connection`]), the store reconnects (logs in again, selects
//! the folder again) and repeats the operation if repeating it is safe: listings, reads, CREATE,
//! flag stores and `UID EXPUNGE` of known UIDs, up to [`RetryPolicy::retries`] times with a
//! capped exponential backoff ([`retry`], [`connection`]). An APPEND or MOVE whose answer was
//! lost is not repeated: the engine's pending copy is confirmed by content next run, so the
//! message lands exactly once. When reconnecting fails, the operation fails with a
//! `Connection` error (the engine goes on with other collections), and later operations of
//! the run get one attempt each until a connection works again.
//!
//! # Names
//! `LIST "" "*"` gives the folders; the server's hierarchy delimiter becomes `/` (see
//! [`names`] for the names that cannot be represented and are skipped with a warning), `INBOX`
//! in any case is `INBOX`, and `\Noselect`/`\NonExistent` folders are listed as not selectable.
//!
//! # Keys and listings
//! An item's key is `UIDVALIDITY:UID` ([`keys`]). [`MailStore::list_items`] returns a state
//! (`v1 uidvalidity=.. uidnext=.. highestmodseq=..`, [`state`]) and, given that state back with
//! the same UIDVALIDITY, lists incrementally:
//! - with CONDSTORE, not at all when the folder's counters from the run's first LIST (LIST-STATUS,
//!   else STATUS pipelined after the LIST) equal that state and MESSAGES equals the number of
//!   known items: the known items are returned and the folder is not even selected. The counters
//!   serve one listing, since they describe the folder before this run wrote to it.
//! - with QRESYNC: `SELECT ... (QRESYNC (uidvalidity modseq known-uids))`; the VANISHED and
//!   FETCH responses of the SELECT are applied to the flags the status last agreed on. Since the
//!   server reports changes of known UIDs only, new mail is one `UID FETCH <old UIDNEXT>:*` of
//!   flags, size and identifying headers (kept, so that the engine's search for moved messages
//!   costs no further FETCH), leaving out the UIDs the status knows (the pair's own uploads of
//!   the last run, whose flags the SELECT reported). No FETCH at all when nothing changed.
//!   Bodies are read only for the copies the engine then plans ([`prefetch`]).
//! - with only CONDSTORE: when HIGHESTMODSEQ, UIDNEXT and the message count are all unchanged
//!   the known items are returned as they are; otherwise a full listing (CONDSTORE alone cannot
//!   report expunges, and one `UID FETCH 1:* (FLAGS)` is a single round trip).
//! - without CONDSTORE: a full `UID FETCH 1:* (FLAGS RFC822.SIZE)`.
//!
//! An incremental result whose size differs from the server's message count is discarded for a
//! full listing, so a status that misses items (or holds phantom ones) heals itself. A known key
//! with another UIDVALIDITY than the folder's makes a full listing with `keys_reset`.
//!
//! # Writes
//! - [`MailStore::deliver`] APPENDs with flags and internal date, converting bare LF line ends
//!   to CRLF ([`crlf`]); [`MailStore::deliver_many`] sends a batch in MULTIAPPEND commands
//!   of up to 32 messages each ([`multiappend`]) when the server has MULTIAPPEND and UIDPLUS,
//!   else pipelines APPENDs (up to 32 sent before the first answer is read, with LITERAL+)
//!   when it has UIDPLUS; [`MailStore::settle`] waits for a folder's counters to stop moving, so that APPENDs a
//!   killed run left in flight have landed before the folder is listed ([`settle`]). The
//!   key is APPENDUID's UID (UIDPLUS); its UIDVALIDITY must be the one the folder was listed
//!   with. Without UIDPLUS the message is found again among the UIDs at or
//!   above the folder's UIDNEXT before the APPEND by its content fingerprint (Message-ID, Date,
//!   From, Subject, and RFC822.SIZE against the size sent); if it cannot be found the call
//!   fails and the engine's pending copy plus
//!   content pairing settle it next run. A message without any of those headers is refused on
//!   such a server, since nothing could ever recognise it again.
//! - [`MailStore::set_flags`] and [`MailStore::delete`] are queued and carried out in
//!   [`MailStore::flush`], one `UID STORE` per distinct change and folder. Flags change by
//!   `+FLAGS`/`-FLAGS` relative to what the listing showed, so a flag someone else set on the
//!   server meanwhile is not wiped; only a message the listing did not show gets `FLAGS`.
//!   Deletions are `+FLAGS (\Deleted)` then one `UID EXPUNGE` per folder. A server without
//!   UIDPLUS gets no deletions: a plain EXPUNGE would also remove messages that someone else
//!   marked `\Deleted` and meant to keep until they expunge, and the client has no EXPUNGE
//!   command yet; such a delete fails with [`ErrorKind::Unsupported`] and is retried next run.
//! - [`MailStore::move_item`] is UID MOVE (or UID COPY, `\Deleted`, UID EXPUNGE without
//!   MOVE); the new key comes from COPYUID, so moves are offered only with UIDPLUS.
//! - Every write checks the key's UIDVALIDITY against the selected folder first.
//!
//! # Several connections
//! [`MailStore::another_handle`] gives the engine another store on the account, up to
//! `connections` in all ([`ImapStore::set_connections`]): each has its connection (opened on
//! first use, reconnecting and retrying as above) and its own memory of the folders it lists, so
//! the engine keeps each folder on one store from its listing to its last flush.
//!
//! # Layout
//! This file: the overview, [`ImapStore`] and the state its files share. `mail_store.rs` is the
//! `MailStore` impl, which hands each call to the file that does it: `folders.rs`,
//! `listing.rs` (with `state.rs`, `keys.rs`, `names.rs`), `reading.rs` and `prefetch.rs`,
//! `writing.rs` (with `multiappend.rs`, `crlf.rs`), `moving.rs`, `settle.rs`,
//! `own_changes.rs` (a folder's stamp after the run's own writes); `details.rs`
//! (subscriptions, special-use and counts, for `pimlink replicate --verify`); `connection.rs`
//! and `retry.rs` reconnect and decide what is repeated.
//!
//! Not here: IDLE.

mod connection;
mod crlf;
mod details;
mod folders;
mod keys;
mod listing;
mod mail_store;
mod moving;
mod multiappend;
pub(crate) mod names;
mod own_changes;
mod prefetch;
mod reading;
mod retry;
mod settle;
mod spelling;
pub(crate) mod state;
mod writing;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use pimlink_core::mail::fingerprint::Fingerprint;
use pimlink_core::{CollectionName, Error, ErrorKind, Flags, MailStore};

use crate::client::Client;
use crate::options::ClientOptions;
use crate::secret::Secret;
pub use details::{AccountDetails, FolderDetails};
pub use retry::RetryPolicy;
pub use spelling::ImapSpelling;

/// Produces the password when the store first connects (e.g. by running a `password_cmd`);
/// asked once, reconnects reuse it.
pub type PasswordProvider = Box<dyn Fn() -> Result<Secret, Error> + Send + Sync>;

/// Counts of the commands the store sent, for tests and benchmarks (e.g. "an unchanged folder
/// costs no FETCH").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Connections opened.
    pub connects: u64,
    /// SELECT commands.
    pub selects: u64,
    /// UID FETCH commands.
    pub fetches: u64,
    /// Listings that fetched every message's flags (`UID FETCH 1:*`), not only changes.
    pub full_listings: u64,
    /// Messages sent by APPEND (one command each, or several in one MULTIAPPEND).
    pub appends: u64,
    /// MULTIAPPEND commands (APPENDs of several messages).
    pub multiappends: u64,
    /// UID STORE commands.
    pub stores: u64,
    /// UID EXPUNGE commands.
    pub expunges: u64,
    /// Operations tried again after their connection failed.
    pub retries: u64,
}

/// A mail storage on an IMAP account. See the [module docs](self) for its behaviour.
pub struct ImapStore {
    options: ClientOptions,
    password: Option<PasswordProvider>,
    client: Option<Client>,
    /// The server's hierarchy delimiter, once known (`Some(None)`: a flat server).
    delimiter: Option<Option<char>>,
    /// Server folders by engine name, from the last LIST.
    folders: HashMap<CollectionName, Folder>,
    /// The folder the connection has selected.
    selected: Option<Selected>,
    /// What this run learnt per server folder.
    memory: HashMap<String, FolderMemory>,
    /// Flag changes and deletions waiting for [`MailStore::flush`], per server folder.
    pending: BTreeMap<String, PendingFolder>,
    stats: StoreStats,
    /// When and how to reconnect and retry.
    retry: RetryPolicy,
    /// The last attempt to connect failed.
    connect_failed: bool,
    /// Reconnecting failed and no connection has worked since.
    unreachable: bool,
    /// Whether the last connection offered UIDPLUS (kept while reconnecting).
    uidplus: Option<bool>,
    /// Bytes of bodies read ahead and not handed out yet ([`prefetch`]).
    prefetched_bytes: u64,
    /// List only subscribed folders (and INBOX).
    subscribed_only: bool,
    /// How many connections the account may have open at once (see
    /// [`MailStore::another_handle`]).
    connections: usize,
    /// Open folders with EXAMINE: the pair never writes this side, and the server then
    /// promises not to change it for us either (no \Recent cleared).
    examine_only: bool,
    /// How a refused login is reported ([`ImapStore::set_refused_login`]).
    refused_login: Option<RefusedLogin>,
    /// A new password after a refused login ([`ImapStore::set_password_refresh`]).
    password_refresh: Option<PasswordRefresh>,
    /// The last folder list left out folders it could not read.
    folders_incomplete: bool,
}

/// Describes a refused login for the user ([`ImapStore::set_refused_login`]).
pub type RefusedLogin = std::sync::Arc<dyn Fn(Error) -> Error + Send + Sync>;

/// Produces a new password after the server refused the last one: a fresh OAuth2 access
/// token where the old one was revoked or expired early ([`ImapStore::set_password_refresh`]).
pub type PasswordRefresh = std::sync::Arc<dyn Fn() -> Result<Secret, Error> + Send + Sync>;

#[derive(Clone, Debug)]
struct Folder {
    server: String,
    selectable: bool,
    /// Its counters from the LIST, until a listing uses them.
    counters: Option<state::Counters>,
}

#[derive(Clone, Debug)]
struct Selected {
    server: String,
    uid_validity: u32,
}

/// Per folder: its UIDVALIDITY, the flags of its messages as the listing showed them (or as
/// this run set them), and the lowest UID a message appended now can get.
#[derive(Debug, Default)]
struct FolderMemory {
    uid_validity: u32,
    flags: HashMap<u32, Flags>,
    append_floor: Option<u32>,
    /// Fingerprints fetched with new mail during the listing (`None`: no identifying header).
    fingerprints: HashMap<u32, Option<Fingerprint>>,
    /// Bodies of planned copies read ahead, and their sizes ([`prefetch`]).
    bodies: HashMap<u32, (pimlink_core::ItemData, u64)>,
    /// HIGHESTMODSEQ at this handle's last complete listing of the folder, which `flags` then
    /// held in full; `None` before one, or without mod-sequences ([`own_changes`]).
    listed_modseq: Option<u64>,
    /// This handle wrote to the folder since that listing (appended, moved in or out, stored
    /// flags, expunged).
    written: bool,
}

/// The order flag stores are applied in; deletions come after all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum FlagOp {
    Replace,
    Add,
    Remove,
}

#[derive(Debug, Default)]
struct PendingFolder {
    uid_validity: u32,
    /// (operation, flags as status text) -> (flags, UIDs).
    flag_changes: BTreeMap<(FlagOp, String), (Flags, Vec<u32>)>,
    deletions: Vec<u32>,
}

impl ImapStore {
    /// A store for the account `options` describe; `options.password` is used as it is.
    pub fn new(options: ClientOptions) -> Self {
        Self {
            options,
            password: None,
            client: None,
            delimiter: None,
            folders: HashMap::new(),
            selected: None,
            memory: HashMap::new(),
            pending: BTreeMap::new(),
            stats: StoreStats::default(),
            retry: RetryPolicy::default(),
            connect_failed: false,
            unreachable: false,
            uidplus: None,
            prefetched_bytes: 0,
            subscribed_only: false,
            examine_only: false,
            connections: 1,
            refused_login: None,
            password_refresh: None,
            folders_incomplete: false,
        }
    }

    /// A store whose password comes from `password` when it first connects (not before, so
    /// that a password command does not run for a run that never needs the server).
    pub fn with_password_provider(options: ClientOptions, password: PasswordProvider) -> Self {
        Self {
            password: Some(password),
            ..Self::new(options)
        }
    }

    /// Replaces the reconnect schedule ([`RetryPolicy::default`] otherwise).
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.retry = policy;
    }

    /// Lists only the folders the account subscribed to (LSUB), plus INBOX, which always
    /// exists; folders it creates are subscribed either way.
    pub fn set_subscribed_only(&mut self, on: bool) {
        self.subscribed_only = on;
    }

    /// Opens every folder read-only (EXAMINE instead of SELECT), for a side the pair never
    /// writes.
    pub fn set_examine_only(&mut self, on: bool) {
        self.examine_only = on;
    }

    /// How a refused login (a wrong password, an expired token: [`ErrorKind::Auth`]) is
    /// reported: `describe` gets the client's error and returns the one to report, naming the
    /// account as the user knows it (the program's configuration does). Without it the store's
    /// own description names the account.
    pub fn set_refused_login(&mut self, describe: RefusedLogin) {
        self.refused_login = Some(describe);
    }

    /// When the server refuses a login (NO [AUTHENTICATIONFAILED] or any refusal,
    /// [`ErrorKind::Auth`]), ask `refresh` for a new password and log in with it once more
    /// before reporting the refusal: for tokens, which a server may stop accepting before
    /// their stated expiry.
    pub fn set_password_refresh(&mut self, refresh: PasswordRefresh) {
        self.password_refresh = Some(refresh);
    }

    /// How many connections the engine may open to the account at once, each syncing other
    /// folders (1 unless set; at least 1).
    pub fn set_connections(&mut self, connections: usize) {
        self.connections = connections.max(1);
    }

    /// The commands sent so far.
    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    /// True once the store has connected.
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// Logs out, if connected. Dropping the store without it just closes the connection.
    pub async fn logout(&mut self) -> Result<(), Error> {
        match self.client.take() {
            Some(client) => client.logout().await,
            None => Ok(()),
        }
    }

    /// The connection, opened on first use and again after it failed.
    async fn client(&mut self) -> Result<&mut Client, Error> {
        if self.client.as_ref().is_some_and(Client::is_broken) {
            self.drop_connection();
        }
        if self.client.is_none() {
            // The password is resolved once: a reconnect must not run a password command (and
            // perhaps prompt) again.
            if let Some(provider) = self.password.take() {
                match provider() {
                    Ok(secret) => self.options.password = secret,
                    Err(error) => {
                        self.password = Some(provider);
                        return Err(error);
                    }
                }
            }
            let mut connected = Client::connect(self.options.clone()).await;
            if let (Err(error), Some(refresh)) = (&connected, &self.password_refresh)
                && error.kind() == ErrorKind::Auth
            {
                tracing::debug!("login refused; trying once more with a new password");
                self.options.password = refresh()?;
                connected = Client::connect(self.options.clone()).await;
            }
            self.connect_failed = connected.is_err();
            let client = connected.map_err(|e| self.connect_error(e))?;
            self.unreachable = false;
            self.uidplus = Some(client.has("UIDPLUS"));
            self.stats.connects += 1;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Connection, "not connected"))
    }
}

impl ImapStore {
    /// `error` of a failed connect, saying which account it was.
    fn connect_error(&self, error: Error) -> Error {
        match &self.refused_login {
            Some(describe) if error.kind() == ErrorKind::Auth => describe(error),
            _ => error.context(self.describe()),
        }
    }
}

impl fmt::Debug for ImapStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapStore")
            .field("server", &self.describe())
            .field("connected", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

/// A copy of `error` for each of several results (errors are not `Clone`).
fn copy_error(error: &Error) -> Error {
    Error::new(error.kind(), error.to_string())
}

/// The most UID ranges one command carries, so that command lines stay far below servers'
/// limits (Dovecot's is 64 KiB) however scattered the UIDs are.
const MAX_RANGES_PER_COMMAND: usize = 500;

/// `uids` as a few UID sets of at most [`MAX_RANGES_PER_COMMAND`] ranges each.
fn chunks(uids: &[u32]) -> Vec<crate::uidset::UidRanges> {
    let all = crate::uidset::UidRanges::from_uids(uids.iter().copied());
    all.ranges()
        .chunks(MAX_RANGES_PER_COMMAND)
        .map(|ranges| {
            let mut set = crate::uidset::UidRanges::default();
            for &(a, b) in ranges {
                set.push_range(a, b);
            }
            set
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_uid_once_and_stay_small() {
        let uids: Vec<u32> = (1..=3000).map(|n| n * 2).collect();
        let sets = chunks(&uids);
        assert_eq!(sets.len(), 6);
        assert!(
            sets.iter()
                .all(|s| s.ranges().len() <= MAX_RANGES_PER_COMMAND)
        );
        let back: Vec<u32> = sets
            .iter()
            .flat_map(|s| s.iter().collect::<Vec<_>>())
            .collect();
        assert_eq!(back, uids);
        assert!(chunks(&[]).is_empty());
        assert_eq!(chunks(&[5, 4, 3]).len(), 1);
    }
}
