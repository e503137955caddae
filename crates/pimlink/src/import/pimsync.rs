//! pimsync's storages and pairs: `vdir/icalendar` and `vdir/vcard` are `vdir` (with pimsync's
//! `fileext ics` given its dot), `password { cmd ... }` becomes `password_cmd`, `interval`
//! the storage's `poll_interval`, `storage_a`/`storage_b` the pair's `a`/`b`.

use pimlink_foreign::config::pimsync::{
    CollectionRef, Collections, Conflict, Pair, PimsyncConfig, Storage, Value as Fetchable,
};

use super::toml_out::{Document, Table, Value};
use super::{Names, PLAIN_PASSWORD, not_imported, shell_join};

pub(super) fn translate(config: &PimsyncConfig) -> Document {
    let mut doc = Document::default();
    let mut names = Names::default();
    let mut pairs = Names::default();
    let mut imported = Vec::new();
    for storage in &config.storages {
        let name = names.make(&storage.name);
        match storage_table(&name, storage) {
            Some(table) => {
                imported.push((storage.name.clone(), name));
                doc.tables.push(table);
            }
            None => doc.footer.push(format!(
                "not imported: storage {} (line {}): type {:?} has no pimlink equivalent",
                storage.name, storage.line, storage.kind
            )),
        }
    }
    let lookup = |name: &str| {
        imported
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
    };
    for pair in &config.pairs {
        match (lookup(&pair.a), lookup(&pair.b)) {
            (Some(a), Some(b)) => {
                doc.tables
                    .push(pair_table(&pairs.make(&pair.name), pair, &a, &b))
            }
            _ => doc.footer.push(format!(
                "not imported: pair {} (line {}): one of its storages was not imported",
                pair.name, pair.line
            )),
        }
    }
    if let Some(status) = &config.status_path {
        doc.footer.push(format!(
            "pimsync's status_path {status}: pimlink keeps its own state under state_dir; its \
             first sync reads pimsync's status there to adopt the vdir as it is"
        ));
    }
    for setting in &config.other {
        doc.footer
            .push(not_imported(setting, "pimlink has no such option"));
    }
    doc
}

fn storage_table(name: &str, storage: &Storage) -> Option<Table> {
    let kind = match storage.kind.as_str() {
        "vdir/icalendar" | "vdir/vcard" => "vdir",
        "caldav" => "caldav",
        "carddav" => "carddav",
        "webcal" => "webcal",
        _ => return None,
    };
    let mut table = Table::new(format!("storage.{name}"));
    table.intro.push(format!(
        "pimsync storage {} (line {})",
        storage.name, storage.line
    ));
    table.set("type", Value::str(kind));
    if kind == "vdir" {
        if let Some(path) = &storage.path {
            table.set("path", Value::str(path.trim_end_matches('/')));
        }
        let default = if storage.kind == "vdir/vcard" {
            "vcf"
        } else {
            "ics"
        };
        let ext = storage.fileext.as_deref().unwrap_or(default);
        // pimsync writes the extension without its dot, vdirsyncer and pimlink with it.
        table.set(
            "fileext",
            Value::str(format!(".{}", ext.trim_start_matches('.'))),
        );
    } else {
        match &storage.url {
            Some(Fetchable::Plain(url)) if url.starts_with("unix://") => {
                table.note("not imported: url unix://...: pimlink reaches servers over TCP only")
            }
            Some(Fetchable::Plain(url)) => table.set("url", Value::str(url)),
            Some(Fetchable::Cmd(_)) => table.note(
                "not imported: url { cmd ... }: pimlink takes the URL itself; set url = \"...\"",
            ),
            None => table.note("WARNING: no url: set url = \"...\""),
        }
    }
    if kind == "webcal" {
        if let Some(id) = &storage.collection_id {
            table.set("collection_id", Value::str(id));
        }
    } else if kind != "vdir" {
        match &storage.username {
            Some(Fetchable::Plain(user)) => table.set("user", Value::str(user)),
            Some(Fetchable::Cmd(_)) => table.note(
                "not imported: username { cmd ... }: pimlink takes the user name itself; set \
                 user = \"...\"",
            ),
            None => {}
        }
        match &storage.password {
            Some(Fetchable::Plain(password)) => {
                table.note(PLAIN_PASSWORD);
                table.set("password", Value::str(password));
            }
            Some(Fetchable::Cmd(words)) => {
                table.set("password_cmd", Value::str(shell_join(words)));
            }
            None => {}
        }
    }
    if let Some(seconds) = storage.interval {
        table.set("poll_interval", Value::str(format!("{seconds}s")));
    }
    if storage.user_agent.is_some() {
        table.note("not imported: user_agent: pimlink sends its own User-Agent");
    }
    for setting in &storage.other {
        table.note(not_imported(setting, "pimlink has no such option"));
    }
    Some(table)
}

fn pair_table(name: &str, pair: &Pair, a: &str, b: &str) -> Table {
    let mut table = Table::new(format!("pair.{name}"));
    table
        .intro
        .push(format!("pimsync pair {} (line {})", pair.name, pair.line));
    table.set("a", Value::str(a));
    table.set("b", Value::str(b));
    let mut entries = Vec::new();
    for collections in &pair.collections {
        match collections {
            Collections::All => {
                entries.push(Value::str("from a"));
                entries.push(Value::str("from b"));
            }
            Collections::FromA => entries.push(Value::str("from a")),
            Collections::FromB => entries.push(Value::str("from b")),
            // A [name, a, b] entry, unlike a pattern, creates the collection where it is missing,
            // as pimsync does.
            Collections::Id(id) => {
                entries.push(Value::Strs(vec![id.clone(), id.clone(), id.clone()]));
            }
            Collections::Mapping {
                alias,
                a: CollectionRef::Id(id_a),
                b: CollectionRef::Id(id_b),
            } => entries.push(Value::Strs(vec![alias.clone(), id_a.clone(), id_b.clone()])),
            Collections::Mapping { alias, .. } => table.note(format!(
                "not imported: collection {alias} by href: pimlink names collections by id \
                 (`pimlink discover STORAGE` lists them); add [\"{alias}\", \"ID ON A\", \"ID ON B\"]"
            )),
        }
    }
    if !entries.is_empty() {
        entries.dedup();
        table.set("collections", Value::Mixed(entries));
    }
    // pimsync syncs every collection property; pimlink only those it is told to.
    table.set(
        "metadata",
        Value::Strs(vec![
            "displayname".to_owned(),
            "color".to_owned(),
            "description".to_owned(),
        ]),
    );
    match pair.on_empty.as_deref() {
        Some("sync") => table.set("on_empty", Value::str("sync")),
        Some("skip") | None => {}
        Some(other) => table.note(format!("not imported: on_empty {other}: unknown value")),
    }
    match &pair.conflict_resolution {
        Some(Conflict::KeepA) => table.set("conflict_resolution", Value::str("keep a")),
        Some(Conflict::KeepB) => table.set("conflict_resolution", Value::str("keep b")),
        Some(Conflict::Cmd(words)) => {
            table.set("conflict_resolution", Value::Strs(words.clone()));
        }
        None => {}
    }
    for setting in &pair.other {
        table.note(not_imported(setting, "pimlink has no such option"));
    }
    table
}
