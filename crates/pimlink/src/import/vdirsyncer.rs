//! vdirsyncer's storages and pairs map almost one to one: `filesystem` is `vdir`, `http` is
//! `webcal`, `caldav`/`carddav` keep their names; `password.fetch = ["command", ...]` becomes
//! `password_cmd`. A `read_only` storage makes its pairs one-way towards the other side.

use pimlink_foreign::config::vdirsyncer::{
    CollectionEntry, Conflict, Pair, Storage, Value as Fetchable, VdirsyncerConfig, Verify,
};

use super::toml_out::{Document, Table, Value};
use super::{Names, PLAIN_PASSWORD, not_imported, shell_join};

pub(super) fn translate(config: &VdirsyncerConfig) -> Document {
    let mut doc = Document::default();
    let mut names = Names::default();
    let mut pairs = Names::default();
    let mut storage_names = Vec::new();
    for storage in &config.storages {
        let name = names.make(&storage.name);
        match storage_table(&name, storage) {
            Some(table) => {
                storage_names.push((storage.name.clone(), Some(name)));
                doc.tables.push(table);
            }
            None => {
                doc.footer.push(format!(
                    "not imported: [storage {}] (line {}): type {:?} has no pimlink equivalent \
                     (pimlink has caldav, carddav, webcal and vdir)",
                    storage.name, storage.line, storage.kind
                ));
                storage_names.push((storage.name.clone(), None));
            }
        }
    }
    let lookup = |name: &str| {
        storage_names
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, pimlink)| pimlink.clone())
    };
    for pair in &config.pairs {
        match (lookup(&pair.a), lookup(&pair.b)) {
            (Some(a), Some(b)) => {
                let storage = |n: &str| config.storages.iter().find(|s| s.name == n);
                let read_only = (
                    storage(&pair.a).and_then(|s| s.read_only) == Some(true),
                    storage(&pair.b).and_then(|s| s.read_only) == Some(true),
                );
                doc.tables
                    .push(pair_table(&pairs.make(&pair.name), pair, &a, &b, read_only));
            }
            _ => doc.footer.push(format!(
                "not imported: [pair {}] (line {}): one of its storages was not imported",
                pair.name, pair.line
            )),
        }
    }
    if let Some(status) = &config.status_path {
        doc.footer.push(format!(
            "vdirsyncer's status_path {status}: pimlink keeps its own state under state_dir; \
             its first sync reads vdirsyncer's status there to adopt the vdir as it is"
        ));
    }
    for setting in &config.general {
        doc.footer.push(not_imported(
            setting,
            "a [general] option pimlink does not have",
        ));
    }
    doc
}

fn storage_table(name: &str, storage: &Storage) -> Option<Table> {
    let kind = match storage.kind.as_str() {
        "caldav" => "caldav",
        "carddav" => "carddav",
        "filesystem" => "vdir",
        "http" => "webcal",
        _ => return None,
    };
    let mut table = Table::new(format!("storage.{name}"));
    table.intro.push(format!(
        "vdirsyncer [storage {}] (line {})",
        storage.name, storage.line
    ));
    table.set("type", Value::str(kind));
    if kind == "vdir" {
        if let Some(path) = &storage.path {
            table.set("path", Value::str(path.trim_end_matches('/')));
        }
        if let Some(ext) = &storage.fileext {
            table.set("fileext", Value::str(ext));
        }
    } else {
        match &storage.url {
            Some(Fetchable::Plain(url)) => table.set("url", Value::str(url)),
            Some(Fetchable::Fetch(_)) => table
                .note("not imported: url.fetch: pimlink takes the URL itself; set url = \"...\""),
            None => table.note("WARNING: no url: set url = \"...\""),
        }
    }
    if kind == "caldav" || kind == "carddav" {
        credentials(&mut table, storage);
    }
    if kind != "vdir" {
        trust(&mut table, storage);
    }
    for setting in &storage.other {
        let why = match setting.key.as_str() {
            "item_types" | "start_date" | "end_date" => "pimlink syncs every item of a collection",
            "post_hook" | "pre_deletion_hook" => "pimlink runs no per-item hooks",
            "encoding" => "pimlink reads and writes UTF-8",
            "fileignoreext" => "pimlink ignores files without the storage's fileext",
            "useragent" => "pimlink sends its own User-Agent",
            _ => "pimlink has no such option",
        };
        table.note(not_imported(setting, why));
    }
    Some(table)
}

fn credentials(table: &mut Table, storage: &Storage) {
    match &storage.username {
        Some(Fetchable::Plain(user)) => table.set("user", Value::str(user)),
        Some(Fetchable::Fetch(_)) => table.note(
            "not imported: username.fetch: pimlink takes the user name itself; set user = \"...\"",
        ),
        None => {}
    }
    match &storage.password {
        Some(Fetchable::Plain(password)) => {
            table.note(PLAIN_PASSWORD);
            table.set("password", Value::str(password));
        }
        Some(Fetchable::Fetch(words)) => match words.split_first() {
            Some((how, rest)) if how == "command" && !rest.is_empty() => {
                table.set("password_cmd", Value::str(shell_join(rest)));
            }
            Some((how, [line])) if how == "shell" => {
                table.set("password_cmd", Value::str(line));
            }
            _ => table.note(
                "not imported: password.fetch: only [\"command\", ...] and [\"shell\", ...] \
                 become password_cmd; pimlink never prompts",
            ),
        },
        None => {}
    }
    if let Some(auth) = &storage.auth
        && auth == "digest"
    {
        table.note("not imported: auth = \"digest\": pimlink speaks HTTP Basic only");
    }
}

fn trust(table: &mut Table, storage: &Storage) {
    match &storage.verify {
        Some(Verify::CaFile(path)) => table.set("ca_file", Value::str(path)),
        Some(Verify::Enabled(false)) if storage.verify_fingerprint.is_none() => table.note(
            "not imported: verify = false: pimlink always checks certificates; set \
             cert_fingerprint to accept one certificate",
        ),
        _ => {}
    }
    if let Some(fingerprint) = &storage.verify_fingerprint {
        let hex: String = fingerprint.chars().filter(|c| *c != ':').collect();
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            table.set(
                "cert_fingerprint",
                Value::str(format!("sha256:{fingerprint}")),
            );
        } else {
            table.note(
                "not imported: verify_fingerprint: not a SHA-256 fingerprint, which is what \
                 pimlink's cert_fingerprint takes",
            );
        }
    }
    if let Some((cert, key)) = &storage.auth_cert {
        table.set("client_cert", Value::str(cert));
        if let Some(key) = key {
            table.set("client_key", Value::str(key));
        }
    }
}

fn pair_table(name: &str, pair: &Pair, a: &str, b: &str, read_only: (bool, bool)) -> Table {
    let mut table = Table::new(format!("pair.{name}"));
    table.intro.push(format!(
        "vdirsyncer [pair {}] (line {})",
        pair.name, pair.line
    ));
    table.set("a", Value::str(a));
    table.set("b", Value::str(b));
    match &pair.collections {
        Some(Some(entries)) => {
            let values = entries
                .iter()
                .map(|entry| match entry {
                    CollectionEntry::FromA => Value::str("from a"),
                    CollectionEntry::FromB => Value::str("from b"),
                    // A [name, a, b] entry, unlike a pattern, creates the collection where it
                    // is missing, as vdirsyncer does.
                    CollectionEntry::Name(n) => Value::Strs(vec![n.clone(), n.clone(), n.clone()]),
                    CollectionEntry::Mapped { name, a, b } => {
                        Value::Strs(vec![name.clone(), a.clone(), b.clone()])
                    }
                })
                .collect();
            table.set("collections", Value::Mixed(values));
        }
        Some(None) => table.note(
            "not imported: collections = null (each storage's URL is one collection): pimlink \
             finds the collections below the URL; name the one to sync in collections",
        ),
        None => {}
    }
    match read_only {
        (true, true) => table.note("WARNING: both storages were read_only in vdirsyncer"),
        (true, false) => table.set("direction", Value::str("a-to-b")),
        (false, true) => table.set("direction", Value::str("b-to-a")),
        (false, false) => {}
    }
    match &pair.conflict_resolution {
        Some(Conflict::AWins) => table.set("conflict_resolution", Value::str("keep a")),
        Some(Conflict::BWins) => table.set("conflict_resolution", Value::str("keep b")),
        Some(Conflict::Command(words)) => {
            table.set("conflict_resolution", Value::Strs(words.clone()));
        }
        None => {}
    }
    let (known, unknown): (Vec<&String>, Vec<&String>) = pair
        .metadata
        .iter()
        .partition(|m| ["displayname", "color", "description"].contains(&m.as_str()));
    if !known.is_empty() {
        table.set(
            "metadata",
            Value::Strs(known.into_iter().cloned().collect()),
        );
    }
    for property in unknown {
        table.note(format!(
            "not imported: metadata {property:?}: pimlink syncs displayname, color and description"
        ));
    }
    if let Some(partial) = &pair.partial_sync {
        table.note(format!(
            "not imported: partial_sync = {partial:?}: a one-way pimlink pair leaves the \
             receiving side's own changes alone"
        ));
    }
    for setting in &pair.other {
        table.note(not_imported(setting, "pimlink has no such option"));
    }
    table
}
