//! Responses that arrive while no command runs: after `NOTIFY SET` (RFC 5465) the server
//! reports changes on its own, and the client must keep reading. This sorts each one into
//! what a watcher needs to know ([`Notice`]); anything that can only belong to a command (a
//! tagged completion, a `+`) is a protocol violation, fatal for the session.

use pimlink_core::Error;

use super::commands::peer;
use super::response::{MailboxStatus, Response, ResponseCode, Untagged};
use super::session::Session;

/// What one unsolicited response tells a watcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A mailbox that is not selected changed; its counters (a `STATUS`).
    Mailbox(MailboxStatus),
    /// The list of mailboxes changed: one was created, deleted, renamed, subscribed or
    /// unsubscribed (a `LIST`, which may carry `\NonExistent`, `\Subscribed` or `OLDNAME`).
    Mailboxes,
    /// The selected mailbox changed (`EXISTS`, `EXPUNGE`, `FETCH`, `VANISHED`).
    Selected,
    /// The server dropped notifications (`NOTIFICATIONOVERFLOW`, or a `STATUS` it sent that
    /// cannot be read): anything may have changed, and NOTIFY must be set again.
    Overflow,
    /// The server is closing the connection (`BYE`).
    Closing,
    /// Nothing a watcher acts on (`OK Still here`, `RECENT`, `FLAGS`, `CAPABILITY`).
    Nothing,
}

/// Sorts a response read while no command ran. The session learns from it as from any
/// untagged response (a `BYE` marks it logged out).
pub fn unsolicited(session: &mut Session, response: Response) -> Result<Notice, Error> {
    let untagged = match response {
        Response::Untagged(untagged) => untagged,
        Response::Tagged { tag, .. } => {
            return Err(session.fail(peer(format!(
                "server completed command {:?} while none was running",
                super::escape::escape_text(&tag)
            ))));
        }
        Response::Continue(_) => {
            return Err(session.fail(peer(
                "server sent a continuation request while no command was running",
            )));
        }
    };
    session.observe(&untagged);
    Ok(notice(&untagged))
}

/// What an untagged response tells a watcher, whether it came alone or with a command (a NOOP
/// that checks the connection must not swallow a notification).
pub fn notice(untagged: &Untagged) -> Notice {
    match untagged {
        Untagged::MailboxStatus(status) => Notice::Mailbox(status.clone()),
        Untagged::List(_) | Untagged::Lsub(_) => Notice::Mailboxes,
        Untagged::Unreadable { verb: "STATUS", .. } => Notice::Overflow,
        Untagged::Unreadable { .. } => Notice::Mailboxes,
        Untagged::Exists(_)
        | Untagged::Expunge(_)
        | Untagged::Fetch(_)
        | Untagged::Vanished { .. } => Notice::Selected,
        Untagged::Status {
            code: Some(ResponseCode::Other(code)),
            ..
        } if code.eq_ignore_ascii_case("NOTIFICATIONOVERFLOW") => Notice::Overflow,
        Untagged::Bye { .. } => Notice::Closing,
        _ => Notice::Nothing,
    }
}
