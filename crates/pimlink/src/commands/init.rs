//! `pimlink init`: a starting configuration for one account (mail over IMAP into a Maildir,
//! calendars and contacts over CalDAV/CardDAV into vdirs), printed or written where pimlink
//! looks for it. Everything in it is a guess from the address, commented so that the user knows
//! what to check; it passes the configuration checks as written.

use std::io::{self, BufRead, IsTerminal as _, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::{InitArgs, exit};
use crate::config::Provider;
use crate::failure::{UsageError, exit_code};
use crate::output::Output;

/// Runs `init` and returns the exit status. `path` is where the configuration goes with
/// `--write` (`-c FILE`, or the default path).
pub fn run(args: &InitArgs, path: &Path, output: &Output) -> u8 {
    let asked = if args.address.is_none() && args.provider.is_none() && io::stdin().is_terminal() {
        ask(&mut io::stdin().lock(), &mut io::stderr())
    } else {
        Ok((args.address.clone(), args.provider.clone()))
    };
    let text = asked
        .and_then(|(address, provider)| starting_config(address.as_deref(), provider.as_deref()));
    let text = match text {
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

/// Asks for the provider and the address (on `output`, reading `input`): the answers as the
/// flags would give them. An empty provider answer means "guess from the address".
fn ask(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<(Option<String>, Option<String>)> {
    let mut line = |prompt: &str| -> Result<String> {
        write!(output, "{prompt}")?;
        output.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer).context("reading the answer")?;
        Ok(answer.trim().to_owned())
    };
    let address = line("E-mail address: ")?;
    let provider = line("Provider (gmail, outlook, fastmail, icloud, other; empty: guess): ")?;
    let provider = (!provider.is_empty()).then_some(provider);
    if let Some(name) = &provider
        && name != "other"
        && Provider::from_name(name).is_none()
    {
        return Err(UsageError(format!(
            "provider {name:?}: expected gmail, outlook, fastmail, icloud or other"
        ))
        .into());
    }
    Ok((Some(address), provider))
}

/// The provider an address's domain belongs to, for the domains whose mail is known to be
/// there (a company's own domain hosted at one of them cannot be told).
fn guess(domain: &str) -> Option<Provider> {
    let name = match domain.to_ascii_lowercase().as_str() {
        "gmail.com" | "googlemail.com" => "gmail",
        "outlook.com" | "hotmail.com" | "live.com" | "msn.com" => "outlook",
        "fastmail.com" | "fastmail.fm" => "fastmail",
        "icloud.com" | "me.com" | "mac.com" => "icloud",
        _ => return None,
    };
    Provider::from_name(name)
}

/// The configuration for `address` (`me@example.org`), or with placeholders, using the preset
/// of `provider` (a name of `--provider`; guessed from the address when absent).
fn starting_config(address: Option<&str>, provider: Option<&str>) -> Result<String> {
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
    let provider = match provider {
        Some("other") => None,
        Some(name) => Some(Provider::from_name(name).ok_or_else(|| {
            UsageError(format!(
                "--provider {name:?}: expected gmail, outlook, fastmail, icloud or other"
            ))
        })?),
        None => guess(&domain),
    };
    let secret = format!("secret-tool lookup service pimlink user {user}");
    let mut text = format!(
        r#"# pimlink configuration for {user}, written by `pimlink init`.
# Every key is described in pimlink-config(5); `pimlink check` tries every storage.
# Lines marked CHECK are guesses from the address: correct them for your provider.

# Mail: the IMAP account, synced with a Maildir that mutt, neomutt, aerc or notmuch read.
[storage.mail-server]
type = "imap"
"#
    );
    match provider {
        Some(p) => text.push_str(&format!(
            "# The {name} preset: server, port, TLS, login and {name}'s quirks (pimlink-config(5)).\n\
             provider = \"{name}\"\n\
             user = \"{user}\"  # CHECK\n\
             {login}\n",
            name = p.name(),
            login = login_lines(p, &secret, "mail-server"),
        )),
        None => text.push_str(&format!(
            r#"host = "imap.{domain}"  # CHECK: your provider's IMAP server
port = 993
tls = "implicit"
user = "{user}"  # CHECK
# CHECK: a command that prints the password (or an app password) on its first line, e.g.
# `pass show mail/{domain}`; or password = "..." (then keep this file private).
password_cmd = "{secret}"
"#
        )),
    }
    let gmail_note = if provider == Some(Provider::Gmail) {
        "# The gmail preset leaves out [Gmail]/All Mail, Important and Starred (their messages are\n\
         # in other folders too); name one here to sync it anyway.\n"
    } else {
        ""
    };
    text.push_str(&format!(
        r#"
[storage.mail-local]
type = "maildir"
path = "~/Mail/{domain}"

[pair.mail]
a = "mail-server"
b = "mail-local"
{gmail_note}collections = ["*"]
"#
    ));
    for (kind, name, dir, ext, url) in [
        (
            "caldav",
            "calendars",
            "calendars",
            ".ics",
            provider.map(|p| p.caldav_url().is_some()),
        ),
        (
            "carddav",
            "contacts",
            "contacts",
            ".vcf",
            provider.map(|p| p.carddav_url().is_some()),
        ),
    ] {
        let login = match provider {
            Some(p) if p.oauth2_preset().is_some() => {
                login_lines(p, &secret, &format!("{name}-server"))
            }
            _ => format!("password_cmd = \"{secret}\""),
        };
        let server = match (provider, url) {
            (Some(p), Some(true)) => format!("provider = \"{}\"", p.name()),
            (Some(p), _) => {
                text.push_str(&format!(
                    "\n# {} has no {kind} preset, so {name} are not synced here; add a storage of\n\
                     # type \"{kind}\" with its url if your account has such a server.\n",
                    p.name()
                ));
                continue;
            }
            (None, _) => format!(
                "domain = \"{domain}\"  # CHECK: or url = \"https://...\" of your provider's \
                 {kind} server"
            ),
        };
        let found = if provider.is_none() && kind == "caldav" {
            format!(
                "# Calendars and contacts: found from the domain (DNS SRV records, then\n\
                 # https://{domain}/.well-known/caldav); khal and khard read the vdirs.\n"
            )
        } else {
            String::new()
        };
        text.push_str(&format!(
            r#"
{found}[storage.{name}-server]
type = "{kind}"
{server}
user = "{user}"
{login}

[storage.{name}-local]
type = "vdir"
path = "~/.local/share/{dir}"
fileext = "{ext}"

[pair.{name}]
a = "{name}-server"
b = "{name}-local"
collections = ["from a", "from b"]
"#
        ));
    }
    Ok(text)
}

/// How a preset's account logs in: Google and Microsoft through pimlink's OAuth2 (their
/// servers refuse passwords), the others with an app password from a command.
fn login_lines(provider: Provider, secret: &str, storage: &str) -> String {
    let app_password = match provider {
        Provider::Gmail | Provider::Outlook => {
            return format!(
                "# CHECK: {} refuses passwords: register an application (README: OAuth2), put its\n\
                 # client id here, then run `pimlink auth {storage}` once.\n\
                 oauth2 = {{ client_id = \"YOUR-CLIENT-ID\" }}",
                provider.name()
            );
        }
        Provider::Fastmail => {
            "# CHECK: a command that prints an app password (Fastmail: Settings > Privacy &\n\
             # Security > App passwords)."
        }
        Provider::Icloud => {
            "# CHECK: a command that prints an app-specific password (account.apple.com > Sign-In\n\
             # and Security > App-Specific Passwords)."
        }
    };
    format!("{app_password}\npassword_cmd = \"{secret}\"")
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
        let text = starting_config(Some("jo.doe+x@mail.example.net"), None).unwrap();
        let config =
            crate::config::parse(&text, Path::new("/home/jo/.config/pimlink/config.toml")).unwrap();
        assert_eq!(config.pairs.len(), 3);
        assert!(text.contains("host = \"imap.mail.example.net\""));
        assert!(text.contains("user = \"jo.doe+x@mail.example.net\""));
        let placeholders = starting_config(None, None).unwrap();
        crate::config::parse(&placeholders, Path::new("/c.toml")).unwrap();
    }

    #[test]
    fn a_provider_given_or_guessed_writes_its_preset_and_only_the_services_it_has() {
        let parse = |text: &str| crate::config::parse(text, Path::new("/c.toml")).unwrap();
        for (address, provider, name, pairs) in [
            ("me@gmail.com", None, "gmail", 2),
            ("me@example.org", Some("outlook"), "outlook", 1),
            ("me@fastmail.com", None, "fastmail", 3),
            ("me@example.org", Some("icloud"), "icloud", 3),
        ] {
            let text = starting_config(Some(address), provider).unwrap();
            let config = parse(&text);
            assert_eq!(config.pairs.len(), pairs, "{address}:\n{text}");
            let crate::config::StorageKind::Imap(imap) = &config.storages["mail-server"].kind
            else {
                panic!("{text}")
            };
            assert_eq!(imap.provider.map(Provider::name), Some(name), "{text}");
            assert!(!text.contains("host ="), "{text}");
            // Google and Microsoft log in through pimlink's OAuth2, the others with a password.
            let oauth2 = matches!(
                imap.credentials.as_ref().map(|c| &c.password),
                Some(crate::config::PasswordSource::OAuth2(_))
            );
            assert_eq!(oauth2, matches!(name, "gmail" | "outlook"), "{text}");
        }
        // "other", or an unknown domain, is today's guess from the address.
        for provider in [Some("other"), None] {
            let text = starting_config(Some("me@example.org"), provider).unwrap();
            assert!(text.contains("host = \"imap.example.org\""), "{text}");
            parse(&text);
        }
        assert!(starting_config(Some("me@example.org"), Some("yahoo")).is_err());
    }

    #[test]
    fn asking_reads_the_address_then_the_provider() {
        let mut prompts = Vec::new();
        let answers = ask(&mut &b"me@example.org\nfastmail\n"[..], &mut prompts).unwrap();
        assert_eq!(
            answers,
            (
                Some("me@example.org".to_owned()),
                Some("fastmail".to_owned())
            )
        );
        let prompts = String::from_utf8(prompts).unwrap();
        assert!(prompts.contains("E-mail address: ") && prompts.contains("Provider ("));
        let guessed = ask(&mut &b"me@icloud.com\n\n"[..], &mut Vec::new()).unwrap();
        assert_eq!(guessed.1, None);
        assert!(ask(&mut &b"me@example.org\nyahoo\n"[..], &mut Vec::new()).is_err());
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
            assert!(starting_config(Some(bad), None).is_err(), "{bad}");
        }
    }
}
