//! Files written to OfflineIMAP's documented formats (its LocalStatus and LocalStatusSQLite
//! classes, offlineimap3 8.0); trees the real program writes are read in
//! crates/pimlink/tests/adopt_offlineimap.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

use std::fs;
use std::path::Path;

use super::*;

/// The schema OfflineIMAP 8 creates (LocalStatusSQLiteFolder.__create_db).
const SCHEMA_V2: &str = "
    CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));
    INSERT INTO metadata VALUES('db_version', '2');
    CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256));";

/// The schema of format 1 (before `mtime` and `labels`).
const SCHEMA_V1: &str = "
    CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));
    INSERT INTO metadata VALUES('db_version', '1');
    CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50));";

fn database(path: &Path, schema: &str, rows: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(schema).unwrap();
    db.execute_batch(rows).unwrap();
}

fn entry(flags: &str, mtime: i64, labels: &[&str]) -> StatusEntry {
    StatusEntry {
        flags: flags.to_owned(),
        mtime,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    }
}

#[test]
fn status_file_names_follow_getfolderbasename() {
    assert_eq!(status_file_name("INBOX"), "INBOX");
    assert_eq!(status_file_name("Archive/2024"), "Archive.2024");
    assert_eq!(status_file_name("Archive.2024"), "Archive.2024");
    assert_eq!(status_file_name("."), "dot");
    assert_eq!(status_file_name(""), "dot");
}

#[test]
fn folder_md5_is_the_hex_md5_of_the_local_name() {
    // Values from Python's hashlib.md5(name.encode()).hexdigest(), as OfflineIMAP computes them.
    assert_eq!(folder_md5("INBOX"), "7e33429f656f1e6e9d79b29c3f82c57e");
    assert_eq!(
        folder_md5("Archive.2024"),
        "1a93ab4c536c71150dc4b4835ca6c7b0"
    );
    assert_eq!(
        folder_md5("Entw&APw-rfe"),
        "d07923816012158d6c5f8f4d220153e3"
    );
}

#[test]
fn message_names_are_taken_apart_as_offlineimap_reads_them() {
    let name = "1733580000_0.4242.host,U=17,FMD5=7e33429f656f1e6e9d79b29c3f82c57e:2,FS";
    let message = MessageName::parse(name);
    assert_eq!(
        message.unique,
        "1733580000_0.4242.host,U=17,FMD5=7e33429f656f1e6e9d79b29c3f82c57e"
    );
    assert_eq!(message.uid, Some(17));
    assert_eq!(message.fmd5, Some("7e33429f656f1e6e9d79b29c3f82c57e"));
    assert_eq!(message.flags, "FS");
    assert_eq!(message.uid_in(&folder_md5("INBOX")), Some(17));
    // Moved into another folder: OfflineIMAP takes it for a new message there.
    assert_eq!(message.uid_in(&folder_md5("Archive.2024")), None);

    // pimlink's, mutt's or Dovecot's names carry no UID.
    let plain = MessageName::parse("1733580000.M1P2Q3R4.host:2,S");
    assert_eq!((plain.uid, plain.fmd5, plain.flags), (None, None, "S"));
    assert_eq!(plain.unique, "1733580000.M1P2Q3R4.host");
    // In new/, without an info part.
    let new = MessageName::parse("1733580000_1.4242.host,U=3,FMD5=abc");
    assert_eq!((new.uid, new.fmd5, new.flags), (Some(3), Some("abc"), ""));
    // Dovecot's ,S= and ,W= fields are not the UID; a zero or garbage UID is none.
    let dovecot = MessageName::parse("1.M2P3.host,S=1200,W=1230:2,");
    assert_eq!((dovecot.uid, dovecot.fmd5), (None, None));
    assert_eq!(MessageName::parse("x,U=0,FMD5=a").uid, None);
    assert_eq!(MessageName::parse("x,U=1a,FMD5=a").uid, None);
}

#[test]
fn a_version_2_database_is_read_with_flags_mtime_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("INBOX");
    database(
        &path,
        SCHEMA_V2,
        "INSERT INTO status VALUES (1, 'SF', 1700000000, '');
         INSERT INTO status VALUES (7, '', 0, 'work, \\Important');
         INSERT INTO status VALUES (9, NULL, NULL, NULL);",
    );
    let status = read_status_sqlite(&path).unwrap();
    assert_eq!(status.len(), 3);
    // Flags come back in ASCII order whatever order the row has.
    assert_eq!(status[&1], entry("FS", 1700000000, &[]));
    assert_eq!(status[&7], entry("", 0, &["work", "\\Important"]));
    assert_eq!(status[&9], entry("", 0, &[]));
}

#[test]
fn a_version_1_database_is_read_without_mtime_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("INBOX");
    database(&path, SCHEMA_V1, "INSERT INTO status VALUES (4, 'RS');");
    let status = read_status_sqlite(&path).unwrap();
    assert_eq!(status[&4], entry("RS", 0, &[]));
}

#[test]
fn databases_offlineimap_did_not_write_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let future = dir.path().join("future");
    database(
        &future,
        &SCHEMA_V2.replace("'db_version', '2'", "'db_version', '3'"),
        "",
    );
    let error = read_status_sqlite(&future).unwrap_err().to_string();
    assert!(
        error.contains("future") && error.contains("\"3\""),
        "{error}"
    );

    let negative = dir.path().join("negative");
    database(
        &negative,
        SCHEMA_V2,
        "INSERT INTO status VALUES (-1, 'S', 0, '');",
    );
    let error = read_status_sqlite(&negative).unwrap_err().to_string();
    assert!(
        error.contains("negative") && error.contains("-1"),
        "{error}"
    );

    let text = dir.path().join("text");
    fs::write(
        &text,
        "not a database at all, but long enough to have a header....",
    )
    .unwrap();
    let error = read_status_sqlite(&text).unwrap_err().to_string();
    assert!(error.contains("text"), "{error}");
}

#[test]
fn plain_status_files_of_both_formats_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let v2 = dir.path().join("v2");
    fs::write(
        &v2,
        format!("{MAGIC}2\n1|SF|1700000000|\n2||0|a, b\n\n3|R|5|\n"),
    )
    .unwrap();
    let status = read_status_plain(&v2).unwrap();
    assert_eq!(status.len(), 3);
    assert_eq!(status[&1], entry("FS", 1700000000, &[]));
    assert_eq!(status[&2], entry("", 0, &["a", "b"]));
    assert_eq!(status[&3], entry("R", 5, &[]));

    let v1 = dir.path().join("v1");
    fs::write(&v1, format!("{MAGIC}1\n10:S\n11:\n")).unwrap();
    let status = read_status_plain(&v1).unwrap();
    assert_eq!(status[&10], entry("S", 0, &[]));
    assert_eq!(status[&11], entry("", 0, &[]));
}

#[test]
fn malformed_plain_status_files_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "magic",
            "OFFLINEIMAP LocalStatus CACHE DATA - FORMAT 9\n1|S|0|\n",
            ":1:",
        ),
        ("fields", &format!("{MAGIC}2\n1|S|0|\n2|S|0\n"), ":3:"),
        ("mtime", &format!("{MAGIC}2\n1|S|soon|\n"), ":2:"),
        ("uid", &format!("{MAGIC}1\n0:S\n"), ":2:"),
        ("colon", &format!("{MAGIC}1\n5\n"), ":2:"),
    ];
    for (name, text, line) in cases {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        let error = read_status_plain(&path).unwrap_err().to_string();
        assert!(error.contains(&format!("{name}{line}")), "{name}: {error}");
    }
}

#[test]
fn the_database_wins_over_the_plain_file_and_a_folder_without_either_has_no_status() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = Metadata::new(dir.path());
    let account = dir.path().join("Account-main");
    fs::create_dir_all(account.join("LocalStatus")).unwrap();
    fs::write(
        account.join("LocalStatus/INBOX"),
        format!("{MAGIC}2\n1|S|0|\n"),
    )
    .unwrap();
    fs::write(
        account.join("LocalStatus/Archive.2024"),
        format!("{MAGIC}2\n5|F|0|\n"),
    )
    .unwrap();
    database(
        &account.join("LocalStatus-sqlite/INBOX"),
        SCHEMA_V2,
        "INSERT INTO status VALUES (2, 'R', 0, '');",
    );
    assert_eq!(metadata.accounts().unwrap(), ["main"]);
    let inbox = metadata.status("main", "INBOX").unwrap().unwrap();
    assert_eq!(inbox.keys().collect::<Vec<_>>(), [&2]);
    // A name with `/` is looked up under its file name.
    let archive = metadata.status("main", "Archive/2024").unwrap().unwrap();
    assert_eq!(archive[&5].flags, "F");
    assert_eq!(metadata.status("main", "Sent").unwrap(), None);
    assert_eq!(metadata.status("other", "INBOX").unwrap(), None);
}

#[test]
fn the_server_validity_is_the_one_that_is_not_the_maildir_magic_42() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = Metadata::new(dir.path());
    for (repository, value) in [("local", "42\n"), ("remote", "1700000123\n")] {
        let validity = dir
            .path()
            .join(format!("Repository-{repository}/FolderValidity"));
        fs::create_dir_all(&validity).unwrap();
        fs::write(validity.join("INBOX"), value).unwrap();
    }
    assert_eq!(metadata.repositories().unwrap(), ["local", "remote"]);
    assert_eq!(
        metadata.folder_validity("local", "INBOX").unwrap(),
        Some(42)
    );
    assert_eq!(metadata.server_validity("INBOX").unwrap(), Some(1700000123));
    assert_eq!(metadata.server_validity("Sent").unwrap(), None);

    // Two accounts' remote repositories disagree: no guess.
    let second = dir.path().join("Repository-remote2/FolderValidity");
    fs::create_dir_all(&second).unwrap();
    fs::write(second.join("INBOX"), "5\n").unwrap();
    assert_eq!(metadata.server_validity("INBOX").unwrap(), None);

    fs::write(second.join("Sent"), "soon\n").unwrap();
    let error = metadata.server_validity("Sent").unwrap_err().to_string();
    assert!(error.contains("Sent:1:"), "{error}");
}

#[test]
fn a_folder_is_paired_as_offlineimap_pairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = Metadata::new(dir.path().join("meta"));
    database(
        &dir.path()
            .join("meta/Account-main/LocalStatus-sqlite/Archive.2024"),
        SCHEMA_V2,
        "INSERT INTO status VALUES (1, 'S', 0, '');
         INSERT INTO status VALUES (2, 'FS', 0, '');
         INSERT INTO status VALUES (3, '', 0, '');",
    );
    let validity = dir.path().join("meta/Repository-remote/FolderValidity");
    fs::create_dir_all(&validity).unwrap();
    fs::write(validity.join("Archive.2024"), "77\n").unwrap();

    let folder = dir.path().join("mail/Archive.2024");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(folder.join(sub)).unwrap();
    }
    let md5 = folder_md5("Archive.2024");
    let other = folder_md5("INBOX");
    let files = [
        // Synced, flags changed locally since (S -> RS).
        format!("cur/100_0.1.h,U=1,FMD5={md5}:2,RS"),
        // Synced, in new/.
        format!("new/100_1.1.h,U=2,FMD5={md5}"),
        // UID 3 is gone: deleted locally.
        // Moved here from INBOX by a mail reader: new to OfflineIMAP.
        format!("cur/100_2.1.h,U=2,FMD5={other}:2,S"),
        // Delivered locally (mutt, procmail, pimlink).
        "cur/1733580000.M1P2Q3R4.host:2,".to_owned(),
        // A UID the status does not know, in this folder's name.
        format!("cur/100_3.1.h,U=9,FMD5={md5}:2,"),
        // Tools' dot-files and tmp/ are no messages.
        ".hidden".to_owned(),
        "tmp/100_4.1.h".to_owned(),
    ];
    for file in &files {
        let path = if file.starts_with('.') {
            folder.join("cur").join(file)
        } else {
            folder.join(file)
        };
        fs::write(path, "Subject: x\n\nbody\n").unwrap();
    }
    let place = FolderPlace {
        account: "main",
        local_name: "Archive.2024",
        sep: '.',
        dir: &folder,
    };
    let state = read_folder(&metadata, &place).unwrap().unwrap();
    assert_eq!(state.uid_validity, Some(77));
    assert_eq!(
        state.paired,
        [
            Paired {
                uid: 1,
                unique: format!("100_0.1.h,U=1,FMD5={md5}"),
                synced_flags: "S".to_owned(),
            },
            Paired {
                uid: 2,
                unique: format!("100_1.1.h,U=2,FMD5={md5}"),
                synced_flags: "FS".to_owned(),
            },
        ]
    );
    assert_eq!(state.deleted_locally, [(3, String::new())]);
    assert_eq!(state.unrecorded, [(9, format!("100_3.1.h,U=9,FMD5={md5}"))]);
    assert_eq!(
        state.new_locally,
        [
            format!("100_2.1.h,U=2,FMD5={other}"),
            "1733580000.M1P2Q3R4.host".to_owned(),
        ]
    );

    // With `sep = /` the same folder is Archive/2024 on disk, hashed so, with the same status.
    let place = FolderPlace {
        local_name: "Archive/2024",
        sep: '/',
        ..place
    };
    assert_eq!(place.status_name(), "Archive.2024");
    let state = read_folder(&metadata, &place).unwrap().unwrap();
    assert!(state.paired.is_empty(), "other FMD5: {state:?}");

    // A folder OfflineIMAP never synced has no state.
    let place = FolderPlace {
        local_name: "Sent",
        ..place
    };
    assert_eq!(read_folder(&metadata, &place).unwrap(), None);
}

#[test]
fn a_written_status_reads_back_and_keeps_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("LocalStatus-sqlite").join("INBOX");
    fs::create_dir_all(fresh.parent().unwrap()).unwrap();
    write_status_sqlite(&fresh, &[(3, "SF".to_owned()), (7, String::new())]).unwrap();
    let status = read_status_sqlite(&fresh).unwrap();
    assert_eq!(
        status
            .iter()
            .map(|(uid, e)| (*uid, e.flags.as_str()))
            .collect::<Vec<_>>(),
        [(3, "FS"), (7, "")]
    );
    // Written again: the rows are replaced, not added to.
    write_status_sqlite(&fresh, &[(7, "S".to_owned())]).unwrap();
    assert_eq!(read_status_sqlite(&fresh).unwrap().len(), 1);

    let old = dir.path().join("v1");
    database(&old, SCHEMA_V1, "INSERT INTO status VALUES (1, 'S');");
    write_status_sqlite(&old, &[(2, "R".to_owned())]).unwrap();
    let status = read_status_sqlite(&old).unwrap();
    assert_eq!(status.keys().copied().collect::<Vec<_>>(), [2]);
}
