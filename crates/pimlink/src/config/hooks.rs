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
    let range = (
        Duration::from_secs(1)..=Duration::from_secs(86_400),
        "between \"1s\" and \"1d\"",
    );
    Ok(duration::read(general, "hook_timeout", range)?.unwrap_or(DEFAULT_TIMEOUT))
}
