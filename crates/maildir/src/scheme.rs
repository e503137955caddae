//! The full folder-to-directory rule of one tree: its [`Layout`] plus what other tools' trees
//! add ([`TreeOptions`]: mbsync's `Flatten` and `Inbox`, its modified-UTF-7 directory names).
//!
//! Key types: [`TreeOptions`] (public, from the configuration), [`Scheme`] (the copyable rule
//! the store and the listing share), [`Place`] (a directory relative to the root or to the
//! inbox). Like the layouts, both directions live here, and a listed directory is kept only if
//! its name maps back to the very same place.

use std::path::{Component, Path, PathBuf};

use pimlink_core::{CollectionName, Result, utf7};

use crate::layout::{
    Layout, MAILDIR_SUBDIRS, MAX_COMPONENT_LEN, check_inbox_case, check_level_common, refused,
};

/// How non-ASCII folder names are spelled on disk (`names`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Names {
    /// As UTF-8 (`Entwürfe`): pimlink's default, and what mbsync 1.5 writes.
    #[default]
    Utf8,
    /// As RFC 3501 modified UTF-7 (`Entw&APw-rfe`), level by level: what mbsync 1.4 and
    /// OfflineIMAP (without `decode_foldernames`) write, since they take the server's wire names.
    ImapUtf7,
}

/// What a tree written by another tool needs beyond its [`Layout`]. The default is pimlink's
/// own tree: no flattening, UTF-8 names, the inbox where the layout puts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeOptions {
    /// `flatten`: folder `A/B` is the single directory `A<sep>B` (mbsync's `Flatten`,
    /// OfflineIMAP's `sep`); only with [`Layout::Verbatim`]. Folder `INBOX/x` is `INBOX<sep>x`
    /// under the root even when the inbox lives elsewhere, as mbsync puts it.
    pub flatten: Option<char>,
    /// `names`: how non-ASCII names are spelled on disk.
    pub names: Names,
    /// `inbox`: the INBOX lives at this directory instead of the layout's place (mbsync's
    /// `Inbox`); without `flatten`, folder `INBOX/x` is the directory `<inbox>/x`, as mbsync
    /// keeps it. Only with [`Layout::Verbatim`].
    pub inbox: Option<PathBuf>,
}

/// A folder's directory: relative to the root, or to the inbox that lives elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// Under the root.
    Root(PathBuf),
    /// Under the separately configured inbox directory (empty: the inbox itself).
    Inbox(PathBuf),
}

/// Characters `flatten` may not be: they would be read as part of a level (letters, digits,
/// the modified-UTF-7 alphabet and its shift characters) or cannot appear in a file name.
pub fn check_flatten(sep: char) -> std::result::Result<(), String> {
    if sep.is_alphanumeric() || "&-+,/\0".contains(sep) || sep.is_control() {
        return Err(format!(
            "{sep:?} cannot separate flattened levels (it can be part of a level's name)"
        ));
    }
    Ok(())
}

/// The copyable part of a tree's rule: layout, flattening, spelling, and whether the inbox
/// lives elsewhere (its path itself stays with the store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scheme {
    pub(crate) layout: Layout,
    pub(crate) flatten: Option<char>,
    pub(crate) names: Names,
    pub(crate) inbox_elsewhere: bool,
}

impl Scheme {
    /// The rule of a plain pimlink tree in `layout`.
    pub(crate) fn plain(layout: Layout) -> Self {
        Self {
            layout,
            flatten: None,
            names: Names::Utf8,
            inbox_elsewhere: false,
        }
    }

    /// Where `name` lives, or an [`pimlink_core::ErrorKind::InvalidName`] error naming the
    /// folder and why this tree cannot hold it.
    pub(crate) fn place(self, name: &CollectionName) -> Result<Place> {
        check_inbox_case(name)?;
        let mut levels = name.levels();
        if self.inbox_elsewhere {
            if name.is_inbox() {
                return Ok(Place::Inbox(PathBuf::new()));
            }
            if self.flatten.is_none() && name.levels().next() == Some(CollectionName::INBOX) {
                levels.next();
                return Ok(Place::Inbox(self.verbatim(name, levels)?));
            }
        }
        let relative = match (self.layout, self.flatten) {
            (Layout::MaildirPlusPlus, _) => {
                if name.is_inbox() {
                    return Ok(Place::Root(PathBuf::new()));
                }
                let mut dir = String::new();
                for level in levels {
                    let level = self.on_disk(name, level)?;
                    if level.contains('.') {
                        return Err(refused(
                            name,
                            &format!(
                                "the level {level:?} contains '.', which Maildir++ uses to \
                                 separate levels"
                            ),
                        ));
                    }
                    dir.push('.');
                    dir.push_str(&level);
                }
                check_component_len(name, &dir, "Maildir++ directory")?;
                PathBuf::from(dir)
            }
            (Layout::Verbatim, Some(sep)) => {
                let mut dir = String::new();
                for level in levels {
                    let level = self.on_disk(name, level)?;
                    if level.contains(sep) {
                        return Err(refused(
                            name,
                            &format!(
                                "the level {level:?} contains {sep:?}, which the flattened \
                                 layout uses to separate levels"
                            ),
                        ));
                    }
                    if !dir.is_empty() {
                        dir.push(sep);
                    }
                    dir.push_str(&level);
                }
                check_component_len(name, &dir, "flattened directory")?;
                check_not_reserved(name, &dir)?;
                PathBuf::from(dir)
            }
            (Layout::Verbatim, None) => self.verbatim(name, levels)?,
        };
        check_plain(name, &relative)?;
        Ok(Place::Root(relative))
    }

    /// Levels as nested directories (mbsync's `SubFolders Verbatim`).
    fn verbatim<'n>(
        self,
        name: &CollectionName,
        levels: impl Iterator<Item = &'n str>,
    ) -> Result<PathBuf> {
        let mut path = PathBuf::new();
        for level in levels {
            let level = self.on_disk(name, level)?;
            check_not_reserved(name, &level)?;
            path.push(level);
        }
        check_plain(name, &path)?;
        Ok(path)
    }

    /// One level as it is spelled on disk, checked for what no file name may be.
    fn on_disk(self, name: &CollectionName, level: &str) -> Result<String> {
        check_level_common(name, level)?;
        let spelled = match self.names {
            Names::Utf8 => level.to_owned(),
            Names::ImapUtf7 => utf7::encode(level),
        };
        check_level_common(name, &spelled)?;
        Ok(spelled)
    }

    /// The folder at `place`, or why that directory is not one this tree can address. A name
    /// is returned only if it maps back to exactly `place`, so that listing and addressing can
    /// never disagree.
    pub(crate) fn name_of(self, place: &Place) -> std::result::Result<CollectionName, String> {
        let (relative, under_inbox) = match place {
            Place::Root(relative) => (relative, false),
            Place::Inbox(relative) => (relative, true),
        };
        let mut on_disk = Vec::new();
        for component in relative.components() {
            let Component::Normal(level) = component else {
                return Err("it is not a plain relative path".to_owned());
            };
            let Some(level) = level.to_str() else {
                return Err("its name is not valid UTF-8".to_owned());
            };
            on_disk.push(level);
        }
        let levels: Vec<String> = if under_inbox {
            std::iter::once(Ok(CollectionName::INBOX.to_owned()))
                .chain(on_disk.iter().map(|level| self.decoded(level)))
                .collect::<std::result::Result<_, _>>()?
        } else {
            match (self.layout, self.flatten, on_disk.as_slice()) {
                (Layout::MaildirPlusPlus, _, []) => vec![CollectionName::INBOX.to_owned()],
                (Layout::MaildirPlusPlus, _, [dir]) => match dir.strip_prefix('.') {
                    Some(rest) => self.split_decoded(rest, '.')?,
                    None => return Err("a Maildir++ folder name starts with '.'".to_owned()),
                },
                (Layout::MaildirPlusPlus, _, _) => {
                    return Err("Maildir++ folders are not nested directories".to_owned());
                }
                (Layout::Verbatim, Some(sep), [dir]) => self.split_decoded(dir, sep)?,
                (Layout::Verbatim, Some(_), _) => {
                    return Err("flattened folders are not nested directories".to_owned());
                }
                (Layout::Verbatim, None, levels) => levels
                    .iter()
                    .map(|level| self.decoded(level))
                    .collect::<std::result::Result<_, _>>()?,
            }
        };
        let name = CollectionName::new(levels.join("/")).map_err(|err| err.to_string())?;
        match self.place(&name) {
            Ok(back) if &back == place => Ok(name),
            Ok(Place::Root(back) | Place::Inbox(back)) => Err(format!(
                "it would be the folder {name}, which pimlink stores at {}",
                back.display()
            )),
            Err(err) => Err(err.to_string()),
        }
    }

    fn split_decoded(self, dir: &str, sep: char) -> std::result::Result<Vec<String>, String> {
        dir.split(sep).map(|level| self.decoded(level)).collect()
    }

    fn decoded(self, level: &str) -> std::result::Result<String, String> {
        match self.names {
            Names::Utf8 => Ok(level.to_owned()),
            Names::ImapUtf7 => utf7::decode(level)
                .ok_or_else(|| format!("the level {level:?} is not valid modified UTF-7")),
        }
    }
}

/// Defence in depth: whatever the rules let through must be plain file names, or joining it to
/// the root could leave the root.
fn check_plain(name: &CollectionName, relative: &Path) -> Result<()> {
    if relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        Ok(())
    } else {
        Err(refused(name, "it does not map to a plain relative path"))
    }
}

/// A directory named like a maildir's own subdirectories or its keyword file would collide
/// with the parent maildir's.
fn check_not_reserved(name: &CollectionName, level: &str) -> Result<()> {
    if level == crate::keywords::FILE_NAME {
        return Err(refused(
            name,
            &format!("the level {level:?} would collide with a parent maildir's keyword file"),
        ));
    }
    if MAILDIR_SUBDIRS.contains(&level) {
        return Err(refused(
            name,
            &format!(
                "the level {level:?} would collide with a parent maildir's own {level}/ directory"
            ),
        ));
    }
    Ok(())
}

fn check_component_len(name: &CollectionName, dir: &str, what: &str) -> Result<()> {
    if dir.len() > MAX_COMPONENT_LEN {
        return Err(refused(
            name,
            &format!(
                "its {what} name is {} bytes long; at most {MAX_COMPONENT_LEN} fit in a file name",
                dir.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::ErrorKind;
    use proptest::prelude::*;

    fn name(text: &str) -> CollectionName {
        CollectionName::new(text).unwrap()
    }

    fn scheme(flatten: Option<char>, names: Names, inbox_elsewhere: bool) -> Scheme {
        Scheme {
            layout: Layout::Verbatim,
            flatten,
            names,
            inbox_elsewhere,
        }
    }

    fn root(path: &str) -> Place {
        Place::Root(PathBuf::from(path))
    }

    /// Issue 16: mbsync 1.4 names `Entwürfe` `Entw&APw-rfe` on disk; pimlink must read that
    /// directory as `Entwürfe` (not create the literal name on the server) and write it back so.
    #[test]
    fn modified_utf7_names_are_read_and_written_as_mbsync_does() {
        let utf7 = scheme(None, Names::ImapUtf7, false);
        assert_eq!(utf7.place(&name("Entwürfe")).unwrap(), root("Entw&APw-rfe"));
        assert_eq!(
            utf7.name_of(&root("Entw&APw-rfe")).unwrap(),
            name("Entwürfe")
        );
        assert_eq!(
            utf7.place(&name("A&B/日本語")).unwrap(),
            root("A&-B/&ZeVnLIqe-")
        );
        // Raw UTF-8 and broken shift sequences are no names in such a tree.
        assert!(utf7.name_of(&root("Entwürfe")).is_err());
        assert!(utf7.name_of(&root("&Jjo")).is_err());
        assert!(utf7.name_of(&root("&AGE-")).is_err());
        // The UTF-8 tree keeps `Entw&APw-rfe` as the literal name it is there.
        let plain = scheme(None, Names::Utf8, false);
        assert_eq!(
            plain.name_of(&root("Entw&APw-rfe")).unwrap(),
            name("Entw&APw-rfe")
        );
    }

    /// Issue 16: with `Flatten .` (OfflineIMAP's `sep = .`) `Archive/2024` is `Archive.2024`,
    /// where before every run failed with "the level "Archive.2024" contains '.'".
    #[test]
    fn flattened_levels_share_one_directory() {
        let flat = scheme(Some('.'), Names::Utf8, false);
        assert_eq!(
            flat.place(&name("Archive/2024")).unwrap(),
            root("Archive.2024")
        );
        assert_eq!(
            flat.name_of(&root("Archive.2024")).unwrap(),
            name("Archive/2024")
        );
        assert_eq!(flat.place(&name("INBOX")).unwrap(), root("INBOX"));
        assert_eq!(flat.place(&name("INBOX/x")).unwrap(), root("INBOX.x"));
        let flat_utf7 = scheme(Some('.'), Names::ImapUtf7, false);
        assert_eq!(
            flat_utf7.place(&name("Entwürfe/2024")).unwrap(),
            root("Entw&APw-rfe.2024")
        );
        assert_eq!(
            flat_utf7.name_of(&root("Entw&APw-rfe.2024")).unwrap(),
            name("Entwürfe/2024")
        );
    }

    #[test]
    fn a_level_holding_the_separator_is_refused_naming_the_folder() {
        let flat = scheme(Some('.'), Names::Utf8, false);
        for (text, why) in [
            ("v1.2", "contains '.'"),
            ("A/.hidden", "contains '.'"),
            ("cur", "collide"),
            ("new", "collide"),
            ("dovecot-keywords", "keyword file"),
        ] {
            let err = flat.place(&name(text)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidName);
            let message = err.to_string();
            assert!(
                message.contains(why) && message.contains(&format!("{text:?}")),
                "{text}: {message}"
            );
        }
        let long = format!("{}/{}", "a".repeat(200), "b".repeat(60));
        assert!(
            flat.place(&name(&long))
                .unwrap_err()
                .to_string()
                .contains("261 bytes")
        );
    }

    /// Directories that could name something outside the root, or a folder twice, are no
    /// folders: `..`, empty levels, nested directories in a flat tree, a separator at an end.
    #[test]
    fn hostile_directories_are_not_folders() {
        let flat = scheme(Some('.'), Names::Utf8, false);
        for dir in [
            "..", ".", "..A", "A..B", ".A", "A.", "A/B", "A.B/C", "/A", "../A",
        ] {
            assert!(flat.name_of(&root(dir)).is_err(), "{dir}");
        }
        let utf7 = scheme(None, Names::ImapUtf7, false);
        // `&AC8ALw-` would decode to "//" and `&AC4ALg-` to "..": neither may name a folder.
        for dir in ["..", "&AC8ALw-", "&AC4ALg-", "&AC8-", "A/../B", "cur"] {
            assert!(utf7.name_of(&root(dir)).is_err(), "{dir}");
        }
        let flat_utf7 = scheme(Some('.'), Names::ImapUtf7, false);
        // A separator spelled in modified UTF-7 is not a separator, and not a name either.
        assert!(flat_utf7.name_of(&root("A&AC4-B")).is_err());
    }

    #[test]
    fn an_inbox_elsewhere_holds_inbox_and_its_subfolders_unless_flattened() {
        let elsewhere = scheme(None, Names::ImapUtf7, true);
        assert_eq!(
            elsewhere.place(&name("INBOX")).unwrap(),
            Place::Inbox(PathBuf::new())
        );
        assert_eq!(
            elsewhere.place(&name("INBOX/Entwürfe")).unwrap(),
            Place::Inbox(PathBuf::from("Entw&APw-rfe"))
        );
        assert_eq!(
            elsewhere
                .name_of(&Place::Inbox(PathBuf::from("Entw&APw-rfe")))
                .unwrap(),
            name("INBOX/Entwürfe")
        );
        // The root's own INBOX directory is then not the inbox (mbsync ignores it too).
        assert!(elsewhere.name_of(&root("INBOX")).is_err());
        assert!(elsewhere.name_of(&root("INBOX/x")).is_err());
        let flat = scheme(Some('.'), Names::Utf8, true);
        assert_eq!(
            flat.place(&name("INBOX")).unwrap(),
            Place::Inbox(PathBuf::new())
        );
        assert_eq!(flat.place(&name("INBOX/x")).unwrap(), root("INBOX.x"));
        assert_eq!(flat.name_of(&root("INBOX.x")).unwrap(), name("INBOX/x"));
    }

    #[test]
    fn flatten_refuses_separators_that_can_be_part_of_a_level() {
        for sep in ['a', '7', '&', '-', '+', ',', '/', '\0', '\n'] {
            assert!(check_flatten(sep).is_err(), "{sep:?}");
        }
        for sep in ['.', '_', ':', '#', '~'] {
            assert!(check_flatten(sep).is_ok(), "{sep:?}");
        }
    }

    fn scheme_strategy() -> impl Strategy<Value = Scheme> {
        (
            prop_oneof![Just(None), Just(Some('.')), Just(Some('_'))],
            prop_oneof![Just(Names::Utf8), Just(Names::ImapUtf7)],
            any::<bool>(),
        )
            .prop_map(|(flatten, names, inbox_elsewhere)| scheme(flatten, names, inbox_elsewhere))
    }

    proptest! {
        /// Whatever a scheme accepts stays a plain relative path and lists back as itself.
        #[test]
        fn accepted_names_round_trip(text in "[^\\p{Cc}]{1,40}", scheme in scheme_strategy()) {
            if let Ok(name) = CollectionName::new(text)
                && let Ok(place) = scheme.place(&name)
            {
                let (Place::Root(relative) | Place::Inbox(relative)) = &place;
                prop_assert!(relative.components().all(|c| matches!(c, Component::Normal(_))));
                prop_assert_eq!(scheme.name_of(&place).unwrap(), name);
            }
        }

        /// Every directory a scheme lists maps back to that very directory.
        #[test]
        fn listed_directories_map_back(dir in "[^\\p{Cc}]{1,30}", scheme in scheme_strategy()) {
            let place = root(&dir);
            if let Ok(name) = scheme.name_of(&place) {
                prop_assert_eq!(scheme.place(&name).unwrap(), place);
            }
        }
    }
}
