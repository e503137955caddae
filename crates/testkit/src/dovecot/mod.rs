//! A private Dovecot IMAP server (Debian package `dovecot-imapd`, Dovecot 2.3).

mod config;

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::fsutil;
use crate::https::{self, ClientFiles};
use crate::identity::Identity;
use crate::net::{self, HOST, NotReady};
use crate::process::ServerProcess;
use crate::tls::{self, TlsFiles};

/// How often to try again with new ports when another process takes one of ours between
/// [`net::free_port`] and Dovecot's bind.
const PORT_ATTEMPTS: usize = 5;

/// Settings for a [`Dovecot`] instance; [`DovecotBuilder::start`] starts it.
///
/// Defaults: plain IMAP only, no COMPRESS, Dovecot's own capability list, Maildir++ layout,
/// one user `test` with password `secret`.
#[derive(Debug, Clone)]
pub struct DovecotBuilder {
    tls: bool,
    client_certs: bool,
    compress: bool,
    capabilities: Option<String>,
    maildir_plus_plus: bool,
    users: Vec<(String, String)>,
    /// Replication (issue 15): serve ManageSieve too.
    managesieve: bool,
    /// Replication (issue 15): a master user (name, password).
    master_user: Option<(String, String)>,
    // Migration (issue 15).
    special_use: Vec<(String, String)>,
    oauth2_introspection: Option<String>,
}

impl Default for DovecotBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DovecotBuilder {
    /// The default settings.
    pub fn new() -> Self {
        DovecotBuilder {
            tls: false,
            client_certs: false,
            compress: false,
            capabilities: None,
            maildir_plus_plus: true,
            users: vec![("test".into(), "secret".into())],
            managesieve: false,
            master_user: None,
            special_use: Vec::new(),
            oauth2_introspection: None,
        }
    }

    /// Also serve ManageSieve (RFC 5804, Debian `dovecot-managesieved`) on
    /// [`Dovecot::sieve_port`], storing each user's scripts in their home.
    pub fn managesieve(mut self, on: bool) -> Self {
        self.managesieve = on;
        self
    }

    /// Replication (issue 15): a Dovecot master user `name` with `password`, who can log in
    /// as any user: as `USER*NAME` with its own password, or with SASL PLAIN giving `NAME` as
    /// authentication and the user as authorization identity.
    pub fn master_user(mut self, name: &str, password: &str) -> Self {
        self.master_user = Some((name.to_owned(), password.to_owned()));
        self
    }

    /// Migration (issue 15): every user has these folders from the first login, each marked
    /// with its special-use attribute (`("Sent", "\\Sent")`), as a provider's fresh account has.
    pub fn special_use(mut self, folders: &[(&str, &str)]) -> Self {
        self.special_use = folders
            .iter()
            .map(|(name, attribute)| (name.to_string(), attribute.to_string()))
            .collect();
        self
    }

    /// Also listen with implicit TLS on [`Dovecot::tls_port`] and offer STARTTLS on the plain
    /// port, with a fresh certificate for `localhost`/`127.0.0.1` signed by a fresh CA
    /// ([`Dovecot::ca_cert_pem`]).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Turns TLS on (see [`DovecotBuilder::tls`]) and refuses to log in a client that presents
    /// no certificate signed by the test CA; [`Dovecot::client_cert`] is one that passes.
    pub fn require_client_cert(mut self, on: bool) -> Self {
        self.client_certs = on;
        self.tls |= on;
        self
    }

    /// Load the `imap_zlib` plugin, which adds `COMPRESS=DEFLATE`.
    pub fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    /// Replace Dovecot's capability list (`imap_capability`), e.g. to leave out UIDPLUS,
    /// CONDSTORE or QRESYNC. A list starting with `+` is added to the default list instead.
    /// Dovecot still adds STARTTLS and AUTH= before login.
    pub fn capabilities(mut self, caps: &str) -> Self {
        self.capabilities = Some(caps.to_string());
        self
    }

    /// `true` (default): Maildir++ (INBOX at the Maildir root, folder `A.B` in `.A.B`, hierarchy
    /// delimiter `.`). `false`: one directory per folder (`A/B/{cur,new,tmp}`, INBOX in
    /// `INBOX/`, delimiter `/`).
    pub fn layout(mut self, maildir_plus_plus: bool) -> Self {
        self.maildir_plus_plus = maildir_plus_plus;
        self
    }

    /// Replace the user list (name, password). The first user is [`Dovecot::user`].
    pub fn users(mut self, users: &[(&str, &str)]) -> Self {
        self.users = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        self
    }

    /// Check XOAUTH2 and OAUTHBEARER tokens with Dovecot's `oauth2` passdb, which POSTs each
    /// token to `url` (RFC 7662 introspection, e.g.
    /// [`crate::oauth2::OAuth2Server::introspection_endpoint`]) and logs the user in when
    /// the answer says `active` and names them (issue 18). Without it a user's token is their
    /// password.
    pub fn oauth2_introspection(mut self, url: &str) -> Self {
        self.oauth2_introspection = Some(url.to_owned());
        self
    }

    /// Starts Dovecot and waits until it greets on its IMAP port.
    pub fn start(self) -> io::Result<Dovecot> {
        self.validate()?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match self.try_start() {
                Ok(dovecot) => return Ok(dovecot),
                Err(NotReady::PortTaken(e)) => last_error = Some(e),
                Err(NotReady::Failed(e)) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("Dovecot did not start")))
    }

    fn validate(&self) -> io::Result<()> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        if self.users.is_empty() {
            return Err(invalid(
                "DovecotBuilder::users: at least one user is needed".into(),
            ));
        }
        for (user, password) in self.users.iter().chain(&self.master_user) {
            config::check_value("user name", user, &[':', '/', ' ', '%'])
                .and_then(|()| config::check_value("password", password, &[':']))
                .map_err(invalid)?;
        }
        for (name, attribute) in &self.special_use {
            config::check_value("special-use folder", name, &['"', '{', '}', '#'])
                .and_then(|()| config::check_value("special-use attribute", attribute, &[' ']))
                .map_err(invalid)?;
        }
        if let Some(caps) = &self.capabilities {
            config::check_value("capability list", caps, &['"', '{', '}', '#']).map_err(invalid)?;
        }
        Ok(())
    }

    fn try_start(&self) -> Result<Dovecot, NotReady> {
        let failed = NotReady::Failed;
        let identity = Identity::current().map_err(failed)?;
        let dir = tempfile::Builder::new()
            .prefix("pimlink-dovecot-")
            .tempdir()
            .map_err(failed)?;
        let root = dir.path().to_path_buf();
        fsutil::check_path(&root).map_err(failed)?;
        prepare_dirs(&root, &self.users, &identity).map_err(failed)?;
        let tls_files = if self.tls {
            Some(tls::generate(&root).map_err(failed)?)
        } else {
            None
        };
        let client_files = match (&tls_files, self.client_certs) {
            (Some(files), true) => Some(https::client_cert(&root, files).map_err(failed)?),
            _ => None,
        };
        let (port, second_port) = net::free_port_pair().map_err(failed)?;
        let tls_port = tls_files.as_ref().map(|_| second_port);
        let sieve_port = if self.managesieve {
            Some(net::free_port().map_err(failed)?)
        } else {
            None
        };
        let conf = config::render(&config::Params {
            root: &root,
            port,
            tls: tls_port.zip(tls_files.as_ref()),
            require_client_cert: client_files.is_some(),
            compress: self.compress,
            capabilities: self.capabilities.as_deref(),
            maildir_plus_plus: self.maildir_plus_plus,
            identity: &identity,
            sieve_port,
            master_user: self.master_user.as_ref().map(|_| "*"),
            special_use: &self.special_use,
            oauth2: self.oauth2_introspection.is_some(),
        });
        let conf_path = config::conf_path(&root);
        fs::write(&conf_path, conf).map_err(failed)?;
        let passwd = config::render_passwd(&root, &self.users, &identity);
        write_private(&config::passwd_path(&root), &passwd, &identity).map_err(failed)?;
        if let Some((name, password)) = &self.master_user {
            let line = format!("{name}:{{PLAIN}}{password}\n");
            write_private(&config::master_passwd_path(&root), &line, &identity).map_err(failed)?;
        }
        if let Some(url) = &self.oauth2_introspection {
            let text = config::render_oauth2(url);
            write_private(&config::oauth2_path(&root), &text, &identity).map_err(failed)?;
        }

        let mut command = Command::new(dovecot_binary());
        command.arg("-F").arg("-c").arg(&conf_path);
        let process = ServerProcess::spawn(
            "dovecot",
            command,
            &root,
            &root,
            Some(config::log_path(&root)),
        )
        .map_err(failed)?;
        net::wait_ready(&process, "the IMAP greeting", || net::imap_greeting(port))?;
        if let Some(port) = sieve_port {
            net::wait_ready(&process, "the ManageSieve greeting", || {
                net::managesieve_greeting(port)
            })?;
        }
        Ok(Dovecot {
            process,
            port,
            tls_port,
            sieve_port,
            tls_files,
            client_files,
            conf_path,
            root,
            users: self.users.clone(),
            identity,
            _dir: dir,
        })
    }
}

/// A running private Dovecot, stopped (all its processes) and deleted when dropped.
///
/// Users' mail lives in [`Dovecot::mail_dir`]. When the tests run as root, Dovecot refuses to
/// touch mail as root, so the mail belongs to `nobody`: files a test writes there directly
/// should be handed over with [`Dovecot::chown_mail`] (or seed with [`Dovecot::deliver`]).
#[derive(Debug)]
pub struct Dovecot {
    // Field order matters: the process must stop before its directory is deleted.
    process: ServerProcess,
    port: u16,
    tls_port: Option<u16>,
    sieve_port: Option<u16>,
    tls_files: Option<TlsFiles>,
    client_files: Option<ClientFiles>,
    conf_path: PathBuf,
    root: PathBuf,
    users: Vec<(String, String)>,
    identity: Identity,
    _dir: TempDir,
}

impl Dovecot {
    /// Starts an instance with the defaults of [`DovecotBuilder::new`].
    pub fn start() -> io::Result<Dovecot> {
        DovecotBuilder::new().start()
    }

    /// The address to connect to: always `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The plain IMAP port (STARTTLS is offered there when TLS is on).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The implicit-TLS (IMAPS) port, if TLS is on.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The ManageSieve port, if [`DovecotBuilder::managesieve`] turned it on (STARTTLS is
    /// offered there when TLS is on).
    pub fn sieve_port(&self) -> Option<u16> {
        self.sieve_port
    }

    /// The PEM file of the CA that signed the server certificate, if TLS is on: the client's
    /// extra trust anchor.
    pub fn ca_cert_pem(&self) -> Option<&Path> {
        self.tls_files.as_ref().map(|f| f.ca_cert.as_path())
    }

    /// A client certificate signed by the test CA, when the server requires one
    /// ([`DovecotBuilder::require_client_cert`]).
    pub fn client_cert(&self) -> Option<&ClientFiles> {
        self.client_files.as_ref()
    }

    /// The first user's name.
    pub fn user(&self) -> &str {
        // validate() guarantees at least one user.
        self.users.first().map_or("", |(u, _)| u.as_str())
    }

    /// The first user's password.
    pub fn password(&self) -> &str {
        self.users.first().map_or("", |(_, p)| p.as_str())
    }

    /// The user's Maildir root on disk (it exists once Dovecot first opened the mailbox, e.g.
    /// after a login or a [`Dovecot::deliver`]). With Maildir++ INBOX is this directory itself;
    /// with the other layout it is `INBOX/` below it.
    pub fn mail_dir(&self, user: &str) -> PathBuf {
        config::home_path(&self.root, user).join("Maildir")
    }

    /// The directory the server runs in (config, logs, homes); deleted on drop.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// The path of the generated `dovecot.conf`.
    pub fn config_path(&self) -> &Path {
        &self.conf_path
    }

    /// Dovecot's log so far (useful in assertion messages).
    pub fn log(&self) -> String {
        self.process.log_tail(usize::MAX)
    }

    /// Gives everything below the user's home to the account Dovecot accesses mail as. Call
    /// this after writing into [`Dovecot::mail_dir`] directly; a no-op when not running as root.
    pub fn chown_mail(&self, user: &str) -> io::Result<()> {
        if !self.identity.root {
            return Ok(());
        }
        fsutil::chown_tree(
            &config::home_path(&self.root, user),
            self.identity.mail_uid,
            self.identity.mail_gid,
        )
    }

    /// Stores `message` in `folder` of `user` with `doveadm save`, so that Dovecot indexes it
    /// and assigns a UID. `folder` uses the server's hierarchy delimiter (`.` for Maildir++,
    /// `/` otherwise) and is created if missing.
    pub fn deliver(&self, user: &str, folder: &str, message: &[u8]) -> io::Result<()> {
        if !folder.eq_ignore_ascii_case("INBOX") {
            match self.doveadm(&["mailbox", "create", "-u", user, folder]) {
                Ok(_) => {}
                Err(e) if e.to_string().contains("already exists") => {}
                Err(e) => return Err(e),
            }
        }
        self.doveadm_stdin(&["save", "-u", user, "-m", folder], message)
            .map(drop)
    }

    /// Stores many messages in `folder` quickly (for large corpora: about 100 times faster than
    /// [`Dovecot::deliver`]): creates the folder with doveadm, writes each message as a file in
    /// its Maildir `new/` and hands the files to Dovecot's mail user. Dovecot assigns UIDs the
    /// next time the folder is opened, in the order given. Returns how many were written.
    pub fn deliver_many<'m>(
        &self,
        user: &str,
        folder: &str,
        messages: impl IntoIterator<Item = &'m [u8]>,
    ) -> io::Result<usize> {
        if !folder.eq_ignore_ascii_case("INBOX") {
            match self.doveadm(&["mailbox", "create", "-u", user, folder]) {
                Ok(_) => {}
                Err(e) if e.to_string().contains("already exists") => {}
                Err(e) => return Err(e),
            }
        }
        let dir = PathBuf::from(
            self.doveadm(&["mailbox", "path", "-u", user, folder])?
                .trim_end(),
        );
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let pid = std::process::id();
        let mut count = 0;
        for message in messages {
            // Unique per call and ordered: Dovecot sorts new/ by name when assigning UIDs.
            let name = format!("{stamp}.P{pid}Q{count:09}.pimlink-testkit");
            let tmp = dir.join("tmp").join(&name);
            fs::write(&tmp, message)?;
            fs::rename(&tmp, dir.join("new").join(&name))?;
            count += 1;
        }
        self.chown_mail(user)?;
        Ok(count)
    }

    /// A shell command that speaks IMAP on its stdin/stdout, already logged in as `user`
    /// (greeting `* PREAUTH`): Dovecot's `imap` binary run against this instance, as a mail
    /// client's `tunnel` option would run it over ssh.
    pub fn tunnel_command(&self, user: &str) -> String {
        // Paths pass check_path and user names are validated, so no quoting is needed.
        format!(
            "{} -c {} -u {user}",
            imap_binary().display(),
            self.conf_path.display()
        )
    }

    /// Runs `doveadm -c <this instance's config> ARGS...` and returns its standard output; a
    /// non-zero exit becomes an error carrying doveadm's standard error.
    pub fn doveadm(&self, args: &[&str]) -> io::Result<String> {
        self.doveadm_stdin(args, b"")
    }

    fn doveadm_stdin(&self, args: &[&str], input: &[u8]) -> io::Result<String> {
        let mut child = Command::new(doveadm_binary())
            .arg("-c")
            .arg(&self.conf_path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run doveadm: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            // doveadm may exit before reading everything (e.g. on a bad argument); its exit
            // status below says what went wrong, so a broken pipe here is not the error to show.
            let _ = stdin.write_all(input);
        }
        let output = child.wait_with_output()?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(io::Error::other(format!(
                "doveadm {args:?} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }
}

fn dovecot_binary() -> PathBuf {
    find_binary("dovecot", &["/usr/sbin/dovecot"])
}

fn imap_binary() -> PathBuf {
    find_binary("imap", &["/usr/lib/dovecot/imap"])
}

fn doveadm_binary() -> PathBuf {
    find_binary("doveadm", &["/usr/bin/doveadm"])
}

/// Debian installs `dovecot` in /usr/sbin, which is not on an ordinary user's PATH.
fn find_binary(name: &str, known: &[&str]) -> PathBuf {
    known
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Creates run/state/home directories with the owners and modes Dovecot's services need.
fn prepare_dirs(root: &Path, users: &[(String, String)], id: &Identity) -> io::Result<()> {
    if id.root {
        // Dovecot's unprivileged services (auth as `dovecot`, mail as `nobody`) must traverse
        // the temp dir, which tempfile creates as 0700.
        fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
    }
    fs::create_dir(root.join("run"))?;
    fs::create_dir(root.join("state"))?;
    fs::create_dir(root.join("home"))?;
    for (user, _) in users {
        let home = config::home_path(root, user);
        fs::create_dir(&home)?;
        if id.root {
            std::os::unix::fs::chown(&home, Some(id.mail_uid), Some(id.mail_gid))?;
        }
    }
    Ok(())
}

/// Writes the passwd-file readable by Dovecot's auth service only (it holds passwords).
fn write_private(path: &Path, text: &str, id: &Identity) -> io::Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o640))?;
    if id.root {
        let group = nix::unistd::Group::from_name(&id.internal_group)
            .map_err(io::Error::from)?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no group {:?}", id.internal_group),
                )
            })?;
        std::os::unix::fs::chown(path, None, Some(group.gid.as_raw()))?;
    }
    Ok(())
}
