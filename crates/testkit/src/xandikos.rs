//! A private Xandikos CalDAV/CardDAV server (Debian package `xandikos`).
//!
//! Xandikos has no authentication of its own (it expects a reverse proxy to do it), so tests
//! talk to it without credentials. `--defaults` creates the principal `/user/` with the
//! calendar home `/user/calendars/` (holding `calendar`) and the address-book home
//! `/user/contacts/` (holding `addressbook`).

use std::io;
use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::net::{self, HOST, NotReady};
use crate::process::ServerProcess;

const PORT_ATTEMPTS: usize = 5;

/// A running private Xandikos, stopped and deleted when dropped.
#[derive(Debug)]
pub struct Xandikos {
    // The process must stop before its directory is deleted.
    process: ServerProcess,
    port: u16,
    root: PathBuf,
    _dir: TempDir,
}

impl Xandikos {
    /// Starts Xandikos with its default principal, calendar and address book, and waits until
    /// it answers HTTP.
    pub fn start() -> io::Result<Xandikos> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start() {
                Ok(x) => return Ok(x),
                Err(NotReady::PortTaken(e)) => last_error = Some(e),
                Err(NotReady::Failed(e)) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("Xandikos did not start")))
    }

    fn try_start() -> Result<Xandikos, NotReady> {
        let failed = NotReady::Failed;
        let dir = tempfile::Builder::new()
            .prefix("pimlink-xandikos-")
            .tempdir()
            .map_err(failed)?;
        let root = dir.path().to_path_buf();
        let port = net::free_port().map_err(failed)?;
        let mut command = Command::new("xandikos");
        command
            .arg("--defaults")
            .arg("-d")
            .arg(root.join("data"))
            .arg("-l")
            .arg(HOST)
            .arg("-p")
            .arg(port.to_string());
        let process =
            ServerProcess::spawn("xandikos", command, &root, &root, None).map_err(failed)?;
        net::wait_ready(&process, "an HTTP answer", || net::http_answers(port))?;
        Ok(Xandikos {
            process,
            port,
            root,
            _dir: dir,
        })
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's base URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{HOST}:{}/", self.port)
    }

    /// Where Xandikos keeps its data (one git repository per collection).
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Xandikos's output so far (useful in assertion messages).
    pub fn log(&self) -> String {
        self.process.log_tail(usize::MAX)
    }
}
