//! The client API: one logged-in connection, pipelined commands, streamed bodies.
//!
//! Every method sends its command(s), then reads until its tagged completion. Methods that take
//! several items (`append_many`, `fetch` of a UID set) put all commands on the wire before
//! reading, so a batch costs one round trip. Bodies larger than
//! [`FrameLimits::inline_literal`](crate::proto::frame::FrameLimits) are streamed into unlinked
//! spool files and handed over as [`Content::File`].

use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant, SystemTime};

use pimlink_core::{Content, Error, ErrorKind, Flags};
use pimlink_tls::TlsMode;
use tracing::{debug, trace, warn};

use crate::auth;
use crate::options::{AuthMechanism, ClientOptions};
use crate::proto::command::{self, CommandText, LiteralData, Part};
use crate::proto::escape::escape_text;
use crate::proto::frame::{Frame, FrameEvent, Framer};
use crate::proto::response::{
    BodyRef, ContinueData, FetchData, Greeting, ListEntry, MailboxStatus, NamespaceEntry, Response,
    ResponseCode, StatusKindOf, Untagged, parse_greeting, parse_response_names,
};
use crate::proto::session::{Completion, Session, State};
use crate::transport::Transport;
use crate::uidset::UidRanges;

/// How SELECT should resynchronise.
#[derive(Clone, Debug, Default)]
pub struct SelectOptions {
    /// EXAMINE instead of SELECT.
    pub read_only: bool,
    /// Ask for CONDSTORE (`HIGHESTMODSEQ`) if the server offers it.
    pub condstore: bool,
    /// Quick resync (RFC 7162) from a known state, if the server offers QRESYNC.
    pub qresync: Option<QresyncParams>,
}

/// What the client knew about a mailbox at the last sync.
#[derive(Clone, Debug)]
pub struct QresyncParams {
    /// UIDVALIDITY then.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ then.
    pub modseq: u64,
    /// The UIDs the client knows (lets the server send a precise VANISHED list).
    pub known_uids: Option<UidRanges>,
}

/// The state of a freshly selected mailbox, plus what QRESYNC reported.
#[derive(Debug, Default)]
pub struct SelectedMailbox {
    /// The mailbox name.
    pub name: String,
    /// `UIDVALIDITY`.
    pub uid_validity: Option<u32>,
    /// `UIDNEXT`.
    pub uid_next: Option<u32>,
    /// `EXISTS`.
    pub exists: u32,
    /// `HIGHESTMODSEQ`, if the mailbox has mod-sequences.
    pub highest_modseq: Option<u64>,
    /// Selected read-only.
    pub read_only: bool,
    /// Flags that can be stored permanently.
    pub permanent_flags: Vec<String>,
    /// True if the QRESYNC parameters were sent (the server then reports changes below, unless
    /// the UIDVALIDITY differs).
    pub qresync_used: bool,
    /// UIDs expunged since the given modseq (QRESYNC).
    pub vanished: UidRanges,
    /// Messages changed since the given modseq (QRESYNC), with UID, FLAGS and MODSEQ.
    pub changed: Vec<FetchedMessage>,
}

/// What to fetch per message.
#[derive(Clone, Debug, Default)]
pub struct FetchRequest {
    /// `FLAGS`
    pub flags: bool,
    /// `INTERNALDATE`
    pub internal_date: bool,
    /// `RFC822.SIZE`
    pub size: bool,
    /// `BODY.PEEK[]`
    pub body: bool,
    /// `BODY.PEEK[HEADER.FIELDS (...)]` with these field names.
    pub header_fields: Vec<String>,
    /// `(CHANGEDSINCE n)`: only messages whose modseq is greater (CONDSTORE).
    pub changed_since: Option<u64>,
    /// With `changed_since`: also report expunged UIDs as VANISHED (QRESYNC).
    pub vanished: bool,
}

/// One message from a FETCH.
#[derive(Debug)]
pub struct FetchedMessage {
    /// Sequence number at the time of the response.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// Flags, if asked for.
    pub flags: Option<Flags>,
    /// INTERNALDATE, if asked for.
    pub internal_date: Option<SystemTime>,
    /// RFC822.SIZE, if asked for.
    pub size: Option<u32>,
    /// MODSEQ, if CONDSTORE is in use.
    pub modseq: Option<u64>,
    /// The whole message, if asked for: bytes or an unlinked spool file positioned at 0.
    pub body: Option<Content>,
    /// The requested header fields.
    pub header: Option<Vec<u8>>,
}

/// The result of a FETCH besides the messages themselves.
#[derive(Debug, Default)]
pub struct FetchSummary {
    /// How many messages were handed to the sink.
    pub fetched: u64,
    /// UIDs the server reported as VANISHED.
    pub vanished: UidRanges,
    /// UIDs that were asked for explicitly but neither came back nor were reported VANISHED.
    /// They may have been expunged meanwhile, or the server lost them: the caller must not
    /// treat them as deleted without checking (e.g. with a full UID scan).
    pub missing: UidRanges,
}

/// How UID STORE changes flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
}

/// The result of UID STORE.
#[derive(Debug, Default)]
pub struct StoreOutcome {
    /// UIDs that failed the UNCHANGEDSINCE test (not changed).
    pub modified: UidRanges,
    /// The flags (and modseq) the server reported afterwards, per UID.
    pub updated: Vec<(u32, Flags, Option<u64>)>,
}

/// A message to APPEND.
#[derive(Debug)]
pub struct AppendItem {
    /// The message (CRLF line ends, as IMAP requires).
    pub content: Content,
    /// Its flags.
    pub flags: Flags,
    /// Its internal date.
    pub internal_date: Option<SystemTime>,
}

/// What became of a MULTIAPPEND ([`Client::multiappend`]).
#[derive(Debug)]
pub enum MultiAppend {
    /// The server stored every message. With UIDPLUS: its APPENDUID code, the UIDVALIDITY and
    /// the UIDs as the server wrote them (one per message, in the order sent; check it).
    Stored(Option<(u32, UidRanges)>),
    /// The server refused the command (NO or BAD): none of the messages was stored.
    Refused(Error),
}

/// The UIDs of copied or moved messages (COPYUID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyUids {
    /// UIDVALIDITY of the target mailbox.
    pub uid_validity: u32,
    /// (source UID, target UID) pairs.
    pub pairs: Vec<(u32, u32)>,
}

/// What IDLE saw.
#[derive(Debug, Default)]
pub struct IdleOutcome {
    /// True if nothing happened before the timeout.
    pub timed_out: bool,
    /// The last EXISTS count reported.
    pub exists: Option<u32>,
    /// Sequence numbers expunged.
    pub expunged: Vec<u32>,
    /// UIDs expunged (QRESYNC).
    pub vanished: UidRanges,
    /// Flag changes (FETCH responses).
    pub fetched: Vec<FetchedMessage>,
}

/// Receives each untagged response and the spool files of its large literals (by index).
///
/// A generic bound rather than `dyn FnMut`: a trait object would make every command's future
/// `!Send`, and the engine runs clients on spawned tasks (one per connection).
trait UntaggedHandler: FnMut(Untagged, &mut Vec<Option<File>>) -> Result<(), Error> {}
impl<F: FnMut(Untagged, &mut Vec<Option<File>>) -> Result<(), Error>> UntaggedHandler for F {}

struct Incoming {
    response: Response,
    spooled: Vec<File>,
}

/// A connected, logged-in IMAP client.
pub struct Client {
    options: ClientOptions,
    transport: Transport,
    framer: Framer,
    session: Session,
    capabilities: Vec<String>,
    enabled: Vec<String>,
    backlog: VecDeque<Incoming>,
    spooled: Vec<File>,
    current_spool: Option<File>,
    read_buf: Vec<u8>,
    bye: Option<String>,
    exists: u32,
    /// LIST/LSUB responses left out since [`Client::take_unreadable_folders`] was last asked.
    unreadable_folders: usize,
}

fn peer(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Peer, message)
}

fn random_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS; mixing the time in costs nothing.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

fn escape_for_log(bytes: &[u8]) -> String {
    let cut = bytes.len().min(300);
    let mut text = String::from_utf8_lossy(&bytes[..cut])
        .replace('\r', "\\r")
        .replace('\n', "\\n");
    if bytes.len() > cut {
        text.push_str(&format!("...({} bytes)", bytes.len()));
    }
    text
}

impl Client {
    /// Connects, secures, greets, logs in (unless PREAUTH) and turns on compression, as the
    /// options say.
    pub async fn connect(options: ClientOptions) -> Result<Client, Error> {
        let transport = Transport::open(&options).await?;
        let framer = Framer::new(options.limits, random_nonce());
        let mut client = Client {
            options,
            transport,
            framer,
            session: Session::new(),
            capabilities: Vec::new(),
            enabled: Vec::new(),
            backlog: VecDeque::new(),
            spooled: Vec::new(),
            current_spool: None,
            read_buf: Vec::with_capacity(64 << 10),
            bye: None,
            exists: 0,
            unreadable_folders: 0,
        };
        let limit = client.options.connect_timeout;
        tokio::time::timeout(limit, client.greet_and_secure())
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Connection,
                    format!(
                        "{}: no greeting within {} s",
                        client.transport.description(),
                        limit.as_secs()
                    ),
                )
            })??;
        if client.session.state == State::ExpectLogin {
            client.authenticate().await?;
        }
        if client.options.compress && client.has("COMPRESS=DEFLATE") {
            client.start_compression().await?;
        }
        if client.has("UTF8=ACCEPT") {
            // RFC 6855: folder names then travel as UTF-8 both ways, which is what pimlink's
            // names are; modified UTF-7 stays the fallback for servers without it.
            client.enable(&["UTF8=ACCEPT"]).await?;
        }
        Ok(client)
    }

    async fn greet_and_secure(&mut self) -> Result<(), Error> {
        let (frame, _) = self.next_frame().await?;
        trace!(target: "pimlink_imap::wire", "S: {}", escape_for_log(&frame.bytes));
        let greeting =
            parse_greeting(&frame.bytes).map_err(|e| self.session.fail(peer(e.to_string())))?;
        let code = match greeting {
            Greeting::Bye(text) => {
                return Err(Error::new(
                    ErrorKind::Connection,
                    format!(
                        "{} refused the connection: {text}",
                        self.transport.description()
                    ),
                ));
            }
            Greeting::PreAuth(code) => {
                self.session.state = State::Authenticated;
                code
            }
            Greeting::Ok(code) => {
                self.session.state = State::ExpectLogin;
                code
            }
        };
        match code {
            Some(ResponseCode::Capability(caps)) => self.capabilities = caps,
            _ => self.refresh_capabilities().await?,
        }
        if self.options.tunnel.is_none() && self.options.tls == TlsMode::StartTls {
            if self.session.state != State::ExpectLogin {
                return Err(Error::new(
                    ErrorKind::Refused,
                    "server sent PREAUTH on a connection that must use STARTTLS first",
                ));
            }
            if !self.has("STARTTLS") {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("{} does not offer STARTTLS", self.transport.description()),
                ));
            }
            self.simple(CommandText::new("STARTTLS")).await?;
            let injected = self.framer.take_unframed();
            if !injected.is_empty() {
                // Anything sent before the handshake is unauthenticated: it could be injected.
                warn!(
                    "discarding {} bytes the server sent before the TLS handshake",
                    injected.len()
                );
            }
            self.transport.start_tls(&self.options).await?;
            self.refresh_capabilities().await?;
        }
        Ok(())
    }

    async fn start_compression(&mut self) -> Result<(), Error> {
        self.simple(CommandText::new("COMPRESS").atom("DEFLATE"))
            .await?;
        // The server compresses everything after its OK; bytes already read are compressed.
        let pending = self.framer.take_unframed();
        self.transport.start_deflate();
        if !pending.is_empty() {
            let plain = self.transport.decompress_pending(&pending)?;
            self.framer.feed(&plain);
        }
        debug!("COMPRESS=DEFLATE active");
        Ok(())
    }

    // ----- capabilities -----

    /// The server's capabilities as last reported.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// True if the server offers `capability` and it is not disabled in the options.
    pub fn has(&self, capability: &str) -> bool {
        let disabled = self
            .options
            .disabled_extensions
            .iter()
            .any(|d| d.eq_ignore_ascii_case(capability));
        !disabled
            && self
                .capabilities
                .iter()
                .any(|c| c.eq_ignore_ascii_case(capability))
    }

    /// True if `ENABLE` turned `capability` on.
    pub fn is_enabled(&self, capability: &str) -> bool {
        self.enabled
            .iter()
            .any(|c| c.eq_ignore_ascii_case(capability))
    }

    /// True if the connection is compressed.
    pub fn is_compressed(&self) -> bool {
        self.transport.is_compressed()
    }

    /// True if the connection uses TLS.
    pub fn is_tls(&self) -> bool {
        self.transport.is_tls()
    }

    /// The number of messages in the selected mailbox as the server last reported it
    /// True when the connection can carry no more commands: it failed (EOF, timeout, a response
    /// that could not be read) or the server said BYE. A new connection is needed then.
    pub fn is_broken(&self) -> bool {
        self.session.is_failed() || self.bye.is_some()
    }

    /// True if the server has closed the connection (or said BYE) since the last command,
    /// found out without waiting: whatever already arrived is read (and kept for the next
    /// command). Worth asking before a command that must not be sent twice, because a
    /// connection that died while idle would otherwise swallow it with an unknown outcome.
    pub async fn poll_closed(&mut self) -> bool {
        if self.is_broken() {
            return true;
        }
        if !self.backlog.is_empty() {
            return false;
        }
        match self.read_wire_until(Some(Instant::now())).await {
            Ok(None) => false,
            Ok(Some(incoming)) => {
                let bye = matches!(&incoming.response, Response::Untagged(Untagged::Bye { .. }));
                if let Response::Untagged(untagged @ Untagged::Bye { .. }) = &incoming.response {
                    self.observe(untagged);
                }
                self.backlog.push_back(incoming);
                bye
            }
            Err(_) => true,
        }
    }

    /// (`EXISTS`, less the `EXPUNGE`s since): after [`Client::noop`] or [`Client::idle`] this
    /// shows mail that other connections added.
    pub fn exists(&self) -> u32 {
        self.exists
    }

    /// The connection state.
    pub fn state(&self) -> &State {
        &self.session.state
    }

    fn utf8(&self) -> bool {
        self.is_enabled("UTF8=ACCEPT")
    }

    /// Re-reads the capabilities (CAPABILITY).
    pub async fn refresh_capabilities(&mut self) -> Result<(), Error> {
        let tag = self.send(CommandText::new("CAPABILITY")).await?;
        let mut caps = None;
        let done = self
            .wait(&tag, &mut |u, _| {
                if let Untagged::Capability(c) = u {
                    caps = Some(c);
                }
                Ok(())
            })
            .await?;
        check(done, "CAPABILITY")?;
        self.capabilities =
            caps.ok_or_else(|| peer("server answered CAPABILITY without a capability list"))?;
        Ok(())
    }

    // ----- authentication -----

    async fn authenticate(&mut self) -> Result<(), Error> {
        let mechanism = match self.options.auth_mechanism {
            Some(m) => m,
            None if self.has("AUTH=PLAIN") => AuthMechanism::Plain,
            None if self.has("AUTH=CRAM-MD5") => AuthMechanism::CramMd5,
            None if !self.has("LOGINDISABLED") => AuthMechanism::Login,
            None => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "server disabled LOGIN and offers no mechanism pimlink supports",
                ));
            }
        };
        let user = self.options.user.clone();
        let password = self.options.password.clone();
        let done = match mechanism {
            AuthMechanism::Login => {
                if self.has("LOGINDISABLED") {
                    return Err(Error::new(
                        ErrorKind::Refused,
                        "server announced LOGINDISABLED; not sending the password with LOGIN",
                    ));
                }
                let cmd = CommandText::new("LOGIN")
                    .string(user.as_bytes())
                    .secret_string(password.expose().as_bytes());
                let tag = self.send(cmd).await?;
                self.wait(&tag, &mut |_, _| Ok(())).await?
            }
            AuthMechanism::Plain => {
                let ir = auth::plain(&user, password.expose());
                self.sasl("PLAIN", Some(ir), |_| String::new()).await?
            }
            AuthMechanism::CramMd5 => {
                let pw = password.clone();
                self.sasl("CRAM-MD5", None, move |challenge| {
                    let bytes = match challenge {
                        ContinueData::Base64(b) => b.clone(),
                        ContinueData::Text(t) => t.as_bytes().to_vec(),
                    };
                    auth::cram_md5(&user, pw.expose(), &bytes)
                })
                .await?
            }
            AuthMechanism::XOAuth2 => {
                let ir = auth::xoauth2(&user, password.expose());
                // On failure the server sends an error challenge; an empty reply ends it.
                self.sasl("XOAUTH2", Some(ir), |_| String::new()).await?
            }
            AuthMechanism::OAuthBearer => {
                let ir = auth::oauthbearer(
                    &user,
                    &self.options.host,
                    self.options.effective_port(),
                    password.expose(),
                );
                // RFC 7628: after an error challenge the client sends "\x01" (base64 AQ==).
                self.sasl("OAUTHBEARER", Some(ir), |_| "AQ==".to_owned())
                    .await?
            }
        };
        if done.kind != StatusKindOf::Ok {
            // RFC 5530: UNAVAILABLE is the server's trouble, not the credentials'.
            let (kind, outcome) = match &done.code {
                Some(ResponseCode::Other(code)) if code.eq_ignore_ascii_case("UNAVAILABLE") => {
                    (ErrorKind::Connection, "failed")
                }
                _ => (ErrorKind::Auth, "was refused"),
            };
            return Err(Error::new(
                kind,
                format!(
                    "login as {:?} with {mechanism} {outcome}: {}",
                    self.options.user,
                    server_words(&done)
                ),
            ));
        }
        self.session.state = State::Authenticated;
        match done.code {
            Some(ResponseCode::Capability(caps)) => self.capabilities = caps,
            _ => self.refresh_capabilities().await?,
        }
        Ok(())
    }

    async fn sasl(
        &mut self,
        mechanism: &str,
        initial: Option<String>,
        mut respond: impl FnMut(&ContinueData) -> String,
    ) -> Result<Completion, Error> {
        let mut cmd = CommandText::new("AUTHENTICATE").atom(mechanism);
        let mut pending_initial = None;
        match initial {
            Some(ir) if self.has("SASL-IR") => cmd = cmd.secret_atom(&ir),
            other => pending_initial = other,
        }
        let tag = self.send(cmd).await?;
        loop {
            self.transport.flush().await?;
            let incoming = self.read_incoming().await?;
            match incoming.response {
                Response::Continue(data) => {
                    let line = pending_initial.take().unwrap_or_else(|| respond(&data));
                    self.queue_line(line.as_bytes(), true);
                }
                Response::Tagged {
                    tag: t,
                    kind,
                    code,
                    text,
                } => {
                    let completion = Completion { kind, code, text };
                    self.session.complete(&t, completion)?;
                    if let Some(done) = self.session.take_completion(&tag) {
                        return Ok(done);
                    }
                }
                Response::Untagged(u) => self.observe(&u),
            }
        }
    }

    // ----- the command machinery -----

    fn queue_line(&mut self, bytes: &[u8], secret: bool) {
        if secret {
            trace!(target: "pimlink_imap::wire", "C: <redacted>");
        } else {
            trace!(target: "pimlink_imap::wire", "C: {}", escape_for_log(bytes));
        }
        self.transport.queue(bytes);
        self.transport.queue(b"\r\n");
    }

    /// Puts a command on the wire (or in the write buffer) and returns its tag. Synchronising
    /// literals wait for the server's `+`; responses that arrive meanwhile are kept for later.
    async fn send(&mut self, cmd: CommandText) -> Result<String, Error> {
        let name = cmd.name.clone();
        match self.send_or_refused(cmd).await? {
            Ok(tag) => Ok(tag),
            Err(refused) => {
                let message = format!(
                    "server refused {name} before its literal: {}",
                    describe(&refused)
                );
                // We cannot send the rest of this command; the stream is still in step
                // because the server already finished it.
                Err(self.session.fail(peer(message)))
            }
        }
    }

    /// Like [`Client::send`], but a command that the server completed instead of asking for
    /// one of its synchronising literals comes back as that completion (`Err`), with the
    /// session intact: the server is done with the command and nothing more of it was sent.
    async fn send_or_refused(
        &mut self,
        cmd: CommandText,
    ) -> Result<Result<String, Completion>, Error> {
        self.session.check()?;
        let name = cmd.name.clone();
        let tag = self.session.begin(&name);
        let mut log = format!("{tag} ");
        self.transport.queue(tag.as_bytes());
        self.transport.queue(b" ");
        for part in cmd.into_parts() {
            match part {
                Part::Text(text) => {
                    log.push_str(&String::from_utf8_lossy(&text));
                    self.transport.queue(&text);
                }
                Part::SecretText(text) => {
                    log.push_str("<redacted>");
                    self.transport.queue(&text);
                }
                Part::Literal { data, secret } => {
                    let len = data.len();
                    let non_sync = self.has("LITERAL+") || (self.has("LITERAL-") && len <= 4096);
                    let announce = format!("{{{len}{}}}\r\n", if non_sync { "+" } else { "" });
                    self.transport.queue(announce.as_bytes());
                    if !non_sync {
                        trace!(target: "pimlink_imap::wire", "C: {}", log);
                        log.clear();
                        self.transport.flush().await?;
                        if let Some(refused) = self.wait_continue(&tag).await? {
                            return Ok(Err(refused));
                        }
                    }
                    if secret {
                        log.push_str(&format!("{{{len}}}<redacted>"));
                    } else {
                        log.push_str(&format!("{{{len}}}<{len} bytes>"));
                    }
                    self.queue_literal(data).await?;
                }
            }
        }
        trace!(target: "pimlink_imap::wire", "C: {}", log);
        self.transport.queue(b"\r\n");
        Ok(Ok(tag))
    }

    async fn queue_literal(&mut self, data: LiteralData) -> Result<(), Error> {
        match data {
            LiteralData::Bytes(bytes) => {
                self.transport.queue(&bytes);
                // A MULTIAPPEND carries many literals: the write buffer must not grow to hold
                // all of them.
                if self.transport.queued() > 1 << 20 {
                    self.transport.flush().await?;
                }
            }
            LiteralData::File(mut file, len) => {
                let mut remaining = len;
                let mut chunk = vec![0u8; 256 << 10];
                while remaining > 0 {
                    let want = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(chunk.len());
                    let n = file
                        .read(&mut chunk[..want])
                        .map_err(|e| Error::io("reading a message to upload", e))?;
                    if n == 0 {
                        // The file shrank after its length was announced: the command cannot be
                        // completed, and the stream is out of step.
                        return Err(self.session.fail(Error::new(
                            ErrorKind::Io,
                            "a message file shrank while it was being uploaded",
                        )));
                    }
                    self.transport.queue(&chunk[..n]);
                    remaining -= n as u64;
                    if self.transport.queued() > 1 << 20 {
                        self.transport.flush().await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Waits for the `+` that asks for a synchronising literal of command `tag`; the command's
    /// completion if the server finished it instead.
    async fn wait_continue(&mut self, tag: &str) -> Result<Option<Completion>, Error> {
        loop {
            let incoming = self.read_wire().await?;
            match incoming.response {
                Response::Continue(_) => return Ok(None),
                Response::Tagged {
                    tag: t,
                    kind,
                    code,
                    text,
                } if t == tag => {
                    self.session.complete(&t, Completion { kind, code, text })?;
                    return Ok(self.session.take_completion(tag));
                }
                _ => self.backlog.push_back(incoming),
            }
        }
    }

    /// Reads until `tag` completes, handing every untagged response to `handler`. A handler
    /// error does not stop the reading (the stream must stay in step); the first one is
    /// returned at the end.
    async fn wait(
        &mut self,
        tag: &str,
        handler: &mut impl UntaggedHandler,
    ) -> Result<Completion, Error> {
        self.transport.flush().await?;
        let mut first_error = None;
        loop {
            if let Some(done) = self.session.take_completion(tag) {
                return match first_error {
                    Some(err) => Err(err),
                    None => Ok(done),
                };
            }
            let incoming = self.read_incoming().await?;
            match incoming.response {
                Response::Tagged {
                    tag: t,
                    kind,
                    code,
                    text,
                } => {
                    self.session.complete(&t, Completion { kind, code, text })?;
                }
                Response::Untagged(u) => {
                    self.observe(&u);
                    let mut files: Vec<Option<File>> =
                        incoming.spooled.into_iter().map(Some).collect();
                    if let Err(err) = handler(u, &mut files) {
                        first_error.get_or_insert(err);
                    }
                }
                Response::Continue(_) => {
                    return Err(self.session.fail(peer(
                        "server sent a continuation request no command asked for",
                    )));
                }
            }
        }
    }

    /// Sends a command without arguments of interest and checks it succeeded.
    async fn simple(&mut self, cmd: CommandText) -> Result<Completion, Error> {
        let name = cmd.name.clone();
        let tag = self.send(cmd).await?;
        let done = self.wait(&tag, &mut |_, _| Ok(())).await?;
        check(done, &name)
    }

    fn observe(&mut self, untagged: &Untagged) {
        match untagged {
            Untagged::Capability(caps) => self.capabilities = caps.clone(),
            Untagged::Status {
                code: Some(ResponseCode::Capability(caps)),
                ..
            } => self.capabilities = caps.clone(),
            Untagged::Exists(n) => self.exists = *n,
            Untagged::Expunge(_) => self.exists = self.exists.saturating_sub(1),
            Untagged::Bye { text, .. } => {
                self.bye = Some(text.clone());
                self.session.state = State::LoggedOut;
            }
            Untagged::Status {
                kind: StatusKindOf::Ok,
                code: Some(ResponseCode::Alert),
                text,
            } => warn!("server alert: {}", escape_text(text)),
            Untagged::Unreadable { verb, excerpt } => {
                let left_out = if *verb == "STATUS" {
                    // The folder itself is still listed, only without its counters.
                    "its counters are not used"
                } else {
                    self.unreadable_folders += 1;
                    "that folder is not synced"
                };
                warn!(
                    "{}: the server sent a {verb} response that cannot be parsed, so {left_out}: \
                     {excerpt}",
                    self.transport.description()
                );
            }
            _ => {}
        }
    }

    /// How many LIST or LSUB responses could not be parsed since the last call (each was
    /// skipped with a warning): a folder list with any is incomplete, and a folder missing from
    /// it may exist.
    pub fn take_unreadable_folders(&mut self) -> usize {
        std::mem::take(&mut self.unreadable_folders)
    }

    async fn read_incoming(&mut self) -> Result<Incoming, Error> {
        match self.backlog.pop_front() {
            Some(incoming) => Ok(incoming),
            None => self.read_wire().await,
        }
    }

    async fn read_wire(&mut self) -> Result<Incoming, Error> {
        match self.read_wire_until(None).await? {
            Some(incoming) => Ok(incoming),
            None => Err(Error::new(
                ErrorKind::Connection,
                "read ended without a deadline",
            )),
        }
    }

    /// Reads one response; `Ok(None)` if `deadline` passed first (the partial response, if
    /// any, stays in the framer).
    async fn read_wire_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Incoming>, Error> {
        self.session.check()?;
        let Some((frame, spooled)) = self
            .next_frame_until(deadline)
            .await
            .map_err(|e| self.session.fail(e))?
        else {
            return Ok(None);
        };
        trace!(target: "pimlink_imap::wire", "S: {}", escape_for_log(&frame.bytes));
        let framer = &self.framer;
        let utf8 = self.utf8();
        let response = parse_response_names(&frame.bytes, &|b| framer.marker_index(b), utf8)
            .map_err(|e| self.session.fail(peer(e.to_string())))?;
        Ok(Some(Incoming { response, spooled }))
    }

    async fn next_frame(&mut self) -> Result<(Frame, Vec<File>), Error> {
        match self.next_frame_until(None).await? {
            Some(frame) => Ok(frame),
            None => Err(Error::new(
                ErrorKind::Connection,
                "read ended without a deadline",
            )),
        }
    }

    async fn next_frame_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<(Frame, Vec<File>)>, Error> {
        loop {
            let event = self.framer.next_event().map_err(|e| peer(e.to_string()))?;
            match event {
                Some(FrameEvent::Frame(frame)) => {
                    let files = std::mem::take(&mut self.spooled);
                    if files.len() != frame.spooled as usize {
                        return Err(Error::new(ErrorKind::Io, "spool bookkeeping went wrong"));
                    }
                    return Ok(Some((frame, files)));
                }
                Some(FrameEvent::LiteralStart { len, .. }) => {
                    trace!(target: "pimlink_imap::wire", "S: <literal of {len} bytes spooled to disk>");
                    let file = match &self.options.spool_dir {
                        Some(dir) => tempfile::tempfile_in(dir),
                        None => tempfile::tempfile(),
                    }
                    .map_err(|e| Error::io("creating a spool file for a large message", e))?;
                    self.current_spool = Some(file);
                }
                Some(FrameEvent::LiteralChunk(bytes)) => {
                    if let Some(file) = &mut self.current_spool {
                        file.write_all(&bytes)
                            .map_err(|e| Error::io("writing a spool file", e))?;
                    }
                }
                Some(FrameEvent::LiteralEnd) => {
                    if let Some(mut file) = self.current_spool.take() {
                        file.seek(SeekFrom::Start(0))
                            .map_err(|e| Error::io("rewinding a spool file", e))?;
                        self.spooled.push(file);
                    }
                }
                None => {
                    self.read_buf.clear();
                    let n = match deadline {
                        None => self.transport.read(&mut self.read_buf).await?,
                        Some(deadline) => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            match self
                                .transport
                                .read_with_limit(&mut self.read_buf, left)
                                .await?
                            {
                                Some(n) => n,
                                None => return Ok(None),
                            }
                        }
                    };
                    if n == 0 {
                        return Err(self.closed_error());
                    }
                    self.framer.feed(&self.read_buf);
                }
            }
        }
    }

    fn closed_error(&self) -> Error {
        let mut message = if self.framer.is_mid_response() {
            format!(
                "{} closed the connection in the middle of a response",
                self.transport.description()
            )
        } else {
            format!("{} closed the connection", self.transport.description())
        };
        if let Some(bye) = &self.bye {
            message.push_str(&format!(" (BYE {})", escape_text(bye)));
        }
        Error::new(ErrorKind::Connection, message)
    }

    // ----- simple commands -----

    /// NOOP: lets the server report changes.
    pub async fn noop(&mut self) -> Result<(), Error> {
        self.simple(CommandText::new("NOOP")).await.map(drop)
    }

    /// ENABLE the given extensions (those not offered or disabled are skipped); returns what the
    /// server enabled.
    pub async fn enable(&mut self, extensions: &[&str]) -> Result<Vec<String>, Error> {
        let wanted: Vec<&str> = extensions.iter().copied().filter(|e| self.has(e)).collect();
        if wanted.is_empty() || !self.has("ENABLE") {
            return Ok(Vec::new());
        }
        let mut cmd = CommandText::new("ENABLE");
        for ext in &wanted {
            cmd = cmd.atom(ext);
        }
        let tag = self.send(cmd).await?;
        let mut enabled = Vec::new();
        let done = self
            .wait(&tag, &mut |u, _| {
                if let Untagged::Enabled(list) = u {
                    enabled.extend(list);
                }
                Ok(())
            })
            .await?;
        check(done, "ENABLE")?;
        self.enabled.extend(enabled.iter().cloned());
        Ok(enabled)
    }

    /// ID (RFC 2971): sends our identification, returns the server's.
    pub async fn id(
        &mut self,
        ours: &[(&str, &str)],
    ) -> Result<Vec<(String, Option<String>)>, Error> {
        if !self.has("ID") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "server does not offer ID",
            ));
        }
        let mut list = String::from("(");
        for (i, (k, v)) in ours.iter().enumerate() {
            if i > 0 {
                list.push(' ');
            }
            list.push_str(&format!("{} {}", quote(k), quote(v)));
        }
        list.push(')');
        let arg = if ours.is_empty() {
            "NIL".to_owned()
        } else {
            list
        };
        let tag = self.send(CommandText::new("ID").atom(arg)).await?;
        let mut theirs = Vec::new();
        let done = self
            .wait(&tag, &mut |u, _| {
                if let Untagged::Id(params) = u {
                    theirs = params;
                }
                Ok(())
            })
            .await?;
        check(done, "ID")?;
        Ok(theirs)
    }

    /// NAMESPACE: personal, other users' and shared namespaces.
    pub async fn namespace(&mut self) -> Result<[Vec<NamespaceEntry>; 3], Error> {
        if !self.has("NAMESPACE") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "server does not offer NAMESPACE",
            ));
        }
        let tag = self.send(CommandText::new("NAMESPACE")).await?;
        let mut result = None;
        let done = self
            .wait(&tag, &mut |u, _| {
                if let Untagged::Namespace(ns) = u {
                    result = Some(ns);
                }
                Ok(())
            })
            .await?;
        check(done, "NAMESPACE")?;
        result.ok_or_else(|| peer("server answered NAMESPACE without a NAMESPACE response"))
    }

    // ----- mailboxes -----

    /// LIST `reference` `pattern` (e.g. `""`, `"*"`).
    pub async fn list(&mut self, reference: &str, pattern: &str) -> Result<Vec<ListEntry>, Error> {
        self.list_like("LIST", reference, pattern).await
    }

    /// LSUB: the subscribed mailboxes.
    pub async fn lsub(&mut self, reference: &str, pattern: &str) -> Result<Vec<ListEntry>, Error> {
        self.list_like("LSUB", reference, pattern).await
    }

    async fn list_like(
        &mut self,
        name: &str,
        reference: &str,
        pattern: &str,
    ) -> Result<Vec<ListEntry>, Error> {
        let utf8 = self.utf8();
        let cmd = CommandText::new(name)
            .string(&command::mailbox_wire_name(reference, utf8))
            .string(&command::mailbox_wire_name(pattern, utf8));
        let tag = self.send(cmd).await?;
        let mut entries = Vec::new();
        let is_lsub = name == "LSUB";
        let done = self
            .wait(&tag, &mut |u, _| {
                match u {
                    Untagged::List(e) if !is_lsub => entries.push(e),
                    Untagged::Lsub(e) if is_lsub => entries.push(e),
                    _ => {}
                }
                Ok(())
            })
            .await?;
        check(done, name)?;
        Ok(entries)
    }

    /// LIST with `RETURN (STATUS ...)` (RFC 5819): every mailbox with its counters in one round
    /// trip, which is what makes an unchanged account cheap to resync. `Unsupported` if the
    /// server lacks LIST-STATUS.
    pub async fn list_status(
        &mut self,
        pattern: &str,
    ) -> Result<Vec<(ListEntry, Option<MailboxStatus>)>, Error> {
        if !self.has("LIST-STATUS") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "server does not offer LIST-STATUS",
            ));
        }
        let items = if self.has("CONDSTORE") {
            "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"
        };
        let utf8 = self.utf8();
        let cmd = CommandText::new("LIST")
            .string(b"")
            .string(&command::mailbox_wire_name(pattern, utf8))
            .atom(format!("RETURN (STATUS {items})"));
        let tag = self.send(cmd).await?;
        let mut entries: Vec<(ListEntry, Option<MailboxStatus>)> = Vec::new();
        let done = self
            .wait(&tag, &mut |u, _| {
                match u {
                    Untagged::List(e) => entries.push((e, None)),
                    Untagged::MailboxStatus(s) => {
                        if let Some(entry) =
                            entries.iter_mut().rev().find(|(e, _)| e.name == s.name)
                        {
                            entry.1 = Some(s);
                        }
                    }
                    _ => {}
                }
                Ok(())
            })
            .await?;
        check(done, "LIST")?;
        Ok(entries)
    }

    /// STATUS of one mailbox (MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, and HIGHESTMODSEQ with
    /// CONDSTORE).
    pub async fn status(&mut self, mailbox: &str) -> Result<MailboxStatus, Error> {
        let items = if self.has("CONDSTORE") {
            "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"
        };
        let cmd = CommandText::new("STATUS")
            .mailbox(mailbox, self.utf8())
            .atom(items);
        let tag = self.send(cmd).await?;
        let mut status = None;
        let done = self
            .wait(&tag, &mut |u, _| {
                if let Untagged::MailboxStatus(s) = u {
                    status = Some(s);
                }
                Ok(())
            })
            .await?;
        check(done, &format!("STATUS {mailbox:?}"))?;
        status.ok_or_else(|| peer(format!("server answered STATUS {mailbox:?} without data")))
    }

    /// STATUS of several mailboxes, pipelined: every command goes out before the first reply
    /// is read, so the whole list costs one round trip (for servers without LIST-STATUS).
    /// Each mailbox gets its own result, in order; a missing one is `NotFound`.
    pub async fn status_many(
        &mut self,
        mailboxes: &[&str],
    ) -> Result<Vec<Result<MailboxStatus, Error>>, Error> {
        let items = if self.has("CONDSTORE") {
            "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"
        };
        let utf8 = self.utf8();
        let mut tags = Vec::with_capacity(mailboxes.len());
        for mailbox in mailboxes {
            let cmd = CommandText::new("STATUS")
                .mailbox(mailbox, utf8)
                .atom(items);
            tags.push(self.send(cmd).await?);
        }
        let mut results = Vec::with_capacity(tags.len());
        for (tag, mailbox) in tags.iter().zip(mailboxes) {
            // The server answers in order, so the data before this tag's completion is its own.
            let mut status = None;
            let done = self
                .wait(tag, &mut |u, _| {
                    if let Untagged::MailboxStatus(s) = u {
                        status = Some(s);
                    }
                    Ok(())
                })
                .await?;
            results.push(check(done, &format!("STATUS {mailbox:?}")).and_then(|_| {
                status
                    .ok_or_else(|| peer(format!("server answered STATUS {mailbox:?} without data")))
            }));
        }
        Ok(results)
    }

    /// CREATE a mailbox.
    pub async fn create(&mut self, mailbox: &str) -> Result<(), Error> {
        let cmd = CommandText::new("CREATE").mailbox(mailbox, self.utf8());
        self.named(cmd, mailbox).await
    }

    /// DELETE a mailbox.
    pub async fn delete(&mut self, mailbox: &str) -> Result<(), Error> {
        let cmd = CommandText::new("DELETE").mailbox(mailbox, self.utf8());
        self.named(cmd, mailbox).await
    }

    /// RENAME a mailbox.
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<(), Error> {
        let utf8 = self.utf8();
        let cmd = CommandText::new("RENAME")
            .mailbox(from, utf8)
            .mailbox(to, utf8);
        self.named(cmd, from).await
    }

    /// SUBSCRIBE to a mailbox.
    pub async fn subscribe(&mut self, mailbox: &str) -> Result<(), Error> {
        let cmd = CommandText::new("SUBSCRIBE").mailbox(mailbox, self.utf8());
        self.named(cmd, mailbox).await
    }

    /// UNSUBSCRIBE from a mailbox.
    pub async fn unsubscribe(&mut self, mailbox: &str) -> Result<(), Error> {
        let cmd = CommandText::new("UNSUBSCRIBE").mailbox(mailbox, self.utf8());
        self.named(cmd, mailbox).await
    }

    async fn named(&mut self, cmd: CommandText, mailbox: &str) -> Result<(), Error> {
        let name = format!("{} {mailbox:?}", cmd.name);
        let tag = self.send(cmd).await?;
        let done = self.wait(&tag, &mut |_, _| Ok(())).await?;
        check(done, &name).map(drop)
    }

    /// SELECT (or EXAMINE) a mailbox, with CONDSTORE or QRESYNC when asked and offered.
    pub async fn select(
        &mut self,
        mailbox: &str,
        options: SelectOptions,
    ) -> Result<SelectedMailbox, Error> {
        let qresync = options.qresync.as_ref().filter(|_| self.has("QRESYNC"));
        if qresync.is_some() && !self.is_enabled("QRESYNC") {
            self.enable(&["QRESYNC"]).await?;
        }
        let qresync = qresync.filter(|_| self.is_enabled("QRESYNC"));
        let verb = if options.read_only {
            "EXAMINE"
        } else {
            "SELECT"
        };
        let mut cmd = CommandText::new(verb).mailbox(mailbox, self.utf8());
        let mut qresync_used = false;
        if let Some(q) = qresync {
            let mut params = format!("(QRESYNC ({} {}", q.uid_validity, q.modseq.max(1));
            if let Some(known) = q.known_uids.as_ref().filter(|k| !k.is_empty()) {
                params.push_str(&format!(" {known}"));
            }
            params.push_str("))");
            cmd = cmd.atom(params);
            qresync_used = true;
        } else if options.condstore && self.has("CONDSTORE") {
            cmd = cmd.atom("(CONDSTORE)");
        }
        let tag = self.send(cmd).await?;
        let mut selected = SelectedMailbox {
            name: mailbox.to_owned(),
            read_only: options.read_only,
            qresync_used,
            ..SelectedMailbox::default()
        };
        let done = self
            .wait(&tag, &mut |u, files| {
                match u {
                    Untagged::Exists(n) => selected.exists = n,
                    Untagged::Status {
                        code: Some(code), ..
                    } => match code {
                        ResponseCode::UidValidity(v) => selected.uid_validity = Some(v),
                        ResponseCode::UidNext(v) => selected.uid_next = Some(v),
                        ResponseCode::HighestModSeq(v) => selected.highest_modseq = Some(v),
                        ResponseCode::NoModSeq => selected.highest_modseq = None,
                        ResponseCode::PermanentFlags(f) => selected.permanent_flags = f,
                        ResponseCode::Closed => {
                            // Everything before CLOSED belonged to the previous mailbox.
                            selected.vanished = UidRanges::default();
                            selected.changed.clear();
                        }
                        _ => {}
                    },
                    Untagged::Vanished { uids, .. } => {
                        for (a, b) in uids.ranges() {
                            selected.vanished.push_range(*a, *b);
                        }
                    }
                    Untagged::Fetch(data) => {
                        if let Some(message) = to_message(data, files)? {
                            selected.changed.push(message);
                        }
                    }
                    _ => {}
                }
                Ok(())
            })
            .await?;
        let done = check(done, &format!("{verb} {mailbox:?}"))?;
        if !self.has("CONDSTORE") {
            // Cyrus reports HIGHESTMODSEQ on every SELECT; with CONDSTORE disabled (because
            // it is broken on this server) the engine must not build on it.
            selected.highest_modseq = None;
        }
        if matches!(done.code, Some(ResponseCode::ReadOnly)) {
            selected.read_only = true;
        }
        self.exists = selected.exists;
        self.session.state = State::Selected {
            mailbox: mailbox.to_owned(),
            read_only: selected.read_only,
        };
        Ok(selected)
    }

    /// Leaves the selected mailbox without expunging (UNSELECT, or a failing EXAMINE where
    /// UNSELECT is missing: CLOSE would expunge).
    pub async fn unselect(&mut self) -> Result<(), Error> {
        if self.has("UNSELECT") {
            self.simple(CommandText::new("UNSELECT")).await?;
        } else {
            let tag = self
                .send(CommandText::new("EXAMINE").string(b"pimlink-nonexistent-\x7f"))
                .await?;
            self.wait(&tag, &mut |_, _| Ok(())).await?;
        }
        self.session.state = State::Authenticated;
        Ok(())
    }

    // ----- messages -----

    /// UID FETCH of `uids` (use [`UidRanges::all`] for every message). Each message is passed to
    /// `sink` as soon as it has arrived; large bodies arrive as spool files.
    pub async fn fetch(
        &mut self,
        uids: &UidRanges,
        request: &FetchRequest,
        mut sink: impl FnMut(FetchedMessage) -> Result<(), Error>,
    ) -> Result<FetchSummary, Error> {
        let mut items = vec!["UID"];
        if request.flags {
            items.push("FLAGS");
        }
        if request.internal_date {
            items.push("INTERNALDATE");
        }
        if request.size {
            items.push("RFC822.SIZE");
        }
        let condstore = self.has("CONDSTORE");
        if condstore {
            items.push("MODSEQ");
        }
        if request.body {
            items.push("BODY.PEEK[]");
        }
        let header;
        if !request.header_fields.is_empty() {
            header = format!(
                "BODY.PEEK[HEADER.FIELDS ({})]",
                request.header_fields.join(" ")
            );
            items.push(&header);
        }
        let mut cmd = CommandText::new("UID FETCH")
            .atom(uids.to_string())
            .atom(format!("({})", items.join(" ")));
        if let Some(since) = request.changed_since {
            if !condstore {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "CHANGEDSINCE needs CONDSTORE, which the server does not offer (or it is disabled)",
                ));
            }
            if request.vanished && self.is_enabled("QRESYNC") {
                cmd = cmd.atom(format!("(CHANGEDSINCE {since} VANISHED)"));
            } else {
                cmd = cmd.atom(format!("(CHANGEDSINCE {since})"));
            }
        }
        let tag = self.send(cmd).await?;
        let mut summary = FetchSummary::default();
        let mut seen = BTreeSet::new();
        let done = self
            .wait(&tag, &mut |u, files| {
                match u {
                    Untagged::Fetch(data) => {
                        if let Some(message) = to_message(data, files)? {
                            seen.insert(message.uid);
                            summary.fetched += 1;
                            sink(message)?;
                        }
                    }
                    Untagged::Vanished { uids, .. } => {
                        for (a, b) in uids.ranges() {
                            summary.vanished.push_range(*a, *b);
                        }
                    }
                    _ => {}
                }
                Ok(())
            })
            .await?;
        check(done, "UID FETCH")?;
        // Only an explicit set without "*" and without CHANGEDSINCE promises every UID back.
        let explicit = request.changed_since.is_none()
            && !uids
                .ranges()
                .iter()
                .any(|&(a, b)| a == u32::MAX || b == u32::MAX);
        if explicit {
            summary.missing = UidRanges::from_uids(
                uids.iter()
                    .filter(|u| !seen.contains(u) && !summary.vanished.contains(*u)),
            );
            if !summary.missing.is_empty() {
                warn!("UID FETCH returned no data for UIDs {}", summary.missing);
            }
        }
        Ok(summary)
    }

    /// UID STORE: changes the flags of `uids`. With `unchanged_since`, messages whose modseq is
    /// newer are left alone and reported in [`StoreOutcome::modified`].
    pub async fn store(
        &mut self,
        uids: &UidRanges,
        mode: StoreMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<StoreOutcome, Error> {
        let mut cmd = CommandText::new("UID STORE").atom(uids.to_string());
        if let Some(modseq) = unchanged_since {
            if !self.has("CONDSTORE") {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "UNCHANGEDSINCE needs CONDSTORE, which the server does not offer (or it is disabled)",
                ));
            }
            cmd = cmd.atom(format!("(UNCHANGEDSINCE {modseq})"));
        }
        let item = match mode {
            StoreMode::Add => "+FLAGS",
            StoreMode::Remove => "-FLAGS",
            StoreMode::Replace => "FLAGS",
        };
        cmd = cmd.atom(item).atom(command::flag_list(flags));
        let tag = self.send(cmd).await?;
        let mut outcome = StoreOutcome::default();
        let done = self
            .wait(&tag, &mut |u, _| {
                if let Untagged::Fetch(FetchData {
                    uid: Some(uid),
                    flags: Some(flags),
                    modseq,
                    ..
                }) = u
                {
                    outcome.updated.push((uid, flags, modseq));
                }
                Ok(())
            })
            .await?;
        let done = check(done, "UID STORE")?;
        if let Some(ResponseCode::Modified(set)) = done.code {
            outcome.modified = set;
        }
        Ok(outcome)
    }

    /// APPEND one message; returns (UIDVALIDITY, UID) when the server has UIDPLUS.
    pub async fn append(
        &mut self,
        mailbox: &str,
        item: AppendItem,
    ) -> Result<Option<(u32, u32)>, Error> {
        let mut results = self.append_many(mailbox, vec![item]).await?;
        results
            .pop()
            .unwrap_or_else(|| Err(Error::new(ErrorKind::Io, "APPEND produced no result")))
    }

    /// APPENDs several messages, pipelined: with LITERAL+ all of them go out before the first
    /// reply is read. Each message gets its own result (one APPEND per message rather than one
    /// MULTIAPPEND, so that a failure affects only that message and each UID is known).
    pub async fn append_many(
        &mut self,
        mailbox: &str,
        items: Vec<AppendItem>,
    ) -> Result<Vec<Result<Option<(u32, u32)>, Error>>, Error> {
        let mut tags = Vec::with_capacity(items.len());
        for item in items {
            let message = append_message(item)?;
            let cmd = command::append(mailbox, self.utf8(), vec![message]);
            match self.send(cmd).await {
                Ok(tag) => tags.push(Ok(tag)),
                // A synchronising literal refused: this message failed, the stream is intact.
                Err(err) if !self.session.is_failed() => tags.push(Err(err)),
                Err(err) => return Err(err),
            }
        }
        let mut results = Vec::with_capacity(tags.len());
        let mut lost: Option<Error> = None;
        for tag in tags {
            let tag = match tag {
                Ok(tag) => tag,
                Err(err) => {
                    results.push(Err(err));
                    continue;
                }
            };
            if let Some(error) = &lost {
                // The connection failed: what became of this APPEND is unknown.
                results.push(Err(Error::new(error.kind(), error.to_string())));
                continue;
            }
            let done = match self.wait(&tag, &mut |_, _| Ok(())).await {
                Ok(done) => done,
                // The APPENDs answered so far keep their results (and UIDs).
                Err(error) if !results.is_empty() => {
                    results.push(Err(Error::new(error.kind(), error.to_string())));
                    lost = Some(error);
                    continue;
                }
                Err(error) => return Err(error),
            };
            results.push(check(done, &format!("APPEND to {mailbox:?}")).map(
                |done| match done.code {
                    Some(ResponseCode::AppendUid { uid_validity, uids }) => {
                        uids.iter().next().map(|uid| (uid_validity, uid))
                    }
                    _ => None,
                },
            ));
        }
        Ok(results)
    }

    /// APPENDs several messages in one command (MULTIAPPEND, RFC 3502), which the server
    /// stores together in one transaction: all of them or, if it refuses any, none. With
    /// LITERAL+ the whole command goes out without waiting; otherwise each message waits for
    /// the server's `+`. `Err` means the outcome is unknown (the connection failed).
    pub async fn multiappend(
        &mut self,
        mailbox: &str,
        items: Vec<AppendItem>,
    ) -> Result<MultiAppend, Error> {
        if !self.has("MULTIAPPEND") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "server does not offer MULTIAPPEND",
            ));
        }
        let count = items.len();
        let what = format!("APPEND of {count} messages to {mailbox:?}");
        let messages = items
            .into_iter()
            .map(append_message)
            .collect::<Result<Vec<_>, Error>>()?;
        let cmd = command::append(mailbox, self.utf8(), messages);
        let done = match self.send_or_refused(cmd).await? {
            Ok(tag) => self.wait(&tag, &mut |_, _| Ok(())).await?,
            Err(refused) if refused.kind != StatusKindOf::Ok => refused,
            Err(odd) => {
                let message = format!(
                    "server completed {what} before it was sent: {}",
                    describe(&odd)
                );
                return Err(self.session.fail(peer(message)));
            }
        };
        Ok(match check(done, &what) {
            Ok(done) => MultiAppend::Stored(match done.code {
                Some(ResponseCode::AppendUid { uid_validity, uids }) => Some((uid_validity, uids)),
                _ => None,
            }),
            Err(error) => MultiAppend::Refused(error),
        })
    }

    /// UID EXPUNGE (UIDPLUS): removes only these messages, if marked `\Deleted`.
    pub async fn uid_expunge(&mut self, uids: &UidRanges) -> Result<UidRanges, Error> {
        if !self.has("UIDPLUS") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "UID EXPUNGE needs UIDPLUS, which the server does not offer",
            ));
        }
        let tag = self
            .send(CommandText::new("UID EXPUNGE").atom(uids.to_string()))
            .await?;
        let mut vanished = UidRanges::default();
        let done = self
            .wait(&tag, &mut |u, _| {
                if let Untagged::Vanished { uids, .. } = u {
                    for (a, b) in uids.ranges() {
                        vanished.push_range(*a, *b);
                    }
                }
                Ok(())
            })
            .await?;
        check(done, "UID EXPUNGE")?;
        Ok(vanished)
    }

    /// UID COPY to another mailbox; COPYUID when the server has UIDPLUS.
    pub async fn uid_copy(
        &mut self,
        uids: &UidRanges,
        target: &str,
    ) -> Result<Option<CopyUids>, Error> {
        self.copy_like("UID COPY", uids, target).await
    }

    /// UID MOVE to another mailbox (RFC 6851); `Unsupported` without MOVE.
    pub async fn uid_move(
        &mut self,
        uids: &UidRanges,
        target: &str,
    ) -> Result<Option<CopyUids>, Error> {
        if !self.has("MOVE") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "server does not offer MOVE",
            ));
        }
        self.copy_like("UID MOVE", uids, target).await
    }

    async fn copy_like(
        &mut self,
        name: &str,
        uids: &UidRanges,
        target: &str,
    ) -> Result<Option<CopyUids>, Error> {
        let cmd = CommandText::new(name)
            .atom(uids.to_string())
            .mailbox(target, self.utf8());
        let tag = self.send(cmd).await?;
        let mut copy = None;
        let done = self
            .wait(&tag, &mut |u, _| {
                // MOVE reports COPYUID in an untagged OK before the expunges.
                if let Untagged::Status {
                    code: Some(code @ ResponseCode::CopyUid { .. }),
                    ..
                } = u
                {
                    copy = Some(code);
                }
                Ok(())
            })
            .await?;
        let done = check(done, &format!("{name} to {target:?}"))?;
        let code = match done.code {
            Some(code @ ResponseCode::CopyUid { .. }) => Some(code),
            _ => copy,
        };
        Ok(match code {
            Some(ResponseCode::CopyUid {
                uid_validity,
                source,
                destination,
            }) => {
                if source.len() != destination.len() {
                    return Err(peer(format!(
                        "server sent COPYUID with {} source and {} target UIDs",
                        source.len(),
                        destination.len()
                    )));
                }
                Some(CopyUids {
                    uid_validity,
                    pairs: source.iter().zip(destination.iter()).collect(),
                })
            }
            _ => None,
        })
    }

    /// IDLE until the server reports a change to the selected mailbox or `timeout` passes,
    /// then DONE.
    pub async fn idle(&mut self, timeout: Duration) -> Result<IdleOutcome, Error> {
        if !self.has("IDLE") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "server does not offer IDLE",
            ));
        }
        let tag = self.send(CommandText::new("IDLE")).await?;
        self.transport.flush().await?;
        if let Some(refused) = self.wait_continue(&tag).await? {
            let message = format!("server refused IDLE: {}", describe(&refused));
            return Err(self.session.fail(peer(message)));
        }
        self.session.state = State::Idling;
        let mut outcome = IdleOutcome::default();
        let deadline = Instant::now() + timeout;
        // Responses that arrived before the "+" are changes too.
        let early: Vec<Incoming> = self.backlog.drain(..).collect();
        let mut woke = false;
        for incoming in early {
            woke |= self.idle_event(incoming, &mut outcome)?;
        }
        while !woke {
            if Instant::now() >= deadline {
                outcome.timed_out = true;
                break;
            }
            match self.read_wire_until(Some(deadline)).await? {
                None => {
                    outcome.timed_out = true;
                    break;
                }
                Some(incoming) => woke |= self.idle_event(incoming, &mut outcome)?,
            }
        }
        self.queue_line(b"DONE", false);
        let done = self
            .wait(&tag, &mut |u, files| {
                match u {
                    Untagged::Exists(n) => outcome.exists = Some(n),
                    Untagged::Expunge(n) => outcome.expunged.push(n),
                    Untagged::Vanished { uids, .. } => {
                        for (a, b) in uids.ranges() {
                            outcome.vanished.push_range(*a, *b);
                        }
                    }
                    Untagged::Fetch(data) => {
                        if let Some(m) = to_message(data, files)? {
                            outcome.fetched.push(m);
                        }
                    }
                    _ => {}
                }
                Ok(())
            })
            .await?;
        check(done, "IDLE")?;
        if let State::Idling = self.session.state {
            self.session.state = State::Authenticated;
        }
        Ok(outcome)
    }

    fn idle_event(&mut self, incoming: Incoming, outcome: &mut IdleOutcome) -> Result<bool, Error> {
        match incoming.response {
            Response::Untagged(u) => {
                self.observe(&u);
                let mut files: Vec<Option<File>> = incoming.spooled.into_iter().map(Some).collect();
                Ok(match u {
                    Untagged::Exists(n) => {
                        outcome.exists = Some(n);
                        true
                    }
                    Untagged::Expunge(n) => {
                        outcome.expunged.push(n);
                        true
                    }
                    Untagged::Vanished { uids, .. } => {
                        for (a, b) in uids.ranges() {
                            outcome.vanished.push_range(*a, *b);
                        }
                        true
                    }
                    Untagged::Fetch(data) => {
                        if let Some(m) = to_message(data, &mut files)? {
                            outcome.fetched.push(m);
                        }
                        true
                    }
                    _ => false,
                })
            }
            Response::Tagged {
                tag,
                kind,
                code,
                text,
            } => {
                self.session
                    .complete(&tag, Completion { kind, code, text })?;
                Ok(true)
            }
            Response::Continue(_) => Err(self
                .session
                .fail(peer("unexpected continuation during IDLE"))),
        }
    }

    /// LOGOUT and close.
    pub async fn logout(mut self) -> Result<(), Error> {
        let tag = self.send(CommandText::new("LOGOUT")).await?;
        self.session.state = State::LoggedOut;
        match self.wait(&tag, &mut |_, _| Ok(())).await {
            Ok(_) => Ok(()),
            // Some servers close right after BYE without the tagged OK; that is a clean logout.
            Err(e) if e.kind() == ErrorKind::Connection && self.bye.is_some() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Turns a FETCH response into a message; `None` for unsolicited flag updates without a UID.
fn to_message(
    data: FetchData,
    files: &mut [Option<File>],
) -> Result<Option<FetchedMessage>, Error> {
    let Some(uid) = data.uid else {
        if data.body.is_some() || data.header.is_some() {
            return Err(peer(format!(
                "server sent message data for sequence number {} without its UID",
                data.seq
            )));
        }
        return Ok(None);
    };
    let mut take = |body: Option<BodyRef>| -> Result<Option<Content>, Error> {
        Ok(match body {
            None | Some(BodyRef::Nil) => None,
            Some(BodyRef::Inline(bytes)) => Some(Content::Bytes(bytes)),
            Some(BodyRef::Spooled(i)) => {
                let file = files
                    .get_mut(i as usize)
                    .and_then(Option::take)
                    .ok_or_else(|| peer(format!("spooled body {i} of UID {uid} is missing")))?;
                Some(Content::File(file))
            }
        })
    };
    let body = take(data.body)?;
    let header = match take(data.header)? {
        None => None,
        Some(Content::Bytes(bytes)) => Some(bytes),
        Some(Content::File(mut file)) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .map_err(|e| Error::io("reading a spooled header", e))?;
            Some(bytes)
        }
    };
    Ok(Some(FetchedMessage {
        seq: data.seq,
        uid,
        flags: data.flags,
        internal_date: data.internal_date,
        size: data.size,
        modseq: data.modseq,
        body,
        header,
    }))
}

/// A message to APPEND as the encoder takes it.
fn append_message(item: AppendItem) -> Result<command::AppendMessage, Error> {
    let data = match item.content {
        Content::Bytes(bytes) => LiteralData::Bytes(bytes),
        Content::File(file) => {
            let len = file
                .metadata()
                .map_err(|e| Error::io("reading a message's size", e))?
                .len();
            LiteralData::File(file, len)
        }
    };
    Ok(command::AppendMessage {
        flags: item.flags,
        internal_date: item.internal_date,
        data,
    })
}

fn describe(done: &Completion) -> String {
    let kind = match done.kind {
        StatusKindOf::Ok => "OK",
        StatusKindOf::No => "NO",
        StatusKindOf::Bad => "BAD",
    };
    format!("{kind} {}", server_words(done))
}

/// The response code and text of a completion, as the server wrote them (control characters
/// escaped: they are for the user's terminal).
fn server_words(done: &Completion) -> String {
    let text = escape_text(&done.text);
    match &done.code {
        Some(code) => format!("[{code}] {text}"),
        None => text,
    }
}

/// OK passes; NO and BAD become errors naming the command.
fn check(done: Completion, what: &str) -> Result<Completion, Error> {
    match done.kind {
        StatusKindOf::Ok => Ok(done),
        StatusKindOf::No => {
            let kind = match &done.code {
                Some(ResponseCode::TryCreate) => ErrorKind::NotFound,
                Some(ResponseCode::Other(c)) if c.eq_ignore_ascii_case("NONEXISTENT") => {
                    ErrorKind::NotFound
                }
                None if says_not_found(&done.text) => ErrorKind::NotFound,
                _ => ErrorKind::Peer,
            };
            Err(Error::new(
                kind,
                format!("{what} failed: {}", describe(&done)),
            ))
        }
        StatusKindOf::Bad => Err(Error::new(
            ErrorKind::Peer,
            format!("server did not accept {what}: {}", describe(&done)),
        )),
    }
}

/// Servers without RFC 5530 codes (Cyrus 3.6: `NO Mailbox does not exist`) only say it in
/// words; these are the wordings of Cyrus, Dovecot, Courier, Exchange and Gmail.
fn says_not_found(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "does not exist",
        "doesn't exist",
        "no such mailbox",
        "no such folder",
        "mailbox not found",
        "folder not found",
        "unknown mailbox",
        "nonexistent mailbox",
    ]
    .iter()
    .any(|phrase| text.contains(phrase))
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(code: Option<ResponseCode>, text: &str) -> ErrorKind {
        let done = Completion {
            kind: StatusKindOf::No,
            code,
            text: text.to_owned(),
        };
        check(done, "SELECT \"X\"").unwrap_err().kind()
    }

    #[test]
    fn missing_mailboxes_are_not_found_with_or_without_a_code() {
        assert_eq!(no(Some(ResponseCode::TryCreate), "x"), ErrorKind::NotFound);
        assert_eq!(
            no(Some(ResponseCode::Other("NONEXISTENT".into())), "x"),
            ErrorKind::NotFound
        );
        // Cyrus 3.6 sends no code.
        assert_eq!(no(None, "Mailbox does not exist"), ErrorKind::NotFound);
        assert_eq!(no(None, "Over quota"), ErrorKind::Peer);
        // A code that says something else wins over the wording.
        assert_eq!(
            no(
                Some(ResponseCode::Other("OVERQUOTA".into())),
                "folder not found"
            ),
            ErrorKind::Peer
        );
        let bad = Completion {
            kind: StatusKindOf::Bad,
            code: None,
            text: "Mailbox does not exist".into(),
        };
        assert_eq!(check(bad, "X").unwrap_err().kind(), ErrorKind::Peer);
    }
}
