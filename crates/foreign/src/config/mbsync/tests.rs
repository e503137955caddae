//! Unit tests of the `.mbsyncrc` parser.

use std::path::Path;

use super::super::ConfigFileError;
use super::*;

fn read(text: &str) -> Result<MbsyncConfig, ConfigFileError> {
    parse(Path::new("/home/me/.mbsyncrc"), text)
}

const RC: &str = r#"# global defaults
Sync Pull New Flags
Expunge Both

IMAPAccount work
Host imap.example.com
User "me@example.com"
PassCmd "+pass show mail/work"
TLSType IMAPS
CertificateFile ~/.certs/work.pem
SomethingNew yes

IMAPStore work-remote
Account work
Path INBOX.
Trash Trash

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX
SubFolders Verbatim
Flatten .

IMAPStore home-remote
Host localhost
Port 10143
SSLType None
Pass "se cret"

Channel work
Master :work-remote:
Slave :work-local:
Patterns * !Junk "!Deleted Items"
Create Near
MaxMessages 500
MaxSize 10m

Group all
Channels work
Channel other:INBOX,Sent
"#;

#[test]
fn reads_sections_options_and_old_spellings() {
    let config = read(RC).unwrap();
    assert_eq!(
        config.defaults.sync,
        Some(SyncOps {
            pull: Ops {
                new: true,
                flags: true,
                ..Ops::NONE
            },
            push: Ops::NONE
        })
    );
    let work = &config.accounts[0];
    assert_eq!(work.user.as_deref(), Some("me@example.com"));
    assert_eq!(work.pass_cmd.as_deref(), Some("pass show mail/work"));
    assert_eq!(work.tls, Some(TlsType::Imaps));
    assert_eq!(work.other[0].key, "SomethingNew");
    assert_eq!(work.other[0].line, 11);
    // An IMAPStore with account options of its own is an account of its name.
    let home = config
        .accounts
        .iter()
        .find(|a| a.name == "home-remote")
        .unwrap();
    assert_eq!(home.port, Some(10143));
    assert_eq!(home.pass.as_deref(), Some("se cret"));
    assert_eq!(config.imap_stores[1].account, "home-remote");
    let local = &config.maildir_stores[0];
    assert_eq!(local.store.flatten.as_deref(), Some("."));
    assert_eq!(local.sub_folders, Some(SubFolders::Verbatim));
    let channel = &config.channels[0];
    assert_eq!(channel.far.store, "work-remote");
    assert_eq!(channel.patterns, ["*", "!Junk", "!Deleted Items"]);
    assert_eq!(channel.options.max_size, Some(10 * 1024 * 1024));
    assert_eq!(
        channel.options.create,
        Some(Sides {
            far: false,
            near: true
        })
    );
    assert_eq!(config.groups[0].channels, ["work", "other:INBOX,Sent"]);
}

fn sync(words: &str) -> SyncOps {
    let text = format!("Sync {words}\n");
    read(&text).unwrap().defaults.sync.unwrap()
}

#[test]
fn sync_follows_the_matrix_of_the_manual() {
    let new_flags = Ops {
        new: true,
        flags: true,
        ..Ops::NONE
    };
    assert_eq!(sync("Push").pull, Ops::NONE);
    assert_eq!(sync("Push").push, Ops::ALL);
    assert_eq!(sync("New Flags").pull, new_flags);
    assert_eq!(sync("New Flags").push, new_flags);
    let mixed = sync("PullNew PullDelete Push");
    assert_eq!(
        mixed.pull,
        Ops {
            new: true,
            delete: true,
            ..Ops::NONE
        }
    );
    assert_eq!(mixed.push, Ops::ALL);
    assert_eq!(sync("All").pull, Ops::ALL);
    assert_eq!(sync("None").push, Ops::NONE);
}

#[test]
fn errors_name_the_line() {
    let cases = [
        ("IMAPAccount a\nPort many\n", 2),
        ("Channel c\nFar work\n", 2),
        ("Channel c\nFar :nowhere:\nNear :nowhere:\n", 1),
        ("IMAPStore s\nAccount missing\n", 1),
        ("\nSync Sideways\n", 2),
        ("IMAPAccount a\nPassCmd pass show x\n", 2),
        ("IMAPAccount a\nUser \"unterminated\n", 2),
        ("MaildirStore m\nSubFolders Deep\n", 2),
    ];
    for (text, line) in cases {
        let error = read(text).unwrap_err();
        assert_eq!(error.line, line, "{text}: {error}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("/home/me/.mbsyncrc:{line}: ")),
            "{error}"
        );
    }
}
