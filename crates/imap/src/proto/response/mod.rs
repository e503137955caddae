//! Server responses as the client uses them: parsed by `imap-codec`, then converted into owned
//! types of our own (`convert.rs`) so that the rest of the crate (and the sync engine) does not
//! depend on a pre-release crate's types.

use std::fmt;
use std::time::SystemTime;

use imap_codec::decode::{Decoder, GreetingDecodeError, ResponseDecodeError};
use imap_codec::imap_types::response::{
    CommandContinuationRequest, GreetingKind, Response as WireResponse, Status as WireStatus,
};
use imap_codec::{GreetingCodec, ResponseCodec};
use pimlink_core::Flags;

use super::escape::escape_bytes;
use crate::uidset::UidRanges;

mod convert;
pub(crate) mod objectid;

pub use convert::apply_flag;
use convert::{convert_code, convert_data, convert_kind};

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
    /// `MAILBOXID (id)` (RFC 8474 OBJECTID), sent with a SELECT: the mailbox's identity.
    MailboxId(String),
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
    /// `MAILBOXID` (RFC 8474 OBJECTID): the mailbox's identity, which survives a RENAME.
    pub mailbox_id: Option<String>,
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
    // imap-codec does not know OBJECTID's STATUS item: it is taken out before parsing and
    // put back into the result.
    let Some((without_id, mailbox_id)) = objectid::take_mailbox_id(frame) else {
        return parse_codec_response(frame, marker, utf8_names);
    };
    let mut response = parse_codec_response(&without_id, marker, utf8_names)?;
    if let Response::Untagged(Untagged::MailboxStatus(status)) = &mut response {
        status.mailbox_id = Some(mailbox_id);
    }
    Ok(response)
}

fn parse_codec_response(
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
            ResponseCode::MailboxId(id) => write!(f, "MAILBOXID ({id})"),
            ResponseCode::Other(text) => f.write_str(text),
        }
    }
}
