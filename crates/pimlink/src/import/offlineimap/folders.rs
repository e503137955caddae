//! An account's folders: the remote repository's `folderfilter` and `nametrans` (or the
//! local `nametrans` alone) as `collections`, `prefix_a`/`prefix_b` and `folder_map`.

use pimlink_foreign::config::offlineimap::Account;
use pimlink_foreign::config::python::{self, Filter, NameStep, NameTrans};

use super::super::toml_out::{Table, Value};
use super::super::{literal_pattern, not_imported};
use super::get;

/// `collections`, `prefix_a` and `folder_map` from the remote repository's `folderfilter` and
/// `nametrans`; the local repository's are the reverse translation, which pimlink does by
/// itself.
pub(super) fn folders(pair: &mut Table, account: &Account) {
    let remote = &account.remote;
    let filter = get(remote, "folderfilter").map(|s| (s, python::filter(&s.value)));
    let trans = get(remote, "nametrans").map(|s| (s, python::nametrans(&s.value)));
    // (the remote prefix as OfflineIMAP writes it, with the server's delimiter)
    let mut prefix: Option<String> = None;
    let mut mapped: Option<NameTrans> = None;
    let local_trans = get(&account.local, "nametrans").map(|s| python::nametrans(&s.value));
    let mut local_used = false;
    if let Some((setting, trans)) = &trans {
        match trans {
            NameTrans::Steps(steps) => match steps.as_slice() {
                [] => {}
                [NameStep::ReplacePrefix { from, to }] if to.is_empty() => {
                    prefix = Some(from.clone());
                    pair.set("prefix_a", Value::str(level(from)));
                    pair.note(
                        "prefix_a: pimlink syncs only the folders below it; OfflineIMAP's \
                         nametrans also kept those outside it",
                    );
                }
                [NameStep::AddPrefix(added)] => pair.set("prefix_b", Value::str(level(added))),
                _ => mapped = Some(trans.clone()),
            },
            NameTrans::Other(_) => pair.note(not_imported(
                setting,
                "pimlink translates prefixes (prefix_a) and single folders (folder_map); \
                 write those instead",
            )),
        }
    } else if let Some(NameTrans::Steps(steps)) = &local_trans {
        // Only the local names translated: the reverse says what the remote ones hold.
        match steps.as_slice() {
            [NameStep::AddPrefix(added)] => {
                prefix = Some(added.clone());
                pair.set("prefix_a", Value::str(level(added)));
                local_used = true;
            }
            [NameStep::ReplacePrefix { from, to }] if to.is_empty() => {
                pair.set("prefix_b", Value::str(level(from)));
                local_used = true;
            }
            _ => {}
        }
    }
    // A name below the prefix, in pimlink's spelling: a prefix ending in '.' says the server
    // separates levels with '.'.
    let strip = |name: &str| -> String {
        match &prefix {
            Some(p) => match name.strip_prefix(p.as_str()) {
                Some(rest) if p.ends_with('.') => rest.replace('.', "/"),
                Some(rest) => rest.to_owned(),
                None => name.to_owned(),
            },
            None => name.to_owned(),
        }
    };
    let mut patterns = None;
    if let Some((setting, filter)) = &filter {
        if let (Some(trans), Filter::In(list)) = (&mapped, filter) {
            let mut map = Vec::new();
            let mut names = Vec::new();
            for name in list {
                let translated = trans.apply(name).unwrap_or_else(|| name.clone());
                if &translated != name {
                    map.push(vec![name.clone(), translated.clone()]);
                }
                names.push(literal_pattern(&translated));
            }
            if !map.is_empty() {
                pair.set("folder_map", Value::Lists(map));
            }
            patterns = Some(names);
            mapped = None;
        } else {
            patterns = filter_patterns(filter, &strip);
            if patterns.is_none() {
                pair.note(not_imported(
                    setting,
                    "pimlink takes lists of folder patterns (\"*\", \"Lists/%\", \"!Junk\"); \
                     write them as collections",
                ));
            }
        }
    }
    if let (Some(trans), Some((setting, _))) = (&mapped, &trans) {
        let _ = trans;
        pair.note(not_imported(
            setting,
            "without a folderfilter listing the folders, pimlink cannot know which names \
             this changes; list them in folder_map = [[\"name on a\", \"name on b\"], ...]",
        ));
    }
    if let Some(patterns) = patterns {
        pair.set("collections", Value::Strs(patterns));
    }
    for key in ["folderfilter", "nametrans"] {
        if key == "nametrans" && local_used {
            continue;
        }
        if let Some(setting) = get(&account.local, key) {
            pair.note(not_imported(
                setting,
                "a local translation is the reverse of the remote one, which pimlink applies \
                 both ways by itself",
            ));
        }
    }
}

/// A prefix as pimlink writes it: one level, ending in `/` (OfflineIMAP's ends in the
/// server's delimiter, `.` or `/`).
fn level(prefix: &str) -> String {
    let trimmed = prefix
        .strip_suffix('.')
        .or_else(|| prefix.strip_suffix('/'))
        .unwrap_or(prefix);
    format!("{}/", trimmed.replace('.', "/"))
}

/// Patterns selecting what `filter` keeps, if it is a combination of names and prefixes.
pub(super) fn filter_patterns(
    filter: &Filter,
    strip: &dyn Fn(&str) -> String,
) -> Option<Vec<String>> {
    let positive = |f: &Filter| -> Option<Vec<String>> {
        match f {
            Filter::In(list) => Some(list.iter().map(|n| literal_pattern(&strip(n))).collect()),
            Filter::Equals(name) => Some(vec![literal_pattern(&strip(name))]),
            Filter::StartsWith(p) => Some(vec![format!("{}*", literal_pattern(&strip(p)))]),
            Filter::Always(true) => Some(vec!["*".to_owned()]),
            _ => None,
        }
    };
    let negative = |f: &Filter| -> Option<Vec<String>> {
        match f {
            Filter::Not(inner) => {
                positive(inner).map(|list| list.into_iter().map(|p| format!("!{p}")).collect())
            }
            _ => None,
        }
    };
    match filter {
        Filter::Any(parts) => {
            let mut all = Vec::new();
            for part in parts {
                all.extend(positive(part)?);
            }
            Some(all)
        }
        Filter::All(parts) => {
            let mut pos = Vec::new();
            let mut neg = Vec::new();
            for part in parts {
                if let Some(list) = negative(part) {
                    neg.extend(list);
                } else if pos.is_empty() {
                    pos = positive(part)?;
                } else {
                    return None;
                }
            }
            if pos.is_empty() {
                pos.push("*".to_owned());
            }
            pos.extend(neg);
            Some(pos)
        }
        Filter::Not(_) => {
            let mut list = vec!["*".to_owned()];
            list.extend(negative(filter)?);
            Some(list)
        }
        other => positive(other),
    }
}
