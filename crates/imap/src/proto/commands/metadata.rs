//! SETMETADATA (RFC 5464) of a mailbox's `/private/specialuse` entry: how a client gives an
//! existing folder a special-use attribute (RFC 6154 section 5.1) where the server allows it
//! (Cyrus; Dovecot 2.3 refuses it).

use pimlink_core::{Error, ErrorKind};

use super::{Command, require};
use crate::proto::completion::Completion;
use crate::proto::encode::CommandText;
use crate::proto::session::{Needs, Session};

/// `SETMETADATA mailbox (/private/specialuse "\Sent")`, or `NIL` to remove it.
#[derive(Debug)]
pub struct SetSpecialUse {
    mailbox: String,
    attribute: Option<String>,
}

impl SetSpecialUse {
    /// Gives `mailbox` the special-use `attribute` (e.g. `\Sent`), or none.
    pub fn new(mailbox: &str, attribute: Option<&str>) -> Self {
        Self {
            mailbox: mailbox.to_owned(),
            attribute: attribute.map(str::to_owned),
        }
    }
}

impl Command for SetSpecialUse {
    type Output = ();

    fn what(&self) -> String {
        format!("SETMETADATA {:?} /private/specialuse", self.mailbox)
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(session, "METADATA", "server does not offer METADATA")?;
        let value = match &self.attribute {
            // An attribute is a backslash and a word: quoted, its backslash escaped.
            Some(attribute) => {
                let word = attribute.strip_prefix('\\').unwrap_or_default();
                if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!("{attribute:?} is not a special-use attribute"),
                    ));
                }
                format!("\"\\\\{word}\"")
            }
            None => "NIL".to_owned(),
        };
        Ok(CommandText::new("SETMETADATA")
            .mailbox(&self.mailbox, session.utf8())
            .atom(format!("(/private/specialuse {value})")))
    }

    fn finish(self, done: Completion, _: &Session) -> Result<(), Error> {
        done.check(&self.what()).map(drop)
    }
}
