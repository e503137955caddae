//! Against two real Dovecots with ManageSieve (the testkit's): the master's scripts and
//! active script arrive, changes follow, replica-only scripts go, a second run is a no-op.

use pimlink_imap::sieve::SieveClient;
use pimlink_imap::{ClientOptions, Secret, TlsMode};
use pimlink_testkit::{Dovecot, DovecotBuilder};

use super::*;

const FILTER: &[u8] = b"require \"fileinto\";\r\nif address :is \"from\" \"boss@example.org\" {\r\n  fileinto \"Boss\";\r\n}\r\n";
const VACATION: &[u8] = b"require \"vacation\";\r\nvacation \"Away until Monday\";\r\n";

fn dovecot() -> Dovecot {
    DovecotBuilder::new()
        .users(&[("alice", "a-pw"), ("bob", "b-pw")])
        .managesieve(true)
        .master_user("admin", "admin-pw")
        .start()
        .unwrap()
}

/// How the admin acts as a user (`master_login`).
enum ActAs {
    Authzid,
    MasterUser,
    Own,
}

/// The admin's side of a server, acting as `user` by `act_as`.
fn side(server: &Dovecot, act_as: ActAs, user: &str) -> SieveSide {
    let mut connection = ClientOptions::new(server.host(), "admin", Secret::new("admin-pw"));
    connection.tls = TlsMode::None;
    match act_as {
        ActAs::Authzid => connection.authzid = Some(user.to_string()),
        ActAs::MasterUser => connection.user = format!("{user}*admin"),
        ActAs::Own => {}
    }
    SieveSide {
        connection,
        port: server.sieve_port().unwrap(),
    }
}

/// A client logged in as the user themself, to seed and to look.
async fn user(server: &Dovecot, name: &str, password: &str) -> SieveClient {
    let mut connection = ClientOptions::new(server.host(), name, Secret::new(password));
    connection.tls = TlsMode::None;
    connection.port = server.sieve_port();
    let options = pimlink_imap::sieve::SieveOptions { connection };
    SieveClient::connect(&options).await.unwrap()
}

/// Every script with its bytes and whether it is active, sorted by name.
async fn contents(server: &Dovecot, name: &str, password: &str) -> Vec<Script> {
    let mut client = user(server, name, password).await;
    let mut all = read_all(&mut client).await.unwrap();
    client.logout().await.unwrap();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

async fn run(master: &SieveSide, replica: &SieveSide, name: &str) -> SieveReport {
    let report = replicate_scripts(master, replica, name, false)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

#[tokio::test]
async fn scripts_and_the_active_one_are_replicated_and_a_second_run_changes_nothing() {
    let (master_server, replica_server) = (dovecot(), dovecot());
    let mut alice = user(&master_server, "alice", "a-pw").await;
    alice.put_script("filter", FILTER).await.unwrap();
    alice.put_script("vacation", VACATION).await.unwrap();
    alice.set_active(Some("filter")).await.unwrap();
    alice.logout().await.unwrap();
    let master = side(&master_server, ActAs::Authzid, "alice");
    let replica = side(&replica_server, ActAs::Authzid, "alice");

    let report = run(&master, &replica, "alice").await;
    assert_eq!(report.user, "alice");
    assert_eq!(
        report.changes,
        [
            SieveChange::Created("filter".into()),
            SieveChange::Created("vacation".into()),
            SieveChange::Activated("filter".into()),
        ]
    );
    let expected = contents(&master_server, "alice", "a-pw").await;
    assert_eq!(expected.len(), 2);
    assert_eq!(contents(&replica_server, "alice", "a-pw").await, expected);
    assert!(
        contents(&replica_server, "bob", "b-pw").await.is_empty(),
        "alice's scripts went to alice"
    );

    let again = run(&master, &replica, "alice").await;
    assert_eq!(again.changes, [], "a second run changes nothing");
}

#[tokio::test]
async fn a_changed_script_is_updated_and_replica_only_scripts_are_removed() {
    let (master_server, replica_server) = (dovecot(), dovecot());
    let master = side(&master_server, ActAs::Authzid, "alice");
    let replica = side(&replica_server, ActAs::Authzid, "alice");
    let mut alice = user(&master_server, "alice", "a-pw").await;
    alice.put_script("filter", FILTER).await.unwrap();
    alice.put_script("vacation", VACATION).await.unwrap();
    alice.set_active(Some("vacation")).await.unwrap();
    run(&master, &replica, "alice").await;

    // The master changes a script; on the replica someone adds one and activates it.
    let changed = b"require \"vacation\";\r\nvacation \"Back on Tuesday\";\r\n";
    alice.put_script("vacation", changed).await.unwrap();
    alice.logout().await.unwrap();
    let mut replica_alice = user(&replica_server, "alice", "a-pw").await;
    replica_alice
        .put_script("local", b"keep;\r\n")
        .await
        .unwrap();
    replica_alice.set_active(Some("local")).await.unwrap();
    replica_alice.logout().await.unwrap();

    let dry = replicate_scripts(&master, &replica, "alice", true)
        .await
        .unwrap();
    let expected_changes = [
        SieveChange::Updated("vacation".into()),
        SieveChange::Activated("vacation".into()),
        SieveChange::Deleted("local".into()),
    ];
    assert_eq!(dry.changes, expected_changes);
    let replica_before = contents(&replica_server, "alice", "a-pw").await;
    assert_eq!(replica_before.len(), 3, "a dry run writes nothing");

    let report = run(&master, &replica, "alice").await;
    assert_eq!(report.changes, expected_changes);
    let after = contents(&replica_server, "alice", "a-pw").await;
    assert_eq!(after, contents(&master_server, "alice", "a-pw").await);
    assert_eq!(after[1].body, changed);
    assert!(after[1].active);
}

#[tokio::test]
async fn no_active_script_on_the_master_deactivates_the_replica_with_master_user_logins() {
    let (master_server, replica_server) = (dovecot(), dovecot());
    let master = side(&master_server, ActAs::MasterUser, "bob");
    let replica = side(&replica_server, ActAs::MasterUser, "bob");
    let mut bob = user(&master_server, "bob", "b-pw").await;
    bob.put_script("filter", FILTER).await.unwrap();
    bob.set_active(Some("filter")).await.unwrap();
    run(&master, &replica, "bob").await;
    assert!(contents(&replica_server, "bob", "b-pw").await[0].active);

    bob.set_active(None).await.unwrap();
    bob.logout().await.unwrap();
    let report = run(&master, &replica, "bob").await;
    assert_eq!(report.changes, [SieveChange::Deactivated]);
    assert_eq!(
        contents(&replica_server, "bob", "b-pw").await,
        contents(&master_server, "bob", "b-pw").await
    );

    // The storage's own user ("self"): admin is not a mail user, so the login is refused.
    let own = side(&replica_server, ActAs::Own, "bob");
    let err = replicate_scripts(&own, &replica, "bob", false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("on the master"), "{err}");
}

#[tokio::test]
async fn sides_come_from_the_configuration_as_the_user_sees_the_storage() {
    let (master_server, replica_server) = (dovecot(), dovecot());
    let mut alice = user(&master_server, "alice", "a-pw").await;
    alice.put_script("filter", FILTER).await.unwrap();
    alice.logout().await.unwrap();
    let storage = |name: &str, server: &Dovecot, secret: &str| {
        format!(
            "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
             user = \"admin\"\n{secret}\n\n",
            server.host(),
            server.port()
        )
    };
    // Each test server has its own ManageSieve port: the master's storage names its own, the
    // replica's comes from the replication's `sieve_port`.
    let text = format!(
        "{}{}[storage.local]\ntype = \"maildir\"\npath = \"/nonexistent/{{user}}\"\n\n\
         [replication.x]\nmaster = \"m\"\nreplica = \"r\"\nusers = [\"alice\"]\n\
         master_login = \"authzid\"\nreplica_login = \"master-user\"\nsieve = true\n\
         sieve_port = {}\n",
        storage(
            "m",
            &master_server,
            &format!(
                "password = \"admin-pw\"\nsieve_port = {}",
                master_server.sieve_port().unwrap()
            )
        ),
        storage("r", &replica_server, "password_cmd = \"echo admin-pw\""),
        replica_server.sieve_port().unwrap(),
    );
    let config = crate::config::parse(&text, std::path::Path::new("test.toml")).unwrap();
    let repl = &config.replications["x"];
    assert!(repl.sieve);
    let alice_user = crate::replicate::users::User::new("alice").unwrap();
    let as_alice = |storage: &str, login| {
        crate::replicate::login::storage_as_user(
            &config.storages[storage],
            &alice_user,
            login,
            &repl.master_user_separator,
        )
    };
    let master = SieveSide::for_storage(&as_alice("m", repl.master_login), repl.sieve_port)
        .unwrap()
        .unwrap();
    let replica = SieveSide::for_storage(&as_alice("r", repl.replica_login), repl.sieve_port)
        .unwrap()
        .unwrap();
    let report = run(&master, &replica, "alice").await;
    assert_eq!(report.changes, [SieveChange::Created("filter".into())]);
    assert_eq!(
        contents(&replica_server, "alice", "a-pw").await,
        contents(&master_server, "alice", "a-pw").await
    );
    assert!(
        SieveSide::for_storage(&config.storages["local"], None)
            .unwrap()
            .is_none(),
        "a Maildir has no ManageSieve"
    );
}
