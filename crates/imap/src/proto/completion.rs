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
