//! Real servers for pimlink's tests: each helper starts a private server on a free loopback
//! port, in its own temp dir with its own config and users, and stops it when dropped.
//!
//! Key types:
//! - [`Dovecot`] / [`DovecotBuilder`]: Dovecot 2.3 IMAP (Debian `dovecot-imapd`), optionally
//!   with implicit TLS + STARTTLS, COMPRESS=DEFLATE, a trimmed capability list or the
//!   one-directory-per-folder layout; seed mail with [`Dovecot::deliver`],
//!   [`Dovecot::deliver_many`] (bulk) or [`Dovecot::doveadm`]; [`Dovecot::tunnel_command`]
//!   gives a PREAUTH session over stdin/stdout. For replication: ManageSieve
//!   ([`DovecotBuilder::managesieve`]) and master users ([`DovecotBuilder::master_user`]).
//! - [`Radicale`] / [`RadicaleBuilder`]: Radicale 3 CalDAV/CardDAV (Debian `radicale`) with
//!   plain htpasswd auth for one user; seed it with [`Radicale::create_calendar`],
//!   [`Radicale::create_addressbook`] and [`Radicale::put`].
//! - [`Cyrus`] / [`CyrusBuilder`]: Cyrus IMAP 3.6, unpacked privately by `scripts/install-deps`
//!   (its Debian package conflicts with Dovecot's), for running the IMAP suite against a second
//!   server. [`Cyrus::available`] tells whether it is unpacked; `PIMLINK_CYRUS_DIR` points at
//!   another unpacked tree.
//! - [`tls::generate`]: a throwaway CA and a `localhost` server certificate.
//! - [`CutProxy`]: a loopback TCP proxy in front of a server that cuts each connection after
//!   as many bytes as the test's plan says ([`Cut`]), to test dropped connections; with
//!   [`TestRng`], a seeded generator, the cut points are random but replayable.
//! - [`kill`]: SIGKILL a program under test part-way through a run, at a point set by its
//!   progress (what it printed) rather than by a clock, and know that the kill interrupted it.
//!
//! Guarantees: servers listen on 127.0.0.1 only; `Drop` stops the whole process group and waits
//! for it; a watchdog kills the server if the test process dies without dropping it. Works as
//! root (CI; mail is then owned by `nobody`, as Dovecot will not access mail as root) and as an
//! ordinary user.
//!
//! Not for: production use, or anything other than tests. The Debian packages come from
//! `scripts/deps-debian.txt`, installed by `scripts/test`.
//!
//! ```no_run
//! use std::io::{BufRead, BufReader, Write};
//! let server = pimlink_testkit::DovecotBuilder::new().compress(true).start()?;
//! server.deliver(server.user(), "INBOX", b"Subject: hi\r\n\r\nbody\r\n")?;
//! let stream = std::net::TcpStream::connect((server.host(), server.port()))?;
//! let mut greeting = String::new();
//! BufReader::new(&stream).read_line(&mut greeting)?;
//! assert!(greeting.starts_with("* OK"));
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(missing_docs)]

mod cyrus;
pub mod dns;
mod dovecot;
mod fsutil;
mod http_line;
pub mod https;
mod identity;
mod imap_line;
// Provider quirks (issue 18): a proxy that makes Dovecot answer as a provider does.
mod imap_script;
pub mod kill;
mod loopback;
mod net;
// The OAuth2 authorization server for the tests (issue 18).
pub mod oauth2;
pub mod oauth2_proxy;
mod process;
mod proxy;
mod radicale;
mod rng;
pub mod tls;
mod xandikos;

pub use cyrus::{Cyrus, CyrusBuilder};
pub use dovecot::{Dovecot, DovecotBuilder};
pub use http_line::Response;
pub use imap_script::{ImapScript, ImapScriptProxy};
pub use net::{HOST, free_port};
pub use proxy::{ConnectionRecord, Cut, CutProxy, Direction};
pub use radicale::{Radicale, RadicaleBuilder};
pub use rng::TestRng;
pub use xandikos::Xandikos;
