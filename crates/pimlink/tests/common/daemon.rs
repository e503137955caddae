//! Running `pimlink daemon` in a test: its output collected line by line as it comes, signals,
//! and waits with generous deadlines that end as soon as what is awaited is seen.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any awaited event may take on a busy machine; waits end as soon as it happens.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Waits until `done()` holds, failing the test with `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running daemon.
pub struct Daemon {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

impl Daemon {
    /// Starts `pimlink -c CONFIG -v daemon --ready-fd 1 ARGS` (READY=1 comes on stdout), with
    /// `env` added to its environment.
    pub fn start(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut full = vec!["-v", "daemon", "--ready-fd", "1"];
        full.extend_from_slice(args);
        Daemon::spawn(config, &full, env)
    }

    /// Starts `pimlink -c CONFIG ARGS`, any long-running command (`replicate -r`), with
    /// `env` added to its environment.
    pub fn spawn(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pimlink"));
        command
            .arg("-c")
            .arg(config)
            .args(args)
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Daemon {
            child,
            stdout,
            stderr,
        }
    }

    /// Starts it and waits for READY=1.
    pub fn ready(config: &Path, args: &[&str]) -> Daemon {
        let daemon = Daemon::start(config, args, &[]);
        daemon.wait_stdout("READY=1");
        daemon
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stdout holds `text`.
    pub fn wait_stdout(&self, text: &str) {
        wait_until(&format!("{text:?} on stdout"), || {
            self.stdout().contains(text)
        });
    }

    /// Waits until stderr holds `text`.
    pub fn wait_stderr(&self, text: &str) {
        wait_until(&format!("{text:?} on stderr"), || {
            self.stderr().contains(text)
        });
    }

    /// Sends `signal` (a `kill -s` name: TERM, HUP, USR1, KILL).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {signal}");
    }

    /// Waits for it to exit; returns its exit status (None: killed by a signal).
    pub fn wait_exit(&mut self) -> Option<i32> {
        let mut code = None;
        wait_until("the daemon to exit", || {
            match self.child.try_wait().unwrap() {
                Some(status) => {
                    code = Some(status.code());
                    true
                }
                None => false,
            }
        });
        code.flatten()
    }

    /// Stops it with SIGTERM and insists on a clean stop (exit 0, "daemon stopped").
    pub fn stop(mut self) -> (String, String) {
        self.signal("TERM");
        let code = self.wait_exit();
        let (stdout, stderr) = (self.stdout(), self.stderr());
        assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
        wait_until("the last lines", || {
            self.stderr().contains("daemon stopped")
        });
        (stdout, self.stderr())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Message-IDs (`<ID@...>` gives `ID`) of the messages in the Maildir folder `folder`,
/// one entry per copy, read while a daemon may be writing it: a folder not complete yet reads
/// as empty, and a file renamed or removed between the listing and the read is skipped.
pub fn ids_in(folder: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for sub in ["cur", "new"] {
        let Ok(entries) = std::fs::read_dir(folder.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read(entry.path()) else {
                continue;
            };
            let text = String::from_utf8_lossy(&text);
            let id = text
                .lines()
                .find_map(|line| line.strip_prefix("Message-ID: <"))
                .and_then(|rest| rest.split_once('@'))
                .map(|(id, _)| id.to_owned());
            ids.extend(id);
        }
    }
    ids
}
