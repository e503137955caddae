//! The hook keys: a pair's `pre_sync_hook`, `post_sync_hook` and `new_mail_hook`, and
//! `[general] hook_timeout`. What the hooks are run with is the `hooks` module's business.

use std::time::Duration;

use super::duration;
use super::error::ConfigError;
use super::raw::Fields;

/// `hook_timeout` when not given: long enough for `notmuch new` on a big first sync.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The commands a pair runs around its syncs (each run with `sh -c`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairHooks {
    /// `pre_sync_hook`: before the pair's sides are opened.
    pub pre_sync: Option<String>,
    /// `post_sync_hook`: after the run, whatever its outcome.
    pub post_sync: Option<String>,
    /// `new_mail_hook`: after a run that copied messages into the local side (mail pairs).
    pub new_mail: Option<String>,
}

/// Reads the hook keys of a pair table (`new_mail_hook` is refused in calendar/contact pairs
/// by `pair_keys`).
pub(crate) fn pair(fields: &Fields<'_, '_>) -> Result<PairHooks, ConfigError> {
    let command = |key| Ok::<_, ConfigError>(fields.non_empty(key)?.map(|c| c.value));
    Ok(PairHooks {
        pre_sync: command("pre_sync_hook")?,
        post_sync: command("post_sync_hook")?,
        new_mail: command("new_mail_hook")?,
    })
}

/// `[general] hook_timeout`: from 1 s to 1 d.
pub(crate) fn timeout(general: &Fields<'_, '_>) -> Result<Duration, ConfigError> {
    let Some(timeout) = duration::duration(general, "hook_timeout")? else {
        return Ok(DEFAULT_TIMEOUT);
    };
    let range = Duration::from_secs(1)..=Duration::from_secs(86_400);
    if !range.contains(&timeout.value) {
        return Err(general.error(
            timeout.at,
            "key \"hook_timeout\" must be between \"1s\" and \"1d\"",
        ));
    }
    Ok(timeout.value)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fails, ok};
    use super::*;

    const MAIL: &str = "[storage.m1]\ntype = \"maildir\"\npath = \"/m1\"\n\
        [storage.m2]\ntype = \"maildir\"\npath = \"/m2\"\n";

    #[test]
    fn hooks_and_their_timeout_are_read() {
        let config = ok(&format!(
            "[general]\nhook_timeout = \"90s\"\n{MAIL}[pair.p]\na = \"m1\"\nb = \"m2\"\n\
             pre_sync_hook = \"pre\"\npost_sync_hook = \"post\"\nnew_mail_hook = \"new\"\n\
             [pair.q]\na = \"m2\"\nb = \"m1\"\n"
        ));
        assert_eq!(config.hook_timeout, Duration::from_secs(90));
        assert_eq!(
            config.pairs["p"].hooks,
            PairHooks {
                pre_sync: Some("pre".to_owned()),
                post_sync: Some("post".to_owned()),
                new_mail: Some("new".to_owned()),
            }
        );
        assert_eq!(config.pairs["q"].hooks, PairHooks::default());
        let config = ok(&format!("{MAIL}[pair.p]\na = \"m1\"\nb = \"m2\"\n"));
        assert_eq!(config.hook_timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn mistakes_are_located() {
        let pair = format!("{MAIL}[pair.p]\na = \"m1\"\nb = \"m2\"\n");
        fails(
            &format!("[general]\nhook_timeout = \"1 minute\"\n{pair}"),
            2,
            &["hook_timeout", "must be a duration"],
        );
        fails(
            &format!("[general]\nhook_timeout = \"500ms\"\n{pair}"),
            2,
            &["hook_timeout", "between \"1s\" and \"1d\""],
        );
        fails(
            &format!("{pair}post_sync_hook = \" \"\n"),
            10,
            &["post_sync_hook", "must not be empty"],
        );
        fails(
            &format!("{pair}pre_sync_hook = [\"a\"]\n"),
            10,
            &["pre_sync_hook", "must be a string"],
        );
    }
}
