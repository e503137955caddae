//! A private Cyrus IMAP 3.6 server, for running the IMAP suite against a second implementation.
//!
//! Debian's `cyrus-imapd` conflicts with `dovecot-imapd` (both provide `imap-server`), so the
//! two cannot be installed together. `scripts/install-deps` therefore unpacks the Cyrus
//! packages (`apt-get download` + `dpkg-deb -x`) into a private tree and installs only their
//! non-conflicting libraries; this module runs the binaries from that tree with
//! `LD_LIBRARY_PATH`. A system-wide Cyrus install is used when present.
//!
//! Setup per instance: `imapd.conf` + `cyrus.conf` in a temp dir, users in a private sasldb
//! (`saslpasswd2`, package `sasl2-bin`), `master` in the foreground, then an admin session
//! creates each user's INBOX. Folders use the alternate namespace with `/` as delimiter (the
//! Cyrus 3 defaults), so a user sees `INBOX`, `Work`, `Lists/rust` like on Dovecot; or, with
//! [`CyrusBuilder::inbox_prefix`], the classic `INBOX.Work`.
//!
//! Cyrus logs only to syslog, so start errors carry less detail than Dovecot's.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::fsutil;
use crate::identity::Identity;
use crate::imap_line::Session;
use crate::net::{self, HOST};
use crate::process::ServerProcess;
use crate::tls::{self, TlsFiles};

/// The SASL realm and Cyrus `servername`; sasldb entries must carry the same realm.
const SERVERNAME: &str = "pimlink-test";
/// The administrator account created in every instance.
const ADMIN: &str = "cyrusadmin";

/// The opt-out of [`Cyrus::skip_requested`].
const SKIP_VARIABLE: &str = "PIMLINK_SKIP_CYRUS";

/// Where `scripts/install-deps` unpacks Cyrus when running as root.
pub(crate) const CYRUS_SYSTEM_TREE: &str = "/opt/pimlink-testkit/cyrus";

/// Settings for a [`Cyrus`] instance. Default: one user `test` with password `secret`.
#[derive(Debug, Clone)]
pub struct CyrusBuilder {
    users: Vec<(String, String)>,
    tls: bool,
    suppress: Option<String>,
    inbox_prefix: bool,
}

impl Default for CyrusBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl CyrusBuilder {
    /// The default settings.
    pub fn new() -> Self {
        CyrusBuilder {
            users: vec![("test".into(), "secret".into())],
            tls: false,
            suppress: None,
            inbox_prefix: false,
        }
    }

    /// Also listen with implicit TLS on [`Cyrus::tls_port`] and offer STARTTLS on the plain
    /// port, with a fresh certificate signed by a fresh CA ([`Cyrus::ca_cert_pem`]), like
    /// [`crate::DovecotBuilder::tls`].
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Capabilities Cyrus must not advertise (`suppress_capabilities`, space-separated, e.g.
    /// `"QRESYNC CONDSTORE"`). Unlike Dovecot's override, this removes rather than replaces.
    pub fn suppress_capabilities(mut self, caps: &str) -> Self {
        self.suppress = Some(caps.to_string());
        self
    }

    /// Cyrus's classic namespace (`altnamespace: no`, `unixhierarchysep: no`), as Courier
    /// has it too: a user's folders are `INBOX.Work`, `INBOX.Lists.rust` (personal namespace
    /// prefix `INBOX.`, delimiter `.`); [`Cyrus::deliver`] then takes such names.
    pub fn inbox_prefix(mut self, on: bool) -> Self {
        self.inbox_prefix = on;
        self
    }

    /// Replace the user list (name, password). The first user is [`Cyrus::user`].
    pub fn users(mut self, users: &[(&str, &str)]) -> Self {
        self.users = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        self
    }

    /// Starts Cyrus, waits for its greeting and creates every user's INBOX.
    pub fn start(self) -> io::Result<Cyrus> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        if self.users.is_empty() {
            return Err(invalid(
                "CyrusBuilder::users: at least one user is needed".into(),
            ));
        }
        for (user, password) in &self.users {
            let bad_user = user.is_empty()
                || user == ADMIN
                || user
                    .chars()
                    .any(|c| !(c.is_ascii_alphanumeric() || "._-".contains(c)));
            if bad_user {
                return Err(invalid(format!(
                    "Cyrus user {user:?}: use ASCII letters, digits, '.', '_' or '-' (not {ADMIN:?})"
                )));
            }
            if password.is_empty() || password.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "Cyrus user {user:?}: empty or invalid password"
                )));
            }
        }
        if let Some(caps) = &self.suppress
            && caps.chars().any(|c| !(c.is_ascii_graphic() || c == ' '))
        {
            return Err(invalid(format!(
                "suppress_capabilities {caps:?}: not a plain list"
            )));
        }
        let install = find_install()?;
        let identity = Identity::current()?;
        let dir = tempfile::Builder::new()
            .prefix("pimlink-cyrus-")
            .tempdir()?;
        let root = dir.path().to_path_buf();
        fsutil::check_path(&root)?;
        for sub in ["conf", "spool", "sieve", "run"] {
            fs::create_dir(root.join(sub))?;
        }
        let admin_password = format!("admin-{}", std::process::id());
        let (port, second_port) = net::free_port_pair()?;
        let tls = if self.tls {
            Some((second_port, tls::generate(&root)?))
        } else {
            None
        };
        let conf = root.join("imapd.conf");
        let mut imapd_conf = render_imapd_conf(&root, &identity, self.inbox_prefix);
        if let Some((_, files)) = &tls {
            imapd_conf.push_str(&format!(
                "tls_server_cert: {}\ntls_server_key: {}\n",
                files.server_cert.display(),
                files.server_key.display()
            ));
        }
        if let Some(caps) = &self.suppress {
            imapd_conf.push_str(&format!("suppress_capabilities: {caps}\n"));
        }
        fs::write(&conf, imapd_conf)?;
        fs::write(
            root.join("cyrus.conf"),
            render_cyrus_conf(&root, &install.bin_dir, port, tls.as_ref().map(|(p, _)| *p)),
        )?;
        let sasldb = root.join("sasldb2");
        saslpasswd(&sasldb, ADMIN, &admin_password)?;
        for (user, password) in &self.users {
            saslpasswd(&sasldb, user, password)?;
        }
        if identity.root {
            // master drops to cyrus_user (nobody) and must then own its whole tree.
            fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
            fsutil::chown_tree(&root, identity.mail_uid, identity.mail_gid)?;
        }

        let mut command = Command::new(install.bin_dir.join("master"));
        command
            .arg("-C")
            .arg(&conf)
            .arg("-M")
            .arg(root.join("cyrus.conf"))
            .arg("-p")
            .arg(root.join("run/master.pid"))
            .current_dir(&root);
        if let Some(lib_dir) = &install.lib_dir {
            command.env("LD_LIBRARY_PATH", lib_dir);
        }
        let process = ServerProcess::spawn("cyrus", command, &root, &root, None)?;
        net::wait_ready(&process, "the IMAP greeting", || net::imap_greeting(port))?;

        let mut admin = Session::login(port, ADMIN, &admin_password)?;
        let separator = if self.inbox_prefix { '.' } else { '/' };
        for (user, _) in &self.users {
            admin.command(&format!("CREATE \"user{separator}{user}\""))?;
        }
        let (tls_port, tls_files) = tls.unzip();
        Ok(Cyrus {
            process,
            port,
            tls_port,
            tls_files,
            users: self.users,
            root,
            admin_password,
            _dir: dir,
        })
    }
}

/// A running private Cyrus, stopped (all its processes) and deleted when dropped.
#[derive(Debug)]
pub struct Cyrus {
    // The process must stop before its directory is deleted.
    process: ServerProcess,
    port: u16,
    tls_port: Option<u16>,
    tls_files: Option<TlsFiles>,
    users: Vec<(String, String)>,
    root: PathBuf,
    admin_password: String,
    _dir: TempDir,
}

impl Cyrus {
    /// Starts an instance with the defaults of [`CyrusBuilder::new`].
    pub fn start() -> io::Result<Cyrus> {
        CyrusBuilder::new().start()
    }

    /// Whether Cyrus binaries can be found.
    pub fn available() -> bool {
        find_install().is_ok()
    }

    /// True if a test that needs Cyrus should not run: Cyrus is not unpacked *and* the
    /// environment says so explicitly with `PIMLINK_SKIP_CYRUS` (set to anything). Otherwise a
    /// missing Cyrus fails the test, with the "run scripts/install-deps" message of
    /// [`CyrusBuilder::start`]: a suite that passes without running proves nothing.
    pub fn skip_requested() -> bool {
        std::env::var_os(SKIP_VARIABLE).is_some() && !Self::available()
    }

    /// The address to connect to: always `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The plain IMAP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The implicit-TLS (IMAPS) port, if TLS is on.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The PEM file of the CA that signed the server certificate, if TLS is on.
    pub fn ca_cert_pem(&self) -> Option<&Path> {
        self.tls_files.as_ref().map(|f| f.ca_cert.as_path())
    }

    /// The first user's name.
    pub fn user(&self) -> &str {
        self.users.first().map_or("", |(u, _)| u.as_str())
    }

    /// The first user's password.
    pub fn password(&self) -> &str {
        self.users.first().map_or("", |(_, p)| p.as_str())
    }

    /// The administrator's name and password (may CREATE/DELETE `user/NAME` mailboxes).
    pub fn admin(&self) -> (&str, &str) {
        (ADMIN, &self.admin_password)
    }

    /// The directory the server runs in (config, spool); deleted on drop.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// Cyrus's stdout/stderr so far (it logs everything else to syslog).
    pub fn log(&self) -> String {
        self.process.log_tail(usize::MAX)
    }

    /// Appends `message` to `folder` (`INBOX`, `Work`, `Lists/rust`, ...) as `user`, creating
    /// the folder if missing.
    pub fn deliver(&self, user: &str, folder: &str, message: &[u8]) -> io::Result<()> {
        let password = self
            .users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no Cyrus user {user:?}"))
            })?;
        let mut session = Session::login(self.port, user, password)?;
        if !folder.eq_ignore_ascii_case("INBOX") {
            match session.command(&format!("CREATE {}", crate::imap_line::quote(folder))) {
                Ok(_) => {}
                Err(e) if e.to_string().to_ascii_lowercase().contains("exists") => {}
                Err(e) => return Err(e),
            }
        }
        session.append(folder, message)
    }
}

/// Where the Cyrus binaries and (for an unpacked tree) their private libraries are.
#[derive(Debug)]
struct Install {
    bin_dir: PathBuf,
    lib_dir: Option<PathBuf>,
}

fn find_install() -> io::Result<Install> {
    let mut trees: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("PIMLINK_CYRUS_DIR") {
        trees.push(dir.into());
    }
    let system = Path::new("/usr/lib/cyrus/bin");
    if system.join("master").is_file() && system.join("imapd").is_file() {
        return Ok(Install {
            bin_dir: system.to_path_buf(),
            lib_dir: None,
        });
    }
    trees.push(CYRUS_SYSTEM_TREE.into());
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")));
    if let Some(cache) = cache {
        trees.push(cache.join("pimlink-testkit/cyrus"));
    }
    for tree in &trees {
        let bin_dir = tree.join("usr/lib/cyrus/bin");
        if !bin_dir.join("master").is_file() {
            continue;
        }
        // Multiarch directory (x86_64-linux-gnu, aarch64-linux-gnu, ...) holding libcyrus.
        let lib_dir = fs::read_dir(tree.join("usr/lib"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.join("libcyrus.so.0").exists());
        return Ok(Install { bin_dir, lib_dir });
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "Cyrus IMAP not found (looked in /usr/lib/cyrus/bin and {trees:?}); \
             run scripts/install-deps, or set PIMLINK_CYRUS_DIR to an unpacked cyrus-common + \
             cyrus-imapd tree (or {SKIP_VARIABLE}=1 to skip the tests that need it)"
        ),
    ))
}

fn render_imapd_conf(root: &Path, identity: &Identity, inbox_prefix: bool) -> String {
    let r = root.display();
    let cyrus_user = if identity.root {
        "nobody".to_string()
    } else {
        identity.internal_user.clone()
    };
    format!(
        "\
# Generated by pimlink-testkit for one test; deleted with it.
servername: {SERVERNAME}
configdirectory: {r}/conf
partition-default: {r}/spool
sievedir: {r}/sieve
admins: {ADMIN}
cyrus_user: {cyrus_user}
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {r}/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
altnamespace: {alternate}
unixhierarchysep: {alternate}
syslog_prefix: pimlink-cyrus
idlesocket: {r}/run/idle
notifysocket: {r}/run/notify
lmtpsocket: {r}/run/lmtp
mboxname_lockpath: {r}/run/lock
proc_path: {r}/run/proc
# No idled runs here, so IDLE falls back to polling: every second rather than every 60.
imapidlepoll: 1
",
        alternate = if inbox_prefix { "no" } else { "yes" },
    )
}

fn render_cyrus_conf(root: &Path, bin: &Path, port: u16, tls_port: Option<u16>) -> String {
    let (r, b) = (root.display(), bin.display());
    // imapd -s: TLS from the first byte.
    let imaps = tls_port.map_or(String::new(), |p| {
        format!(
            "  imaps cmd=\"{b}/imapd -s -C {r}/imapd.conf\" listen=\"127.0.0.1:{p}\" prefork=0\n"
        )
    });
    format!(
        "\
START {{
  recover cmd=\"{b}/ctl_cyrusdb -C {r}/imapd.conf -r\"
}}
SERVICES {{
  imap cmd=\"{b}/imapd -C {r}/imapd.conf\" listen=\"127.0.0.1:{port}\" prefork=0
{imaps}}}
EVENTS {{
}}
"
    )
}

/// Adds `user` to the sasldb at `path` (realm [`SERVERNAME`]); the password goes on stdin.
fn saslpasswd(path: &Path, user: &str, password: &str) -> io::Result<()> {
    let binary = ["/usr/sbin/saslpasswd2", "saslpasswd2"]
        .into_iter()
        .find(|b| !b.starts_with('/') || Path::new(b).is_file())
        .unwrap_or("saslpasswd2");
    let mut child = Command::new(binary)
        .args(["-p", "-c", "-u", SERVERNAME, "-f"])
        .arg(path)
        .arg(user)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run saslpasswd2 (Debian package sasl2-bin): {e}"),
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(password.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "saslpasswd2 for {user:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
