//! mbsync's (isync's) `.mbsyncrc`: `IMAPAccount`, `IMAPStore`, `MaildirStore`, `Channel` and
//! `Group` sections, each opened by its keyword line and closed by an empty line or the next
//! section; options outside a section are global (channel options given there are defaults
//! for every channel). Keywords are case-insensitive; a value with spaces is double-quoted.
//! The old spellings (`Master`/`Slave`, `SSLType`, `SSLVersions`) are read as their new names.

use super::Setting;

mod parse;
#[cfg(test)]
mod tests;

pub use parse::parse;

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MbsyncConfig {
    /// `IMAPAccount` sections, and the accounts `IMAPStore` sections define inline (named
    /// after their store).
    pub accounts: Vec<ImapAccount>,
    /// `IMAPStore` sections.
    pub imap_stores: Vec<ImapStore>,
    /// `MaildirStore` sections.
    pub maildir_stores: Vec<MaildirStore>,
    /// `Channel` sections.
    pub channels: Vec<Channel>,
    /// `Group` sections.
    pub groups: Vec<Group>,
    /// Channel options given outside any section: defaults for every channel.
    pub defaults: ChannelOptions,
    /// Other global options (`FSync`, `BufferLimit`, ...).
    pub other: Vec<Setting>,
    /// Every option line of the section as written (known or not), with its line, so that
    /// messages about a translated option can name it.
    pub written: Vec<Setting>,
}

/// How an IMAP server is reached and logged into.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImapAccount {
    /// The section's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// `Host`.
    pub host: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// `User`.
    pub user: Option<String>,
    /// `UserCmd`: a command printing the user name.
    pub user_cmd: Option<String>,
    /// `Pass`: the password in plain text.
    pub pass: Option<String>,
    /// `PassCmd`, without the leading `+` that asks mbsync to run it interactively.
    pub pass_cmd: Option<String>,
    /// `Tunnel`.
    pub tunnel: Option<String>,
    /// `AuthMechs`, as written (`*` is any).
    pub auth_mechs: Vec<String>,
    /// `TLSType` (`SSLType`).
    pub tls: Option<TlsType>,
    /// `TLSVersions` (`SSLVersions`), as written.
    pub tls_versions: Option<String>,
    /// `SystemCertificates`.
    pub system_certificates: Option<bool>,
    /// `CertificateFile`.
    pub certificate_file: Option<String>,
    /// `ClientCertificate`.
    pub client_certificate: Option<String>,
    /// `ClientKey`.
    pub client_key: Option<String>,
    /// `PipelineDepth`.
    pub pipeline_depth: Option<u32>,
    /// `Timeout`, in seconds (0: none).
    pub timeout: Option<u32>,
    /// Options not listed above (`CipherString`, `DisableExtensions`, ...).
    pub other: Vec<Setting>,
    /// Every option line of the section as written (known or not), with its line, so that
    /// messages about a translated option can name it.
    pub written: Vec<Setting>,
}

/// `TLSType`: how the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsType {
    /// `None`.
    None,
    /// `STARTTLS`.
    StartTls,
    /// `IMAPS`: TLS from the first byte.
    Imaps,
}

/// The options every kind of store has.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreOptions {
    /// `Path`: prepended to every mailbox name (not a separate level unless it ends in `/`).
    pub path: Option<String>,
    /// `MaxSize`, in bytes.
    pub max_size: Option<u64>,
    /// `MapInbox`: the name under which INBOX also appears.
    pub map_inbox: Option<String>,
    /// `Flatten`: the hierarchy delimiter replacing `/` on this store.
    pub flatten: Option<String>,
    /// `Trash`.
    pub trash: Option<String>,
    /// `TrashNewOnly`.
    pub trash_new_only: Option<bool>,
    /// `TrashRemoteNew`.
    pub trash_remote_new: Option<bool>,
}

/// An `IMAPStore` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImapStore {
    /// The section's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// `Account`, or the name of the account its own account options make (the store's name).
    pub account: String,
    /// The options of every store.
    pub store: StoreOptions,
    /// `PathDelimiter`.
    pub path_delimiter: Option<String>,
    /// `UseNamespace`.
    pub use_namespace: Option<bool>,
    /// `SubscribedOnly`.
    pub subscribed_only: Option<bool>,
    /// Options not listed above.
    pub other: Vec<Setting>,
    /// Every option line of the section as written (known or not), with its line, so that
    /// messages about a translated option can name it.
    pub written: Vec<Setting>,
}

/// A `MaildirStore` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MaildirStore {
    /// The section's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// The options of every store (`Path` is where the folders are).
    pub store: StoreOptions,
    /// `Inbox` (mbsync's default: `~/Maildir`).
    pub inbox: Option<String>,
    /// `SubFolders`.
    pub sub_folders: Option<SubFolders>,
    /// `InfoDelimiter`.
    pub info_delimiter: Option<String>,
    /// `AltMap`.
    pub alt_map: Option<bool>,
    /// Options not listed above.
    pub other: Vec<Setting>,
    /// Every option line of the section as written (known or not), with its line, so that
    /// messages about a translated option can name it.
    pub written: Vec<Setting>,
}

/// `SubFolders`: how hierarchical names are spelled on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubFolders {
    /// `Verbatim`: `Path/top/sub`.
    Verbatim,
    /// `Maildir++`: `Inbox/.top.sub`.
    MaildirPlusPlus,
    /// `Legacy`: `Path/top/.sub`.
    Legacy,
}

/// One side of a channel: `:STORE:` followed by a mailbox name or prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BoxRef {
    /// The store's name.
    pub store: String,
    /// What follows the second colon (empty if nothing).
    pub mailbox: String,
}

/// Which changes flow one way: `New`, `ReNew`, `Delete`, `Flags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ops {
    /// `New`.
    pub new: bool,
    /// `ReNew`.
    pub renew: bool,
    /// `Delete`.
    pub delete: bool,
    /// `Flags`.
    pub flags: bool,
}

impl Ops {
    /// All four.
    pub const ALL: Ops = Ops {
        new: true,
        renew: true,
        delete: true,
        flags: true,
    };
    /// None.
    pub const NONE: Ops = Ops {
        new: false,
        renew: false,
        delete: false,
        flags: false,
    };

    fn union(self, other: Ops) -> Ops {
        Ops {
            new: self.new || other.new,
            renew: self.renew || other.renew,
            delete: self.delete || other.delete,
            flags: self.flags || other.flags,
        }
    }
}

/// `Sync`: the operations in each direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncOps {
    /// Far to near (`Pull`).
    pub pull: Ops,
    /// Near to far (`Push`).
    pub push: Ops,
}

/// `Create`, `Remove`, `Expunge`: on which sides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sides {
    /// `Far` (or `Both`).
    pub far: bool,
    /// `Near` (or `Both`).
    pub near: bool,
}

/// The options a channel takes, which may also be given globally as defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelOptions {
    /// `Sync` (mbsync's default: `All`).
    pub sync: Option<SyncOps>,
    /// `Create` (default `None`).
    pub create: Option<Sides>,
    /// `Remove` (default `None`).
    pub remove: Option<Sides>,
    /// `Expunge` (default `None`).
    pub expunge: Option<Sides>,
    /// `CopyArrivalDate`.
    pub copy_arrival_date: Option<bool>,
    /// `MaxMessages`.
    pub max_messages: Option<u64>,
    /// `ExpireUnread`.
    pub expire_unread: Option<bool>,
    /// `SyncState`.
    pub sync_state: Option<String>,
    /// `MaxSize` given in the channel (it applies to both stores).
    pub max_size: Option<u64>,
}

/// A `Channel` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Channel {
    /// The section's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// `Far` (`Master`).
    pub far: BoxRef,
    /// `Near` (`Slave`).
    pub near: BoxRef,
    /// `Pattern`/`Patterns`, unquoted, in order (`!` excludes).
    pub patterns: Vec<String>,
    /// The channel's options (the global defaults not applied).
    pub options: ChannelOptions,
    /// Options not listed above.
    pub other: Vec<Setting>,
    /// Every option line of the section as written (known or not), with its line, so that
    /// messages about a translated option can name it.
    pub written: Vec<Setting>,
}

/// A `Group` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// The section's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// Its channels as written (`channel` or `channel:box,box`).
    pub channels: Vec<String>,
}
