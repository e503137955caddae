//! OAuth2 built in (issue 18), end to end on loopback: `pimlink auth` against the testkit's
//! authorization server (the test follows the printed URL as a browser would), then
//! `pimlink sync` logging in to a Dovecot whose `oauth2` passdb asks that server to introspect
//! each token. No keyring is reachable here (the session bus is taken away), so the tokens
//! live in the 0600 file under the state directory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::dav::{self, DavWorld};
use common::imap::message;
use common::keyring::{assert_keyring_started, unlocked_keyring};
use common::{Run, World};
use pimlink_testkit::oauth2::{OAuth2Server, follow};
use pimlink_testkit::{Dovecot, DovecotBuilder, RadicaleBuilder};
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

struct Setup {
    oauth: OAuth2Server,
    dovecot: Dovecot,
    world: World,
}

fn setup() -> Setup {
    let oauth = OAuth2Server::start("test").unwrap();
    let dovecot = DovecotBuilder::new()
        .oauth2_introspection(&oauth.introspection_endpoint())
        .start()
        .unwrap();
    let world = World::new("");
    let setup = Setup {
        oauth,
        dovecot,
        world,
    };
    setup.write_config("xoauth2");
    setup
}

impl Setup {
    fn write_config(&self, auth: &str) {
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
             user = \"{user}\"\nauth = \"{auth}\"\n\
             oauth2 = {{ provider = \"generic\", client_id = \"pimlink-test\", \
             scopes = [\"mail\"], authorization_endpoint = \"{authz}\", \
             token_endpoint = \"{token}\", device_authorization_endpoint = \"{device}\" }}\n\n\
             [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\n\n\
             [pair.p]\na = \"a\"\nb = \"b\"\n",
            state = self.world.state_dir().display(),
            host = self.dovecot.host(),
            port = self.dovecot.port(),
            user = self.dovecot.user(),
            authz = self.oauth.authorization_endpoint(),
            token = self.oauth.token_endpoint(),
            device = self.oauth.device_authorization_endpoint(),
            b = self.world.root("b").display(),
        );
        fs::write(self.world.config(), config).unwrap();
    }

    /// pimlink with no session bus, so that no keyring is reachable (nor the user's own).
    fn pimlink(&self, args: &[&str]) -> Command {
        let mut command = self.world.pimlink(args);
        command.env_remove("DBUS_SESSION_BUS_ADDRESS");
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        Run(self.pimlink(args).output().unwrap())
    }

    fn deliver(&self, id: &str) {
        self.dovecot
            .deliver(self.dovecot.user(), "INBOX", &message(id))
            .unwrap();
    }

    /// Polled while the daemon may still be creating the folder or renaming files: what
    /// cannot be read yet is not there yet (the whole-tree reader would panic on it).
    fn has_locally(&self, id: &str) -> bool {
        let inbox = self.world.root("b").join("INBOX");
        let wanted = format!("Message-ID: <{id}@");
        ["cur", "new"]
            .iter()
            .filter_map(|sub| fs::read_dir(inbox.join(sub)).ok())
            .flatten()
            .flatten()
            .filter_map(|entry| fs::read_to_string(entry.path()).ok())
            .any(|text| text.contains(&wanted))
    }

    fn token_file(&self) -> std::path::PathBuf {
        self.world.state_dir().join("oauth2").join("a.json")
    }

    /// Starts `pimlink auth a ARGS` with its output piped.
    fn start_auth(&self, args: &[&str]) -> Child {
        let mut all = vec!["auth", "a"];
        all.extend_from_slice(args);
        self.pimlink(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn authorize(&self) -> Run {
        authorize(self.pimlink(&["auth", "a", "--no-browser"]), &self.oauth)
    }

    fn sync(&self) -> Run {
        self.run(&["sync"])
    }
}

/// Reads `lines` into `printed` until `found` picks something out of one, or to the end.
fn read_until<T>(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    printed: &mut String,
    found: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(value) = found(&line) {
            return Some(value);
        }
    }
    None
}

/// `pimlink auth STORAGE --no-browser` (as `command`), with the test as the browser: follows
/// the printed URL to the provider, which redirects back to pimlink's loopback listener.
fn authorize(mut command: Command, oauth: &OAuth2Server) -> Run {
    command.env_remove("DBUS_SESSION_BUS_ADDRESS");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let url = read_until(&mut lines, &mut printed, |line| {
        line.starts_with(&oauth.authorization_endpoint())
            .then(|| line.to_owned())
    })
    .expect("pimlink auth printed no URL");
    let waiting = read_until(&mut lines, &mut printed, |line| Some(line.to_owned()))
        .expect("pimlink auth printed no listener");
    // A request with another state (a forged redirect) is refused, and the flow waits on.
    let listener = waiting
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the listener's address");
    let (status, _) = follow(&format!("{listener}?code=forged&state=wrong")).unwrap();
    assert_eq!(status, 400);
    let (status, body) = follow(&url).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("authorized"), "{body}");
    read_until(&mut lines, &mut printed, |_| None::<()>);
    let mut output = child.wait_with_output().unwrap();
    output.stdout = printed.into_bytes();
    Run(output)
}

#[test]
fn auth_then_sync_logs_in_with_xoauth2_and_oauthbearer() {
    let s = setup();
    s.deliver("one");
    let auth = s.authorize();
    assert_eq!(auth.code(), 0, "{auth}");
    assert!(
        auth.stdout().contains("S256") && auth.stdout().contains("code_challenge="),
        "{auth}"
    );
    assert!(
        auth.stdout()
            .contains(&s.token_file().display().to_string())
            && auth.stdout().contains("no keyring was reachable"),
        "{auth}"
    );
    let mode = fs::metadata(s.token_file()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(s.oauth.counts().authorization_code, 1);

    let run = s.run(&["-vv", "sync"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(s.has_locally("one"));
    assert!(s.oauth.counts().introspections >= 1);
    // A token is never shown, even verbose.
    assert!(!run.to_string().contains("access-"), "{run}");

    s.write_config("oauthbearer");
    s.deliver("two");
    let run = s.sync();
    assert_eq!(run.code(), 0, "{run}");
    assert!(s.has_locally("two"));
    // The stored token was still good: no refresh.
    assert_eq!(s.oauth.counts().refresh_token, 0);
}

#[test]
fn an_expired_token_is_refreshed_and_a_fresh_one_reused() {
    let s = setup();
    // Tokens that expire at once: every use needs a refresh.
    s.oauth.set_lifetime(0);
    assert_eq!(s.authorize().code(), 0);
    let after_auth = s.oauth.counts().refresh_token;
    s.deliver("one");
    let run = s.sync();
    assert_eq!(run.code(), 0, "{run}");
    assert!(s.has_locally("one"));
    let after_sync = s.oauth.counts().refresh_token;
    assert!(after_sync > after_auth);

    s.oauth.set_lifetime(3600);
    assert_eq!(s.sync().code(), 0);
    let long_lived = s.oauth.counts().refresh_token;
    assert!(long_lived > after_sync);
    // This one lives an hour, and was stored with its expiry: the next run reuses it.
    s.deliver("two");
    assert_eq!(s.sync().code(), 0);
    assert!(s.has_locally("two"));
    assert_eq!(s.oauth.counts().refresh_token, long_lived);
}

#[test]
fn a_token_the_server_stops_accepting_is_refreshed_and_the_login_retried() {
    let s = setup();
    assert_eq!(s.authorize().code(), 0);
    assert_eq!(s.sync().code(), 0);
    let before = s.oauth.counts().refresh_token;
    // Still unexpired by its lifetime, but no longer accepted: Dovecot answers NO.
    s.oauth.reject_access_tokens();
    s.deliver("one");
    let run = s.sync();
    assert_eq!(run.code(), 0, "{run}");
    assert!(s.has_locally("one"));
    assert_eq!(s.oauth.counts().refresh_token, before + 1);
}

#[test]
fn a_revoked_refresh_token_exits_3_with_the_hint() {
    let s = setup();
    let run = s.sync();
    assert_eq!(run.code(), 3, "{run}");
    assert!(run.stderr().contains("run `pimlink auth a`"), "{run}");

    assert_eq!(s.authorize().code(), 0);
    s.oauth.revoke();
    let run = s.sync();
    assert_eq!(run.code(), 3, "{run}");
    assert!(run.stderr().contains("invalid_grant"), "{run}");
    assert!(run.stderr().contains("run `pimlink auth a`"), "{run}");
}

#[test]
fn device_flow_survives_slow_down() {
    let s = setup();
    s.oauth.slow_down_next();
    let mut child = s.start_auth(&["--device"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let complete = read_until(&mut lines, &mut printed, |line| {
        line.strip_prefix("(or open ")
            .map(|rest| rest.trim_end_matches(" directly)").to_owned())
    })
    .expect("no verification URL");
    assert!(printed.contains("enter the code user-"), "{printed}");
    let (status, body) = follow(&complete).unwrap();
    assert_eq!(status, 200, "{body}");
    read_until(&mut lines, &mut printed, |_| None::<()>);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts = s.oauth.counts();
    assert_eq!(counts.device_code, 1);
    assert!(counts.device_polls_refused >= 1, "{counts:?}");
    s.deliver("one");
    assert_eq!(s.sync().code(), 0);
    assert!(s.has_locally("one"));
}

#[test]
fn caldav_sends_the_token_as_bearer_and_renews_it_after_a_401() {
    let oauth = OAuth2Server::start("test").unwrap();
    let radicale = RadicaleBuilder::new().remote_user(true).start().unwrap();
    let proxy = oauth.bearer_proxy(radicale.port()).unwrap();
    radicale.create_calendar("cal").unwrap();
    dav::put(&radicale, "cal", "one", "first");
    let world = DavWorld::new(
        &format!(
            "type = \"caldav\"\nurl = \"{url}\"\nuser = \"test\"\n\
             oauth2 = {{ provider = \"generic\", client_id = \"pimlink-test\", \
             scopes = [\"calendar\"], authorization_endpoint = \"{authz}\", \
             token_endpoint = \"{token}\" }}",
            url = proxy.url(),
            authz = oauth.authorization_endpoint(),
            token = oauth.token_endpoint(),
        ),
        "",
    );
    let auth = authorize(world.pimlink(&["auth", "remote", "--no-browser"]), &oauth);
    assert_eq!(auth.code(), 0, "{auth}");
    let sync = |world: &DavWorld| {
        let mut command = world.pimlink(&["sync"]);
        command.env_remove("DBUS_SESSION_BUS_ADDRESS");
        Run(command.output().unwrap())
    };
    let run = sync(&world);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        world.local("cal").get("one").map(String::as_str),
        Some("first")
    );
    assert_eq!(oauth.counts().refresh_token, 0);

    oauth.reject_access_tokens();
    dav::put(&radicale, "cal", "two", "second");
    let refused = proxy.refused();
    let run = sync(&world);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        world.local("cal").get("two").map(String::as_str),
        Some("second")
    );
    assert!(proxy.refused() > refused);
    assert_eq!(oauth.counts().refresh_token, 1);

    oauth.revoke();
    let run = sync(&world);
    assert_eq!(run.code(), 3, "{run}");
    assert!(run.stderr().contains("run `pimlink auth remote`"), "{run}");
}

#[test]
fn with_a_keyring_the_refresh_token_is_kept_there_and_no_file_is_written() {
    let s = setup();
    s.deliver("one");
    let home = s.world.dir.path().join("home");
    fs::create_dir_all(&home).unwrap();
    // A private session bus with a real Secret Service (GNOME Keyring, unlocked with a
    // throwaway password, its files in a temporary HOME); auth and then sync inside it.
    let script = format!(
        "{}\"$PIMLINK\" -c \"$CONFIG\" auth a --no-browser || exit $?\n\
         secret-tool lookup service pimlink-oauth2 storage a >/dev/null || exit 97\n\
         exec \"$PIMLINK\" -c \"$CONFIG\" sync\n",
        unlocked_keyring()
    );
    let mut command = Command::new("dbus-run-session");
    command
        .args(["--", "sh", "-c", &script])
        .env("HOME", &home)
        .env("PIMLINK", env!("CARGO_BIN_EXE_pimlink"))
        .env("CONFIG", s.world.config());
    let run = authorize(command, &s.oauth);
    assert_keyring_started(run.code(), &run);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stdout()
            .contains("in the keyring (secret-tool attributes service=pimlink-oauth2 storage=a)"),
        "{run}"
    );
    assert!(!s.token_file().exists());
    assert!(s.has_locally("one"));
}

/// The daemon's IMAP watcher outlives its token: when its reconnect is refused it gets a new
/// one and watches on, so a new message still arrives without waiting for a poll.
#[test]
fn the_daemons_watcher_renews_a_refused_token_on_reconnect() {
    let s = setup();
    s.deliver("one");
    assert_eq!(s.authorize().code(), 0);
    let mut config = fs::read_to_string(s.world.config()).unwrap();
    // Only the watcher can bring the second message within the test's deadline.
    config = config.replace(
        "auth = \"xoauth2\"\n",
        "auth = \"xoauth2\"\npoll_interval = \"1h\"\n",
    );
    config.push_str(
        "\n[daemon]\ndebounce = \"100ms\"\nmax_backoff = \"2s\"\nfull_sync_interval = \"1h\"\n",
    );
    fs::write(s.world.config(), config).unwrap();
    let daemon = common::daemon::Daemon::start(&s.world.config(), &[], &[]);
    daemon.wait_stdout("READY=1");
    common::daemon::wait_until("the first sync", || s.has_locally("one"));
    let before = s.oauth.counts().refresh_token;
    s.oauth.reject_access_tokens();
    // Drops the watcher's connections: it reconnects with the token the server now refuses.
    s.dovecot.doveadm(&["kick", s.dovecot.user()]).unwrap();
    s.deliver("two");
    common::daemon::wait_until("the second message", || s.has_locally("two"));
    assert!(s.oauth.counts().refresh_token > before);
    // The watcher is back: without a new token it would have given up (the daemon then
    // polls, here once an hour) and this one would not come.
    s.deliver("three");
    common::daemon::wait_until("the third message", || s.has_locally("three"));
    let (_, stderr) = daemon.stop();
    assert!(!stderr.contains("access-"), "{stderr}");
}
