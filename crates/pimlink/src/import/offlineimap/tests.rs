//! Unit tests of the OfflineIMAP import.

use std::path::Path;

use super::folders::filter_patterns;
use super::*;

fn import(repositories: &str) -> (toml::Table, String) {
    let text = format!(
        "[general]\naccounts = A\n[Account A]\nlocalrepository = L\nremoterepository = R\n\
         {repositories}"
    );
    let config = pimlink_foreign::config::offlineimap::parse(Path::new("/rc"), &text).unwrap();
    let out = translate(&config).render();
    (out.parse().unwrap(), out)
}

/// Dovecot's and Courier's `INBOX.` namespace, removed by the remote nametrans or added by
/// the local one, is the pair's prefix_a; the filter's names are written below it.
#[test]
fn namespace_prefixes_become_prefix_a() {
    let (table, out) = import(
        "[Repository L]\ntype = Maildir\nlocalfolders = /m\nnametrans = lambda f: 'INBOX.' + f\n\
         [Repository R]\ntype = IMAP\nremotehost = h\n\
         folderfilter = lambda f: f not in ['INBOX.Trash', 'INBOX.Lists.old']\n",
    );
    let pair = &table["pair"]["A"];
    assert_eq!(pair["prefix_a"].as_str(), Some("INBOX/"), "{out}");
    let collections: Vec<&str> = pair["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(collections, ["*", "!Trash", "!Lists/old"]);
    assert!(!out.contains("not imported: nametrans"), "{out}");

    let (table, out) = import(
        "[Repository L]\ntype = Maildir\nlocalfolders = /m\n\
         [Repository R]\ntype = IMAP\nremotehost = h\n\
         nametrans = lambda f: re.sub('^INBOX\\.', '', f)\n",
    );
    assert_eq!(
        table["pair"]["A"]["prefix_a"].as_str(),
        Some("INBOX/"),
        "{out}"
    );

    let (table, out) = import(
        "[Repository L]\ntype = Maildir\nlocalfolders = /m\n\
         [Repository R]\ntype = IMAP\nremotehost = h\nnametrans = lambda f: 'Server.' + f\n",
    );
    assert_eq!(
        table["pair"]["A"]["prefix_b"].as_str(),
        Some("Server/"),
        "{out}"
    );
}

#[test]
fn password_expressions_become_commands() {
    let cases = [
        (
            "keyring.get_password('imap', 'me@example.org')",
            Some("secret-tool lookup service imap username me@example.org"),
        ),
        (
            "subprocess.check_output(['pass', 'show', 'mail/my work']).strip().decode()",
            Some("pass show 'mail/my work'"),
        ),
        (
            "os.popen('gpg -dq ~/.pw.gpg').read()[:-1]",
            Some("gpg -dq ~/.pw.gpg"),
        ),
        ("get_password_emacs('imap.example.org')", None),
    ];
    for (expression, command) in cases {
        assert_eq!(
            password_command(expression).as_deref(),
            command,
            "{expression}"
        );
    }
}

#[test]
fn filters_become_patterns() {
    let none = |name: &str| name.to_owned();
    let strip = |name: &str| name.strip_prefix("INBOX.").unwrap_or(name).to_owned();
    type Case<'c> = (&'c str, &'c dyn Fn(&str) -> String, Option<Vec<&'c str>>);
    let cases: [Case; 5] = [
        (
            "lambda f: f in ['INBOX', 'Sent']",
            &none,
            Some(vec!["INBOX", "Sent"]),
        ),
        (
            "lambda f: f not in ['INBOX.Junk'] and not f.startswith('INBOX.Old')",
            &strip,
            Some(vec!["*", "!Junk", "!Old*"]),
        ),
        (
            "lambda f: f.startswith('Lists') or f == 'INBOX'",
            &none,
            Some(vec!["Lists*", "INBOX"]),
        ),
        (
            "lambda f: f == '50% off*'",
            &none,
            Some(vec![r"50\% off\*"]),
        ),
        ("lambda f: f in ['a'] and f in ['b']", &none, None),
    ];
    for (text, strip, want) in cases {
        let got = filter_patterns(&python::filter(text), strip);
        let want = want.map(|w| w.into_iter().map(String::from).collect::<Vec<_>>());
        assert_eq!(got, want, "{text}");
    }
}
