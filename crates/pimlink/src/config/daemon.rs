//! The daemon's keys: the `[daemon]` table and each storage's `poll_interval`.

use std::time::Duration;

use super::duration::duration;
use super::error::ConfigError;
use super::raw::Fields;

/// The keys of `[daemon]`.
pub(crate) const DAEMON_KEYS: &[&str] = &["full_sync_interval", "debounce", "max_backoff"];

/// `poll_interval` when not set: pimsync's default, and OfflineIMAP's common `autorefresh`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(300);

/// `[daemon]`: how `pimlink daemon` schedules its syncs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonConfig {
    /// `full_sync_interval`: every pair is synced whole this often, whatever the watchers
    /// said (default 1 h): the safety net for a change no watcher reported.
    pub full_sync_interval: Duration,
    /// `debounce`: how long after a change the daemon waits for more before syncing (default
    /// 200 ms), so that a mail reader's burst of flag changes is one sync; short enough that a
    /// change reaches the other side within a second.
    pub debounce: Duration,
    /// `max_backoff`: the longest wait before retrying a pair whose storage failed (default
    /// 20 min, as Cyrus's `sync_reconnect_maxwait`).
    pub max_backoff: Duration,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            full_sync_interval: Duration::from_secs(3_600),
            debounce: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20 * 60),
        }
    }
}

/// Reads `[daemon]`.
pub(crate) fn build(fields: &Fields<'_, '_>) -> Result<DaemonConfig, ConfigError> {
    fields.only(DAEMON_KEYS, |_| None)?;
    let default = DaemonConfig::default();
    let get =
        |key, default| Ok::<_, ConfigError>(duration(fields, key)?.map_or(default, |d| d.value));
    Ok(DaemonConfig {
        full_sync_interval: get("full_sync_interval", default.full_sync_interval)?,
        debounce: get("debounce", default.debounce)?,
        max_backoff: get("max_backoff", default.max_backoff)?,
    })
}

/// A storage's `poll_interval`: how often the daemon syncs its pairs when nothing watches it.
pub(crate) fn poll_interval(fields: &Fields<'_, '_>) -> Result<Duration, ConfigError> {
    Ok(duration(fields, "poll_interval")?.map_or(DEFAULT_POLL_INTERVAL, |d| d.value))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::{MAILDIRS, fails, ok};
    use super::*;

    #[test]
    fn defaults_and_values() {
        let config = ok(MAILDIRS);
        assert_eq!(config.daemon, DaemonConfig::default());
        assert_eq!(config.storages["one"].poll_interval, DEFAULT_POLL_INTERVAL);
        let text = format!(
            "[daemon]\ndebounce = \"200ms\"\nfull_sync_interval = \"2h\"\nmax_backoff = \"1m\"\n{}",
            MAILDIRS.replace(
                "path = \"/m/one\"",
                "path = \"/m/one\"\npoll_interval = \"30s\""
            )
        );
        let config = ok(&text);
        assert_eq!(config.daemon.debounce, Duration::from_millis(200));
        assert_eq!(config.daemon.full_sync_interval, Duration::from_secs(7_200));
        assert_eq!(config.daemon.max_backoff, Duration::from_secs(60));
        assert_eq!(
            config.storages["one"].poll_interval,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn errors_name_the_key_and_line() {
        fails(
            "[daemon]\ndebounce = 5\n",
            2,
            &["\"debounce\"", "duration", "\"30s\""],
        );
        fails(
            "[daemon]\nmax_backoff = \"5 minutes\"\n",
            2,
            &["\"max_backoff\""],
        );
        fails(
            "[daemon]\nfull_sync = \"1h\"\n",
            2,
            &["unknown key \"full_sync\""],
        );
        let text = MAILDIRS.replace(
            "path = \"/m/two\"",
            "path = \"/m/two\"\npoll_interval = \"0s\"",
        );
        fails(&text, 9, &["storage \"two\"", "\"poll_interval\""]);
    }
}
