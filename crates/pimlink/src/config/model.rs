//! The validated configuration: plain types that the rest of the program uses. Everything here
//! has been checked; a value of these types is always usable as it stands.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use pimlink_core::policy::{
    Direction, Limits, MaxDelete, OnEmpty, Operations, SideOptions, SyncPolicy,
};
use pimlink_core::side::PerSide;
// The TLS settings are pimlink-tls's own types, so that the storages take them as they are.
pub use pimlink_tls::{CertFingerprint, ClientCert, TlsMode, Trust};

use super::dav_pair::DavPairConfig;
use super::filter::CollectionFilter;
use super::hooks::PairHooks;
use super::mail_names::MailNames;
use super::mbnames::MbnamesConfig;
use super::secret::PasswordSource;

/// The whole configuration file.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from; relative paths in it were resolved against its directory.
    pub path: PathBuf,
    /// Where the status databases live (`[general] state_dir`).
    pub state_dir: PathBuf,
    /// The storages, by name.
    pub storages: BTreeMap<String, StorageConfig>,
    /// The pairs, by name.
    pub pairs: BTreeMap<String, PairConfig>,
    /// `[daemon]`.
    pub daemon: super::DaemonConfig,
    /// How long a hook may run before it is killed (`[general] hook_timeout`, default 60 s).
    pub hook_timeout: Duration,
    /// The mailbox list file (`[mbnames]`); `None` when absent or disabled.
    pub mbnames: Option<MbnamesConfig>,
    /// `[replication.NAME]` tables, by name (issue 15).
    pub replications: BTreeMap<String, super::ReplicationConfig>,

    /// `[migration.NAME]` tables, by name (issue 15).
    pub migrations: BTreeMap<String, super::MigrationConfig>,
}

/// One `[storage.NAME]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageConfig {
    /// The table key: `[A-Za-z0-9_-]+`.
    pub name: String,
    /// The type and its settings.
    pub kind: StorageKind,
    /// `read_only` and `trash` of a mail storage (defaults for other types).
    pub mail: MailStorageOptions,
    /// `poll_interval`: how often the daemon syncs the storage's pairs when nothing watches
    /// it (any type; default 5 min).
    pub poll_interval: std::time::Duration,
}

/// What a mail storage says about how pairs may write it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MailStorageOptions {
    /// `read_only`: no pair ever writes this storage (default false).
    pub read_only: bool,
    /// `trash`: the folder messages deleted here by a sync are moved into (default none).
    pub trash: Option<pimlink_core::CollectionName>,
}

/// A storage's type (the `type` key) with the settings of that type.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageKind {
    /// `type = "imap"`: a mailbox on an IMAP server.
    Imap(ImapConfig),
    /// `type = "maildir"`: a local tree of Maildir folders.
    Maildir(MaildirConfig),
    /// `type = "caldav"`: calendars on a CalDAV server.
    CalDav(DavConfig),
    /// `type = "carddav"`: address books on a CardDAV server.
    CardDav(DavConfig),
    /// `type = "webcal"`: a read-only calendar feed over HTTP(S).
    Webcal(WebcalConfig),
    /// `type = "vdir"`: a local directory of `.ics` or `.vcf` files, one per item.
    Vdir(VdirConfig),
}

/// What a storage holds; a pair joins two storages of the same family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Mail: IMAP and Maildir.
    Mail,
    /// Calendars and contacts: CalDAV, CardDAV, webcal and vdir.
    Dav,
}

impl StorageKind {
    /// The type as written in the `type` key.
    pub fn type_name(&self) -> &'static str {
        match self {
            StorageKind::Imap(_) => "imap",
            StorageKind::Maildir(_) => "maildir",
            StorageKind::CalDav(_) => "caldav",
            StorageKind::CardDav(_) => "carddav",
            StorageKind::Webcal(_) => "webcal",
            StorageKind::Vdir(_) => "vdir",
        }
    }

    /// Mail or calendars/contacts.
    pub fn family(&self) -> Family {
        match self {
            StorageKind::Imap(_) | StorageKind::Maildir(_) => Family::Mail,
            _ => Family::Dav,
        }
    }

    /// The local directory the storage keeps its items in, if it is a local storage.
    pub fn local_path(&self) -> Option<&std::path::Path> {
        match self {
            StorageKind::Maildir(m) => Some(&m.path),
            StorageKind::Vdir(v) => Some(&v.path),
            _ => None,
        }
    }

    /// False for storages that can only be read (webcal feeds).
    pub fn is_writable(&self) -> bool {
        !matches!(self, StorageKind::Webcal(_))
    }
}

/// The settings of an IMAP storage.
#[derive(Clone, Debug, PartialEq)]
pub struct ImapConfig {
    /// How to reach the server.
    pub endpoint: ImapEndpoint,
    /// The login; `None` only with a tunnel whose server starts pre-authenticated (PREAUTH).
    pub credentials: Option<Credentials>,
    /// A forced authentication mechanism (`auth`); `None` lets the client pick the best one the
    /// server offers.
    pub auth: Option<ImapAuth>,
    /// How many connections the storage may open at once (`connections`, default 4).
    pub connections: NonZeroUsize,
    /// How long to wait for the server before giving up (`timeout`, default 60 s).
    pub timeout: Duration,
    /// Sync only subscribed folders and INBOX (`subscribed_only`, default false).
    pub subscribed_only: bool,
    /// How the daemon watches it (`notify`, `idle_folders`, `keepalive`).
    pub watch: super::ImapWatchConfig,
    /// The user the credentials act as (SASL PLAIN authorization identity); not a key of
    /// the file: set per user by `pimlink replicate` (issue 15) for an administrator's login.
    pub authzid: Option<String>,
    // Provider presets (issue 18): config/provider.rs.
    /// `provider`: the preset the endpoint and quirks came from, if any.
    pub provider: Option<super::Provider>,
    /// `disable_extensions` (default: the provider's, else none): capabilities never used even
    /// when offered, for a server whose implementation of them is broken.
    pub disabled_extensions: Vec<String>,
    // Replication of Sieve scripts (issue 15).
    /// `sieve_port`: the ManageSieve port on `host`, for `sieve = true` in a
    /// `[replication.NAME]`; `None` takes the replication's `sieve_port`, else 4190.
    pub sieve_port: Option<u16>,
}

/// Where an IMAP server is.
#[derive(Clone, Debug, PartialEq)]
pub enum ImapEndpoint {
    /// A TCP connection (`host`, `port`, `tls`).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port; defaults to 993 with implicit TLS, 143 otherwise.
        port: u16,
        /// How the connection is encrypted.
        tls: TlsMode,
        /// Extra trust for the server's certificate, and the client certificate to present.
        trust: Trust,
    },
    /// A command whose standard input and output speak IMAP (`tunnel`), run with `sh -c`.
    Tunnel {
        /// The command line.
        command: String,
    },
}

/// A forced IMAP authentication mechanism (`auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImapAuth {
    /// `login`: the LOGIN command.
    Login,
    /// `plain`: AUTHENTICATE PLAIN.
    Plain,
    /// `cram-md5`: AUTHENTICATE CRAM-MD5.
    CramMd5,
    /// `xoauth2`: AUTHENTICATE XOAUTH2; the password is the access token.
    XOAuth2,
    /// `oauthbearer`: AUTHENTICATE OAUTHBEARER; the password is the access token.
    OAuthBearer,
}

/// A user name with where its password comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    /// `user`.
    pub user: String,
    /// `password` or `password_cmd`.
    pub password: PasswordSource,
}

/// The settings of a Maildir storage.
#[derive(Clone, Debug, PartialEq)]
pub struct MaildirConfig {
    /// The root of the tree (`path`), expanded and absolute.
    pub path: PathBuf,
    /// How folder names map to directories (`layout`).
    pub layout: MaildirLayout,
    /// `flatten`, `names`, `inbox`: what a tree another tool wrote adds to the layout.
    pub tree: pimlink_maildir::TreeOptions,
}

/// How a Maildir tree stores folders (`layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaildirLayout {
    /// `verbatim` (the default): folder `A/B` is the directory `A/B`, the inbox is `INBOX`.
    Verbatim,
    /// `maildir++`: the inbox is the root itself, folder `A/B` is `.A.B` (Dovecot, Courier).
    MaildirPlusPlus,
}

/// The settings of a CalDAV or CardDAV storage.
#[derive(Clone, Debug, PartialEq)]
pub struct DavConfig {
    /// `url`: where discovery starts (`http://` or `https://`); `https://DOMAIN/` when only
    /// `domain` is given.
    pub url: String,
    /// `domain`: the service is known only by its domain, so discovery asks DNS SRV records
    /// first (RFC 6764).
    pub domain: Option<String>,
    /// `user` with `password`/`password_cmd`; `None` for a server that needs no login.
    pub credentials: Option<Credentials>,
    /// Extra trust for the server's certificate, and the client certificate to present.
    pub trust: Trust,
    /// `timeout`, default 60 s.
    pub timeout: Duration,
    /// `skip_unchanged`: which change stamp the collection listing asks for, to skip
    /// collections unchanged on both sides since the last clean sync. Default `"auto"`.
    pub skip_unchanged: SkipUnchanged,
    // Provider presets (issue 18): config/provider.rs.
    /// `provider`: the preset the URL came from, if any.
    pub provider: Option<super::Provider>,
}

/// The values of a CalDAV/CardDAV storage's `skip_unchanged`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SkipUnchanged {
    /// `"auto"`, the default: the collection's `DAV:getlastmodified`, trusted only where the
    /// collection's sync token shows Radicale's storage; every other server is asked for its
    /// changes with its sync token.
    #[default]
    Auto,
    /// `false`: every collection is asked for its changes on every run.
    Off,
    /// `true` or `"ctag"`: trust `CS:getctag`.
    Ctag,
    /// `"last-modified"`: trust the collection's `DAV:getlastmodified` (servers that move it
    /// with every member change, such as Radicale).
    LastModified,
}

/// The settings of a webcal feed.
#[derive(Clone, Debug, PartialEq)]
pub struct WebcalConfig {
    /// `url`, with `webcal://` already rewritten to `https://`.
    pub url: String,
    /// `collection_id`: the id of the feed's one collection (what a pair's `collections`
    /// names, and the directory name in a vdir); `None` means the storage's name.
    pub collection_id: Option<String>,
    /// Extra trust for the server's certificate, and the client certificate to present.
    pub trust: Trust,
    /// `timeout`, default 60 s.
    pub timeout: Duration,
}

/// The settings of a vdir storage.
#[derive(Clone, Debug, PartialEq)]
pub struct VdirConfig {
    /// `path`: the directory whose subdirectories are the collections.
    pub path: PathBuf,
    /// `fileext`: the extension of item files, with its dot (`.ics`, `.vcf`).
    pub fileext: String,
}

/// One `[pair.NAME]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct PairConfig {
    /// The table key: `[A-Za-z0-9_-]+`.
    pub name: String,
    /// The name of storage `a` (it exists in [`Config::storages`]).
    pub a: String,
    /// The name of storage `b` (it exists, differs from `a` and is of the same family).
    pub b: String,
    /// Which collections are synced (`collections`, default `["*"]`).
    pub collections: CollectionFilter,
    /// Which way changes flow (`direction`, default both).
    pub direction: Direction,
    /// Which changes flow (`operations`, default all).
    pub operations: Operations,
    /// On which sides missing collections are created (`create`, default both).
    pub create: PerSide<bool>,
    /// What to do when a side of a collection suddenly looks empty (`on_empty`, default refuse).
    pub on_empty: OnEmpty,
    /// How much of a collection one run may delete on a side (`max_delete`, default 50%).
    pub max_delete: MaxDelete,
    /// The settings only calendar/contact pairs have; `None` for mail pairs.
    pub dav: Option<DavPairConfig>,
    /// Name translation and keywords (mail pairs; the identity and true otherwise).
    pub names: MailNames,
    /// What the near side of a mail pair keeps (`max_size`, `max_messages`, `max_age`, `near`).
    pub limits: Limits,
    /// How each side may be written: `read_only`, `expunge`, `remove` here and `read_only`,
    /// `trash` of the storages (defaults for calendar/contact pairs).
    pub sides: PerSide<SideOptions>,
    /// `pre_sync_hook`, `post_sync_hook`, `new_mail_hook`.
    pub hooks: PairHooks,
    /// `adopt`: whether the first sync takes over another tool's state (default auto).
    pub adopt: AdoptMode,
}

/// Whether a pair's first sync takes over another tool's state it finds (`adopt`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdoptMode {
    /// `auto`: a pair without state adopts what mbsync (or another tool) left beside its
    /// local side.
    #[default]
    Auto,
    /// `never`: the first sync pairs items by content, as without another tool's state.
    Never,
}

impl PairConfig {
    /// The engine's policy for this pair.
    pub fn policy(&self) -> SyncPolicy {
        SyncPolicy {
            direction: self.direction,
            operations: self.operations,
            create: self.create,
            on_empty: self.on_empty,
            max_delete: self.max_delete,
            ignore_keywords: !self.names.keywords,
            limits: self.limits,
            sides: self.sides.clone(),
        }
    }

    /// Mail or calendars/contacts: both storages are of this family (checked when parsed).
    pub fn family(&self) -> Family {
        if self.dav.is_some() {
            Family::Dav
        } else {
            Family::Mail
        }
    }

    /// The pair's collection patterns, if it has any: a mail pair always (`["*"]` by default),
    /// a calendar/contact pair only if `collections` lists some besides `"from a"`, `"from
    /// b"` and aliases.
    pub fn patterns(&self) -> Option<&CollectionFilter> {
        match &self.dav {
            Some(dav) => dav.collections.patterns.as_ref(),
            None => Some(&self.collections),
        }
    }
}
