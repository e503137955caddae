//! Where a storage's tokens are kept between runs: the Secret Service keyring when one is
//! reachable (through libsecret's `secret-tool`, as `password = { keyring }` reads it), else
//! a file readable by the user only, `STATE_DIR/oauth2/STORAGE.json`. The access token and its
//! expiry are kept beside the refresh token, so that a run from cron every few minutes reuses
//! the token instead of asking the provider each time.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::error::{OAuth2Error, OAuth2ErrorKind};
use crate::config::OAuth2Source;

/// The keyring attribute `service` of every pimlink token; `storage` names the storage.
pub const KEYRING_SERVICE: &str = "pimlink-oauth2";

/// What is kept for a storage.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Tokens {
    pub refresh_token: String,
    #[serde(default)]
    pub access_token: Option<String>,
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where the tokens of a storage are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// In the keyring, under `service=pimlink-oauth2 storage=NAME`.
    Keyring,
    /// In this file (mode 0600).
    File(PathBuf),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Keyring => write!(f, "the keyring (attribute service={KEYRING_SERVICE})"),
            Place::File(path) => write!(f, "{} (readable by you only)", path.display()),
        }
    }
}

/// The token file of `source`'s storage.
pub fn file_path(source: &OAuth2Source) -> PathBuf {
    source
        .state_dir
        .join("oauth2")
        .join(format!("{}.json", source.storage))
}

fn storage_error(source: &OAuth2Source, what: String) -> OAuth2Error {
    OAuth2Error::new(
        OAuth2ErrorKind::Storage,
        format!("storage {:?}: {what}", source.storage),
    )
}

/// The stored tokens and where they are; `None` if there are none. The file wins over the
/// keyring: it is only written when no keyring was reachable.
pub(crate) fn load(source: &OAuth2Source) -> Result<Option<(Tokens, Place)>, OAuth2Error> {
    let path = file_path(source);
    match fs::read(&path) {
        Ok(bytes) => {
            let tokens = serde_json::from_slice(&bytes).map_err(|e| {
                storage_error(
                    source,
                    format!(
                        "{} is not a token file ({e}); remove it and run `pimlink auth {}`",
                        path.display(),
                        source.storage
                    ),
                )
            })?;
            return Ok(Some((tokens, Place::File(path))));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(storage_error(
                source,
                format!("cannot read {}: {e}", path.display()),
            ));
        }
    }
    if !keyring_reachable() {
        return Ok(None);
    }
    let output = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            KEYRING_SERVICE,
            "storage",
            &source.storage,
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => {
            match serde_json::from_slice(&out.stdout) {
                Ok(tokens) => Ok(Some((tokens, Place::Keyring))),
                Err(e) => Err(storage_error(
                    source,
                    format!(
                        "the keyring's entry is not a token ({e}); run `pimlink auth {}`",
                        source.storage
                    ),
                )),
            }
        }
        _ => Ok(None),
    }
}

/// A session bus to find the Secret Service on; without one `secret-tool` can only fail
/// (or try to start a bus for an X11 display).
fn keyring_reachable() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty())
}

/// Keeps `tokens` where they were.
pub(crate) fn save(
    source: &OAuth2Source,
    tokens: &Tokens,
    place: &Place,
) -> Result<(), OAuth2Error> {
    match place {
        Place::Keyring => keyring_store(source, tokens),
        Place::File(path) => write_file(source, path, tokens),
    }
}

/// Keeps the tokens of a new authorization: in the keyring if one takes them (and then no
/// file is left to shadow them), else in the file.
pub(crate) fn save_new(source: &OAuth2Source, tokens: &Tokens) -> Result<Place, OAuth2Error> {
    let path = file_path(source);
    if keyring_reachable() && keyring_store(source, tokens).is_ok() {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(storage_error(
                    source,
                    format!(
                        "stored in the keyring, but cannot remove the old {}: {e}",
                        path.display()
                    ),
                ));
            }
        }
        return Ok(Place::Keyring);
    }
    write_file(source, &path, tokens)?;
    Ok(Place::File(path))
}

fn keyring_store(source: &OAuth2Source, tokens: &Tokens) -> Result<(), OAuth2Error> {
    let json = serde_json::to_vec(tokens).map_err(|e| storage_error(source, e.to_string()))?;
    let label = format!("pimlink OAuth2 tokens of storage {}", source.storage);
    let child = Command::new("secret-tool")
        .args(["store", &format!("--label={label}")])
        .args(["service", KEYRING_SERVICE, "storage", &source.storage])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let fail = |what: String| {
        storage_error(
            source,
            format!("cannot store the token in the keyring: {what}"),
        )
    };
    let mut child = child.map_err(|e| fail(format!("secret-tool could not be started ({e})")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&json).map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(fail(
            said.lines()
                .next()
                .unwrap_or("secret-tool failed")
                .to_owned(),
        ));
    }
    Ok(())
}

/// Writes the token file durably, readable by the user only from its first byte.
fn write_file(source: &OAuth2Source, path: &PathBuf, tokens: &Tokens) -> Result<(), OAuth2Error> {
    let fail = |e: &dyn std::fmt::Display| {
        storage_error(source, format!("cannot write {}: {e}", path.display()))
    };
    let dir = path.parent().unwrap_or(&source.state_dir);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail(&e))?;
    let json = serde_json::to_vec_pretty(tokens).map_err(|e| fail(&e))?;
    // tempfile creates its files with mode 0600.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    file.as_file()
        .set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| fail(&e))?;
    file.write_all(&json).map_err(|e| fail(&e))?;
    file.as_file().sync_all().map_err(|e| fail(&e))?;
    file.persist(path).map_err(|e| fail(&e.error))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail(&e))?;
    Ok(())
}
