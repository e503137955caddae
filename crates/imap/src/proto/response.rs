//! Server responses as the client uses them: parsed by `imap-codec`, then converted into owned
//! types of our own so that the rest of the crate (and the sync engine) does not depend on a
//! pre-release crate's types.

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imap_codec::decode::{Decoder, GreetingDecodeError, ResponseDecodeError};
use imap_codec::encode::Encoder;
use imap_codec::imap_types::core::{IString, NString};
use imap_codec::imap_types::extensions::uidplus::{UidElement, UidSet};
use imap_codec::imap_types::fetch::{MessageDataItem, Section};
use imap_codec::imap_types::flag::{Flag as WireFlag, FlagFetch, FlagNameAttribute, FlagPerm};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{
    Code, CommandContinuationRequest, Data, Greeting as WireGreeting, GreetingKind,
    Response as WireResponse, Status as WireStatus, StatusKind,
};
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use imap_codec::imap_types::status::StatusDataItem;
use imap_codec::{GreetingCodec, ResponseCodec};
use pimlink_core::{Flag, Flags};

use super::escape::{escape_bytes, escape_text};
use crate::uidset::UidRanges;
use crate::utf7;

/// A response the parser refused. The command it belongs to fails; the connection is closed
/// because the byte stream can no longer be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The start of the offending response, escaped, for the error message.
    pub excerpt: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server sent a response that cannot be parsed: {}",
            self.excerpt
        )
    }
}

impl std::error::Error for ParseError {}

/// How much of a refused response a message shows.
const EXCERPT: usize = 200;

fn parse_error(bytes: &[u8]) -> ParseError {
    ParseError {
        excerpt: escape_bytes(bytes, EXCERPT),
    }
}

/// A refused frame that is the data of one folder (`* LIST`, `* LSUB`, `* STATUS`): the framer
/// found where it ends, so the stream is still in step and only that folder is lost; the
/// command goes on without it. Any other refused response still fails the connection.
fn unreadable_folder_data(frame: &[u8]) -> Option<Untagged> {
    let rest = frame.strip_prefix(b"* ")?;
    let verb = ["LIST", "LSUB", "STATUS"].into_iter().find(|verb| {
        rest.get(..=verb.len()).is_some_and(|head| {
            head[..verb.len()].eq_ignore_ascii_case(verb.as_bytes()) && head[verb.len()] == b' '
        })
    })?;
    Some(Untagged::Unreadable {
        verb,
        excerpt: escape_bytes(frame, EXCERPT),
    })
}

/// The result of a command or a status message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKindOf {
    /// `OK`
    Ok,
    /// `NO`: the command failed.
    No,
    /// `BAD`: the server did not understand the command.
    Bad,
}

/// A response code (the bracketed part of a status response) that the client acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseCode {
    /// `ALERT`: text for the user.
    Alert,
    /// `CAPABILITY (...)`
    Capability(Vec<String>),
    /// `PERMANENTFLAGS (...)`
    PermanentFlags(Vec<String>),
    /// `READ-ONLY`
    ReadOnly,
    /// `READ-WRITE`
    ReadWrite,
    /// `TRYCREATE`: the target mailbox does not exist.
    TryCreate,
    /// `UIDNEXT n`
    UidNext(u32),
    /// `UIDVALIDITY n`
    UidValidity(u32),
    /// `HIGHESTMODSEQ n`
    HighestModSeq(u64),
    /// `NOMODSEQ`: the mailbox has no mod-sequences.
    NoModSeq,
    /// `MODIFIED set`: UIDs that failed an UNCHANGEDSINCE test.
    Modified(UidRanges),
    /// `APPENDUID uidvalidity uid-set`: one UID, or a set answering a MULTIAPPEND.
    AppendUid {
        /// UIDVALIDITY of the target mailbox.
        uid_validity: u32,
        /// The UIDs the appended messages got, as written (see `multiappend::uids_in_order`).
        uids: UidRanges,
    },
    /// `COPYUID uidvalidity source destination`
    CopyUid {
        /// UIDVALIDITY of the target mailbox.
        uid_validity: u32,
        /// UIDs in the source mailbox.
        source: UidRanges,
        /// Their new UIDs, in the same order.
        destination: UidRanges,
    },
    /// `CLOSED`: responses after this belong to the newly selected mailbox.
    Closed,
    /// `COMPRESSIONACTIVE`
    CompressionActive,
    /// Any other code, as text (e.g. `NONEXISTENT`).
    Other(String),
}

/// A LIST or LSUB entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// Attributes such as `\Noselect`, `\HasChildren`, `\Sent` (special-use), as sent.
    pub attributes: Vec<String>,
    /// The hierarchy delimiter, `None` for a flat namespace.
    pub delimiter: Option<char>,
    /// The name, decoded from modified UTF-7 (or as sent with UTF8=ACCEPT).
    pub name: String,
    /// The name exactly as it was on the wire, to send back.
    pub wire_name: Vec<u8>,
}

impl ListEntry {
    /// True unless the entry is `\Noselect` or `\NonExistent`.
    pub fn selectable(&self) -> bool {
        !self.attributes.iter().any(|a| {
            a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
        })
    }

    /// The special-use attribute (RFC 6154), if any.
    pub fn special_use(&self) -> Option<&str> {
        const SPECIAL: [&str; 7] = [
            "\\All",
            "\\Archive",
            "\\Drafts",
            "\\Flagged",
            "\\Junk",
            "\\Sent",
            "\\Trash",
        ];
        self.attributes
            .iter()
            .find(|a| SPECIAL.iter().any(|s| s.eq_ignore_ascii_case(a)))
            .map(String::as_str)
    }
}

/// The result of STATUS (or a LIST-STATUS entry).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    /// The mailbox name, decoded.
    pub name: String,
    /// `MESSAGES`
    pub messages: Option<u32>,
    /// `UIDNEXT`
    pub uid_next: Option<u32>,
    /// `UIDVALIDITY`
    pub uid_validity: Option<u32>,
    /// `UNSEEN`
    pub unseen: Option<u32>,
    /// `HIGHESTMODSEQ`
    pub highest_modseq: Option<u64>,
}

/// A message body (or header section) from a FETCH: small ones in memory, large ones as the
/// index of the spooled literal that holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyRef {
    /// The bytes.
    Inline(Vec<u8>),
    /// Spooled literal number `n` of this response.
    Spooled(u32),
    /// The server sent NIL.
    Nil,
}

/// The data of one FETCH response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchData {
    /// Message sequence number.
    pub seq: u32,
    /// `UID`
    pub uid: Option<u32>,
    /// `FLAGS`, mapped to pimlink's flags (`\Recent` dropped).
    pub flags: Option<Flags>,
    /// `INTERNALDATE`
    pub internal_date: Option<SystemTime>,
    /// `RFC822.SIZE`
    pub size: Option<u32>,
    /// `MODSEQ`
    pub modseq: Option<u64>,
    /// `BODY[]` (or `RFC822`, `BINARY[]`).
    pub body: Option<BodyRef>,
    /// `BODY[HEADER...]` or `RFC822.HEADER`.
    pub header: Option<BodyRef>,
}

/// A namespace (prefix and delimiter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceEntry {
    /// The prefix, e.g. `""` or `"INBOX."`.
    pub prefix: String,
    /// Its delimiter.
    pub delimiter: Option<char>,
}

/// Untagged data the client uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Untagged {
    /// `* OK/NO/BAD [code] text`
    Status {
        /// OK, NO or BAD.
        kind: StatusKindOf,
        /// The response code.
        code: Option<ResponseCode>,
        /// The human text.
        text: String,
    },
    /// `* BYE`: the server is closing the connection.
    Bye {
        /// The response code.
        code: Option<ResponseCode>,
        /// The human text.
        text: String,
    },
    /// `* CAPABILITY ...`
    Capability(Vec<String>),
    /// `* ENABLED ...`
    Enabled(Vec<String>),
    /// `* LIST ...`
    List(ListEntry),
    /// `* LSUB ...`
    Lsub(ListEntry),
    /// `* STATUS ...`
    MailboxStatus(MailboxStatus),
    /// `* FLAGS (...)`
    Flags(Vec<String>),
    /// `* n EXISTS`
    Exists(u32),
    /// `* n RECENT`
    Recent(u32),
    /// `* n EXPUNGE`
    Expunge(u32),
    /// `* n FETCH (...)`
    Fetch(FetchData),
    /// `* VANISHED [(EARLIER)] uids`
    Vanished {
        /// True for `(EARLIER)`: a reply to a QRESYNC or `VANISHED` fetch modifier.
        earlier: bool,
        /// The UIDs.
        uids: UidRanges,
    },
    /// `* SEARCH ...`
    Search(Vec<u32>),
    /// `* ID (...)`
    Id(Vec<(String, Option<String>)>),
    /// `* NAMESPACE ...`: personal, other users', shared.
    Namespace([Vec<NamespaceEntry>; 3]),
    /// Anything else, described briefly; the client ignores it.
    Other(String),
    /// A `LIST`, `LSUB` or `STATUS` response that cannot be parsed (e.g. a NUL in a folder
    /// name): that folder is left out, the rest of the answer is used.
    Unreadable {
        /// `LIST`, `LSUB` or `STATUS`.
        verb: &'static str,
        /// The response, escaped ([`escape_bytes`]).
        excerpt: String,
    },
}

/// One parsed server response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// `+ ...`: the server waits for the rest of a command.
    Continue(ContinueData),
    /// Untagged data or status.
    Untagged(Untagged),
    /// The completion of the command with this tag.
    Tagged {
        /// The tag.
        tag: String,
        /// OK, NO or BAD.
        kind: StatusKindOf,
        /// The response code.
        code: Option<ResponseCode>,
        /// The human text.
        text: String,
    },
}

/// What a continuation request carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContinueData {
    /// Text that was valid base64 (a SASL challenge), decoded.
    Base64(Vec<u8>),
    /// Human text.
    Text(String),
}

/// The server greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Greeting {
    /// `* OK`: log in next.
    Ok(Option<ResponseCode>),
    /// `* PREAUTH`: already authenticated (a tunnel).
    PreAuth(Option<ResponseCode>),
    /// `* BYE`: the server refuses us.
    Bye(String),
}

/// Parses a greeting frame.
pub fn parse_greeting(frame: &[u8]) -> Result<Greeting, ParseError> {
    let (rest, greeting) = GreetingCodec::new()
        .decode(frame)
        .map_err(|_: GreetingDecodeError| parse_error(frame))?;
    if !rest.is_empty() {
        return Err(parse_error(frame));
    }
    let code = greeting.code.map(convert_code);
    Ok(match greeting.kind {
        GreetingKind::Ok => Greeting::Ok(code),
        GreetingKind::PreAuth => Greeting::PreAuth(code),
        GreetingKind::Bye => Greeting::Bye(greeting.text.to_string()),
    })
}

/// Parses one complete frame. `marker` maps spooled-literal placeholders back to their index.
/// Mailbox names are read as modified UTF-7 (UTF8=ACCEPT not enabled).
pub fn parse_response(
    frame: &[u8],
    marker: &dyn Fn(&[u8]) -> Option<u32>,
) -> Result<Response, ParseError> {
    parse_response_names(frame, marker, false)
}

/// Like [`parse_response`]; `utf8_names` says UTF8=ACCEPT is enabled, so mailbox names are
/// UTF-8 as sent (`&` is then an ordinary character, not the start of modified UTF-7).
pub fn parse_response_names(
    frame: &[u8],
    marker: &dyn Fn(&[u8]) -> Option<u32>,
    utf8_names: bool,
) -> Result<Response, ParseError> {
    let refused = || match unreadable_folder_data(frame) {
        Some(unreadable) => Ok(Response::Untagged(unreadable)),
        None => Err(parse_error(frame)),
    };
    let (rest, response) = match ResponseCodec::new().decode(frame) {
        Ok(ok) => ok,
        // The framer delivered a complete response, so "incomplete" means the literal lengths
        // and the syntax disagree: malformed.
        Err(
            ResponseDecodeError::Incomplete
            | ResponseDecodeError::LiteralFound { .. }
            | ResponseDecodeError::Failed,
        ) => return refused(),
    };
    if !rest.is_empty() {
        return refused();
    }
    Ok(match response {
        WireResponse::CommandContinuationRequest(req) => Response::Continue(match req {
            CommandContinuationRequest::Base64(data) => ContinueData::Base64(data.into_owned()),
            CommandContinuationRequest::Basic(basic) => {
                ContinueData::Text(basic.text().to_string())
            }
        }),
        WireResponse::Status(WireStatus::Tagged(tagged)) => Response::Tagged {
            tag: tagged.tag.as_ref().to_owned(),
            kind: convert_kind(tagged.body.kind),
            code: tagged.body.code.map(convert_code),
            text: tagged.body.text.to_string(),
        },
        WireResponse::Status(WireStatus::Untagged(body)) => Response::Untagged(Untagged::Status {
            kind: convert_kind(body.kind),
            code: body.code.map(convert_code),
            text: body.text.to_string(),
        }),
        WireResponse::Status(WireStatus::Bye(bye)) => Response::Untagged(Untagged::Bye {
            code: bye.code.map(convert_code),
            text: bye.text.to_string(),
        }),
        WireResponse::Data(data) => Response::Untagged(convert_data(data, marker, utf8_names)?),
    })
}

fn convert_kind(kind: StatusKind) -> StatusKindOf {
    match kind {
        StatusKind::Ok => StatusKindOf::Ok,
        StatusKind::No => StatusKindOf::No,
        StatusKind::Bad => StatusKindOf::Bad,
    }
}

fn convert_code(code: Code<'_>) -> ResponseCode {
    match code {
        Code::Alert => ResponseCode::Alert,
        Code::Capability(caps) => {
            ResponseCode::Capability(caps.into_iter().map(|c| c.to_string()).collect())
        }
        Code::PermanentFlags(flags) => ResponseCode::PermanentFlags(
            flags
                .into_iter()
                .map(|f| match f {
                    FlagPerm::Flag(flag) => flag.to_string(),
                    FlagPerm::Asterisk => "\\*".to_owned(),
                })
                .collect(),
        ),
        Code::ReadOnly => ResponseCode::ReadOnly,
        Code::ReadWrite => ResponseCode::ReadWrite,
        Code::TryCreate => ResponseCode::TryCreate,
        Code::UidNext(n) => ResponseCode::UidNext(n.get()),
        Code::UidValidity(n) => ResponseCode::UidValidity(n.get()),
        Code::HighestModSeq(n) => ResponseCode::HighestModSeq(n.get()),
        Code::NoModSeq => ResponseCode::NoModSeq,
        Code::Modified(set) => ResponseCode::Modified(from_sequence_set(&set)),
        Code::AppendUid { uid_validity, uid } => ResponseCode::AppendUid {
            uid_validity: uid_validity.get(),
            uids: UidRanges::single(uid.get()),
        },
        Code::CopyUid {
            uid_validity,
            source,
            destination,
        } => ResponseCode::CopyUid {
            uid_validity: uid_validity.get(),
            source: from_uid_set(&source),
            destination: from_uid_set(&destination),
        },
        Code::Closed => ResponseCode::Closed,
        Code::CompressionActive => ResponseCode::CompressionActive,
        // imap-codec reads APPENDUID with one UID only; the uid-set that answers a MULTIAPPEND
        // (RFC 4315 section 3) reaches us as an unknown code.
        Code::Other(other) => match append_uid_set(other.inner()) {
            Some((uid_validity, uids)) => ResponseCode::AppendUid { uid_validity, uids },
            None => unknown_code(Code::Other(other)),
        },
        other => unknown_code(other),
    }
}

/// A code the client does not act on, as the server wrote it (`AUTHENTICATIONFAILED`,
/// `BADCHARSET (UTF-8)`): encoded back into a greeting, whose form around the code is fixed.
fn unknown_code(code: Code<'_>) -> ResponseCode {
    let text = WireGreeting::ok(Some(code), "x").ok().and_then(|greeting| {
        let wire = GreetingCodec::new().encode(&greeting).dump();
        let wire = String::from_utf8_lossy(&wire);
        wire.strip_prefix("* OK [")
            .and_then(|rest| rest.strip_suffix("] x\r\n"))
            .map(str::to_owned)
    });
    ResponseCode::Other(text.map_or_else(|| "?".to_owned(), |text| escape_text(&text)))
}

impl fmt::Display for ResponseCode {
    /// As written on the wire, without the brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseCode::Alert => f.write_str("ALERT"),
            ResponseCode::Capability(caps) => write!(f, "CAPABILITY {}", caps.join(" ")),
            ResponseCode::PermanentFlags(flags) => {
                write!(f, "PERMANENTFLAGS ({})", flags.join(" "))
            }
            ResponseCode::ReadOnly => f.write_str("READ-ONLY"),
            ResponseCode::ReadWrite => f.write_str("READ-WRITE"),
            ResponseCode::TryCreate => f.write_str("TRYCREATE"),
            ResponseCode::UidNext(n) => write!(f, "UIDNEXT {n}"),
            ResponseCode::UidValidity(n) => write!(f, "UIDVALIDITY {n}"),
            ResponseCode::HighestModSeq(n) => write!(f, "HIGHESTMODSEQ {n}"),
            ResponseCode::NoModSeq => f.write_str("NOMODSEQ"),
            ResponseCode::Modified(set) => write!(f, "MODIFIED {set}"),
            ResponseCode::AppendUid { uid_validity, uids } => {
                write!(f, "APPENDUID {uid_validity} {uids}")
            }
            ResponseCode::CopyUid {
                uid_validity,
                source,
                destination,
            } => write!(f, "COPYUID {uid_validity} {source} {destination}"),
            ResponseCode::Closed => f.write_str("CLOSED"),
            ResponseCode::CompressionActive => f.write_str("COMPRESSIONACTIVE"),
            ResponseCode::Other(text) => f.write_str(text),
        }
    }
}

fn from_sequence_set(set: &SequenceSet) -> UidRanges {
    let mut ranges = UidRanges::default();
    for seq in set.0.as_ref() {
        let value = |s: &SeqOrUid| match s {
            SeqOrUid::Value(v) => v.get(),
            // "*" has no meaning in a set the server reports; u32::MAX is the largest UID.
            SeqOrUid::Asterisk => u32::MAX,
        };
        match seq {
            Sequence::Single(s) => ranges.push_range(value(s), value(s)),
            Sequence::Range(a, b) => ranges.push_range(value(a), value(b)),
        }
    }
    ranges
}

/// `APPENDUID nz-number SP uid-set` (RFC 4315), the ranges kept as written; `None` for anything
/// else, which then stays an unknown code.
fn append_uid_set(code: &[u8]) -> Option<(u32, UidRanges)> {
    let text = std::str::from_utf8(code).ok()?;
    let (name, rest) = text.split_once(' ')?;
    if !name.eq_ignore_ascii_case("APPENDUID") {
        return None;
    }
    let (validity, set) = rest.split_once(' ')?;
    let mut uids = UidRanges::default();
    for element in set.split(',') {
        let (a, b) = element.split_once(':').unwrap_or((element, element));
        uids.push_range(nz_number(a)?, nz_number(b)?);
    }
    Some((nz_number(validity)?, uids))
}

/// A non-zero 32-bit number in decimal digits only (no sign, no `*`).
fn nz_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<NonZeroU32>().ok().map(NonZeroU32::get)
}

fn from_uid_set(set: &UidSet) -> UidRanges {
    let mut ranges = UidRanges::default();
    for element in set.0.as_ref() {
        match element {
            UidElement::Single(v) => ranges.push_range(v.get(), v.get()),
            // COPYUID pairs ranges in order, so a descending range keeps its direction.
            UidElement::Range(a, b) => ranges.push_range(a.get(), b.get()),
        }
    }
    ranges
}

fn mailbox_name(mailbox: &Mailbox<'_>, utf8: bool) -> (String, Vec<u8>) {
    match mailbox {
        Mailbox::Inbox => ("INBOX".to_owned(), b"INBOX".to_vec()),
        Mailbox::Other(other) => {
            let wire = other.as_ref().to_vec();
            let text = String::from_utf8_lossy(&wire).into_owned();
            // With UTF8=ACCEPT enabled names arrive as UTF-8. Otherwise decode modified UTF-7,
            // keeping the raw text if the server sent invalid UTF-7 or (a harmless deviation)
            // raw UTF-8 without being asked to.
            let name = if !utf8 && text.is_ascii() {
                utf7::decode(&text).unwrap_or(text)
            } else {
                text
            };
            (name, wire)
        }
    }
}

fn list_entry(
    items: Vec<FlagNameAttribute<'_>>,
    delimiter: Option<imap_codec::imap_types::core::QuotedChar>,
    mailbox: Mailbox<'_>,
    utf8: bool,
) -> ListEntry {
    let (name, wire_name) = mailbox_name(&mailbox, utf8);
    ListEntry {
        attributes: items.iter().map(ToString::to_string).collect(),
        delimiter: delimiter.map(|d| d.inner()),
        name,
        wire_name,
    }
}

fn istring(s: &IString<'_>) -> String {
    String::from_utf8_lossy(s.as_ref()).into_owned()
}

fn nstring_body(data: &NString<'_>, marker: &dyn Fn(&[u8]) -> Option<u32>) -> BodyRef {
    match &data.0 {
        None => BodyRef::Nil,
        Some(s) => {
            let bytes = s.as_ref();
            match marker(bytes) {
                Some(index) => BodyRef::Spooled(index),
                None => BodyRef::Inline(bytes.to_vec()),
            }
        }
    }
}

/// Maps a wire flag to pimlink's model; `false` if it has no place there.
pub fn apply_flag(flags: &mut Flags, flag: &WireFlag<'_>) {
    match flag {
        WireFlag::Answered => flags.set(Flag::Replied, true),
        WireFlag::Deleted => flags.set(Flag::Trashed, true),
        WireFlag::Draft => flags.set(Flag::Draft, true),
        WireFlag::Flagged => flags.set(Flag::Flagged, true),
        WireFlag::Seen => flags.set(Flag::Seen, true),
        WireFlag::Keyword(atom) if atom.as_ref().eq_ignore_ascii_case("$Forwarded") => {
            flags.set(Flag::Passed, true)
        }
        WireFlag::Keyword(atom) => flags.set_keyword(atom.as_ref(), true),
        // Unknown system flags (`\Foo`) cannot be stored by the other side; they stay on the
        // server untouched because pimlink only ever adds or removes flags it knows.
        WireFlag::Extension(_) => {}
    }
}

fn convert_fetch(
    seq: NonZeroU32,
    items: Vec<MessageDataItem<'_>>,
    marker: &dyn Fn(&[u8]) -> Option<u32>,
) -> FetchData {
    let mut data = FetchData {
        seq: seq.get(),
        ..FetchData::default()
    };
    for item in items {
        match item {
            MessageDataItem::Uid(uid) => data.uid = Some(uid.get()),
            MessageDataItem::Flags(list) => {
                let mut flags = Flags::new();
                for f in &list {
                    if let FlagFetch::Flag(flag) = f {
                        apply_flag(&mut flags, flag);
                    }
                }
                data.flags = Some(flags);
            }
            MessageDataItem::InternalDate(date) => {
                let ts = date.as_ref().timestamp();
                data.internal_date = Some(if ts >= 0 {
                    UNIX_EPOCH + Duration::from_secs(ts.unsigned_abs())
                } else {
                    UNIX_EPOCH - Duration::from_secs(ts.unsigned_abs())
                });
            }
            MessageDataItem::Rfc822Size(size) => data.size = Some(size),
            MessageDataItem::ModSeq(modseq) => data.modseq = Some(modseq.get()),
            MessageDataItem::BodyExt {
                section,
                origin: None,
                data: body,
            } => match section {
                None => data.body = Some(nstring_body(&body, marker)),
                Some(Section::Header(None) | Section::HeaderFields(None, _)) => {
                    data.header = Some(nstring_body(&body, marker))
                }
                Some(_) => {}
            },
            MessageDataItem::Rfc822(body) => data.body = Some(nstring_body(&body, marker)),
            MessageDataItem::Rfc822Header(body) => data.header = Some(nstring_body(&body, marker)),
            _ => {}
        }
    }
    data
}

fn convert_data(
    data: Data<'_>,
    marker: &dyn Fn(&[u8]) -> Option<u32>,
    utf8: bool,
) -> Result<Untagged, ParseError> {
    Ok(match data {
        Data::Capability(caps) => {
            Untagged::Capability(caps.into_iter().map(|c| c.to_string()).collect())
        }
        Data::Enabled { capabilities } => {
            Untagged::Enabled(capabilities.iter().map(ToString::to_string).collect())
        }
        Data::List {
            items,
            delimiter,
            mailbox,
        } => Untagged::List(list_entry(items, delimiter, mailbox, utf8)),
        Data::Lsub {
            items,
            delimiter,
            mailbox,
        } => Untagged::Lsub(list_entry(items, delimiter, mailbox, utf8)),
        Data::Status { mailbox, items } => {
            let mut status = MailboxStatus {
                name: mailbox_name(&mailbox, utf8).0,
                ..MailboxStatus::default()
            };
            for item in items.iter() {
                match item {
                    StatusDataItem::Messages(n) => status.messages = Some(*n),
                    StatusDataItem::UidNext(n) => status.uid_next = Some(n.get()),
                    StatusDataItem::UidValidity(n) => status.uid_validity = Some(n.get()),
                    StatusDataItem::Unseen(n) => status.unseen = Some(*n),
                    StatusDataItem::HighestModSeq(n) => status.highest_modseq = Some(*n),
                    _ => {}
                }
            }
            Untagged::MailboxStatus(status)
        }
        Data::Search(ids, _) => Untagged::Search(ids.into_iter().map(NonZeroU32::get).collect()),
        Data::Flags(flags) => Untagged::Flags(flags.iter().map(ToString::to_string).collect()),
        Data::Exists(n) => Untagged::Exists(n),
        Data::Recent(n) => Untagged::Recent(n),
        Data::Expunge(n) => Untagged::Expunge(n.get()),
        Data::Fetch { seq, items } => {
            Untagged::Fetch(convert_fetch(seq, items.into_iter().collect(), marker))
        }
        Data::Vanished {
            earlier,
            known_uids,
        } => Untagged::Vanished {
            earlier,
            uids: from_sequence_set(&known_uids),
        },
        Data::Id { parameters } => Untagged::Id(
            parameters
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| (istring(k), v.0.as_ref().map(istring)))
                .collect(),
        ),
        Data::Namespace {
            personal,
            other,
            shared,
        } => {
            let conv = |list: Vec<imap_codec::imap_types::extensions::namespace::Namespace<'_>>| {
                list.iter()
                    .map(|ns| NamespaceEntry {
                        prefix: istring(&ns.prefix),
                        delimiter: ns.delimiter.map(|d| d.inner()),
                    })
                    .collect()
            };
            Untagged::Namespace([conv(personal), conv(other), conv(shared)])
        }
        other => Untagged::Other(format!("{other:?}").chars().take(80).collect()),
    })
}
