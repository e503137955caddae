//! mbsync's stores become storages (an `IMAPStore` with its account's connection settings,
//! a `MaildirStore` with its layout) and its channels pairs, far side `a` and near side `b`.
//! mbsync's defaults differ from pimlink's (it creates no folders and expunges nothing unless
//! told), so `create` and `expunge` are always written out.

use std::collections::BTreeMap;

use pimlink_foreign::config::mbsync::{
    Channel, ImapAccount, ImapStore, MaildirStore, MbsyncConfig, Ops, Sides, SubFolders, SyncOps,
    TlsType,
};

#[cfg(test)]
mod tests;

use super::toml_out::{Document, Table, Value};
use pimlink_foreign::config::Setting;

use super::{Names, PLAIN_PASSWORD, flatten, literal_pattern, not_imported, size_value};

pub(super) fn translate(config: &MbsyncConfig) -> Document {
    let mut doc = Document::default();
    let mut names = Names::default();
    // mbsync store name -> pimlink storage name.
    let mut storages = BTreeMap::new();
    for store in &config.imap_stores {
        let name = names.make(&store.name);
        storages.insert(store.name.clone(), name.clone());
        let account = config.accounts.iter().find(|a| a.name == store.account);
        doc.tables.push(imap_storage(&name, store, account));
    }
    for store in &config.maildir_stores {
        let name = names.make(&store.name);
        storages.insert(store.name.clone(), name.clone());
        doc.tables.push(maildir_storage(&name, store));
    }
    let mut pair_names = Names::default();
    for channel in &config.channels {
        doc.tables
            .push(pair(&mut pair_names, channel, config, &storages));
    }
    for group in &config.groups {
        doc.footer.push(format!(
            "not imported: Group {} (line {}): pimlink has no groups; name the pairs instead: \
             pimlink sync {}",
            group.name,
            group.line,
            group
                .channels
                .iter()
                .map(|c| c.split(':').next().unwrap_or(c))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    for setting in &config.other {
        doc.footer.push(not_imported(
            setting,
            "a global option pimlink does not have",
        ));
    }
    doc
}

/// The option line among `written` spelled one of `keywords` (any case), the last one.
fn written<'w>(written: &'w [Setting], keywords: &[&str]) -> Option<&'w Setting> {
    written
        .iter()
        .rev()
        .find(|s| keywords.iter().any(|k| s.key.eq_ignore_ascii_case(k)))
}

/// Notes the option spelled one of `keywords` as not imported, with its value and line.
fn not_taken(table: &mut Table, lines: &[Setting], keywords: &[&str], why: &str) {
    match written(lines, keywords) {
        Some(setting) => table.note(not_imported(setting, why)),
        None => table.note(format!("not imported: {}: {why}", keywords[0])),
    }
}

fn imap_storage(name: &str, store: &ImapStore, account: Option<&ImapAccount>) -> Table {
    let mut table = Table::new(format!("storage.{name}"));
    table.intro.push(format!(
        "mbsync IMAPStore {} (line {})",
        store.name, store.line
    ));
    table.set("type", Value::str("imap"));
    if let Some(account) = account {
        account_keys(&mut table, account);
    }
    if let Some(only) = store.subscribed_only {
        table.set("subscribed_only", Value::Bool(only));
    }
    store_keys(&mut table, &store.store, &store.written, true);
    if store.use_namespace == Some(true) || store.path_delimiter.is_some() {
        not_taken(
            &mut table,
            &store.written,
            &["UseNamespace", "PathDelimiter"],
            "pimlink asks the server for its hierarchy delimiter; give a namespace prefix as \
             the pair's prefix_a",
        );
    }
    for setting in &store.other {
        table.note(not_imported(setting, "pimlink has no such option"));
    }
    table
}

fn account_keys(table: &mut Table, account: &ImapAccount) {
    if let Some(tunnel) = &account.tunnel {
        table.set("tunnel", Value::str(tunnel));
    } else if let Some(host) = &account.host {
        table.set("host", Value::str(host));
        if let Some(port) = account.port {
            table.set("port", Value::Int(i64::from(port)));
        }
        // mbsync's default is STARTTLS; pimlink's is implicit TLS, so it is always written.
        let tls = match account.tls.unwrap_or(TlsType::StartTls) {
            TlsType::None => "none",
            TlsType::StartTls => "starttls",
            TlsType::Imaps => "implicit",
        };
        table.set("tls", Value::str(tls));
    }
    if let Some(user) = &account.user {
        table.set("user", Value::str(user));
    }
    if account.user_cmd.is_some() {
        not_taken(
            table,
            &account.written,
            &["UserCmd"],
            "pimlink takes the user name itself; set user = \"...\"",
        );
    }
    if let Some(command) = &account.pass_cmd {
        table.set("password_cmd", Value::str(command));
    } else if let Some(password) = &account.pass {
        table.note(PLAIN_PASSWORD);
        table.set("password", Value::str(password));
    }
    if account.tunnel.is_none() {
        if let Some(file) = &account.certificate_file {
            table.set("ca_file", Value::str(file));
        }
        if let Some(cert) = &account.client_certificate {
            table.set("client_cert", Value::str(cert));
        }
        if let Some(key) = &account.client_key {
            table.set("client_key", Value::str(key));
        }
    }
    if account.system_certificates == Some(false) {
        not_taken(
            table,
            &account.written,
            &["SystemCertificates"],
            "pimlink trusts the system's CAs and ca_file; to trust one certificate only, set \
             cert_fingerprint",
        );
    }
    if account.tls_versions.is_some() {
        not_taken(
            table,
            &account.written,
            &["TLSVersions", "SSLVersions"],
            "pimlink uses TLS 1.2 and 1.3 only",
        );
    }
    auth_key(table, account);
    if let Some(timeout) = account.timeout {
        if timeout == 0 {
            not_taken(
                table,
                &account.written,
                &["Timeout"],
                "pimlink always has one; the longest is 86400",
            );
        } else {
            table.set("timeout", Value::Int(i64::from(timeout.min(86_400))));
        }
    }
    if account.pipeline_depth.is_some() {
        not_taken(
            table,
            &account.written,
            &["PipelineDepth"],
            "pimlink pipelines by itself; `connections` limits how many connections it opens",
        );
    }
    for setting in &account.other {
        table.note(not_imported(setting, "pimlink has no such option"));
    }
}

fn auth_key(table: &mut Table, account: &ImapAccount) {
    let mechs = account.auth_mechs.as_slice();
    let known = |m: &str| match m.to_ascii_uppercase().as_str() {
        "LOGIN" => Some("login"),
        "PLAIN" => Some("plain"),
        "CRAM-MD5" => Some("cram-md5"),
        "XOAUTH2" => Some("xoauth2"),
        "OAUTHBEARER" => Some("oauthbearer"),
        _ => None,
    };
    match mechs {
        [] => {}
        [one] if one == "*" => {}
        [one] if known(one).is_some() => {
            if let Some(auth) = known(one) {
                table.set("auth", Value::str(auth));
            }
        }
        _ => not_taken(
            table,
            &account.written,
            &["AuthMechs", "AuthMech"],
            "pimlink takes one mechanism (auth) or picks the best the server offers",
        ),
    }
}

fn store_keys(
    table: &mut Table,
    store: &pimlink_foreign::config::mbsync::StoreOptions,
    lines: &[Setting],
    imap: bool,
) {
    if let Some(trash) = &store.trash {
        table.set("trash", Value::str(trash));
    }
    if store.trash_new_only == Some(true) || store.trash_remote_new == Some(true) {
        not_taken(
            table,
            lines,
            &["TrashNewOnly", "TrashRemoteNew"],
            "pimlink moves every message it deletes into the trash folder",
        );
    }
    if store.map_inbox.is_some() {
        not_taken(
            table,
            lines,
            &["MapInbox"],
            "pimlink has no second name for INBOX",
        );
    }
    if imap && store.flatten.is_some() {
        not_taken(
            table,
            lines,
            &["Flatten"],
            "on an IMAP store: pimlink keeps the server's names",
        );
    }
}

fn maildir_storage(name: &str, store: &MaildirStore) -> Table {
    let mut table = Table::new(format!("storage.{name}"));
    table.intro.push(format!(
        "mbsync MaildirStore {} (line {})",
        store.name, store.line
    ));
    table.set("type", Value::str("maildir"));
    let path = store.store.path.clone().unwrap_or_default();
    let maildir_plus_plus =
        store.sub_folders == Some(SubFolders::MaildirPlusPlus) && store.store.flatten.is_none();
    if maildir_plus_plus {
        // mbsync's Maildir++ tree hangs below the inbox, as pimlink's maildir++ layout does.
        let root = store
            .inbox
            .clone()
            .unwrap_or_else(|| "~/Maildir".to_owned());
        table.set("path", Value::str(root.trim_end_matches('/')));
        table.set("layout", Value::str("maildir++"));
    } else {
        if !path.is_empty() && !path.ends_with('/') {
            table.note(format!(
                "WARNING: mbsync's Path {path:?} does not end in '/', so mbsync prefixes it to \
                 each folder's name (\"{path}Sent\"); pimlink takes it as the root directory"
            ));
        }
        table.set("path", Value::str(path.trim_end_matches('/')));
        table.set("layout", Value::str("verbatim"));
        if store.sub_folders == Some(SubFolders::Legacy) {
            table.note(
                "WARNING: SubFolders Legacy (top/.sub) has no pimlink layout; folders below the \
                 top level would not be found",
            );
        }
        if let Some(sep) = &store.store.flatten {
            flatten(&mut table, sep);
        }
        let inbox = store
            .inbox
            .clone()
            .unwrap_or_else(|| "~/Maildir".to_owned());
        let default_inbox = format!("{}/INBOX", path.trim_end_matches('/'));
        if inbox.trim_end_matches('/') != default_inbox {
            if store.inbox.is_none() {
                table.note("mbsync's default Inbox");
            }
            table.set("inbox", Value::str(inbox.trim_end_matches('/')));
        }
    }
    // mbsync 1.4 spells non-ASCII folder names in modified UTF-7 on disk.
    table.set("names", Value::str("imap-utf-7"));
    store_keys(&mut table, &store.store, &store.written, false);
    if store.info_delimiter.as_deref().is_some_and(|d| d != ":") {
        not_taken(
            &mut table,
            &store.written,
            &["InfoDelimiter"],
            "pimlink reads and writes ':2,' only",
        );
    }
    if store.alt_map == Some(true) {
        not_taken(
            &mut table,
            &store.written,
            &["AltMap"],
            "pimlink keeps no UIDs in Maildir file names",
        );
    }
    for setting in &store.other {
        table.note(not_imported(setting, "pimlink has no such option"));
    }
    table
}

/// Every side given as a pimlink side list (`["a", "b"]`), far being `a`.
fn sides(sides: Sides) -> Value {
    let mut list = Vec::new();
    if sides.far {
        list.push("a".to_owned());
    }
    if sides.near {
        list.push("b".to_owned());
    }
    Value::Strs(list)
}

fn ops_list(ops: Ops) -> Vec<String> {
    let mut list = Vec::new();
    if ops.new {
        list.push("new".to_owned());
    }
    if ops.flags {
        list.push("flags".to_owned());
    }
    if ops.delete {
        list.push("delete".to_owned());
    }
    list
}

fn pair(
    names: &mut Names,
    channel: &Channel,
    config: &MbsyncConfig,
    storages: &BTreeMap<String, String>,
) -> Table {
    let name = names.make(&channel.name);
    let mut table = Table::new(format!("pair.{name}"));
    table.intro.push(format!(
        "mbsync Channel {} (line {})",
        channel.name, channel.line
    ));
    let storage = |store: &str| storages.get(store).cloned().unwrap_or_default();
    table.set("a", Value::str(storage(&channel.far.store)));
    table.set("b", Value::str(storage(&channel.near.store)));
    let defaults = &config.defaults;
    let options = &channel.options;
    let far_imap = config
        .imap_stores
        .iter()
        .find(|s| s.name == channel.far.store);
    let near_imap = config
        .imap_stores
        .iter()
        .find(|s| s.name == channel.near.store);

    // Which folders: one mailbox, or patterns below the boxes' prefixes.
    if channel.patterns.is_empty() {
        // A store's Path is part of every name but INBOX's.
        let full = |store: Option<&ImapStore>, mailbox: &str| {
            let mailbox = non_empty_or_inbox(mailbox);
            if mailbox == "INBOX" {
                mailbox
            } else {
                format!(
                    "{}{mailbox}",
                    store_prefix(store.and_then(|s| s.store.path.as_deref()))
                )
            }
        };
        let far = full(far_imap, &channel.far.mailbox);
        let near = full(near_imap, &channel.near.mailbox);
        if far != near {
            table.set("folder_map", Value::Lists(vec![vec![far, near.clone()]]));
        }
        table.set("collections", Value::Strs(vec![literal_pattern(&near)]));
    } else {
        let prefix_a = prefix(
            far_imap.and_then(|s| s.store.path.as_deref()),
            &channel.far.mailbox,
        );
        let prefix_b = prefix(
            near_imap.and_then(|s| s.store.path.as_deref()),
            &channel.near.mailbox,
        );
        for mailbox in [&channel.far.mailbox, &channel.near.mailbox] {
            if !mailbox.is_empty() && !mailbox.ends_with('/') {
                table.note(format!(
                    "WARNING: mbsync puts the mailbox prefix {mailbox:?} before each name as \
                     text (\"{mailbox}Sent\"); pimlink's prefixes are whole levels, so the \
                     prefix below is {mailbox:?} as a folder"
                ));
            }
        }
        if let Some(p) = prefix_a {
            table.set("prefix_a", Value::str(p));
        }
        if let Some(p) = prefix_b {
            table.set("prefix_b", Value::str(p));
        }
        table.set("collections", Value::Strs(channel.patterns.clone()));
        let negated_then_positive = channel
            .patterns
            .iter()
            .skip_while(|p| !p.starts_with('!'))
            .any(|p| !p.starts_with('!'));
        if negated_then_positive {
            table.note(
                "NOTE: in mbsync the last matching pattern wins; in pimlink a folder is synced \
                 if it matches a pattern and no \"!\" one, so a name excluded above stays \
                 excluded",
            );
        }
    }

    sync_keys(&mut table, options.sync.or(defaults.sync));
    table.set(
        "create",
        sides(options.create.or(defaults.create).unwrap_or_default()),
    );
    table.set(
        "expunge",
        sides(options.expunge.or(defaults.expunge).unwrap_or_default()),
    );
    let remove = options.remove.or(defaults.remove).unwrap_or_default();
    if remove.far || remove.near {
        table.set("remove", sides(remove));
    }

    // The limits: MaxSize of the near store (what it receives) or of the channel, MaxMessages.
    let near_maildir = config
        .maildir_stores
        .iter()
        .find(|s| s.name == channel.near.store);
    let near_size = near_maildir
        .and_then(|s| s.store.max_size)
        .or(near_imap.and_then(|s| s.store.max_size));
    let max_size = options.max_size.or(defaults.max_size).or(near_size);
    let max_messages = options.max_messages.or(defaults.max_messages);
    if let Some(size) = max_size {
        table.set("max_size", size_value(size));
        table.note(
            "mbsync propagates a placeholder for a bigger message (ReNew fetches it); pimlink \
             leaves it on the server: `pimlink sync --fetch-big PAIR/FOLDER` fetches it",
        );
    }
    if let Some(count) = max_messages {
        table.set(
            "max_messages",
            Value::Int(i64::try_from(count).unwrap_or(i64::MAX)),
        );
    }
    if max_size.is_some() || max_messages.is_some() {
        table.set("near", Value::str("b"));
    }
    if let Some(far) = far_imap
        && far.store.max_size.is_some()
        && options.max_size.is_none()
    {
        not_taken(
            &mut table,
            &far.written,
            &["MaxSize"],
            "of the far store: pimlink uploads messages of any size",
        );
    }
    // The channel's own line, else the global default's.
    let lines: Vec<Setting> = config
        .written
        .iter()
        .chain(&channel.written)
        .cloned()
        .collect();
    if options.expire_unread.or(defaults.expire_unread) == Some(true) {
        not_taken(
            &mut table,
            &lines,
            &["ExpireUnread"],
            "pimlink always keeps unread and flagged messages when it applies max_messages",
        );
    }
    if options
        .copy_arrival_date
        .or(defaults.copy_arrival_date)
        .is_some()
    {
        not_taken(
            &mut table,
            &lines,
            &["CopyArrivalDate"],
            "pimlink has no such option (an upload keeps the message's date)",
        );
    }
    if let Some(state) = options.sync_state.as_ref().or(defaults.sync_state.as_ref()) {
        table.note(format!(
            "SyncState {state}: pimlink keeps its own state under state_dir; its first sync \
             reads mbsync's state to adopt the Maildir without downloading it again"
        ));
    }
    for setting in &channel.other {
        table.note(not_imported(setting, "pimlink has no such option"));
    }
    table
}

fn non_empty_or_inbox(mailbox: &str) -> String {
    if mailbox.is_empty() {
        "INBOX".to_owned()
    } else {
        mailbox.to_owned()
    }
}

/// A store's `Path` in pimlink's terms: written in the server's syntax, its trailing
/// delimiter (`.` or `/`) ends a level, which pimlink writes with `/`.
fn store_prefix(store_path: Option<&str>) -> String {
    let path = store_path.unwrap_or_default();
    match path.strip_suffix('.').or_else(|| path.strip_suffix('/')) {
        Some(level) => format!("{level}/"),
        None => path.to_owned(),
    }
}

/// A pair prefix from a store's `Path` and a channel's mailbox prefix (already written with
/// `/`, as mbsync's channels name mailboxes).
fn prefix(store_path: Option<&str>, mailbox: &str) -> Option<String> {
    let joined = format!("{}{mailbox}", store_prefix(store_path));
    if joined.is_empty() {
        return None;
    }
    Some(format!("{}/", joined.trim_end_matches('/')))
}

/// `Sync` as `direction` and `operations`; mbsync can choose operations per direction,
/// pimlink only per pair, so a mixed choice keeps what both directions do, with a note.
fn sync_keys(table: &mut Table, sync: Option<SyncOps>) {
    let Some(sync) = sync else {
        return;
    };
    let pull = ops_list(sync.pull);
    let push = ops_list(sync.push);
    let (direction, ops) = match (pull.is_empty(), push.is_empty()) {
        (true, true) => {
            table.note(
                "not imported: Sync None: a pimlink pair always propagates something; this \
                 pair propagates only new messages from a to b (`operations = [\"new\"]`, \
                 `direction = \"a-to-b\"`); delete the pair if mbsync only expunged",
            );
            ("a-to-b", vec!["new".to_owned()])
        }
        (false, true) => ("a-to-b", pull),
        (true, false) => ("b-to-a", push),
        (false, false) if pull == push => ("both", pull),
        (false, false) => {
            let both: Vec<String> = pull
                .iter()
                .filter(|op| push.contains(op))
                .cloned()
                .collect();
            table.note(format!(
                "NOTE: mbsync propagated [{}] from far to near and [{}] from near to far; \
                 pimlink's operations apply both ways, so only what both directions did is kept",
                pull.join(", "),
                push.join(", ")
            ));
            if both.is_empty() {
                ("a-to-b", pull)
            } else {
                ("both", both)
            }
        }
    };
    if direction != "both" {
        table.set("direction", Value::str(direction));
    }
    if ops.len() < 3 {
        table.set("operations", Value::Strs(ops));
    }
}
