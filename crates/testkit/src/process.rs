//! A server process that runs in its own process group and never outlives its test.
//!
//! Three layers make sure of that:
//! - [`ServerProcess`]'s `Drop` kills its whole process group (servers fork workers; killing
//!   only the parent would leave them behind) and waits until no live member is left.
//! - A watchdog shell, in a process group of its own so that Ctrl-C on the test run does not
//!   take it down, kills the group when the test process dies without running `Drop` (SIGKILL,
//!   abort, Ctrl-C) or when the server's directory is deleted under it.
//! - Output of the server goes to files in its temp dir, which [`ServerProcess::log_tail`] reads
//!   for error messages.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

/// How long to wait for the last members of a killed group to disappear.
const GROUP_EXIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

/// A running server, stopped (with all its children) when dropped.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: &'static str,
    child: Option<Child>,
    pgid: Pid,
    watchdog: Option<Child>,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    extra_log: Option<PathBuf>,
}

impl ServerProcess {
    /// Starts `command` as the leader of a new process group, with stdin closed and stdout/stderr
    /// written to `<log_dir>/<name>.stdout|stderr`.
    ///
    /// `marker` must be a string that appears in the server's command line and nowhere else
    /// (its temp dir path): the watchdog checks it before killing, so that it never kills an
    /// unrelated process group that reused the id.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        log_dir: &Path,
        marker: &Path,
        extra_log: Option<PathBuf>,
    ) -> io::Result<Self> {
        let stdout_path = log_dir.join(format!("{name}.stdout"));
        let stderr_path = log_dir.join(format!("{name}.stderr"));
        command
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path)?)
            .stderr(File::create(&stderr_path)?)
            .process_group(0);
        let child = command.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot start {name} ({:?}): {e}; are the packages of \
                     scripts/deps-debian.txt installed (scripts/install-deps)?",
                    command.get_program()
                ),
            )
        })?;
        let pgid = pid_of(&child)?;
        let mut process = ServerProcess {
            name,
            child: Some(child),
            pgid,
            watchdog: None,
            stdout_path,
            stderr_path,
            extra_log,
        };
        // If the watchdog cannot start, the server must not run unguarded: the error drops
        // `process`, which stops it.
        process.watchdog = Some(spawn_watchdog(pgid, marker)?);
        Ok(process)
    }

    /// Whether the server process has exited (without reaping it, so its process group id
    /// stays reserved until `Drop`).
    pub(crate) fn has_exited(&self) -> bool {
        match waitid(
            Id::Pid(self.pgid),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT,
        ) {
            Ok(WaitStatus::StillAlive) => false,
            Ok(_) => true,
            // ECHILD: already reaped, so certainly gone.
            Err(_) => true,
        }
    }

    /// The last `lines` lines of the server's own log file (if any), stdout and stderr, for
    /// error messages.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        let files = self
            .extra_log
            .iter()
            .chain([&self.stderr_path, &self.stdout_path]);
        for path in files {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            if all.is_empty() {
                continue;
            }
            out.push_str(&format!("--- {} (last lines) ---\n", path.display()));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        if out.is_empty() {
            out.push_str("(the server wrote no log output)\n");
        }
        out
    }

    /// The name given at spawn time, for messages.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Stops the server: SIGKILL to the whole group, reap, then wait until no process of the
    /// group is left.
    ///
    /// No SIGTERM first: a graceful Dovecot shutdown takes 1.5-3 s, which adds up over hundreds
    /// of tests, and everything the server wrote is deleted with its temp dir anyway.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // The leader is not reaped yet, so the group id cannot belong to anyone else.
        let _ = killpg(self.pgid, Signal::SIGKILL);
        let _ = child.wait();
        let deadline = Instant::now() + GROUP_EXIT;
        while group_has_live_members(self.pgid) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            if let Ok(pid) = pid_of(&watchdog) {
                let _ = killpg(pid, Signal::SIGKILL);
            }
            let _ = watchdog.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether any process of group `pgid` is still running.
///
/// Zombies do not count: they hold no ports or files, and the orphaned workers of a killed
/// server are reaped by init, which in some containers takes more than a second.
fn group_has_live_members(pgid: Pid) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        // No procfs: fall back to "any member, zombie or not".
        return killpg(pgid, None) != Err(Errno::ESRCH);
    };
    entries.filter_map(Result::ok).any(|entry| {
        // /proc/PID/stat is "PID (COMM) STATE PPID PGRP ..."; COMM may contain anything, so
        // split after its closing parenthesis.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1);
        pgrp == Some(pgid.as_raw().to_string().as_str()) && !matches!(state, Some("Z" | "X"))
    })
}

fn pid_of(child: &Child) -> io::Result<Pid> {
    i32::try_from(child.id())
        .map(Pid::from_raw)
        .map_err(|_| io::Error::other(format!("process id {} out of range", child.id())))
}

/// A shell loop that waits for the test process to die (or the server's directory, `marker`,
/// to vanish: a server without its files is useless) and then kills the server's group if it
/// is still the server (its command line still contains `marker`). dash's `kill` takes no `--`.
fn spawn_watchdog(pgid: Pid, marker: &Path) -> io::Result<Child> {
    const SCRIPT: &str = r#"
while kill -0 "$1" 2>/dev/null && [ -d "$3" ]; do sleep 1; done
if grep -qF -- "$3" "/proc/$2/cmdline" 2>/dev/null; then kill -KILL "-$2"; fi
"#;
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("pimlink-testkit-watchdog")
        .arg(std::process::id().to_string())
        .arg(pgid.as_raw().to_string())
        .arg(marker)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start the watchdog shell: {e}")))
}
