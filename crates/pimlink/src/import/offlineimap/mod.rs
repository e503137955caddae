//! OfflineIMAP's accounts become pairs: the remote repository an `imap` storage (`a`), the
//! local one a `maildir` storage (`b`) whose `flatten` is the repository's `sep` (`.` unless
//! set). `folderfilter` and `nametrans` lambdas in their common forms become `collections`,
//! `prefix_a` and `folder_map`; other forms are listed as not imported.

use pimlink_foreign::config::Setting;
use pimlink_foreign::config::offlineimap::{
    Account, OfflineimapConfig, Repository, RepositoryKind,
};
use pimlink_foreign::config::python::{self, Filter};

mod folders;
#[cfg(test)]
mod tests;

use folders::folders;

use super::toml_out::{Document, Table, Value};
use super::{Names, PLAIN_PASSWORD, flatten, not_imported, shell_join, size_value};

pub(super) fn translate(config: &OfflineimapConfig) -> Document {
    let mut doc = Document::default();
    let mut storages = Names::default();
    let mut pairs = Names::default();
    let timeout = config.general.iter().find(|s| s.key == "socktimeout");
    for account in &config.accounts {
        let remote_name = storages.make(&account.remote.name);
        let local_name = storages.make(&account.local.name);
        let mut pair = Table::new(format!("pair.{}", pairs.make(&account.name)));
        pair.intro.push(format!(
            "OfflineIMAP [Account {}] (line {})",
            account.name, account.line
        ));
        pair.set("a", Value::str(&remote_name));
        pair.set("b", Value::str(&local_name));
        let utf8 = utf8_names(account);
        let (remote, local) = if account.remote.kind.is_imap() {
            (
                imap_storage(&remote_name, &account.remote, timeout),
                maildir_storage(&local_name, &account.local, utf8),
            )
        } else {
            // Two Maildir repositories: OfflineIMAP can sync them, so can pimlink.
            (
                maildir_storage(&remote_name, &account.remote, utf8),
                maildir_storage(&local_name, &account.local, utf8),
            )
        };
        folders(&mut pair, account);
        pair_keys(&mut pair, account);
        doc.tables.push(remote);
        doc.tables.push(local);
        doc.tables.push(pair);
    }
    for setting in &config.general {
        if setting.key != "socktimeout" {
            doc.footer.push(not_imported(
                setting,
                "a [general] option pimlink does not have",
            ));
        }
    }
    for (name, line) in &config.other_sections {
        doc.footer.push(format!(
            "not imported: [{name}] (line {line}): pimlink has no such section"
        ));
    }
    doc
}

fn get<'r>(repo: &'r Repository, key: &str) -> Option<&'r Setting> {
    repo.get(key)
}

fn yes(setting: &Setting) -> bool {
    matches!(
        setting.value.to_ascii_lowercase().as_str(),
        "yes" | "true" | "on" | "1"
    )
}

/// The keys of a repository that a translation below uses; the rest are listed.
const IMAP_KEYS: &[&str] = &[
    "remotehost",
    "remoteport",
    "remoteuser",
    "remotepass",
    "remotepasseval",
    "remotepassfile",
    "ssl",
    "starttls",
    "sslcacertfile",
    "sslclientcert",
    "sslclientkey",
    "auth_mechanisms",
    "maxconnections",
    "preauthtunnel",
    "transporttunnel",
    "readonly",
    "subscribedonly",
    "folderfilter",
    "nametrans",
    "idlefolders",
    "expunge",
    "createfolders",
    "sync_deletes",
    "decodefoldernames",
    "utf8foldernames",
];

fn imap_storage(name: &str, repo: &Repository, timeout: Option<&Setting>) -> Table {
    let mut table = Table::new(format!("storage.{name}"));
    table.intro.push(format!(
        "OfflineIMAP [Repository {}] (line {})",
        repo.name, repo.line
    ));
    table.set("type", Value::str("imap"));
    let gmail = repo.kind == RepositoryKind::Gmail;
    let tunnel = get(repo, "preauthtunnel").or(get(repo, "transporttunnel"));
    if let Some(tunnel) = tunnel {
        table.set("tunnel", Value::str(&tunnel.value));
    } else {
        let host = get(repo, "remotehost")
            .map(|s| s.value.clone())
            .or_else(|| gmail.then(|| "imap.gmail.com".to_owned()));
        match host {
            Some(host) => table.set("host", Value::str(host)),
            None => table.note("WARNING: no remotehost: set host = \"...\""),
        }
        if let Some(port) = get(repo, "remoteport") {
            match port.value.parse::<i64>() {
                Ok(n) => table.set("port", Value::Int(n)),
                Err(_) => table.note(not_imported(port, "not a port number")),
            }
        }
        // OfflineIMAP's defaults: ssl = yes, starttls = yes (used when ssl = no).
        let ssl = gmail || get(repo, "ssl").is_none_or(yes);
        let starttls = get(repo, "starttls").is_none_or(yes);
        let tls = match (ssl, starttls) {
            (true, _) => "implicit",
            (false, true) => "starttls",
            (false, false) => "none",
        };
        table.set("tls", Value::str(tls));
        if !ssl && starttls {
            table.note(
                "OfflineIMAP falls back to plain text when the server offers no STARTTLS; \
                 pimlink never does",
            );
        }
        if let Some(ca) = get(repo, "sslcacertfile")
            && ca.value != "OS-DEFAULT"
        {
            table.set("ca_file", Value::str(&ca.value));
        }
        if let Some(cert) = get(repo, "sslclientcert") {
            table.set("client_cert", Value::str(&cert.value));
        }
        if let Some(key) = get(repo, "sslclientkey") {
            table.set("client_key", Value::str(&key.value));
        }
        if let Some(fingerprint) = get(repo, "cert_fingerprint") {
            table.note(not_imported(
                fingerprint,
                "OfflineIMAP's fingerprints are SHA-1 or SHA-512; pimlink's cert_fingerprint \
                 is the SHA-256 one (openssl x509 -noout -fingerprint -sha256)",
            ));
        }
    }
    if get(repo, "preauthtunnel").is_none() {
        if let Some(user) = get(repo, "remoteuser") {
            table.set("user", Value::str(&user.value));
        }
        password(&mut table, repo);
    }
    if let Some(mechs) = get(repo, "auth_mechanisms") {
        let list: Vec<&str> = mechs.value.split(',').map(str::trim).collect();
        match list.as_slice() {
            [one]
                if ["LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2"]
                    .contains(&one.to_ascii_uppercase().as_str()) =>
            {
                table.set("auth", Value::str(one.to_ascii_lowercase()));
            }
            _ => table.note(not_imported(
                mechs,
                "pimlink takes one mechanism (auth) or picks the best the server offers",
            )),
        }
    }
    if let Some(max) = get(repo, "maxconnections") {
        match max.value.parse::<i64>() {
            Ok(n) if (1..=64).contains(&n) => table.set("connections", Value::Int(n)),
            _ => table.note(not_imported(max, "pimlink takes 1 to 64")),
        }
    }
    if let Some(timeout) = timeout {
        match timeout.value.parse::<i64>() {
            Ok(n) if (1..=86_400).contains(&n) => table.set("timeout", Value::Int(n)),
            _ => table.note(not_imported(timeout, "pimlink takes 1 to 86400 seconds")),
        }
    }
    if let Some(only) = get(repo, "subscribedonly") {
        table.set("subscribed_only", Value::Bool(yes(only)));
    }
    if let Some(read_only) = get(repo, "readonly") {
        table.set("read_only", Value::Bool(yes(read_only)));
    }
    if let Some(idle) = get(repo, "idlefolders") {
        match idle_folders(&idle.value) {
            Some(list) => table.set("idle_folders", Value::Strs(list)),
            None => table.note(not_imported(idle, "not a list of folder names")),
        }
    }
    rest(&mut table, repo, IMAP_KEYS);
    table
}

/// `idlefolders = ['INBOX', 'Lists']` as a list of names.
fn idle_folders(text: &str) -> Option<Vec<String>> {
    match python::filter(&format!("lambda f: f in {text}")) {
        Filter::In(list) => Some(list),
        _ => None,
    }
}

/// Where the password comes from, as pimlink says it: a command for a file, an expression
/// run as a command, or a keyring lookup.
fn password(table: &mut Table, repo: &Repository) {
    if let Some(file) = get(repo, "remotepassfile") {
        let path = &file.value;
        let command = match path.strip_prefix("~/") {
            Some(rest) => format!("cat ~/{}", shell_join(&[rest.to_owned()])),
            None => format!("cat {}", shell_join(std::slice::from_ref(path))),
        };
        table.set("password_cmd", Value::str(command));
    } else if let Some(eval) = get(repo, "remotepasseval") {
        match password_command(&eval.value) {
            Some(command) => table.set("password_cmd", Value::str(command)),
            None => table.note(format!(
                "not imported: remotepasseval (line {}): a Python expression pimlink cannot \
                 run; set password_cmd to a command printing the password",
                eval.line
            )),
        }
    } else if let Some(pass) = get(repo, "remotepass") {
        table.note(PLAIN_PASSWORD);
        table.set("password", Value::str(&pass.value));
    } else {
        table.note(
            "OfflineIMAP found no password here (it would read ~/.netrc or ask); set \
             password_cmd",
        );
    }
}

/// The command behind the common `remotepasseval` forms: `keyring.get_password(S, U)`,
/// `subprocess.check_output([...])` and `os.popen('...')`, with any `.read()`, `.strip()`,
/// `.decode()` or `[:-1]` after them.
fn password_command(expression: &str) -> Option<String> {
    let text = expression.trim();
    let args = |call: &str| -> Option<Vec<String>> {
        let start = text.find(call)? + call.len();
        let end = text[start..].find(')')? + start;
        let inner = &text[start..end];
        match python::filter(&format!(
            "lambda f: f in [{}]",
            inner.trim_matches(['[', ']'])
        )) {
            Filter::In(list) => Some(list),
            _ => None,
        }
    };
    if text.contains("keyring.get_password(") {
        let list = args("keyring.get_password(")?;
        let [service, user] = list.as_slice() else {
            return None;
        };
        // Python's keyring stores its secrets under these two attributes in the Secret
        // Service (GNOME Keyring, KWallet), which secret-tool reads.
        return Some(format!(
            "secret-tool lookup service {} username {}",
            shell_join(std::slice::from_ref(service)),
            shell_join(std::slice::from_ref(user))
        ));
    }
    for call in [
        "subprocess.check_output(",
        "subprocess.getoutput(",
        "os.popen(",
    ] {
        if text.contains(call) {
            let list = args(call)?;
            return match list.as_slice() {
                [one] if call != "subprocess.check_output(" || text.contains("shell=True") => {
                    Some(one.clone())
                }
                [] => None,
                words => Some(shell_join(words)),
            };
        }
    }
    None
}

const MAILDIR_KEYS: &[&str] = &[
    "localfolders",
    "sep",
    "readonly",
    "folderfilter",
    "nametrans",
    "createfolders",
    "sync_deletes",
    "utf8foldernames",
    "decodefoldernames",
];

/// True if the account writes folder names in UTF-8 on disk; OfflineIMAP's default is IMAP's
/// modified UTF-7.
fn utf8_names(account: &Account) -> bool {
    account
        .settings
        .iter()
        .chain(&account.local.settings)
        .chain(&account.remote.settings)
        .any(|s| (s.key == "utf8foldernames" || s.key == "decodefoldernames") && yes(s))
}

fn maildir_storage(name: &str, repo: &Repository, utf8: bool) -> Table {
    let mut table = Table::new(format!("storage.{name}"));
    table.intro.push(format!(
        "OfflineIMAP [Repository {}] (line {})",
        repo.name, repo.line
    ));
    table.set("type", Value::str("maildir"));
    match get(repo, "localfolders") {
        Some(path) => table.set("path", Value::str(path.value.trim_end_matches('/'))),
        None => table.note("WARNING: no localfolders: set path = \"...\""),
    }
    table.set("layout", Value::str("verbatim"));
    // OfflineIMAP's default sep is ".": "Archive/2024" is the directory Archive.2024.
    let sep = get(repo, "sep").map_or(".", |s| s.value.as_str());
    if sep != "/" {
        flatten(&mut table, sep);
    }
    table.set(
        "names",
        Value::str(if utf8 { "utf-8" } else { "imap-utf-7" }),
    );
    if let Some(read_only) = get(repo, "readonly") {
        table.set("read_only", Value::Bool(yes(read_only)));
    }
    rest(&mut table, repo, MAILDIR_KEYS);
    table
}

/// Lists the settings of `repo` not in `used`.
fn rest(table: &mut Table, repo: &Repository, used: &[&str]) {
    for setting in &repo.settings {
        if !used.contains(&setting.key.as_str()) {
            table.note(not_imported(setting, why_not(&setting.key)));
        }
    }
}

fn why_not(key: &str) -> &'static str {
    match key {
        "holdconnectionopen" | "keepalive" => {
            "pimlink opens connections per run (the daemon keeps its watch connections alive \
             by itself)"
        }
        "usecompression" => "pimlink has no such option",
        "restoreatime" | "filename_use_mail_timestamp" | "utime_from_header" => {
            "pimlink keeps the times of the files it finds and sets none from headers"
        }
        "trashfolder" | "spamfolder" | "synclabels" | "labelsheader" => {
            "Gmail labels and special folders sync as ordinary folders in pimlink"
        }
        _ => "pimlink has no such option",
    }
}

fn pair_keys(pair: &mut Table, account: &Account) {
    let (remote, local) = (&account.remote, &account.local);
    let create_a = get(remote, "createfolders").is_none_or(yes);
    let create_b = get(local, "createfolders").is_none_or(yes);
    if !(create_a && create_b) {
        let mut sides = Vec::new();
        if create_a {
            sides.push("a".to_owned());
        }
        if create_b {
            sides.push("b".to_owned());
        }
        pair.set("create", Value::Strs(sides));
    }
    if get(remote, "expunge").is_some_and(|s| !yes(s)) {
        pair.set("expunge", Value::Strs(vec!["b".to_owned()]));
    }
    let deletes_from_remote = get(remote, "sync_deletes").is_none_or(yes);
    let deletes_from_local = get(local, "sync_deletes").is_none_or(yes);
    match (deletes_from_remote, deletes_from_local) {
        (true, true) => {}
        (false, false) => pair.set(
            "operations",
            Value::Strs(vec!["new".to_owned(), "flags".to_owned()]),
        ),
        _ => pair.note(
            "not imported: sync_deletes = no on one side only: pimlink propagates deletions \
             both ways or neither (operations)",
        ),
    }
    let mut limited = false;
    for setting in &account.settings {
        match setting.key.as_str() {
            "maxage" => match setting.value.parse::<i64>() {
                Ok(days) if days > 0 => {
                    pair.set("max_age", Value::str(format!("{days}d")));
                    limited = true;
                }
                _ => pair.note(not_imported(
                    setting,
                    "pimlink's max_age is a number of days, not a date",
                )),
            },
            "maxsize" => match setting.value.parse::<u64>() {
                Ok(bytes) => {
                    pair.set("max_size", size_value(bytes));
                    limited = true;
                }
                Err(_) => pair.note(not_imported(setting, "not a number of bytes")),
            },
            "presynchook" => pair.set("pre_sync_hook", Value::str(&setting.value)),
            "postsynchook" => pair.set("post_sync_hook", Value::str(&setting.value)),
            "autorefresh" | "quick" => pair.note(not_imported(
                setting,
                "`pimlink daemon` syncs on changes; a single `pimlink sync` is one run",
            )),
            "utf8foldernames" => {}
            _ => pair.note(not_imported(setting, "pimlink has no such option")),
        }
    }
    if limited {
        pair.set("near", Value::str("b"));
    }
}
