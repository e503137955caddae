//! `pimlink init`: a starting configuration for one account (mail over IMAP into a Maildir,
//! calendars and contacts over CalDAV/CardDAV into vdirs), printed or written where pimlink
//! looks for it. Everything in it is a guess from the address, commented so that the user knows
//! what to check; it passes the configuration checks as written.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::{InitArgs, exit};
use crate::failure::{UsageError, exit_code};
use crate::output::Output;

/// Runs `init` and returns the exit status. `path` is where the configuration goes with
/// `--write` (`-c FILE`, or the default path).
pub fn run(args: &InitArgs, path: &Path, output: &Output) -> u8 {
    let text = match starting_config(args.address.as_deref()) {
        Ok(text) => text,
        Err(error) => {
            output.error(&error);
            return exit_code(&error);
        }
    };
    if !args.write {
        print!("{text}");
        return exit::OK;
    }
    match write(path, &text, args.force) {
        Ok(()) => {
            output.info(format!(
                "wrote {}: check the lines marked CHECK, then run `pimlink check`",
                path.display()
            ));
            exit::OK
        }
        Err(error) => {
            output.error(&error);
            exit_code(&error)
        }
    }
}

/// The configuration for `address` (`me@example.org`), or with placeholders.
fn starting_config(address: Option<&str>) -> Result<String> {
    let (user, domain) =
        match address {
            Some(address) => {
                let (local, domain) = address.rsplit_once('@').filter(|(l, d)| {
                !l.is_empty() && !d.is_empty() && d.contains('.') && is_plain(l) && is_plain(d)
            })
            .ok_or_else(|| {
                UsageError(format!(
                    "--address {address:?}: expected an e-mail address such as me@example.org"
                ))
            })?;
                (format!("{local}@{domain}"), domain.to_owned())
            }
            None => ("me@example.org".to_owned(), "example.org".to_owned()),
        };
    Ok(format!(
        r#"# pimlink configuration for {user}, written by `pimlink init`.
# Every key is described in pimlink-config(5); `pimlink check` tries every storage.
# Lines marked CHECK are guesses from the address: correct them for your provider.

# Mail: the IMAP account, synced with a Maildir that mutt, neomutt, aerc or notmuch read.
[storage.mail-server]
type = "imap"
host = "imap.{domain}"  # CHECK: your provider's IMAP server
port = 993
tls = "implicit"
user = "{user}"  # CHECK
# CHECK: a command that prints the password (or an app password) on its first line, e.g.
# `pass show mail/{domain}`; or password = "..." (then keep this file private).
password_cmd = "secret-tool lookup service pimlink user {user}"

[storage.mail-local]
type = "maildir"
path = "~/Mail/{domain}"

[pair.mail]
a = "mail-server"
b = "mail-local"
collections = ["*"]

# Calendars and contacts: found from the domain (DNS SRV records, then
# https://{domain}/.well-known/caldav); khal and khard read the vdirs.
[storage.calendars-server]
type = "caldav"
domain = "{domain}"  # CHECK: or url = "https://..." of your provider's CalDAV server
user = "{user}"
password_cmd = "secret-tool lookup service pimlink user {user}"

[storage.calendars-local]
type = "vdir"
path = "~/.local/share/calendars"
fileext = ".ics"

[pair.calendars]
a = "calendars-server"
b = "calendars-local"
collections = ["from a", "from b"]

[storage.contacts-server]
type = "carddav"
domain = "{domain}"  # CHECK
user = "{user}"
password_cmd = "secret-tool lookup service pimlink user {user}"

[storage.contacts-local]
type = "vdir"
path = "~/.local/share/contacts"
fileext = ".vcf"

[pair.contacts]
a = "contacts-server"
b = "contacts-local"
collections = ["from a", "from b"]
"#
    ))
}

/// Letters, digits and the few marks addresses use: nothing that could break out of a TOML
/// string or a path.
fn is_plain(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || "._+-".contains(c))
}

/// Writes `text` to `path`, owner only, never over an existing file unless `force`.
fn write(path: &Path, text: &str, force: bool) -> Result<()> {
    if let Some(dir) = path.parent() {
        pimlink_core::private::dir_builder()
            .recursive(true)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() && !force {
        return Err(UsageError(format!(
            "{} exists; pimlink init does not replace it (--force does)",
            path.display()
        ))
        .into());
    }
    // Written beside it and renamed, so that a failure never leaves half a file.
    let temporary = path.with_extension("toml.new");
    let mut file = pimlink_core::private::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("renaming {} to {}", temporary.display(), path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starting_config_parses_and_guesses_from_the_address() {
        let text = starting_config(Some("jo.doe+x@mail.example.net")).unwrap();
        let config =
            crate::config::parse(&text, Path::new("/home/jo/.config/pimlink/config.toml")).unwrap();
        assert_eq!(config.pairs.len(), 3);
        assert!(text.contains("host = \"imap.mail.example.net\""));
        assert!(text.contains("user = \"jo.doe+x@mail.example.net\""));
        let placeholders = starting_config(None).unwrap();
        crate::config::parse(&placeholders, Path::new("/c.toml")).unwrap();
    }

    #[test]
    fn an_address_that_could_break_the_file_is_refused() {
        for bad in [
            "nobody",
            "a@b",
            "x\"@example.org",
            "me@exa mple.org",
            "@example.org",
        ] {
            assert!(starting_config(Some(bad)).is_err(), "{bad}");
        }
    }
}
