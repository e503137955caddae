//! The Dovecot harness against the real Dovecot: every builder option is checked through what
//! a client sees on the wire or on disk.

// Tests may panic on unexpected errors: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Imap, process_running_with};
use pimlink_testkit::{Dovecot, DovecotBuilder};

const MESSAGE: &[u8] = b"From: a@example.org\r\nSubject: seeded\r\n\r\nhello\r\n";

fn login(server: &Dovecot) -> (Imap, String) {
    let mut imap = Imap::connect(server.host(), server.port());
    let command = format!("LOGIN {} {}", server.user(), server.password());
    let (_, status) = imap.ok(&command);
    (imap, status)
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn default_server_logs_in_lists_and_reports_seeded_mail() {
    let server = Dovecot::start().unwrap();
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!((server.user(), server.password()), ("test", "secret"));
    assert_eq!(server.tls_port(), None);
    assert!(server.ca_cert_pem().is_none());

    server.deliver("test", "INBOX", MESSAGE).unwrap();
    server.deliver("test", "Archive.2024", MESSAGE).unwrap();
    server.deliver("test", "Archive.2024", MESSAGE).unwrap();

    let (mut imap, login_status) = login(&server);
    assert!(imap.greeting.starts_with("* OK"), "{}", imap.greeting);
    assert!(!imap.greeting.contains("STARTTLS"), "TLS is off by default");
    assert!(login_status.contains("UIDPLUS"), "{login_status}");
    assert!(!login_status.contains("COMPRESS"), "{login_status}");

    let (list, _) = imap.ok("LIST \"\" \"*\"");
    let names: Vec<&str> = list.iter().filter_map(|l| l.rsplit(' ').next()).collect();
    assert!(names.contains(&"INBOX"), "{list:?}");
    assert!(names.contains(&"Archive.2024"), "{list:?}");
    assert!(
        list.iter().all(|l| l.contains(" \".\" ")),
        "Maildir++ delimiter: {list:?}"
    );

    let (select, _) = imap.ok("SELECT Archive.2024");
    assert!(select.contains(&"* 2 EXISTS".to_string()), "{select:?}");
    let (fetch, _) = imap.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    assert!(fetch.iter().any(|l| l == "Subject: seeded"), "{fetch:?}");

    // Maildir++ on disk: INBOX at the root, the folder as a dot directory.
    let maildir = server.mail_dir("test");
    assert_eq!(
        count_files(&maildir.join("cur")) + count_files(&maildir.join("new")),
        1
    );
    assert!(maildir.join(".Archive.2024").join("cur").is_dir());
}

/// Dovecot delays the answer to a failed login by 2 s unless told not to: tests that try wrong
/// passwords would wait that long each time. The setting is checked rather than the time an
/// answer takes, which a busy machine can stretch past any bound.
#[test]
fn wrong_password_is_refused_without_delay() {
    let server = Dovecot::start().unwrap();
    let mut imap = Imap::connect(server.host(), server.port());
    let (_, status) = imap.command("LOGIN test wrong");
    assert!(status.starts_with("NO"), "{status}");
    let setting = Command::new("doveconf")
        .arg("-c")
        .arg(server.config_path())
        .args(["-h", "auth_failure_delay"])
        .output()
        .expect("doveconf (Debian package dovecot-core) is installed");
    assert!(setting.status.success(), "{setting:?}");
    assert_eq!(String::from_utf8_lossy(&setting.stdout).trim(), "0");
}

#[test]
fn many_parallel_sessions_of_one_user_are_allowed() {
    let server = Dovecot::start().unwrap();
    // Dovecot's default limit is 10 per user and address.
    let sessions: Vec<Imap> = (0..15).map(|_| login(&server).0).collect();
    assert_eq!(sessions.len(), 15);
}

#[test]
fn several_users_each_get_their_own_mail() {
    let server = DovecotBuilder::new()
        .users(&[("alice", "pw-a"), ("bob", "pw-b")])
        .start()
        .unwrap();
    assert_eq!((server.user(), server.password()), ("alice", "pw-a"));
    server.deliver("bob", "INBOX", MESSAGE).unwrap();

    let mut imap = Imap::connect(server.host(), server.port());
    imap.ok("LOGIN bob pw-b");
    let (status, _) = imap.ok("STATUS INBOX (MESSAGES)");
    assert!(status[0].contains("MESSAGES 1"), "{status:?}");
    let mut imap = Imap::connect(server.host(), server.port());
    imap.ok("LOGIN alice pw-a");
    let (status, _) = imap.ok("STATUS INBOX (MESSAGES)");
    assert!(status[0].contains("MESSAGES 0"), "{status:?}");
}

#[test]
fn invalid_users_are_refused_before_starting() {
    for users in [&[][..], &[("a:b", "x")][..], &[("a", "x\ny")][..]] {
        let error = DovecotBuilder::new().users(users).start().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    }
}

#[test]
fn compress_adds_compress_deflate() {
    let server = DovecotBuilder::new().compress(true).start().unwrap();
    let (mut imap, login_status) = login(&server);
    assert!(login_status.contains("COMPRESS=DEFLATE"), "{login_status}");
    imap.ok("COMPRESS DEFLATE");
}

#[test]
fn capabilities_override_drops_extensions() {
    let server = DovecotBuilder::new()
        .capabilities("IMAP4rev1 LITERAL+ IDLE NAMESPACE")
        .start()
        .unwrap();
    let (mut imap, _) = login(&server);
    let (caps, _) = imap.ok("CAPABILITY");
    assert_eq!(caps, vec!["* CAPABILITY IMAP4rev1 LITERAL+ IDLE NAMESPACE"]);
}

#[test]
fn one_directory_per_folder_layout() {
    let server = DovecotBuilder::new().layout(false).start().unwrap();
    server.deliver("test", "Lists/rust", MESSAGE).unwrap();
    server.deliver("test", "INBOX", MESSAGE).unwrap();

    let (mut imap, _) = login(&server);
    let (list, _) = imap.ok("LIST \"\" \"*\"");
    assert!(
        list.iter().any(|l| l.ends_with("\"/\" Lists/rust")),
        "{list:?}"
    );
    assert_eq!(
        list.iter().filter(|l| l.ends_with(" INBOX")).count(),
        1,
        "{list:?}"
    );

    let maildir = server.mail_dir("test");
    assert!(maildir.join("Lists/rust/cur").is_dir());
    assert!(maildir.join("INBOX/cur").is_dir());
}

#[test]
fn files_written_directly_are_seen_after_chown_mail() {
    let server = Dovecot::start().unwrap();
    // Let Dovecot create the Maildir first, as a mail reader would find it.
    server
        .doveadm(&["mailbox", "status", "-u", "test", "messages", "INBOX"])
        .unwrap();
    let new = server.mail_dir("test").join("new");
    std::fs::write(new.join("1700000000.seeded.host"), MESSAGE).unwrap();
    std::fs::write(new.join("1700000001.seeded.host"), MESSAGE).unwrap();
    server.chown_mail("test").unwrap();

    let (mut imap, _) = login(&server);
    let (select, _) = imap.ok("SELECT INBOX");
    assert!(select.contains(&"* 2 EXISTS".to_string()), "{select:?}");
    // Setting a flag renames the file into cur/: only possible if Dovecot owns the files.
    imap.ok("STORE 1:2 +FLAGS (\\Seen)");
    assert_eq!(count_files(&server.mail_dir("test").join("cur")), 2);
}

#[test]
fn doveadm_runs_against_this_instance() {
    let server = Dovecot::start().unwrap();
    server.deliver("test", "Work", MESSAGE).unwrap();
    let out = server.doveadm(&["mailbox", "list", "-u", "test"]).unwrap();
    let names: Vec<&str> = out.lines().collect();
    assert!(names.contains(&"INBOX") && names.contains(&"Work"), "{out}");
    let error = server.doveadm(&["no-such-command"]).unwrap_err();
    assert!(error.to_string().contains("doveadm"), "{error}");
}

#[test]
fn tls_port_serves_the_ca_signed_certificate() {
    let server = DovecotBuilder::new().tls(true).start().unwrap();
    let tls_port = server.tls_port().unwrap();
    assert_ne!(tls_port, server.port());
    let ca = server.ca_cert_pem().unwrap();
    assert!(
        std::fs::read_to_string(ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );

    // The plain port offers STARTTLS and still allows plaintext LOGIN.
    let (_, login_status) = login(&server);
    assert!(login_status.starts_with("OK"));
    let imap = Imap::connect(server.host(), server.port());
    assert!(imap.greeting.contains("STARTTLS"), "{}", imap.greeting);

    // openssl verifies the chain against our CA and the name; the greeting arrives over TLS.
    // -ign_eof: keep reading after our LOGOUT until the server closes the connection.
    let mut child = Command::new("openssl")
        .args(["s_client", "-brief", "-ign_eof", "-verify_return_error"])
        .args(["-verify_hostname", "localhost"])
        .arg("-connect")
        .arg(format!("127.0.0.1:{tls_port}"))
        .arg("-CAfile")
        .arg(ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a LOGOUT\r\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.starts_with("* OK"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("a OK Logout completed"), "stdout: {stdout}");
    assert!(stderr.contains("Verification: OK"), "stderr: {stderr}");
}

#[test]
fn drop_stops_every_process_and_deletes_the_directory() {
    let server = DovecotBuilder::new().tls(true).start().unwrap();
    let (port, tls_port) = (server.port(), server.tls_port().unwrap());
    let root = server.root_dir().to_path_buf();
    // An open session means a running imap process too.
    let (imap, _) = login(&server);
    let marker = root.to_string_lossy().into_owned();
    assert!(process_running_with(&marker));

    drop(server);
    assert!(!process_running_with(&marker), "a Dovecot process survived");
    assert!(!root.exists(), "temp dir {root:?} was left behind");
    for p in [port, tls_port] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", p)).is_err(),
            "port {p} still open"
        );
    }
    drop(imap);
}

#[test]
fn parallel_servers_get_distinct_ports_and_directories() {
    let servers: Vec<Dovecot> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(Dovecot::start)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(Dovecot::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3);
    for server in &servers {
        login(server);
    }
}

/// Helper for the next test: started in a child process, it starts Dovecot, reports the
/// server's directory and dies without running destructors, like a test run killed by Ctrl-C.
#[test]
#[ignore = "helper, run by watchdog_kills_the_server_when_the_test_process_dies"]
fn helper_start_dovecot_and_abort() {
    let Some(report) = std::env::var_os("PIMLINK_TESTKIT_REPORT") else {
        return;
    };
    let server = Dovecot::start().unwrap();
    std::fs::write(report, server.root_dir().to_string_lossy().as_bytes()).unwrap();
    std::process::abort();
}

#[test]
fn watchdog_kills_the_server_when_the_test_process_dies() {
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("root");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_start_dovecot_and_abort",
            "--ignored",
            "--nocapture",
        ])
        .env("PIMLINK_TESTKIT_REPORT", &report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the helper should have aborted");
    let root = std::fs::read_to_string(&report).expect("helper did not start Dovecot");
    // The watchdog looks once a second; the deadline only bounds a failing test.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while process_running_with(&root) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let survived = process_running_with(&root);
    // The aborted process could not delete its temp dir.
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        !survived,
        "Dovecot of the dead test process is still running"
    );
}

/// 500 messages seeded in one call arrive in order (how long that takes is not checked: a busy
/// machine stretches any bound).
#[test]
fn deliver_many_seeds_in_order() {
    let server = DovecotBuilder::new().layout(false).start().unwrap();
    let messages: Vec<Vec<u8>> = (0..500)
        .map(|i| format!("Subject: bulk {i}\r\n\r\nbody {i}\r\n").into_bytes())
        .collect();
    let n = server
        .deliver_many("test", "Bulk/2024", messages.iter().map(Vec::as_slice))
        .unwrap();
    assert_eq!(n, 500);
    server.deliver_many("test", "INBOX", [MESSAGE]).unwrap();

    let (mut imap, _) = login(&server);
    let (status, _) = imap.ok("STATUS Bulk/2024 (MESSAGES)");
    assert!(status[0].contains("MESSAGES 500"), "{status:?}");
    imap.ok("SELECT Bulk/2024");
    let (fetch, _) = imap.ok("UID FETCH 1,500 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    let subjects: Vec<&String> = fetch.iter().filter(|l| l.starts_with("Subject:")).collect();
    assert_eq!(
        subjects,
        ["Subject: bulk 0", "Subject: bulk 499"],
        "{fetch:?}"
    );
    let (status, _) = imap.ok("STATUS INBOX (MESSAGES)");
    assert!(status[0].contains("MESSAGES 1"), "{status:?}");
}

#[test]
fn tunnel_command_speaks_preauthenticated_imap() {
    let server = Dovecot::start().unwrap();
    server.deliver("test", "INBOX", MESSAGE).unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(server.tunnel_command("test"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a STATUS INBOX (MESSAGES)\r\nb LOGOUT\r\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("* PREAUTH"), "{stdout}");
    assert!(stdout.contains("* STATUS INBOX (MESSAGES 1)"), "{stdout}");
}

#[test]
fn watchdog_kills_a_server_whose_directory_was_deleted() {
    let server = Dovecot::start().unwrap();
    let root = server.root_dir().to_string_lossy().into_owned();
    // Someone cleaning /tmp behind the harness's back.
    std::fs::remove_dir_all(server.root_dir()).unwrap();
    // The watchdog looks once a second; the deadline only bounds a failing test.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while process_running_with(&format!("{root}/dovecot.conf"))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!process_running_with(&format!("{root}/dovecot.conf")));
    drop(server);
}

// Replication (issue 15): ManageSieve and master users.

fn sasl_plain(authzid: &str, authcid: &str, password: &str) -> String {
    common::base64(format!("{authzid}\0{authcid}\0{password}").as_bytes())
}

#[test]
fn managesieve_greets_and_master_users_act_as_users() {
    let server = DovecotBuilder::new()
        .users(&[("alice", "a-pw"), ("bob", "b-pw")])
        .managesieve(true)
        .master_user("admin", "admin-pw")
        .start()
        .unwrap();
    let sieve_port = server.sieve_port().unwrap();
    assert_ne!(sieve_port, server.port());
    let stream = std::net::TcpStream::connect((server.host(), sieve_port)).unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut greeting = String::new();
    while !greeting.lines().any(|l| l.starts_with("OK")) {
        let before = greeting.len();
        std::io::BufRead::read_line(&mut reader, &mut greeting).unwrap();
        assert!(greeting.len() > before, "connection closed: {greeting}");
    }
    assert!(greeting.contains("\"SIEVE\""), "{greeting}");
    assert!(greeting.contains("\"SASL\" \"PLAIN"), "{greeting}");

    server.deliver("bob", "INBOX", MESSAGE).unwrap();
    let sessions = [
        format!(
            "AUTHENTICATE PLAIN {}",
            sasl_plain("bob", "admin", "admin-pw")
        ),
        "LOGIN bob*admin admin-pw".to_string(),
    ];
    for login in sessions {
        let mut imap = Imap::connect(server.host(), server.port());
        imap.ok(&login);
        let (status, _) = imap.ok("STATUS INBOX (MESSAGES)");
        assert_eq!(
            status,
            ["* STATUS INBOX (MESSAGES 1)"],
            "{login}: bob's INBOX"
        );
    }
    let mut imap = Imap::connect(server.host(), server.port());
    let wrong = format!("AUTHENTICATE PLAIN {}", sasl_plain("bob", "admin", "wrong"));
    let (_, status) = imap.command(&wrong);
    assert!(status.starts_with("NO"), "{status}");
    let no_such_user = format!(
        "AUTHENTICATE PLAIN {}",
        sasl_plain("carol", "admin", "admin-pw")
    );
    let (_, status) = imap.command(&no_such_user);
    assert!(status.starts_with("NO"), "{status}");
}
