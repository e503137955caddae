//! Tags, commands in flight, and the connection state.

use std::collections::{HashMap, VecDeque};

use pimlink_core::{Error, ErrorKind};

use super::response::{ResponseCode, StatusKindOf};

/// Where the connection is, named for what it expects next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the server greeting.
    ExpectGreeting,
    /// Expecting STARTTLS, AUTHENTICATE or LOGIN.
    ExpectLogin,
    /// Logged in, no mailbox selected: expecting mailbox commands.
    Authenticated,
    /// A mailbox is selected: expecting message commands.
    Selected {
        /// The mailbox name (decoded).
        mailbox: String,
        /// Selected with EXAMINE or reported READ-ONLY.
        read_only: bool,
    },
    /// IDLE is running: expecting only DONE.
    Idling,
    /// LOGOUT was sent or the server said BYE: nothing more.
    LoggedOut,
}

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

/// The bookkeeping half of a connection.
#[derive(Debug)]
pub struct Session {
    next_tag: u64,
    in_flight: VecDeque<(String, String)>,
    completed: HashMap<String, Completion>,
    /// The current state.
    pub state: State,
    fatal: Option<(ErrorKind, String)>,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A session waiting for the greeting.
    pub fn new() -> Self {
        Self {
            next_tag: 1,
            in_flight: VecDeque::new(),
            completed: HashMap::new(),
            state: State::ExpectGreeting,
            fatal: None,
        }
    }

    /// Fails with the sticky fatal error, if any.
    pub fn check(&self) -> Result<(), Error> {
        match &self.fatal {
            Some((kind, message)) => Err(Error::new(*kind, message.clone())),
            None => Ok(()),
        }
    }

    /// Records a fatal error; later calls fail with the first one. Returns it for `?`.
    pub fn fail(&mut self, err: Error) -> Error {
        if self.fatal.is_none() {
            self.fatal = Some((err.kind(), err.to_string()));
        }
        err
    }

    /// True once a fatal error happened.
    pub fn is_failed(&self) -> bool {
        self.fatal.is_some()
    }

    /// Registers a new command and returns its tag.
    pub fn begin(&mut self, name: &str) -> String {
        let tag = format!("p{}", self.next_tag);
        self.next_tag += 1;
        self.in_flight.push_back((tag.clone(), name.to_owned()));
        tag
    }

    /// Records a tagged response. An unknown tag is a protocol violation (fatal).
    pub fn complete(&mut self, tag: &str, completion: Completion) -> Result<(), Error> {
        let Some(pos) = self.in_flight.iter().position(|(t, _)| t == tag) else {
            return Err(self.fail(Error::new(
                ErrorKind::Peer,
                format!("server completed command {tag:?}, which was never sent"),
            )));
        };
        self.in_flight.remove(pos);
        self.completed.insert(tag.to_owned(), completion);
        Ok(())
    }

    /// The completion of `tag`, once it arrived.
    pub fn take_completion(&mut self, tag: &str) -> Option<Completion> {
        self.completed.remove(tag)
    }

    /// The name of the command with `tag`, if it is still in flight.
    pub fn command_name(&self, tag: &str) -> Option<&str> {
        self.in_flight
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, n)| n.as_str())
    }

    /// Number of commands sent but not completed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Completion {
        Completion {
            kind: StatusKindOf::Ok,
            code: None,
            text: "done".into(),
        }
    }

    #[test]
    fn tags_are_unique_and_completions_tracked() {
        let mut session = Session::new();
        let a = session.begin("NOOP");
        let b = session.begin("NOOP");
        assert_ne!(a, b);
        session.complete(&b, ok()).unwrap();
        assert_eq!(session.in_flight(), 1);
        assert_eq!(session.take_completion(&b), Some(ok()));
        assert_eq!(session.take_completion(&a), None);
    }

    #[test]
    fn unknown_tag_is_fatal_and_sticky() {
        let mut session = Session::new();
        let err = session.complete("zz", ok()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Peer);
        assert!(session.check().is_err());
        session.fail(Error::new(ErrorKind::Io, "later"));
        assert!(session.check().unwrap_err().to_string().contains("zz"));
    }
}
