//! Which system users the servers run as.
//!
//! As root (Cyrus: `cyrus_user` is `nobody`), Dovecot runs the way a packaged install does (login processes as `dovenull`,
//! internal services as `dovecot`, chrooted logins), but it refuses to access mail as root, so
//! mail belongs to `nobody`. As an ordinary user, every Dovecot service runs as that user, with
//! no chroot, and mail belongs to that user.

use std::io;

use nix::unistd::{Group, User, getegid, geteuid};

/// The accounts a server instance uses.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// Whether the test process runs as root.
    pub root: bool,
    /// Owner of the users' mail directories.
    pub mail_uid: u32,
    /// Group of the users' mail directories.
    pub mail_gid: u32,
    /// Dovecot's `default_login_user`.
    pub login_user: String,
    /// Dovecot's `default_internal_user`.
    pub internal_user: String,
    /// Dovecot's `default_internal_group`.
    pub internal_group: String,
}

impl Identity {
    /// The identity for the current process.
    pub(crate) fn current() -> io::Result<Self> {
        if geteuid().is_root() {
            // dovenull and dovecot come with dovecot-core; if they are missing, Dovecot says so
            // in its log, which the start error includes.
            let nobody = lookup_user_by_name("nobody")?;
            Ok(Identity {
                root: true,
                mail_uid: nobody.uid.as_raw(),
                mail_gid: nobody.gid.as_raw(),
                login_user: "dovenull".into(),
                internal_user: "dovecot".into(),
                internal_group: "dovecot".into(),
            })
        } else {
            let uid = geteuid();
            let gid = getegid();
            let user = User::from_uid(uid)
                .map_err(io::Error::from)?
                .ok_or_else(|| not_found(&format!("uid {uid}")))?;
            let group = Group::from_gid(gid)
                .map_err(io::Error::from)?
                .ok_or_else(|| not_found(&format!("gid {gid}")))?;
            Ok(Identity {
                root: false,
                mail_uid: uid.as_raw(),
                mail_gid: gid.as_raw(),
                login_user: user.name.clone(),
                internal_user: user.name,
                internal_group: group.name,
            })
        }
    }
}

fn lookup_user_by_name(name: &str) -> io::Result<User> {
    User::from_name(name)
        .map_err(io::Error::from)?
        .ok_or_else(|| not_found(&format!("user {name:?}")))
}

fn not_found(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("system account lookup failed: no {what}"),
    )
}
