//! Running the real OfflineIMAP (Debian's offlineimap3) against the test Dovecot, so that the
//! trees and state adoption reads are the ones it writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pimlink_testkit::Dovecot;

/// One OfflineIMAP account `main` syncing the test Dovecot's user into `root`, keeping its
/// state in `metadata`: `.offlineimap` in `home`, where OfflineIMAP keeps it by default.
pub struct OfflineImap {
    pub config: PathBuf,
    pub root: PathBuf,
    pub home: PathBuf,
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
        let home = dir.join("home");
        let metadata = home.join(".offlineimap");
        fs::create_dir_all(&home).unwrap();
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
            home,
            metadata,
        }
    }

    /// Runs pimlink with `world`'s config and HOME set to [`Self::home`] (so that a first
    /// sync finds OfflineIMAP's state where it keeps it by default), with the IMAP wire log on
    /// stderr; insists on exit 0 unless `args` is not a sync.
    pub fn pimlink(&self, world: &super::World, args: &[&str]) -> super::Run {
        let run = super::Run(
            world
                .pimlink(args)
                .env("HOME", &self.home)
                .env("RUST_LOG", "warn,pimlink_imap::wire=trace")
                .output()
                .unwrap(),
        );
        assert_eq!(run.code(), 0, "{run}");
        run
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
