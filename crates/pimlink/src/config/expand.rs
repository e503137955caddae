//! Expansion of `~` and environment variables in the paths of a configuration file.
//!
//! Rules (they are part of the documented file format):
//! - `~` alone or `~/...` at the start becomes `$HOME`; `~user` is not supported (an error), so
//!   that a name that merely starts with `~` is never silently misread.
//! - `$NAME` and `${NAME}` become the variable's value, where NAME is `[A-Za-z_][A-Za-z0-9_]*`.
//!   An unset variable is an error naming it: an empty expansion could turn `$MAILDIR/work` into
//!   `/work` and sync into the wrong place.
//! - `$$` is a literal `$`; any other `$` is an error.
//! - A path that is still relative afterwards is taken relative to the directory of the
//!   configuration file, not the current directory, so a config means the same thing wherever
//!   pimlink is started from.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::ConfigErrorKind;

/// Where variables come from: the process environment in the program, a map in tests (the
/// process environment cannot be changed safely from tests that run in parallel).
pub(crate) trait Env {
    /// The value of `name`, or `None` if it is unset.
    fn var(&self, name: &str) -> Option<OsString>;
}

/// The real process environment.
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }
}

/// Why a path could not be expanded: a message without position (the caller knows where the
/// path came from) and whether the environment or the text is at fault.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ExpandError {
    /// [`ConfigErrorKind::Environment`] for an unset variable, else `Invalid`.
    pub kind: ConfigErrorKind,
    pub message: String,
}

impl ExpandError {
    fn invalid(message: String) -> Self {
        Self {
            kind: ConfigErrorKind::Invalid,
            message,
        }
    }

    fn environment(message: String) -> Self {
        Self {
            kind: ConfigErrorKind::Environment,
            message,
        }
    }
}

/// Expands `~` and variables in `raw`, then anchors a relative result at `base`.
pub(crate) fn expand_path(raw: &str, base: &Path, env: &dyn Env) -> Result<PathBuf, ExpandError> {
    if raw.is_empty() {
        return Err(ExpandError::invalid("the path is empty".to_owned()));
    }
    let mut out = OsString::new();
    let mut rest = raw;
    if let Some(after) = rest.strip_prefix('~') {
        if !(after.is_empty() || after.starts_with('/')) {
            return Err(ExpandError::invalid(format!(
                "{raw:?}: \"~user\" is not supported; write the full path or use $HOME"
            )));
        }
        out.push(home(env).map_err(ExpandError::environment)?);
        rest = after;
    }
    while let Some(dollar) = rest.find('$') {
        out.push(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, tail) = if let Some(after) = after.strip_prefix('$') {
            out.push("$");
            rest = after;
            continue;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').ok_or_else(|| {
                ExpandError::invalid(format!("{raw:?}: \"${{\" without a closing \"}}\""))
            })?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if !is_variable_name(name) {
            return Err(ExpandError::invalid(format!(
                "{raw:?}: \"$\" must be followed by a variable name, as in $HOME or ${{HOME}} \
                 (write $$ for a literal \"$\")"
            )));
        }
        let value = env.var(name).ok_or_else(|| {
            ExpandError::environment(format!("{raw:?}: environment variable {name} is not set"))
        })?;
        out.push(value);
        rest = tail;
    }
    out.push(rest);
    Ok(base.join(PathBuf::from(out)))
}

/// The home directory, from `$HOME` (which every login sets; asking the password database would
/// need unsafe code for a case that does not arise in practice).
pub(crate) fn home(env: &dyn Env) -> Result<PathBuf, String> {
    match env.var("HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home)),
        _ => {
            Err("the environment variable HOME is not set, so \"~\" cannot be expanded".to_owned())
        }
    }
}

/// An XDG base directory: `$var` if it is set to an absolute path (the XDG spec says relative
/// values are to be ignored), else `$HOME/fallback`.
pub(crate) fn xdg_dir(env: &dyn Env, var: &str, fallback: &str) -> Result<PathBuf, String> {
    if let Some(dir) = env.var(var).map(PathBuf::from)
        && dir.is_absolute()
    {
        return Ok(dir);
    }
    home(env)
        .map(|home| home.join(fallback))
        .map_err(|_| format!("neither {var} nor HOME is set"))
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A fixed environment for tests.
    pub(crate) struct MapEnv(pub BTreeMap<String, String>);

    impl MapEnv {
        pub(crate) fn new(vars: &[(&str, &str)]) -> Self {
            Self(
                vars.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        }
    }

    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<OsString> {
            self.0.get(name).map(OsString::from)
        }
    }

    fn env() -> MapEnv {
        MapEnv::new(&[("HOME", "/home/u"), ("MAIL", "/var/mail/u"), ("X_1", "x")])
    }

    fn expand(raw: &str) -> Result<PathBuf, String> {
        expand_path(raw, Path::new("/etc/pimlink"), &env()).map_err(|e| e.message)
    }

    #[test]
    fn tilde_and_variables_expand() {
        assert_eq!(expand("~"), Ok(PathBuf::from("/home/u")));
        assert_eq!(expand("~/Mail"), Ok(PathBuf::from("/home/u/Mail")));
        assert_eq!(expand("$MAIL/work"), Ok(PathBuf::from("/var/mail/u/work")));
        assert_eq!(expand("${MAIL}work"), Ok(PathBuf::from("/var/mail/uwork")));
        assert_eq!(expand("/a/$X_1.d"), Ok(PathBuf::from("/a/x.d")));
        assert_eq!(expand("/a/$$b"), Ok(PathBuf::from("/a/$b")));
        // A "~" that is not at the start is an ordinary character.
        assert_eq!(expand("/a/~b"), Ok(PathBuf::from("/a/~b")));
    }

    #[test]
    fn relative_paths_are_anchored_at_the_config_directory() {
        assert_eq!(expand("Mail"), Ok(PathBuf::from("/etc/pimlink/Mail")));
        assert_eq!(expand("../x"), Ok(PathBuf::from("/etc/pimlink/../x")));
        assert_eq!(expand("/abs"), Ok(PathBuf::from("/abs")));
    }

    #[test]
    fn bad_expansions_name_the_problem() {
        let err = expand_path("$NOPE/x", Path::new("/"), &env()).unwrap_err();
        assert_eq!(err.kind, ConfigErrorKind::Environment);
        assert!(
            err.message.contains("NOPE") && err.message.contains("not set"),
            "{err:?}"
        );
        let err = expand("${NOPE}").unwrap_err();
        assert!(err.contains("NOPE"), "{err}");
        let err = expand("~bob/x").unwrap_err();
        assert!(err.contains("~user"), "{err}");
        let err = expand("/a/${MAIL").unwrap_err();
        assert!(err.contains("closing"), "{err}");
        for bad in ["/a/$", "/a/$/b", "${}", "$1x"] {
            let err = expand(bad).unwrap_err();
            assert!(err.contains("variable name"), "{bad}: {err}");
        }
        assert!(expand("").unwrap_err().contains("empty"));
        let no_home = MapEnv::new(&[]);
        let err = expand_path("~/x", Path::new("/"), &no_home).unwrap_err();
        assert_eq!(err.kind, ConfigErrorKind::Environment);
        assert!(err.message.contains("HOME"), "{err:?}");
    }

    #[test]
    fn xdg_dirs_ignore_relative_values() {
        let env = MapEnv::new(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "rel")]);
        assert_eq!(
            xdg_dir(&env, "XDG_STATE_HOME", ".local/state"),
            Ok(PathBuf::from("/home/u/.local/state"))
        );
        let env = MapEnv::new(&[("XDG_STATE_HOME", "/st")]);
        assert_eq!(
            xdg_dir(&env, "XDG_STATE_HOME", ".local/state"),
            Ok(PathBuf::from("/st"))
        );
        assert!(xdg_dir(&MapEnv::new(&[]), "XDG_STATE_HOME", "x").is_err());
    }
}
