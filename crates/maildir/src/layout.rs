//! How collection names map to directories under the root, and back.
//!
//! Both directions live here so that one rule decides both: the listing keeps a directory only
//! if mapping its derived name back gives the very same directory (see [`Layout::name_of`]).

use std::path::{Path, PathBuf};

use pimlink_core::{CollectionName, Error, ErrorKind, Result};

use crate::scheme::{Place, Scheme};

/// The longest file name Linux file systems accept, in bytes.
pub(crate) const MAX_COMPONENT_LEN: usize = 255;

/// The names of a maildir's own subdirectories.
pub(crate) const MAILDIR_SUBDIRS: [&str; 3] = ["cur", "new", "tmp"];

/// How folders are arranged on disk. See the crate documentation for the exact rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// mbsync's `SubFolders Verbatim`: folder `A/B` is the directory `root/A/B`, `INBOX` is
    /// `root/INBOX`.
    Verbatim,
    /// Dovecot's and Courier's Maildir++: `INBOX` is the root itself, folder `A/B` is
    /// `root/.A.B`.
    MaildirPlusPlus,
}

impl Layout {
    /// The directory of `name`, relative to the root (empty for the Maildir++ INBOX), or an
    /// [`ErrorKind::InvalidName`] error naming the folder and why this layout cannot hold it.
    pub(crate) fn relative_dir(self, name: &CollectionName) -> Result<PathBuf> {
        match Scheme::plain(self).place(name)? {
            Place::Root(relative) => Ok(relative),
            // A plain scheme has no inbox elsewhere.
            Place::Inbox(_) => Err(refused(name, "it would live outside the root")),
        }
    }

    /// The collection whose directory is `relative` (relative to the root), or why that
    /// directory is not one this layout can address. A name is returned only if it maps back
    /// to exactly `relative`, so that listing and addressing can never disagree.
    pub(crate) fn name_of(self, relative: &Path) -> Result<CollectionName, String> {
        Scheme::plain(self).name_of(&Place::Root(relative.to_path_buf()))
    }
}

/// Refuses first levels that equal INBOX only up to case: the engine treats INBOX
/// case-insensitively (as IMAP does), so `Inbox/x` and `INBOX/x` would be two directories for
/// what a server may consider one hierarchy, and `inbox` would name the INBOX itself.
pub(crate) fn check_inbox_case(name: &CollectionName) -> Result<()> {
    match name.levels().next() {
        Some(first) if first.eq_ignore_ascii_case(CollectionName::INBOX) && first != "INBOX" => {
            Err(refused(
                name,
                &format!(
                    "its first level {first:?} differs from INBOX only in case, and INBOX is \
                     case-insensitive"
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Rules every layout shares. Core's `CollectionName` already guarantees most of them; they are
/// checked again because a path built from an unchecked level could escape the root.
pub(crate) fn check_level_common(name: &CollectionName, level: &str) -> Result<()> {
    let why = if level.is_empty() {
        "it has an empty level".to_owned()
    } else if level == "." || level == ".." {
        format!("it has a {level:?} level")
    } else if level.contains('/') || level.contains('\0') {
        "a level contains '/' or NUL".to_owned()
    } else if level.len() > MAX_COMPONENT_LEN {
        format!(
            "a level is {} bytes long; at most {MAX_COMPONENT_LEN} fit in a file name",
            level.len()
        )
    } else {
        return Ok(());
    };
    Err(refused(name, &why))
}

pub(crate) fn refused(name: &CollectionName, why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidName,
        format!("the Maildir cannot hold the folder {name:?}: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::Component;

    fn name(text: &str) -> CollectionName {
        CollectionName::new(text).unwrap()
    }

    #[test]
    fn verbatim_maps_levels_to_directories() {
        let layout = Layout::Verbatim;
        assert_eq!(
            layout.relative_dir(&name("INBOX")).unwrap(),
            PathBuf::from("INBOX")
        );
        assert_eq!(
            layout.relative_dir(&name("A/B c/Entwürfe")).unwrap(),
            PathBuf::from("A/B c/Entwürfe")
        );
        assert_eq!(
            layout.relative_dir(&name(".hidden/x.y")).unwrap(),
            PathBuf::from(".hidden/x.y")
        );
    }

    #[test]
    fn maildirplusplus_maps_to_dot_directories() {
        let layout = Layout::MaildirPlusPlus;
        assert_eq!(layout.relative_dir(&name("INBOX")).unwrap(), PathBuf::new());
        assert_eq!(
            layout.relative_dir(&name("A/B")).unwrap(),
            PathBuf::from(".A.B")
        );
        assert_eq!(
            layout.relative_dir(&name("INBOX/sub")).unwrap(),
            PathBuf::from(".INBOX.sub")
        );
        assert_eq!(
            layout.relative_dir(&name("cur/new")).unwrap(),
            PathBuf::from(".cur.new")
        );
    }

    #[test]
    fn refuses_what_a_layout_cannot_hold() {
        let long = "x".repeat(256);
        let cases: Vec<(Layout, String, &str)> = vec![
            (Layout::Verbatim, "cur".into(), "collide"),
            (Layout::Verbatim, "A/new".into(), "collide"),
            (Layout::Verbatim, "tmp/x".into(), "collide"),
            (
                Layout::Verbatim,
                "A/dovecot-keywords".into(),
                "keyword file",
            ),
            (Layout::Verbatim, long.clone(), "256 bytes"),
            (Layout::Verbatim, "Inbox/x".into(), "case"),
            (Layout::MaildirPlusPlus, "a.b".into(), "contains '.'"),
            (Layout::MaildirPlusPlus, ".hidden".into(), "contains '.'"),
            (Layout::MaildirPlusPlus, "A/.x".into(), "contains '.'"),
            (Layout::MaildirPlusPlus, "INbox/x".into(), "case"),
            (
                Layout::MaildirPlusPlus,
                format!("{}/{}", "y".repeat(200), "z".repeat(60)),
                "262 bytes",
            ),
        ];
        for (layout, text, why) in cases {
            let err = layout.relative_dir(&name(&text)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidName, "{text}");
            let message = err.to_string();
            assert!(
                message.contains(why) && message.contains(&format!("{text:?}")),
                "{layout:?} {text}: {message}"
            );
        }
    }

    #[test]
    fn name_of_rejects_directories_that_do_not_map_back() {
        // `inbox` would become the name INBOX, which lives at `INBOX`, not `inbox`.
        assert!(Layout::Verbatim.name_of(Path::new("inbox")).is_err());
        assert!(
            Layout::MaildirPlusPlus
                .name_of(Path::new(".inbox"))
                .is_err()
        );
        // An empty level (`..A`) or a trailing dot is no valid name.
        assert!(Layout::MaildirPlusPlus.name_of(Path::new("..A")).is_err());
        assert!(Layout::MaildirPlusPlus.name_of(Path::new(".A.")).is_err());
        assert!(Layout::Verbatim.name_of(Path::new("A/cur")).is_err());
        assert_eq!(
            Layout::MaildirPlusPlus.name_of(Path::new("")).unwrap(),
            name("INBOX")
        );
    }

    /// One level any layout can hold: no '/', no control character, no '.' (Maildir++), not a
    /// maildir subdirectory name and not a case variant of INBOX.
    fn level_strategy(allow_dot: bool) -> impl Strategy<Value = String> {
        let pattern = if allow_dot {
            "[^/\\p{Cc}]{1,12}"
        } else {
            "[^/.\\p{Cc}]{1,12}"
        };
        pattern.prop_filter("not holdable", |level| {
            level != "."
                && level != ".."
                && !MAILDIR_SUBDIRS.contains(&level.as_str())
                && level != crate::keywords::FILE_NAME
                && !level.eq_ignore_ascii_case("INBOX")
        })
    }

    fn name_strategy(allow_dot: bool) -> impl Strategy<Value = CollectionName> {
        prop_oneof![
            1 => Just(name("INBOX")),
            1 => proptest::collection::vec(level_strategy(allow_dot), 0..3)
                .prop_map(|rest| name(&["INBOX".to_owned()].into_iter().chain(rest).collect::<Vec<_>>().join("/"))),
            8 => proptest::collection::vec(level_strategy(allow_dot), 1..4)
                .prop_map(|levels| name(&levels.join("/"))),
        ]
    }

    proptest! {
        #[test]
        fn verbatim_names_round_trip(name in name_strategy(true)) {
            let dir = Layout::Verbatim.relative_dir(&name).unwrap();
            prop_assert_eq!(Layout::Verbatim.name_of(&dir).unwrap(), name);
        }

        #[test]
        fn maildirplusplus_names_round_trip(name in name_strategy(false)) {
            let dir = Layout::MaildirPlusPlus.relative_dir(&name).unwrap();
            prop_assert_eq!(Layout::MaildirPlusPlus.name_of(&dir).unwrap(), name);
        }

        #[test]
        fn any_accepted_name_stays_a_plain_relative_path(text in "[^\\p{Cc}]{1,40}", layout in prop_oneof![Just(Layout::Verbatim), Just(Layout::MaildirPlusPlus)]) {
            if let Ok(name) = CollectionName::new(text)
                && let Ok(dir) = layout.relative_dir(&name)
            {
                prop_assert!(dir.components().all(|c| matches!(c, Component::Normal(_))));
                prop_assert_eq!(layout.name_of(&dir).unwrap(), name);
            }
        }
    }
}
