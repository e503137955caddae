//! From imap-codec's types to ours: every conversion of a parsed response, so that the
//! pre-release API stays in this file and [`super`] holds only our own types.

use std::num::NonZeroU32;
use std::time::{Duration, UNIX_EPOCH};

use imap_codec::GreetingCodec;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::core::{IString, NString};
use imap_codec::imap_types::extensions::uidplus::{UidElement, UidSet};
use imap_codec::imap_types::fetch::{MessageDataItem, Section};
use imap_codec::imap_types::flag::{Flag as WireFlag, FlagFetch, FlagNameAttribute, FlagPerm};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{Code, Data, Greeting as WireGreeting, StatusKind};
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use imap_codec::imap_types::status::StatusDataItem;
use pimlink_core::{Flag, Flags};

use super::*;
use crate::proto::escape::escape_text;
use crate::uidset::UidRanges;
use crate::utf7;

pub(super) fn convert_kind(kind: StatusKind) -> StatusKindOf {
    match kind {
        StatusKind::Ok => StatusKindOf::Ok,
        StatusKind::No => StatusKindOf::No,
        StatusKind::Bad => StatusKindOf::Bad,
    }
}

pub(super) fn convert_code(code: Code<'_>) -> ResponseCode {
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
        Code::Other(other) => {
            if let Some((uid_validity, uids)) = append_uid_set(other.inner()) {
                ResponseCode::AppendUid { uid_validity, uids }
            } else if let Some(id) = mailbox_id(other.inner()) {
                ResponseCode::MailboxId(id)
            } else {
                unknown_code(Code::Other(other))
            }
        }
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

/// The id of a `MAILBOXID (id)` code (RFC 8474), which imap-codec reads as an unknown code.
fn mailbox_id(code: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(code).ok()?;
    let (name, rest) = text.split_once(' ')?;
    if !name.eq_ignore_ascii_case("MAILBOXID") {
        return None;
    }
    let id = rest.strip_prefix('(')?.strip_suffix(')')?;
    super::objectid::is_object_id(id).then(|| id.to_owned())
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

pub(super) fn convert_data(
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
