//! Passwords: kept out of logs and debug output, and fetched from a command only when needed.

use std::process::{Command, Stdio};

use super::error::{ConfigError, ConfigErrorKind};

pub use pimlink_core::Secret;

/// Where a storage's password comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// Written in the configuration file (`password = "..."`).
    Literal(Secret),
    /// The first line printed by a shell command (`password_cmd = "pass show mail"`), run only
    /// when [`PasswordSource::resolve`] is called, so that `pimlink check` of an unrelated pair
    /// does not pop up a password prompt.
    Command(String),
    /// The secret stored in the Secret Service keyring under the attributes `service` and
    /// `user` (`password = { keyring = { service, user } }`), looked up when needed with
    /// libsecret's `secret-tool`, as `secret-tool store --label=... service S user U` stores it.
    Keyring {
        /// The `service` attribute.
        service: String,
        /// The `user` attribute.
        user: String,
    },
    /// An OAuth2 access token (`oauth2 = { ... }`, issue 18), obtained with the refresh token
    /// `pimlink auth STORAGE` stored, and refreshed before it expires.
    OAuth2(Box<super::oauth2::OAuth2Source>),
}

impl PasswordSource {
    /// The password: the literal one, or the first line of the command's standard output with
    /// its line ending removed.
    ///
    /// The command runs as `sh -c COMMAND` with standard input closed. It fails if it cannot be
    /// started, exits with a non-zero status (the error names the command, the status and the
    /// first line of its standard error) or prints an empty first line.
    pub fn resolve(&self) -> Result<Secret, ConfigError> {
        let command = match self {
            PasswordSource::Literal(secret) => return Ok(secret.clone()),
            PasswordSource::Command(command) => command,
            PasswordSource::Keyring { service, user } => return keyring_lookup(service, user),
            PasswordSource::OAuth2(source) => {
                return crate::oauth2::access_token(source, false)
                    .map_err(|e| ConfigError::new(ConfigErrorKind::OAuth2, e.to_string()));
            }
        };
        let fail = |what: String| {
            ConfigError::new(
                ConfigErrorKind::PasswordCommand,
                format!("password_cmd {command:?} {what}"),
            )
        };
        let output = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| fail(format!("could not be started: {err}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().next().unwrap_or("").trim();
            let said = if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            };
            return Err(fail(format!("failed ({}){said}", output.status)));
        }
        // Only the first line counts: `pass show` prints the password and then other fields.
        let stdout = String::from_utf8(output.stdout)
            .map_err(|_| fail("printed something that is not UTF-8".to_owned()))?;
        let first = stdout.lines().next().unwrap_or("");
        if first.is_empty() {
            return Err(fail(
                "printed no password (its first line is empty)".to_owned(),
            ));
        }
        Ok(Secret::new(first))
    }
}

/// The keyring's secret for `service` and `user`, through libsecret's own client (the Secret
/// Service's D-Bus API, whichever keyring daemon serves it).
fn keyring_lookup(service: &str, user: &str) -> Result<Secret, ConfigError> {
    let fail = |what: String| {
        ConfigError::new(
            ConfigErrorKind::PasswordCommand,
            format!("the keyring's password for service {service:?}, user {user:?}: {what}"),
        )
    };
    let output = Command::new("secret-tool")
        .args(["lookup", "service", service, "user", user])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| {
            fail(format!(
                "secret-tool could not be started ({err}); install it (Debian: libsecret-tools)"
            ))
        })?;
    let stdout = String::from_utf8(output.stdout)
        .map_err(|_| fail("secret-tool printed something that is not UTF-8".to_owned()))?;
    // secret-tool prints the secret without a line ending; a stored secret may have one.
    let secret = stdout.strip_suffix('\n').unwrap_or(&stdout);
    if !output.status.success() || secret.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = stderr.lines().next().map(str::trim).unwrap_or("");
        let why = if said.is_empty() {
            "there is none (or the keyring is locked)".to_owned()
        } else {
            format!("secret-tool says: {said}")
        };
        return Err(fail(format!(
            "{why}; store it with: secret-tool store --label=pimlink service {service} user {user}"
        )));
    }
    Ok(Secret::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let source = PasswordSource::Literal(secret.clone());
        assert!(!format!("{source:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn literal_resolves_to_itself() {
        let source = PasswordSource::Literal(Secret::new("pw"));
        assert_eq!(source.resolve().unwrap().expose(), "pw");
    }

    #[test]
    fn command_gives_its_first_line_only() {
        let source = PasswordSource::Command("printf 'first\\r\\nsecond\\nthird\\n'".to_owned());
        assert_eq!(source.resolve().unwrap().expose(), "first");
        let source = PasswordSource::Command("printf 'no-newline'".to_owned());
        assert_eq!(source.resolve().unwrap().expose(), "no-newline");
    }

    #[test]
    fn failing_command_names_itself_its_status_and_stderr() {
        // The command's text must not contain what the checks below look for, since the
        // message quotes the command.
        let cmd = "echo 'gpg: decryption failed' >&2; printf 'sec%s\\n' ond >&2; \
                   printf 'hunt%s\\n' er2; exit 3";
        let err = PasswordSource::Command(cmd.to_owned())
            .resolve()
            .unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), ConfigErrorKind::PasswordCommand);
        assert!(msg.contains(&format!("{cmd:?}")), "{msg}");
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(msg.ends_with(": gpg: decryption failed"), "{msg}");
        assert!(!msg.contains("second"), "{msg}");
        // Whatever it printed on stdout before failing may be a password: never shown.
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn empty_output_is_an_error() {
        for cmd in ["true", "echo", "printf '\\nlater'"] {
            let err = PasswordSource::Command(cmd.to_owned())
                .resolve()
                .unwrap_err();
            assert!(
                err.to_string().contains("printed no password"),
                "{cmd}: {err}"
            );
        }
    }
}
