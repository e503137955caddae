//! The per-side keys of mail storages and pairs (`config/sides.rs`).

use super::tests::{MAILDIRS, fails, line_of, ok, with_maildirs};
use super::*;
use pimlink_core::CollectionName;

#[test]
fn side_keys_default_to_a_writable_expunging_pair() {
    let config = ok(&with_maildirs("a = \"one\"\nb = \"two\"\n"));
    let pair = &config.pairs["p"];
    assert_eq!(pair.sides.a, SideOptions::default());
    assert_eq!(pair.sides.b, SideOptions::default());
    assert!(pair.sides.a.expunge && !pair.sides.a.read_only && !pair.sides.a.remove);
    assert_eq!(config.storages["one"].mail, MailStorageOptions::default());
}

#[test]
fn side_keys_convert_from_storage_and_pair() {
    let text = r#"
[storage.server]
type = "imap"
host = "mail.example.org"
user = "me"
password = "x"
trash = "Trash"

[storage.archive]
type = "maildir"
path = "/m/archive"
read_only = true

[storage.local]
type = "maildir"
path = "/m/local"
trash = "Deleted Items/Old"

[pair.backup]
a = "server"
b = "archive"

[pair.mail]
a = "server"
b = "local"
read_only = ["a"]
expunge = ["b"]
remove = ["a", "b"]
"#;
    let config = ok(text);
    let backup = &config.pairs["backup"].sides;
    assert_eq!(backup.a.trash, Some(CollectionName::new("Trash").unwrap()));
    assert!(backup.b.read_only, "from the storage");
    assert!(!backup.a.read_only);
    let mail = &config.pairs["mail"];
    assert!(mail.sides.a.read_only && !mail.sides.b.read_only);
    assert!(!mail.sides.a.expunge && mail.sides.b.expunge);
    assert!(mail.sides.a.remove && mail.sides.b.remove);
    assert_eq!(
        mail.sides.b.trash,
        Some(CollectionName::new("Deleted Items/Old").unwrap())
    );
    assert_eq!(mail.policy().sides, mail.sides);
    // A read-only side does not need a one-way direction: nothing flows into it anyway.
    assert_eq!(mail.direction, Direction::Both);
    assert!(!mail.policy().creates_on(pimlink_core::Side::A));
}

#[test]
fn side_key_errors_point_at_the_key() {
    let text = with_maildirs("a = \"one\"\nb = \"two\"\nexpunge = [\"c\"]\n");
    fails(
        &text,
        line_of(&text, "expunge"),
        &["key \"expunge\"", "\"c\"", "a, b"],
    );
    let text = with_maildirs("a = \"one\"\nb = \"two\"\nremove = \"a\"\n");
    fails(
        &text,
        line_of(&text, "remove"),
        &["key \"remove\"", "array of strings"],
    );
    let text = with_maildirs("a = \"one\"\nb = \"two\"\nread_only = [\"a\", \"b\"]\n");
    fails(
        &text,
        line_of(&text, "read_only"),
        &["both sides are read-only"],
    );

    let text =
        with_maildirs("a = \"one\"\nb = \"two\"\nread_only = [\"b\"]\ndirection = \"a-to-b\"\n");
    fails(
        &text,
        line_of(&text, "direction"),
        &["direction = \"a-to-b\" only writes side b, which is read-only"],
    );
    let text =
        with_maildirs("a = \"one\"\nb = \"two\"\nread_only = [\"b\"]\ndirection = \"b-to-a\"\n");
    assert!(ok(&text).pairs["p"].sides.b.read_only);

    let storage = |extra: &str| {
        format!(
            "[storage.one]\ntype = \"maildir\"\npath = \"/m/one\"\n{extra}\n[storage.two]\n\
             type = \"maildir\"\npath = \"/m/two\"\n[pair.p]\na = \"one\"\nb = \"two\"\n"
        )
    };
    let text = storage("read_only = \"yes\"");
    fails(
        &text,
        line_of(&text, "read_only"),
        &["key \"read_only\" must be true or false", "string"],
    );
    let text = storage("trash = \"../escape\"");
    fails(
        &text,
        line_of(&text, "trash"),
        &["key \"trash\"", "../escape", "not a usable folder name"],
    );
    let text = storage("trash = \"\"");
    fails(
        &text,
        line_of(&text, "trash"),
        &["\"trash\" must not be empty"],
    );
    let text = storage("read_only = true");
    let both = format!("{text}read_only = [\"b\"]\n");
    fails(
        &both,
        line_of(&both, "read_only = [\"b\"]"),
        &["both sides are read-only"],
    );
}

#[test]
fn side_keys_belong_to_mail_only() {
    let text = format!(
        "{MAILDIRS}\n[storage.c1]\ntype = \"vdir\"\npath = \"/c1\"\nfileext = \".ics\"\n\
         [storage.c2]\ntype = \"vdir\"\npath = \"/c2\"\nfileext = \".ics\"\n\
         [pair.p]\na = \"c1\"\nb = \"c2\"\nexpunge = [\"a\"]\n"
    );
    fails(
        &text,
        line_of(&text, "expunge"),
        &["key \"expunge\" applies only to mail pairs"],
    );
    let text = "[storage.c1]\ntype = \"vdir\"\npath = \"/c1\"\nfileext = \".ics\"\ntrash = \"T\"\n";
    fails(
        text,
        line_of(text, "trash"),
        &["key \"trash\" does not apply to type \"vdir\""],
    );
}
