//! Running the real OfflineIMAP (Debian's offlineimap3) against the test Dovecot, so that the
//! trees and state adoption reads are the ones it writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pimlink_testkit::Dovecot;

/// One OfflineIMAP account `main` syncing the test Dovecot's user into `root` with `sep`,
/// keeping its state in `metadata`.
pub struct OfflineImap {
    pub config: PathBuf,
    pub root: PathBuf,
    pub metadata: PathBuf,
}

impl OfflineImap {
    /// Writes the config (in `dir`); `local_keys` are added to the local repository.
    pub fn new(dir: &Path, server: &Dovecot, root: &Path, local_keys: &str) -> OfflineImap {
        if Command::new("offlineimap")
            .arg("--version")
            .output()
            .is_err()
        {
            panic!("offlineimap (Debian package offlineimap3) is needed for this test");
        }
        let metadata = dir.join("offlineimap-meta");
        let config = dir.join("offlineimaprc");
        fs::write(
            &config,
            format!(
                "[general]\naccounts = main\nmetadata = {metadata}\nui = quiet\n\n\
                 [Account main]\nlocalrepository = local\nremoterepository = remote\n\n\
                 [Repository local]\ntype = Maildir\nlocalfolders = {root}\n{local_keys}\n\n\
                 [Repository remote]\ntype = IMAP\nremotehost = {host}\nremoteport = {port}\n\
                 remoteuser = {user}\nremotepass = {password}\nssl = no\nstarttls = no\n",
                metadata = metadata.display(),
                root = root.display(),
                host = server.host(),
                port = server.port(),
                user = server.user(),
                password = server.password(),
            ),
        )
        .unwrap();
        OfflineImap {
            config,
            root: root.to_owned(),
            metadata,
        }
    }

    /// Runs one sync (`-o`: once) and insists that it succeeds; returns its output.
    pub fn sync(&self) -> String {
        let out = Command::new("offlineimap")
            .args(["-o", "-u", "basic", "-c"])
            .arg(&self.config)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && !text.contains("ERROR"),
            "offlineimap failed:\n{text}"
        );
        text
    }
}
