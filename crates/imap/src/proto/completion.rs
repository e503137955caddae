//! How a command ended (its tagged response), and what an OK, NO or BAD means for the caller.

use pimlink_core::{Error, ErrorKind};

use super::escape::escape_text;
use super::response::{ResponseCode, StatusKindOf};

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// OK, NO or BAD.
    pub kind: StatusKindOf,
    /// Its response code.
    pub code: Option<ResponseCode>,
    /// Its text.
    pub text: String,
}

impl Completion {
    /// OK passes; NO and BAD become errors naming the command (`what`).
    pub fn check(self, what: &str) -> Result<Completion, Error> {
        match self.kind {
            StatusKindOf::Ok => Ok(self),
            StatusKindOf::No => {
                // A busy server did not carry the command out; a later try may succeed.
                if let Some(busy) = ServerBusy::from_answer(self.code.as_ref(), &self.text) {
                    return Err(Error::new(
                        ErrorKind::Connection,
                        format!("{what} failed: {}", self.describe()),
                    )
                    .with_source(busy));
                }
                let kind = match &self.code {
                    Some(ResponseCode::TryCreate) => ErrorKind::NotFound,
                    Some(ResponseCode::Other(c)) if c.eq_ignore_ascii_case("NONEXISTENT") => {
                        ErrorKind::NotFound
                    }
                    None if says_not_found(&self.text) => ErrorKind::NotFound,
                    _ => ErrorKind::Peer,
                };
                Err(Error::new(
                    kind,
                    format!("{what} failed: {}", self.describe()),
                ))
            }
            StatusKindOf::Bad => Err(Error::new(
                ErrorKind::Peer,
                format!("server did not accept {what}: {}", self.describe()),
            )),
        }
    }

    /// `NO [code] text`, for messages.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            StatusKindOf::Ok => "OK",
            StatusKindOf::No => "NO",
            StatusKindOf::Bad => "BAD",
        };
        format!("{kind} {}", self.server_words())
    }

    /// The response code and text as the server wrote them (control characters escaped: they
    /// are for the user's terminal).
    pub fn server_words(&self) -> String {
        let text = escape_text(&self.text);
        match &self.code {
            Some(code) => format!("[{code}] {text}"),
            None => text,
        }
    }
}

/// A NO that says the server is too busy or throttling this client (Exchange Online:
/// `NO [THROTTLED] ... Suggested Backoff Time: 500 milliseconds`, `NO Server Unavailable. 15`;
/// RFC 5530's `[UNAVAILABLE]`): the command was not carried out, and the same one may succeed
/// after a wait. Attached as the cause of the error, where the store's retry finds the wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerBusy {
    /// The wait the server suggested, if it named one.
    pub suggested: Option<std::time::Duration>,
}

impl ServerBusy {
    /// `Some` if a NO with `code` and `text` is a busy server's.
    pub fn from_answer(code: Option<&ResponseCode>, text: &str) -> Option<ServerBusy> {
        let coded = matches!(
            code,
            Some(ResponseCode::Other(c))
                if c.eq_ignore_ascii_case("THROTTLED") || c.eq_ignore_ascii_case("UNAVAILABLE")
        );
        let lower = text.to_ascii_lowercase();
        let worded = [
            "throttl",
            "server unavailable",
            "server busy",
            "try again later",
        ]
        .iter()
        .any(|phrase| lower.contains(phrase));
        (coded || worded).then(|| ServerBusy {
            suggested: suggested_wait(&lower),
        })
    }
}

impl std::fmt::Display for ServerBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server is busy (throttling)")
    }
}

impl std::error::Error for ServerBusy {}

/// Exchange's `Suggested Backoff Time: N milliseconds` (in lower case).
fn suggested_wait(lower: &str) -> Option<std::time::Duration> {
    let (_, rest) = lower.split_once("backoff time:")?;
    let mut words = rest.split_whitespace();
    let number: u64 = words.next()?.parse().ok()?;
    let unit = words.next().unwrap_or("milliseconds");
    Some(if unit.starts_with("sec") {
        std::time::Duration::from_secs(number)
    } else {
        std::time::Duration::from_millis(number)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn no(code: Option<ResponseCode>, text: &str) -> ErrorKind {
        let done = Completion {
            kind: StatusKindOf::No,
            code,
            text: text.to_owned(),
        };
        done.check("SELECT \"X\"").unwrap_err().kind()
    }

    #[test]
    fn a_busy_or_throttling_server_is_a_connection_failure_with_its_suggested_wait() {
        let busy = |code: Option<&str>, text: &str| {
            let code = code.map(|c| ResponseCode::Other(c.into()));
            let error = Completion {
                kind: StatusKindOf::No,
                code: code.clone(),
                text: text.to_owned(),
            }
            .check("UID FETCH")
            .unwrap_err();
            let hint = ServerBusy::from_answer(code.as_ref(), text);
            (error.kind(), hint.and_then(|h| h.suggested))
        };
        let ms = std::time::Duration::from_millis;
        assert_eq!(
            busy(
                Some("THROTTLED"),
                "Request is throttled. Suggested Backoff Time: 500 milliseconds"
            ),
            (ErrorKind::Connection, Some(ms(500)))
        );
        assert_eq!(
            busy(None, "Server Unavailable. 15"),
            (ErrorKind::Connection, None)
        );
        assert_eq!(
            busy(Some("UNAVAILABLE"), "x"),
            (ErrorKind::Connection, None)
        );
        assert_eq!(busy(None, "Over quota"), (ErrorKind::Peer, None));
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
        assert_eq!(bad.check("X").unwrap_err().kind(), ErrorKind::Peer);
    }
}
