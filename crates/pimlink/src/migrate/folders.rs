//! Which destination folder each source folder goes to (`folders = "special-use"`): the
//! source's Sent goes to the destination's Sent whatever either is called, and so do Drafts,
//! Trash, Junk and Archive; every other folder keeps its name. A folder's use is its RFC 6154
//! attribute (`\Sent`, ...) where the server gives one, else a common name (`Sent Items`,
//! `[Gmail]/Sent Mail`, `Deleted Items`, `Spam`, ...) on its last level.
//!
//! Gmail's virtual folders (`\All`: every message again; `\Flagged`: the starred ones again)
//! are left out, as imapsync's Gmail profiles do: copying them would copy each message twice.
//!
//! The personal namespace's prefix (NAMESPACE, RFC 2342) is the server's spelling, not part of
//! a folder's name: Cyrus without `altnamespace` and Courier put every folder under `INBOX.`,
//! so their `INBOX.Work` is another server's `Work`, and the other way round. INBOX itself
//! never carries the prefix.
//!
//! Pure: the caller lists both sides ([`list`] does it over IMAP) and turns the result into the
//! pair's name translation. The first run's plan is kept with the account's state and used by
//! every later run: a mapping that changed between runs (a destination that gained a `\Sent`
//! folder since) would copy a folder again under its new name.

use pimlink_imap::{Client, ClientOptions};

/// A folder as LIST gave it: its name with `/` between levels, and its special-use attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    /// The name, levels separated by `/`, as the pair names it.
    pub name: String,
    /// `\Sent`, `\Drafts`, ... (RFC 6154), if the server marks it.
    pub special_use: Option<String>,
}

/// The uses that are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
}

const ROLES: [Role; 5] = [
    Role::Sent,
    Role::Drafts,
    Role::Trash,
    Role::Junk,
    Role::Archive,
];

impl Role {
    fn attribute(self) -> &'static str {
        match self {
            Role::Sent => "\\Sent",
            Role::Drafts => "\\Drafts",
            Role::Trash => "\\Trash",
            Role::Junk => "\\Junk",
            Role::Archive => "\\Archive",
        }
    }

    /// Names common servers and clients give the folder (compared without case).
    fn names(self) -> &'static [&'static str] {
        match self {
            Role::Sent => &["Sent", "Sent Items", "Sent Messages", "Sent Mail"],
            Role::Drafts => &["Drafts", "Draft"],
            Role::Trash => &["Trash", "Deleted Items", "Deleted Messages", "Bin"],
            Role::Junk => &["Junk", "Spam", "Junk E-mail", "Junk Email", "Bulk Mail"],
            Role::Archive => &["Archive", "Archives"],
        }
    }
}

/// One account's folders and its personal namespace prefix, as [`list`] gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// The selectable folders.
    pub folders: Vec<Folder>,
    /// The personal namespace's prefix with `/` between levels (`INBOX/` for Cyrus's and
    /// Courier's `INBOX.`), or empty.
    pub prefix: String,
}

impl Listing {
    /// `name` without this account's prefix: the name another account gives the folder.
    fn unprefixed<'n>(&self, name: &'n str) -> &'n str {
        match name.strip_prefix(self.prefix.as_str()) {
            Some(rest) if !self.prefix.is_empty() && !rest.is_empty() => rest,
            _ => name,
        }
    }

    /// A folder's name as this account spells it, from its name without prefix.
    fn prefixed(&self, name: &str) -> String {
        if name.eq_ignore_ascii_case("INBOX") {
            return name.to_owned();
        }
        format!("{}{name}", self.prefix)
    }
}

/// What [`plan`] decided.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FolderPlan {
    /// `(source name, destination name)` for folders whose names differ.
    pub renames: Vec<(String, String)>,
    /// Source folders left out (virtual ones).
    pub skipped: Vec<String>,
}

/// Matches the folders of `source` to those of `destination`: by use first, then each other
/// folder to its name under the destination's namespace prefix.
pub fn plan(source: &Listing, destination: &Listing) -> FolderPlan {
    let mut plan = plan_uses(&source.folders, &destination.folders);
    let mut by_prefix: Vec<(String, String)> = Vec::new();
    for folder in &source.folders {
        let from = folder.name.as_str();
        let to = destination.prefixed(source.unprefixed(from));
        let matched =
            plan.skipped.iter().any(|s| s == from) || plan.renames.iter().any(|(f, _)| f == from);
        // No destination folder receives two source folders, nor one a source folder of its
        // name goes to unchanged.
        let taken = plan.renames.iter().any(|(_, t)| *t == to)
            || source.folders.iter().any(|f| f.name == to);
        if to != from && !matched && !taken {
            by_prefix.push((from.to_owned(), to));
        }
    }
    by_prefix.sort();
    plan.renames.extend(by_prefix);
    plan
}

/// Matches the special-use folders of `source` to those of `destination`.
fn plan_uses(source: &[Folder], destination: &[Folder]) -> FolderPlan {
    let skipped: Vec<String> = source
        .iter()
        .filter(|f| {
            f.special_use.as_deref().is_some_and(|u| {
                u.eq_ignore_ascii_case("\\All") || u.eq_ignore_ascii_case("\\Flagged")
            })
        })
        .map(|f| f.name.clone())
        .collect();
    let mut renames: Vec<(String, String)> = Vec::new();
    for role in ROLES {
        let (Some(from), Some(to)) = (find(source, role), find(destination, role)) else {
            continue;
        };
        if from == to {
            continue;
        }
        // A source folder that already has the destination's name keeps it (the two are not
        // merged), and no destination folder receives two source folders.
        let taken = source.iter().any(|f| f.name == to)
            || renames.iter().any(|(_, t)| *t == to)
            || renames.iter().any(|(f, _)| *f == from);
        if !taken {
            renames.push((from.to_owned(), to.to_owned()));
        }
    }
    FolderPlan { renames, skipped }
}

/// The folder of `folders` with `role`: the one marked with its attribute, else the one with a
/// common name, fewest levels first (`Sent` before `Archive/Sent`).
fn find(folders: &[Folder], role: Role) -> Option<&str> {
    let marked = folders.iter().find(|f| {
        f.special_use
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(role.attribute()))
    });
    if let Some(folder) = marked {
        return Some(&folder.name);
    }
    folders
        .iter()
        .filter(|f| f.special_use.is_none())
        .filter(|f| {
            let last = f.name.rsplit('/').next().unwrap_or(&f.name);
            role.names().iter().any(|n| n.eq_ignore_ascii_case(last))
        })
        .min_by_key(|f| (f.name.split('/').count(), f.name.clone()))
        .map(|f| f.name.as_str())
}

/// Lists the folders of the account `options` logs in to, with their special-use attributes,
/// and its personal namespace prefix (none when the server lacks NAMESPACE).
pub async fn list(options: ClientOptions) -> Result<Listing, pimlink_core::Error> {
    let mut client = Client::connect(options).await?;
    let slashed = |name: &str, delimiter: Option<char>| match delimiter {
        Some(d) if d != '/' => name.split(d).collect::<Vec<_>>().join("/"),
        _ => name.to_owned(),
    };
    let prefix = if client.has("NAMESPACE") {
        let [personal, _, _] = client.namespace().await?;
        personal
            .first()
            .map(|ns| slashed(&ns.prefix, ns.delimiter))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let entries = client.list("", "*").await?;
    let folders = entries
        .iter()
        .filter(|e| e.selectable())
        .map(|e| Folder {
            name: slashed(&e.name, e.delimiter),
            special_use: e.special_use().map(str::to_owned),
        })
        .collect();
    // A failed LOGOUT loses nothing: the list is complete.
    let _ = client.logout().await;
    Ok(Listing { folders, prefix })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders(list: &[(&str, Option<&str>)]) -> Listing {
        prefixed("", list)
    }

    fn prefixed(prefix: &str, list: &[(&str, Option<&str>)]) -> Listing {
        Listing {
            folders: list
                .iter()
                .map(|(name, special)| Folder {
                    name: (*name).to_owned(),
                    special_use: special.map(str::to_owned),
                })
                .collect(),
            prefix: prefix.to_owned(),
        }
    }

    fn renames(plan: &FolderPlan) -> Vec<(&str, &str)> {
        plan.renames
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect()
    }

    #[test]
    fn exchange_names_go_to_the_destinations_special_use_folders() {
        let source = folders(&[
            ("INBOX", None),
            ("Sent Items", None),
            ("Deleted Items", None),
            ("Junk E-mail", None),
            ("Projects", None),
        ]);
        let destination = folders(&[
            ("INBOX", None),
            ("Sent", Some("\\Sent")),
            ("Trash", Some("\\Trash")),
            ("Junk", Some("\\Junk")),
        ]);
        let plan = plan(&source, &destination);
        assert_eq!(
            renames(&plan),
            [
                ("Sent Items", "Sent"),
                ("Deleted Items", "Trash"),
                ("Junk E-mail", "Junk")
            ]
        );
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn gmail_by_attribute_and_its_virtual_folders_left_out() {
        let source = folders(&[
            ("INBOX", None),
            ("[Gmail]", None),
            ("[Gmail]/All Mail", Some("\\All")),
            ("[Gmail]/Starred", Some("\\Flagged")),
            ("[Gmail]/Sent Mail", Some("\\Sent")),
            ("[Gmail]/Drafts", Some("\\Drafts")),
            ("[Gmail]/Spam", Some("\\Junk")),
            ("[Gmail]/Bin", Some("\\Trash")),
        ]);
        let destination = folders(&[
            ("INBOX", None),
            ("Sent Messages", None),
            ("Drafts", None),
            ("Junk", None),
            ("Deleted Messages", None),
        ]);
        let plan = plan(&source, &destination);
        assert_eq!(
            renames(&plan),
            [
                ("[Gmail]/Sent Mail", "Sent Messages"),
                ("[Gmail]/Drafts", "Drafts"),
                ("[Gmail]/Bin", "Deleted Messages"),
                ("[Gmail]/Spam", "Junk"),
            ]
        );
        assert_eq!(plan.skipped, ["[Gmail]/All Mail", "[Gmail]/Starred"]);
    }

    #[test]
    fn names_are_kept_without_a_counterpart_or_a_clash() {
        // No Sent on the destination: the source's keeps its name (and is created).
        let plan1 = plan(
            &folders(&[("Sent Items", None)]),
            &folders(&[("INBOX", None)]),
        );
        assert!(plan1.renames.is_empty());
        // Same name on both sides: nothing to map.
        let plan2 = plan(
            &folders(&[("Sent", Some("\\Sent"))]),
            &folders(&[("Sent", None)]),
        );
        assert!(plan2.renames.is_empty());
        // The source has a folder of the destination's name already: they are not merged.
        let plan3 = plan(
            &folders(&[("Sent", None), ("Sent Items", Some("\\Sent"))]),
            &folders(&[("Sent", Some("\\Sent"))]),
        );
        assert!(plan3.renames.is_empty(), "{plan3:?}");
    }

    #[test]
    fn a_marked_folder_beats_a_common_name_and_shallow_beats_deep() {
        let source = folders(&[("Archive/Sent", None), ("Sent", None)]);
        let destination = folders(&[("Sent", None), ("Outbox-copies", Some("\\Sent"))]);
        assert_eq!(
            renames(&plan(&source, &destination)),
            [("Sent", "Outbox-copies")]
        );
    }

    #[test]
    fn a_namespace_prefix_is_dropped_and_added() {
        let cyrus = prefixed(
            "INBOX/",
            &[
                ("INBOX", None),
                ("INBOX/Sent", None),
                ("INBOX/Work", None),
                ("INBOX/Work/2026", None),
            ],
        );
        let dovecot = folders(&[("INBOX", None), ("Sent", Some("\\Sent"))]);
        assert_eq!(
            renames(&plan(&cyrus, &dovecot)),
            [
                ("INBOX/Sent", "Sent"),
                ("INBOX/Work", "Work"),
                ("INBOX/Work/2026", "Work/2026")
            ]
        );
        // And back: every folder but INBOX goes under the prefix.
        let back = folders(&[("INBOX", None), ("Sent", Some("\\Sent")), ("Work", None)]);
        let empty_cyrus = prefixed("INBOX/", &[("INBOX", None)]);
        assert_eq!(
            renames(&plan(&back, &empty_cyrus)),
            [("Sent", "INBOX/Sent"), ("Work", "INBOX/Work")]
        );
        // The same prefix on both sides changes nothing.
        assert!(plan(&cyrus, &cyrus).renames.is_empty());
    }
}
