//! Commands about the connection itself: CAPABILITY, LOGIN/AUTHENTICATE, ENABLE, ID,
//! NAMESPACE, LOGOUT.

use pimlink_core::{Error, ErrorKind};

use super::{Command, Reply, peer, require};
use crate::auth;
use crate::options::{AuthMechanism, ClientOptions};
use crate::proto::completion::Completion;
use crate::proto::encode::CommandText;
use crate::proto::response::{ContinueData, NamespaceEntry, ResponseCode, StatusKindOf, Untagged};
use crate::proto::session::{Needs, Session, Transition};
use crate::secret::Secret;

/// CAPABILITY: the server's capabilities (the session learns them as they arrive).
#[derive(Debug, Default)]
pub struct Capability {
    caps: Option<Vec<String>>,
}

impl Command for Capability {
    type Output = Vec<String>;

    fn what(&self) -> String {
        "CAPABILITY".into()
    }

    fn needs(&self) -> Needs {
        Needs::Connected
    }

    fn encode(&mut self, _: &Session) -> Result<CommandText, Error> {
        Ok(CommandText::new("CAPABILITY"))
    }

    fn collect(
        &mut self,
        untagged: Untagged,
        _: &mut [Option<std::fs::File>],
    ) -> Result<(), Error> {
        if let Untagged::Capability(caps) = untagged {
            self.caps = Some(caps);
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Vec<String>, Error> {
        done.check("CAPABILITY")?;
        self.caps
            .ok_or_else(|| peer("server answered CAPABILITY without a capability list"))
    }
}

/// LOGIN or AUTHENTICATE with one of the SASL mechanisms pimlink speaks. Its result is true
/// if the OK listed the capabilities (otherwise they must be asked for again: they may change
/// with the login).
#[derive(Debug)]
pub struct LogIn {
    mechanism: AuthMechanism,
    user: String,
    authzid: Option<String>,
    password: Secret,
    host: String,
    port: u16,
    pending_initial: Option<String>,
}

impl LogIn {
    /// The mechanism `options` force, else the best one the server offers: PLAIN, CRAM-MD5,
    /// then LOGIN unless the server disabled it.
    pub fn new(session: &Session, options: &ClientOptions) -> Result<Self, Error> {
        let mechanism = match options.auth_mechanism {
            // Only PLAIN carries an authorization identity; another mechanism would log in
            // as the administrator itself and replicate the wrong mailbox.
            _ if options.authzid.is_some() => AuthMechanism::Plain,
            Some(m) => m,
            None if session.has("AUTH=PLAIN") => AuthMechanism::Plain,
            None if session.has("AUTH=CRAM-MD5") => AuthMechanism::CramMd5,
            None if !session.has("LOGINDISABLED") => AuthMechanism::Login,
            None => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "server disabled LOGIN and offers no mechanism pimlink supports",
                ));
            }
        };
        Ok(Self {
            mechanism,
            user: options.user.clone(),
            authzid: options.authzid.clone(),
            password: options.password.clone(),
            host: options.host.clone(),
            port: options.effective_port(),
            pending_initial: None,
        })
    }

    fn sasl_name(&self) -> &'static str {
        match self.mechanism {
            AuthMechanism::Login => "LOGIN",
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::CramMd5 => "CRAM-MD5",
            AuthMechanism::XOAuth2 => "XOAUTH2",
            AuthMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The initial response, for the mechanisms that start with one.
    fn initial(&self) -> Option<String> {
        let (user, password) = (&self.user, self.password.expose());
        match self.mechanism {
            AuthMechanism::Login | AuthMechanism::CramMd5 => None,
            AuthMechanism::Plain => Some(auth::plain(self.authzid.as_deref(), user, password)),
            AuthMechanism::XOAuth2 => Some(auth::xoauth2(user, password)),
            AuthMechanism::OAuthBearer => {
                Some(auth::oauthbearer(user, &self.host, self.port, password))
            }
        }
    }
}

impl Command for LogIn {
    type Output = bool;

    fn what(&self) -> String {
        match self.mechanism {
            AuthMechanism::Login => "LOGIN".into(),
            _ => format!("AUTHENTICATE {}", self.sasl_name()),
        }
    }

    fn needs(&self) -> Needs {
        Needs::NotAuthenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        if self.mechanism == AuthMechanism::Login {
            if session.has("LOGINDISABLED") {
                return Err(Error::new(
                    ErrorKind::Refused,
                    "server announced LOGINDISABLED; not sending the password with LOGIN",
                ));
            }
            return Ok(CommandText::new("LOGIN")
                .string(self.user.as_bytes())
                .secret_string(self.password.expose().as_bytes()));
        }
        let cmd = CommandText::new("AUTHENTICATE").atom(self.sasl_name());
        Ok(match self.initial() {
            Some(ir) if session.has("SASL-IR") => cmd.secret_atom(&ir),
            other => {
                self.pending_initial = other;
                cmd
            }
        })
    }

    fn continued(&mut self, data: &ContinueData) -> Result<Reply, Error> {
        if self.mechanism == AuthMechanism::Login {
            return Err(peer(
                "server sent a continuation request no command asked for",
            ));
        }
        let line = match self.pending_initial.take() {
            Some(initial) => initial,
            None => match self.mechanism {
                AuthMechanism::CramMd5 => {
                    let challenge = match data {
                        ContinueData::Base64(bytes) => bytes.clone(),
                        ContinueData::Text(text) => text.as_bytes().to_vec(),
                    };
                    auth::cram_md5(&self.user, self.password.expose(), &challenge)
                }
                // RFC 7628: after an error challenge the client sends "\x01" (base64 AQ==).
                AuthMechanism::OAuthBearer => "AQ==".to_owned(),
                // XOAUTH2 sends an error challenge on failure; an empty reply ends it.
                _ => String::new(),
            },
        };
        Ok(Reply::Line(line.into_bytes()))
    }

    fn leads_to(&self, done: &Completion) -> Option<Transition> {
        (done.kind == StatusKindOf::Ok).then_some(Transition::LoggedIn)
    }

    fn finish(self, done: Completion, _: &Session) -> Result<bool, Error> {
        if done.kind == StatusKindOf::Ok {
            return Ok(matches!(done.code, Some(ResponseCode::Capability(_))));
        }
        // RFC 5530: UNAVAILABLE is the server's trouble, not the credentials'.
        let (kind, outcome) = match &done.code {
            Some(ResponseCode::Other(code)) if code.eq_ignore_ascii_case("UNAVAILABLE") => {
                (ErrorKind::Connection, "failed")
            }
            _ => (ErrorKind::Auth, "was refused"),
        };
        Err(Error::new(
            kind,
            format!(
                "login as {:?} with {} {outcome}: {}",
                self.user,
                self.mechanism,
                done.server_words()
            ),
        ))
    }
}

/// ENABLE (RFC 5161): turns extensions on; its result is what the server enabled.
#[derive(Debug)]
pub struct Enable {
    wanted: Vec<String>,
    enabled: Vec<String>,
}

impl Enable {
    /// ENABLE of those `extensions` the server offers (and that are not disabled); `None` if
    /// there is nothing to send.
    pub fn new(session: &Session, extensions: &[&str]) -> Option<Self> {
        let wanted: Vec<String> = extensions
            .iter()
            .filter(|e| session.has(e))
            .map(|e| (*e).to_owned())
            .collect();
        (!wanted.is_empty() && session.has("ENABLE")).then_some(Self {
            wanted,
            enabled: Vec::new(),
        })
    }
}

impl Command for Enable {
    type Output = Vec<String>;

    fn what(&self) -> String {
        "ENABLE".into()
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, _: &Session) -> Result<CommandText, Error> {
        Ok(self
            .wanted
            .iter()
            .fold(CommandText::new("ENABLE"), |cmd, ext| cmd.atom(ext)))
    }

    fn collect(
        &mut self,
        untagged: Untagged,
        _: &mut [Option<std::fs::File>],
    ) -> Result<(), Error> {
        if let Untagged::Enabled(list) = untagged {
            self.enabled.extend(list);
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Vec<String>, Error> {
        done.check("ENABLE")?;
        Ok(self.enabled)
    }
}

/// ID (RFC 2971): sends our identification; the result is the server's.
#[derive(Debug)]
pub struct Id {
    ours: Vec<(String, String)>,
    theirs: Vec<(String, Option<String>)>,
}

impl Id {
    /// ID with these fields (none: `ID NIL`).
    pub fn new(ours: &[(&str, &str)]) -> Self {
        Self {
            ours: ours
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            theirs: Vec::new(),
        }
    }
}

impl Command for Id {
    type Output = Vec<(String, Option<String>)>;

    fn what(&self) -> String {
        "ID".into()
    }

    fn needs(&self) -> Needs {
        Needs::Connected
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(session, "ID", "server does not offer ID")?;
        let arg = if self.ours.is_empty() {
            "NIL".to_owned()
        } else {
            let fields: Vec<String> = self
                .ours
                .iter()
                .map(|(k, v)| format!("{} {}", quote(k), quote(v)))
                .collect();
            format!("({})", fields.join(" "))
        };
        Ok(CommandText::new("ID").atom(arg))
    }

    fn collect(
        &mut self,
        untagged: Untagged,
        _: &mut [Option<std::fs::File>],
    ) -> Result<(), Error> {
        if let Untagged::Id(params) = untagged {
            self.theirs = params;
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Self::Output, Error> {
        done.check("ID")?;
        Ok(self.theirs)
    }
}

/// NAMESPACE: personal, other users' and shared namespaces.
#[derive(Debug, Default)]
pub struct Namespace {
    result: Option<[Vec<NamespaceEntry>; 3]>,
}

impl Command for Namespace {
    type Output = [Vec<NamespaceEntry>; 3];

    fn what(&self) -> String {
        "NAMESPACE".into()
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(session, "NAMESPACE", "server does not offer NAMESPACE")?;
        Ok(CommandText::new("NAMESPACE"))
    }

    fn collect(
        &mut self,
        untagged: Untagged,
        _: &mut [Option<std::fs::File>],
    ) -> Result<(), Error> {
        if let Untagged::Namespace(ns) = untagged {
            self.result = Some(ns);
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Self::Output, Error> {
        done.check("NAMESPACE")?;
        self.result
            .ok_or_else(|| peer("server answered NAMESPACE without a NAMESPACE response"))
    }
}

/// LOGOUT. Its answer does not matter: the connection ends either way.
#[derive(Debug, Default)]
pub struct Logout;

impl Command for Logout {
    type Output = ();

    fn what(&self) -> String {
        "LOGOUT".into()
    }

    fn needs(&self) -> Needs {
        Needs::Any
    }

    fn encode(&mut self, _: &Session) -> Result<CommandText, Error> {
        Ok(CommandText::new("LOGOUT"))
    }

    fn leads_to(&self, _: &Completion) -> Option<Transition> {
        Some(Transition::LoggedOut)
    }

    fn finish(self, _: Completion, _: &Session) -> Result<(), Error> {
        Ok(())
    }
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
