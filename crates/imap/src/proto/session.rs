//! What a connection knows about itself: its state (named for what it expects next), every
//! transition between states, tags, what the server said about itself (capabilities, ENABLEd
//! extensions, EXISTS, BYE), and the first fatal error, which sticks.
//!
//! The state changes only through [`Session::apply`], which consumes the old [`State`] and
//! stores the one [`State::next`] returns; commands say which [`Transition`] they lead to and
//! [`Exchange`](super::exchange::Exchange) applies it when the server answers.

use pimlink_core::{Error, ErrorKind};
use tracing::warn;

use super::completion::Completion;
use super::escape::escape_text;
use super::response::{Greeting, ResponseCode, StatusKindOf, Untagged};

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
    Idling {
        /// The state IDLE returns to (authenticated or selected).
        resume: Box<State>,
    },
    /// LOGOUT was sent or the server said BYE: nothing more.
    LoggedOut,
}

/// What moves a connection from one [`State`] to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The greeting: `* OK` (log in next) or `* PREAUTH` (already logged in).
    Greeted {
        /// True for PREAUTH.
        preauth: bool,
    },
    /// LOGIN or AUTHENTICATE succeeded.
    LoggedIn,
    /// SELECT or EXAMINE succeeded.
    Selected {
        /// The mailbox name (decoded).
        mailbox: String,
        /// Read-only (EXAMINE, or the server said READ-ONLY).
        read_only: bool,
        /// Its EXISTS count.
        exists: u32,
    },
    /// No mailbox is selected any more: UNSELECT, or a SELECT that failed (RFC 3501 6.3.1:
    /// a failed SELECT leaves no mailbox selected).
    Deselected,
    /// The server accepted IDLE (its `+`).
    IdleStarted,
    /// IDLE completed.
    IdleEnded,
    /// LOGOUT completed or the server said BYE.
    LoggedOut,
}

/// The states a command may be sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Any state, even after BYE (LOGOUT: ending a connection is always worth trying).
    Any,
    /// Any state until the session ends (CAPABILITY, NOOP, ID).
    Connected,
    /// Not logged in yet (STARTTLS, LOGIN, AUTHENTICATE).
    NotAuthenticated,
    /// Logged in, with or without a selected mailbox (mailbox commands, APPEND, IDLE).
    Authenticated,
    /// A selected mailbox (message commands, UNSELECT).
    Selected,
}

impl State {
    /// The state after `transition`. A transition that does not apply to this state leaves it
    /// as it is, and nothing follows LoggedOut.
    pub fn next(self, transition: Transition) -> State {
        match (self, transition) {
            (State::LoggedOut, _) | (_, Transition::LoggedOut) => State::LoggedOut,
            (State::ExpectGreeting, Transition::Greeted { preauth: false }) => State::ExpectLogin,
            (State::ExpectGreeting, Transition::Greeted { preauth: true })
            | (State::ExpectLogin, Transition::LoggedIn) => State::Authenticated,
            (
                State::Authenticated | State::Selected { .. },
                Transition::Selected {
                    mailbox, read_only, ..
                },
            ) => State::Selected { mailbox, read_only },
            (State::Selected { .. }, Transition::Deselected) => State::Authenticated,
            (state @ (State::Authenticated | State::Selected { .. }), Transition::IdleStarted) => {
                State::Idling {
                    resume: Box::new(state),
                }
            }
            (State::Idling { resume }, Transition::IdleEnded) => *resume,
            (state, _) => state,
        }
    }

    /// True if a command that `needs` this may be sent now.
    pub fn allows(&self, needs: Needs) -> bool {
        match (needs, self) {
            (Needs::Any, _) => true,
            (_, State::LoggedOut | State::Idling { .. }) => false,
            (Needs::Connected, _) => true,
            (Needs::NotAuthenticated, state) => *state == State::ExpectLogin,
            (Needs::Authenticated, state) => {
                matches!(state, State::Authenticated | State::Selected { .. })
            }
            (Needs::Selected, state) => matches!(state, State::Selected { .. }),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            State::ExpectGreeting => "waiting for the greeting",
            State::ExpectLogin => "not logged in",
            State::Authenticated => "logged in without a selected mailbox",
            State::Selected { .. } => "in a selected mailbox",
            State::Idling { .. } => "idling",
            State::LoggedOut => "logged out",
        }
    }
}

/// The bookkeeping half of a connection.
#[derive(Debug)]
pub struct Session {
    next_tag: u64,
    state: State,
    fatal: Option<(ErrorKind, String)>,
    capabilities: Vec<String>,
    disabled: Vec<String>,
    enabled: Vec<String>,
    exists: u32,
    bye: Option<String>,
    /// The server as messages name it (`imap.example.org:993`).
    server: String,
    /// LIST/LSUB responses left out since [`Session::take_unreadable_folders`] was last asked.
    unreadable_folders: usize,
}

impl Default for Session {
    fn default() -> Self {
        Self::new("the server", Vec::new())
    }
}

impl Session {
    /// A session with `server` (as messages name it), waiting for the greeting; `disabled`
    /// capabilities are never used even if offered (a per-storage switch for broken
    /// implementations).
    pub fn new(server: &str, disabled: Vec<String>) -> Self {
        Self {
            next_tag: 1,
            state: State::ExpectGreeting,
            fatal: None,
            capabilities: Vec::new(),
            disabled,
            enabled: Vec::new(),
            exists: 0,
            bye: None,
            server: server.to_owned(),
            unreadable_folders: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Moves to the state `transition` leads to (the only place the state changes).
    pub fn apply(&mut self, transition: Transition) {
        if let Transition::Selected { exists, .. } = transition {
            self.exists = exists;
        }
        let state = std::mem::replace(&mut self.state, State::LoggedOut);
        self.state = state.next(transition);
    }

    /// Takes the greeting: the state it leads to and the capabilities it carried. `Ok(true)`
    /// if it listed them; `Err` with the server's words if it refused the connection (BYE).
    pub fn greeted(&mut self, greeting: Greeting) -> Result<bool, String> {
        let (preauth, code) = match greeting {
            Greeting::Bye(text) => {
                self.apply(Transition::LoggedOut);
                return Err(text);
            }
            Greeting::PreAuth(code) => (true, code),
            Greeting::Ok(code) => (false, code),
        };
        self.apply(Transition::Greeted { preauth });
        match code {
            Some(ResponseCode::Capability(caps)) => {
                self.capabilities = caps;
                Ok(true)
            }
            _ => Ok(false),
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

    /// True when the connection can carry no more commands: it failed or the server said BYE.
    pub fn is_broken(&self) -> bool {
        self.is_failed() || self.bye.is_some()
    }

    /// The text of the server's BYE, once it came.
    pub fn bye(&self) -> Option<&str> {
        self.bye.as_deref()
    }

    /// Refuses, before anything is sent, a command the current state does not allow: after
    /// BYE as a lost connection, otherwise as a command this connection cannot carry now.
    pub fn allows(&self, needs: Needs, what: &str) -> Result<(), Error> {
        self.check()?;
        if self.state.allows(needs) {
            return Ok(());
        }
        Err(match (&self.state, &self.bye) {
            (State::LoggedOut, Some(bye)) => Error::new(
                ErrorKind::Connection,
                format!(
                    "{what} not sent: {} ended the session (BYE {})",
                    self.server,
                    escape_text(bye)
                ),
            ),
            (state, _) => Error::new(
                ErrorKind::Unsupported,
                format!("{what} not sent: the connection is {}", state.describe()),
            ),
        })
    }

    /// A new tag.
    pub fn next_tag(&mut self) -> String {
        let tag = format!("p{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// The server's capabilities as last reported.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// True if the server offers `capability` and it is not disabled.
    pub fn has(&self, capability: &str) -> bool {
        let disabled = self
            .disabled
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

    /// True once UTF8=ACCEPT is enabled: mailbox names travel as UTF-8 both ways.
    pub fn utf8(&self) -> bool {
        self.is_enabled("UTF8=ACCEPT")
    }

    /// True if a literal of `len` bytes may be sent without waiting for the server's `+`
    /// (LITERAL+, or LITERAL- up to 4096 bytes: RFC 7888).
    pub fn non_synchronizing(&self, len: u64) -> bool {
        self.has("LITERAL+") || (self.has("LITERAL-") && len <= 4096)
    }

    /// `EXISTS`, less the `EXPUNGE`s since.
    pub fn exists(&self) -> u32 {
        self.exists
    }

    /// Learns from any untagged response, whichever command it came with.
    pub fn observe(&mut self, untagged: &Untagged) {
        match untagged {
            Untagged::Capability(caps)
            | Untagged::Status {
                code: Some(ResponseCode::Capability(caps)),
                ..
            } => self.capabilities = caps.clone(),
            Untagged::Enabled(list) => self.enabled.extend(list.iter().cloned()),
            Untagged::Exists(n) => self.exists = *n,
            Untagged::Expunge(_) => self.exists = self.exists.saturating_sub(1),
            Untagged::Bye { text, .. } => {
                self.bye = Some(text.clone());
                self.apply(Transition::LoggedOut);
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
                    self.server
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

    /// Learns from a tagged completion: an OK may list the capabilities (after LOGIN).
    pub fn observe_completion(&mut self, done: &Completion) {
        if let (StatusKindOf::Ok, Some(ResponseCode::Capability(caps))) = (done.kind, &done.code) {
            self.capabilities = caps.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selected(mailbox: &str) -> State {
        State::Selected {
            mailbox: mailbox.into(),
            read_only: false,
        }
    }

    fn select(mailbox: &str) -> Transition {
        Transition::Selected {
            mailbox: mailbox.into(),
            read_only: false,
            exists: 3,
        }
    }

    #[test]
    fn tags_are_unique() {
        let mut session = Session::default();
        let a = session.next_tag();
        let b = session.next_tag();
        assert_ne!(a, b);
    }

    #[test]
    fn a_fatal_error_is_sticky() {
        let mut session = Session::default();
        session.fail(Error::new(ErrorKind::Peer, "first"));
        session.fail(Error::new(ErrorKind::Io, "later"));
        let err = session.check().unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string()),
            (ErrorKind::Peer, "first".into())
        );
        assert!(session.allows(Needs::Any, "NOOP").is_err());
    }

    #[test]
    fn each_transition_consumes_the_state_and_returns_the_next() {
        use Transition as T;
        let table: Vec<(State, Transition, State)> = vec![
            (
                State::ExpectGreeting,
                T::Greeted { preauth: false },
                State::ExpectLogin,
            ),
            (
                State::ExpectGreeting,
                T::Greeted { preauth: true },
                State::Authenticated,
            ),
            (State::ExpectLogin, T::LoggedIn, State::Authenticated),
            (State::Authenticated, select("A"), selected("A")),
            (selected("A"), select("B"), selected("B")),
            (selected("A"), T::Deselected, State::Authenticated),
            (State::Authenticated, T::Deselected, State::Authenticated),
            (
                selected("A"),
                T::IdleStarted,
                State::Idling {
                    resume: Box::new(selected("A")),
                },
            ),
            (
                State::Idling {
                    resume: Box::new(selected("A")),
                },
                T::IdleEnded,
                selected("A"),
            ),
            // IDLE refused before its "+": it never started, nothing to end.
            (selected("A"), T::IdleEnded, selected("A")),
            (selected("A"), T::LoggedOut, State::LoggedOut),
            (State::LoggedOut, T::LoggedIn, State::LoggedOut),
            // Out of place: no change.
            (State::ExpectLogin, select("A"), State::ExpectLogin),
            (State::Authenticated, T::LoggedIn, State::Authenticated),
        ];
        for (before, transition, after) in table {
            let label = format!("{before:?} + {transition:?}");
            assert_eq!(before.next(transition), after, "{label}");
        }
    }

    #[test]
    fn commands_are_allowed_by_state() {
        use Needs as N;
        let idling = State::Idling {
            resume: Box::new(State::Authenticated),
        };
        let rows = [
            (State::ExpectLogin, [true, true, true, false, false]),
            (State::Authenticated, [true, true, false, true, false]),
            (selected("A"), [true, true, false, true, true]),
            (idling, [true, false, false, false, false]),
            (State::LoggedOut, [true, false, false, false, false]),
        ];
        for (state, expected) in rows {
            let needs = [
                N::Any,
                N::Connected,
                N::NotAuthenticated,
                N::Authenticated,
                N::Selected,
            ];
            let allowed = needs.map(|n| state.allows(n));
            assert_eq!(allowed, expected, "{state:?}");
        }
    }

    #[test]
    fn a_bye_ends_the_session_and_later_commands_are_connection_errors() {
        let mut session = Session::default();
        session.greeted(Greeting::PreAuth(None)).unwrap();
        session.observe(&Untagged::Bye {
            code: None,
            text: "shutting down".into(),
        });
        assert_eq!(session.state(), &State::LoggedOut);
        assert!(session.is_broken());
        let err = session.allows(Needs::Connected, "NOOP").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection);
        assert!(err.to_string().contains("shutting down"), "{err}");
        assert!(session.allows(Needs::Any, "LOGOUT").is_ok());
    }

    #[test]
    fn capabilities_come_from_greeting_data_and_completions_and_can_be_disabled() {
        let mut session = Session::new("the server", vec!["literal+".into()]);
        let greeting = Greeting::Ok(Some(ResponseCode::Capability(vec![
            "IMAP4rev1".into(),
            "LITERAL+".into(),
            "LITERAL-".into(),
        ])));
        assert_eq!(session.greeted(greeting), Ok(true));
        assert!(!session.has("LITERAL+"));
        assert!(session.non_synchronizing(4096) && !session.non_synchronizing(4097));
        session.observe_completion(&Completion {
            kind: StatusKindOf::Ok,
            code: Some(ResponseCode::Capability(vec!["IDLE".into()])),
            text: "Logged in".into(),
        });
        assert!(session.has("idle") && !session.has("LITERAL-"));
        session.observe(&Untagged::Enabled(vec!["UTF8=ACCEPT".into()]));
        assert!(session.utf8());
    }
}
