//! Runs one hook: `sh -c COMMAND` with the run's variables, its output on pimlink's stderr
//! (stdout stays pimlink's own summary), in a process group of its own so that a hook that
//! outlives its time is killed with everything it started.

use std::io;
use std::os::fd::AsFd;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};

/// Why a hook did not end well.
#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// It could not be started (no `sh`, no file descriptors).
    #[error("could not be started: {0}")]
    Spawn(#[source] io::Error),
    /// It ended with a failure status or was killed by a signal.
    #[error("failed ({0})")]
    Status(ExitStatus),
    /// It ran longer than `hook_timeout` and was killed, with its process group.
    #[error("was still running after {0:?} (hook_timeout) and was killed")]
    TimedOut(Duration),
    /// Waiting for it failed.
    #[error("could not be waited for: {0}")]
    Wait(#[source] io::Error),
}

/// Runs `command` with `vars` set (and every name of `cleared` removed from the inherited
/// environment, so that a stale value from an outer pimlink never shows), waits at most
/// `timeout`.
pub fn run(
    command: &str,
    vars: &[(&'static str, String)],
    cleared: &[&str],
    timeout: Duration,
) -> Result<(), HookFailure> {
    let stdout = io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(HookFailure::Spawn)?;
    let mut sh = tokio::process::Command::new("sh");
    sh.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .process_group(0);
    for name in cleared {
        sh.env_remove(name);
    }
    sh.envs(vars.iter().map(|(name, value)| (name, value)));
    let runtime =
        crate::commands::runtime().map_err(|e| HookFailure::Spawn(io::Error::other(e)))?;
    runtime.block_on(async {
        let mut child = sh.spawn().map_err(HookFailure::Spawn)?;
        let status = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(status) => status.map_err(HookFailure::Wait)?,
            Err(_) => {
                // The group's id is the hook's pid (process_group(0)); its children die too.
                let group = child.id().and_then(|id| Pid::from_raw(id.try_into().ok()?));
                if let Some(group) = group {
                    // Already gone is fine: it ended just now.
                    let _ = kill_process_group(group, Signal::KILL);
                }
                child.wait().await.map_err(HookFailure::Wait)?;
                return Err(HookFailure::TimedOut(timeout));
            }
        };
        if status.success() {
            Ok(())
        } else {
            Err(HookFailure::Status(status))
        }
    })
}
