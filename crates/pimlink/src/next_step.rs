//! What to do next, after a failure that stopped a pair: one line for each class of failure a
//! user meets (a server that cannot be reached, a certificate that is not trusted, a file or
//! directory pimlink may not use, a full disk), naming the storage it concerns and the keys or
//! commands to look at. The error itself already says what was tried; this says what to try.
//!
//! A refused login carries its own advice (`failure::refused_login`), a configuration error
//! names the file, line and key, and a busy pair names the process that holds it: those get no
//! line here. Not here: the error's wording (the libraries), exit statuses (`failure`).

use std::io;

use pimlink_core::ErrorKind;

use crate::config::{Config, ImapEndpoint, StorageConfig, StorageKind};
use crate::endpoint::url_host;

/// The class of a failure, for what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// The server did not answer: refused, timed out, unknown host, no route.
    Unreachable,
    /// TLS: the server's certificate is not trusted (or not the pinned one).
    Untrusted,
    /// The operating system refused access to a file or directory.
    PermissionDenied,
    /// A disk is full.
    DiskFull,
}

/// The advice for `error`, which stopped work on `storages` (a pair's two, or the one
/// `pimlink check` tried), or `None` when there is nothing to add.
pub fn next_step(config: &Config, storages: &[&str], error: &anyhow::Error) -> Option<String> {
    let class = classify(error)?;
    let text = format!("{error:#}");
    let storage = concerned_storage(config, storages, &text);
    Some(advice(class, storage, &text))
}

/// True if `error` is a server certificate pimlink does not trust: the storage could not be
/// opened (exit status 3), whatever kind the library gave it (the IMAP client calls it a
/// refusal, so that it is not retried).
pub fn is_untrusted_certificate(error: &anyhow::Error) -> bool {
    classify(error) == Some(Class::Untrusted)
}

fn classify(error: &anyhow::Error) -> Option<Class> {
    let text = format!("{error:#}").to_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| text.contains(w));
    // Certificates first: the IMAP client reports an untrusted certificate as a refusal (it
    // is not retried), and a handshake failure is also a connection failure.
    if says(&["certificate", "unknownissuer", "pinned"]) {
        return Some(Class::Untrusted);
    }
    let kind = error
        .chain()
        .find_map(|e| e.downcast_ref::<pimlink_core::Error>())
        .map(|e| e.kind());
    if matches!(
        kind,
        Some(ErrorKind::Auth | ErrorKind::Config | ErrorKind::Busy | ErrorKind::Refused)
    ) {
        return None;
    }
    let io_kind = error
        .chain()
        .find_map(|e| e.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    if io_kind == Some(io::ErrorKind::StorageFull)
        || says(&["no space left"])
        || (text.contains("disk") && text.contains(" full"))
    {
        return Some(Class::DiskFull);
    }
    if io_kind == Some(io::ErrorKind::PermissionDenied) || says(&["permission denied"]) {
        return Some(Class::PermissionDenied);
    }
    let unreachable_io = matches!(
        io_kind,
        Some(
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::TimedOut
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
        )
    );
    if unreachable_io
        || says(&[
            "connection refused",
            "timed out",
            "failed to lookup address",
            "name or service not known",
            "no route to host",
            "network is unreachable",
            "dns error",
        ])
    {
        return Some(Class::Unreachable);
    }
    None
}

/// The storage among `names` whose server or path `text` names; the only one if there is one.
fn concerned_storage<'c>(
    config: &'c Config,
    names: &[&str],
    text: &str,
) -> Option<&'c StorageConfig> {
    if let [only] = names {
        return config.storages.get(*only);
    }
    names
        .iter()
        .filter_map(|name| config.storages.get(*name))
        .find(|storage| {
            where_it_is(storage)
                .iter()
                .any(|place| !place.is_empty() && text.contains(place.as_str()))
        })
}

/// The strings an error about `storage` would contain: its host and port, or its path.
fn where_it_is(storage: &StorageConfig) -> Vec<String> {
    match &storage.kind {
        StorageKind::Imap(imap) => match &imap.endpoint {
            ImapEndpoint::Tcp { host, port, .. } => vec![format!("{host}:{port}")],
            ImapEndpoint::Tunnel { command } => vec![command.clone()],
        },
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => {
            url_host(&dav.url).into_iter().collect()
        }
        StorageKind::Webcal(webcal) => url_host(&webcal.url).into_iter().collect(),
        StorageKind::Maildir(maildir) => vec![maildir.path.display().to_string()],
        StorageKind::Vdir(vdir) => vec![vdir.path.display().to_string()],
    }
}

fn advice(class: Class, storage: Option<&StorageConfig>, text: &str) -> String {
    let table = storage.map_or("the storage's table".to_owned(), |s| {
        format!("[storage.{}]", s.name)
    });
    let named = storage.map_or(String::new(), |s| format!("storage {:?}: ", s.name));
    match class {
        Class::Unreachable => format!(
            "{named}is the server running and reachable from this machine? Check host and port \
             (or url) in {table}; `pimlink check` tries every storage. Nothing was changed; \
             a later run (or the daemon, by itself) picks up where this one stopped."
        ),
        Class::Untrusted => format!(
            "{named}the server's certificate is not trusted. If the server uses a private CA, \
             set ca_file to its certificate (PEM) in {table}; to trust exactly this \
             certificate, set cert_fingerprint to its SHA-256 fingerprint (see pimlink-config(5)). \
             If the certificate changed unexpectedly, find out why before trusting it."
        ),
        Class::PermissionDenied => format!(
            "{named}pimlink (running as {}) may not use a file or directory named above: check \
             its owner and mode (ls -ld), or point state_dir / path in the configuration \
             somewhere it may write.",
            user_name()
        ),
        Class::DiskFull => {
            let path = quoted_path(text).unwrap_or_else(|| "the directory named above".to_owned());
            format!(
                "{named}free some space on the file system of {path} (df -h) and run again: what \
                 was synced so far is kept, and the run resumes from there."
            )
        }
    }
}

/// The first absolute path in `text`, for the disk-full advice.
fn quoted_path(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|word| word.starts_with('/'))
        .map(|word| word.trim_end_matches([':', ',', ')', '.']).to_owned())
}

/// The user pimlink runs as, by name where /etc/passwd has it ($USER may be another's after
/// su or setpriv).
fn user_name() -> String {
    let uid = rustix::process::getuid().as_raw();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid.to_string()).then(|| format!("user {name}"))
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(error: anyhow::Error) -> Option<Class> {
        classify(&error)
    }

    #[test]
    fn failures_are_told_apart_by_their_causes() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            class_of(anyhow::Error::new(refused).context("listing")),
            Some(Class::Unreachable)
        );
        assert_eq!(
            class_of(anyhow::anyhow!(
                "invalid peer certificate: UnknownIssuer (connection refused later)"
            )),
            Some(Class::Untrusted),
            "a certificate problem is not a reachability one"
        );
        assert_eq!(
            class_of(anyhow::Error::new(io::Error::from(
                io::ErrorKind::PermissionDenied
            ))),
            Some(Class::PermissionDenied)
        );
        assert_eq!(
            class_of(anyhow::Error::new(io::Error::from(
                io::ErrorKind::StorageFull
            ))),
            Some(Class::DiskFull)
        );
        let login = pimlink_core::Error::new(ErrorKind::Auth, "refused: connection refused?");
        assert_eq!(
            class_of(login.into()),
            None,
            "a refused login has its own advice"
        );
        assert_eq!(class_of(anyhow::anyhow!("something else")), None);
    }

    #[test]
    fn the_disk_full_advice_names_the_path() {
        assert_eq!(
            quoted_path("writing /home/me/Mail/INBOX/tmp/1.x: No space left on device").as_deref(),
            Some("/home/me/Mail/INBOX/tmp/1.x")
        );
    }
}
