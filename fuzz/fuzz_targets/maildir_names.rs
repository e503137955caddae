//! Maildir file and folder names: the message file names a listing reads (written by any mail
//! program), the folder directories of both layouts, and Dovecot's keyword files. Checks the
//! round trips the sync relies on (a name pimlink writes reads back as what it wrote; listing
//! a folder's directory gives the folder back) and that nothing accepted can leave the root:
//! no '..', no '/', no absolute path.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use pimlink_core::{CollectionName, Flag, Flags};
use pimlink_maildir::Layout;
use pimlink_maildir::fuzzing::{
    Keywords, check_existing_key, check_new_key, format_name, name_of, parse_name, relative_dir,
    size_hint,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let name = parts.next().unwrap_or_default();
    let folder = parts.next().unwrap_or_default();
    let keywords = parts.next().unwrap_or_default();
    file_name(name);
    folder_name(folder);
    keyword_file(keywords, name);
});

fn is_single_component(text: &str) -> bool {
    let mut components = Path::new(text).components();
    matches!(components.next(), Some(Component::Normal(c)) if c == text)
        && components.next().is_none()
}

/// A file name as `readdir` could return it (no '/', no NUL).
fn file_name(name: &str) {
    if name.is_empty() || name.contains(['/', '\0']) {
        return;
    }
    let (key, info) = parse_name(name);
    let _ = size_hint(key);
    if check_existing_key(key).is_ok() {
        assert!(is_single_component(key), "{key:?}");
    }
    // What pimlink writes back (after a flag change, keeping unknown letters) reads back as the
    // same key and letters, and writing it again changes nothing.
    let written = format_name(key, info.as_ref().map(|(f, o)| (f, o.as_str())));
    let (key2, info2) = parse_name(&written);
    assert_eq!((key2, &info2), (key, &info), "{name:?} -> {written:?}");
    let rewritten = format_name(key2, info2.as_ref().map(|(f, o)| (f, o.as_str())));
    assert_eq!(rewritten, written);
    if let Some((flags, other)) = &info {
        let letters = written.rsplit_once(":2,").map_or("", |(_, l)| l);
        let chars: Vec<char> = letters.chars().collect();
        assert!(chars.windows(2).all(|w| w[0] < w[1]), "{letters:?}");
        assert!(
            other
                .chars()
                .all(|c| Flag::from_maildir_letter(c).is_none())
        );
        assert_eq!(
            flags.system_flags().count() + other.chars().count(),
            chars.len()
        );
    }
    if check_new_key(key).is_ok() {
        assert!(is_single_component(key) && !key.contains(':'), "{key:?}");
        let mut flags = Flags::new();
        flags.set(Flag::Seen, true);
        let fresh = format_name(key, Some((&flags, "")));
        assert_eq!(parse_name(&fresh).0, key);
        assert_eq!(parse_name(key), (key, None));
    }
}

fn folder_name(text: &str) {
    for layout in [Layout::Verbatim, Layout::MaildirPlusPlus] {
        if let Ok(name) = CollectionName::new(text)
            && let Ok(dir) = relative_dir(layout, &name)
        {
            assert!(
                dir.components().all(|c| matches!(c, Component::Normal(_))),
                "{name:?} -> {}",
                dir.display()
            );
            assert_eq!(name_of(layout, &dir), Ok(name.clone()), "{}", dir.display());
        }
        // A directory found while listing: only a name that maps back to it is accepted.
        let dir = Path::new(text);
        if let Ok(name) = name_of(layout, dir) {
            let back = relative_dir(layout, &name);
            assert_eq!(back.as_deref().ok(), Some(dir), "{text:?} -> {name:?}");
        }
    }
}

fn keyword_file(text: &str, name: &str) {
    let map = Keywords::parse(text);
    let reread = Keywords::parse(&map.format());
    assert_eq!(Keywords::parse(&reread.format()), reread);
    // Letters given to keywords are saved, read back, and stand for those keywords again.
    let mut map = map;
    let mut flags = Flags::new();
    for word in name.split(' ').take(30) {
        flags.set_keyword(word, true);
    }
    let (letters, changed, dropped) = map.letters_for(&flags);
    let saved = Keywords::parse(&map.format());
    if changed {
        assert_eq!(saved, map, "a changed mapping is written in full");
    }
    let mut read = Flags::new();
    let unmapped = saved.read_letters(&letters, &mut read);
    assert!(unmapped.is_empty(), "{letters:?} -> {unmapped:?}");
    for keyword in flags.keywords() {
        // Dovecot's `$Forwarded` letter stands for the Passed flag (IMAP's `$Forwarded`).
        let passed = keyword == "$Forwarded" && read.contains(Flag::Passed);
        assert!(
            passed || read.keywords().any(|k| k == keyword) || dropped.iter().any(|d| d == keyword),
            "keyword {keyword:?} lost: letters {letters:?}"
        );
    }
}
