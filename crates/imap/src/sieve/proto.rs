//! The sans-IO half of ManageSieve (RFC 5804): commands encoded to bytes, and a [`Reader`]
//! that frames the server's bytes into lines (literals included) and lines into responses.
//! No sockets, no clocks: the tests feed it bytes in any split.
//!
//! Grammar followed (RFC 5804 section 4):
//! ```text
//! response     = *(data CRLF) ("OK" / "NO" / "BYE") [SP "(" resp-code ")"] [SP string] CRLF
//! string       = quoted / literal-s2c
//! literal-s2c  = "{" number "}" CRLF *OCTET
//! literal-c2s  = "{" number "+}" CRLF *OCTET      ; the client only sends this form
//! ```

use pimlink_core::{Error, ErrorKind};

/// The longest quoted string RFC 5804 allows; longer text goes as a literal.
const MAX_QUOTED: usize = 1024;

/// Size caps for what the server sends: a hostile server must not make the client buffer
/// without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one line outside literals.
    pub max_line: usize,
    /// Bytes of one literal (a script).
    pub max_literal: usize,
    /// Data lines before the status line (one per script or capability).
    pub max_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Dovecot's default script size cap is 1 MiB (sieve_max_script_size); 16 MiB leaves
        // room for servers configured larger.
        Limits {
            max_line: 64 << 10,
            max_literal: 16 << 20,
            max_lines: 100_000,
        }
    }
}

/// One element of a response line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A bare word (`OK`, `ACTIVE`, a response code's name).
    Atom(String),
    /// A quoted string or a literal, unescaped.
    Str(Vec<u8>),
    /// `(`
    Open,
    /// `)`
    Close,
}

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    /// `OK`: done.
    Ok,
    /// `NO`: refused; the connection stays usable.
    No,
    /// `BYE`: the server closes the connection.
    Bye,
}

/// The final line of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// OK, NO or BYE.
    pub kind: StatusKind,
    /// The tokens inside the parentheses (`(NONEXISTENT)`, `(SASL "...")`), if any.
    pub code: Vec<Token>,
    /// The human-readable text, if any.
    pub text: Option<String>,
}

impl Status {
    /// The response code's name (`NONEXISTENT`, `ACTIVE`, `QUOTA/MAXSCRIPTS`), upper-cased.
    pub fn code_name(&self) -> Option<String> {
        match self.code.first() {
            Some(Token::Atom(name)) => Some(name.to_ascii_uppercase()),
            _ => None,
        }
    }
}

/// A complete response: its data lines and its status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The lines before the status (capabilities, script names, a script).
    pub data: Vec<Vec<Token>>,
    /// OK, NO or BYE with code and text.
    pub status: Status,
}

/// What the server sent next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A whole response.
    Done(Response),
    /// A SASL challenge (a lone string line) during AUTHENTICATE.
    Challenge(Vec<u8>),
}

/// A command, encoded by [`Command::encode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// CAPABILITY
    Capability,
    /// STARTTLS
    StartTls,
    /// AUTHENTICATE with a mechanism and its initial response (already base64).
    Authenticate {
        /// `PLAIN`
        mechanism: &'a str,
        /// The base64 initial response.
        initial: Option<&'a str>,
    },
    /// LISTSCRIPTS
    ListScripts,
    /// GETSCRIPT name
    GetScript(&'a str),
    /// PUTSCRIPT name script
    PutScript(&'a str, &'a [u8]),
    /// DELETESCRIPT name
    DeleteScript(&'a str),
    /// SETACTIVE name; the empty name deactivates every script.
    SetActive(&'a str),
    /// LOGOUT
    Logout,
}

impl Command<'_> {
    /// The command's name, for messages.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Capability => "CAPABILITY",
            Command::StartTls => "STARTTLS",
            Command::Authenticate { .. } => "AUTHENTICATE",
            Command::ListScripts => "LISTSCRIPTS",
            Command::GetScript(_) => "GETSCRIPT",
            Command::PutScript(..) => "PUTSCRIPT",
            Command::DeleteScript(_) => "DELETESCRIPT",
            Command::SetActive(_) => "SETACTIVE",
            Command::Logout => "LOGOUT",
        }
    }

    /// The bytes to send, CRLF included. Fails on a script name no server can hold (control
    /// characters), so that a hostile name never splits into a second command.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        match *self {
            Command::Capability => out.extend_from_slice(b"CAPABILITY"),
            Command::StartTls => out.extend_from_slice(b"STARTTLS"),
            Command::Authenticate { mechanism, initial } => {
                out.extend_from_slice(b"AUTHENTICATE ");
                string(&mut out, mechanism.as_bytes());
                if let Some(initial) = initial {
                    out.push(b' ');
                    string(&mut out, initial.as_bytes());
                }
            }
            Command::ListScripts => out.extend_from_slice(b"LISTSCRIPTS"),
            Command::GetScript(name) | Command::DeleteScript(name) | Command::SetActive(name) => {
                named(&mut out, self.verb(), name)?;
            }
            Command::PutScript(name, script) => {
                named(&mut out, self.verb(), name)?;
                out.push(b' ');
                literal(&mut out, script);
            }
            Command::Logout => out.extend_from_slice(b"LOGOUT"),
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }
}

fn named(out: &mut Vec<u8>, verb: &str, name: &str) -> Result<(), Error> {
    // RFC 5804 section 1.6: sieve-name excludes CR, LF, NUL and other control characters.
    if name.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorKind::InvalidName,
            format!("Sieve script name {name:?} contains a control character"),
        ));
    }
    out.extend_from_slice(verb.as_bytes());
    out.push(b' ');
    string(out, name.as_bytes());
    Ok(())
}

/// A quoted string when it can be one, else a non-synchronising literal.
fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() > MAX_QUOTED || bytes.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return literal(out, bytes);
    }
    out.push(b'"');
    for &b in bytes {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn literal(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("{{{}+}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

fn peer(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Peer, message)
}

/// Frames the server's bytes into responses. Feed it what the socket gave, then take
/// replies until it needs more.
#[derive(Debug, Default)]
pub struct Reader {
    buf: Vec<u8>,
    data: Vec<Vec<Token>>,
    limits: Limits,
}

impl Reader {
    /// A reader with these caps.
    pub fn new(limits: Limits) -> Self {
        Reader {
            buf: Vec::new(),
            data: Vec::new(),
            limits,
        }
    }

    /// Adds bytes read from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Drops everything buffered and returns it: after STARTTLS, bytes sent before the
    /// handshake are unauthenticated and could have been injected.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.data.clear();
        std::mem::take(&mut self.buf)
    }

    /// The next reply, or `None` when more bytes are needed. With `challenge`, a lone string
    /// line is a SASL challenge (only during AUTHENTICATE).
    pub fn next(&mut self, challenge: bool) -> Result<Option<Reply>, Error> {
        loop {
            let Some((line, used)) = parse_line(&self.buf, &self.limits)? else {
                if self.buf.len() > self.limits.max_line + self.limits.max_literal {
                    return Err(peer("the server sent an over-long line"));
                }
                return Ok(None);
            };
            self.buf.drain(..used);
            if let Some(status) = status_line(&line)? {
                let data = std::mem::take(&mut self.data);
                return Ok(Some(Reply::Done(Response { data, status })));
            }
            if challenge
                && self.data.is_empty()
                && let [Token::Str(bytes)] = line.as_slice()
            {
                return Ok(Some(Reply::Challenge(bytes.clone())));
            }
            if self.data.len() >= self.limits.max_lines {
                return Err(peer(format!(
                    "the server sent more than {} lines in one response",
                    self.limits.max_lines
                )));
            }
            self.data.push(line);
        }
    }
}

/// One line (with any literals in it) and the bytes it took, or `None` if incomplete.
fn parse_line(buf: &[u8], limits: &Limits) -> Result<Option<(Vec<Token>, usize)>, Error> {
    let mut tokens = Vec::new();
    let mut i = 0;
    // Bytes outside literals, checked against max_line.
    let mut text = 0;
    loop {
        if text > limits.max_line {
            return Err(peer(format!(
                "the server sent a line longer than {} bytes",
                limits.max_line
            )));
        }
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        match b {
            b'\r' => {
                return match buf.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some((tokens, i + 2))),
                    Some(_) => Err(peer("the server sent a bare CR")),
                };
            }
            // Tolerated: some servers end lines with LF alone.
            b'\n' => return Ok(Some((tokens, i + 1))),
            b' ' => {
                i += 1;
                text += 1;
            }
            b'(' | b')' => {
                tokens.push(if b == b'(' { Token::Open } else { Token::Close });
                i += 1;
                text += 1;
            }
            b'"' => {
                let Some((value, end)) = quoted(buf, i + 1)? else {
                    return Ok(None);
                };
                tokens.push(Token::Str(value));
                text += end - i;
                i = end;
            }
            b'{' => {
                let Some((value, end)) = literal_s2c(buf, i + 1, limits)? else {
                    return Ok(None);
                };
                tokens.push(Token::Str(value));
                i = end;
            }
            _ => {
                let start = i;
                while let Some(&c) = buf.get(i) {
                    if matches!(c, b' ' | b'(' | b')' | b'"' | b'{' | b'\r' | b'\n') {
                        break;
                    }
                    i += 1;
                }
                if i == buf.len() {
                    return Ok(None);
                }
                text += i - start;
                let atom = String::from_utf8_lossy(&buf[start..i]).into_owned();
                tokens.push(Token::Atom(atom));
            }
        }
    }
}

/// The unescaped content of a quoted string starting after its `"`, and the index after the
/// closing `"`.
fn quoted(buf: &[u8], mut i: usize) -> Result<Option<(Vec<u8>, usize)>, Error> {
    let mut value = Vec::new();
    loop {
        match buf.get(i) {
            None => return Ok(None),
            Some(b'"') => return Ok(Some((value, i + 1))),
            Some(b'\\') => match buf.get(i + 1) {
                None => return Ok(None),
                Some(&c) => {
                    value.push(c);
                    i += 2;
                }
            },
            Some(b'\r' | b'\n') => return Err(peer("the server sent a quoted string with CR/LF")),
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}

/// A literal `{N}` or `{N+}` CRLF N octets starting after its `{`; its bytes and the index
/// after them.
fn literal_s2c(
    buf: &[u8],
    start: usize,
    limits: &Limits,
) -> Result<Option<(Vec<u8>, usize)>, Error> {
    let Some(close) = buf[start..].iter().position(|&b| b == b'}') else {
        if buf.len() - start > 20 {
            return Err(peer("the server sent a malformed literal"));
        }
        return Ok(None);
    };
    let digits = &buf[start..start + close];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| peer("the server sent a malformed literal length"))?;
    if len > limits.max_literal {
        return Err(peer(format!(
            "the server sent a literal of {len} bytes (the limit is {})",
            limits.max_literal
        )));
    }
    let after = start + close + 1;
    let body = match buf.get(after..after + 2) {
        None => return Ok(None),
        Some(b"\r\n") => after + 2,
        Some(_) => {
            return Err(peer(
                "the server sent a literal length not followed by CRLF",
            ));
        }
    };
    match buf.get(body..body + len) {
        None => Ok(None),
        Some(bytes) => Ok(Some((bytes.to_vec(), body + len))),
    }
}

/// The status if `line` is an OK/NO/BYE line.
fn status_line(line: &[Token]) -> Result<Option<Status>, Error> {
    let kind = match line.first() {
        Some(Token::Atom(a)) if a.eq_ignore_ascii_case("OK") => StatusKind::Ok,
        Some(Token::Atom(a)) if a.eq_ignore_ascii_case("NO") => StatusKind::No,
        Some(Token::Atom(a)) if a.eq_ignore_ascii_case("BYE") => StatusKind::Bye,
        _ => return Ok(None),
    };
    let mut rest = &line[1..];
    let mut code = Vec::new();
    if rest.first() == Some(&Token::Open) {
        let mut depth = 0usize;
        let mut end = None;
        for (n, token) in rest.iter().enumerate() {
            match token {
                Token::Open => depth += 1,
                Token::Close => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(n);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| peer("the server sent an unclosed response code"))?;
        code = rest[1..end].to_vec();
        rest = &rest[end + 1..];
    }
    let text = match rest {
        [] => None,
        [Token::Str(text)] => Some(String::from_utf8_lossy(text).into_owned()),
        // Lenient: some servers send bare words after the status.
        words => Some(
            words
                .iter()
                .map(|t| match t {
                    Token::Atom(a) => a.clone(),
                    Token::Str(s) => String::from_utf8_lossy(s).into_owned(),
                    Token::Open => "(".into(),
                    Token::Close => ")".into(),
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
    };
    Ok(Some(Status { kind, code, text }))
}

/// What the server offers: each capability line's name (upper-cased) and value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `("SASL", Some("PLAIN LOGIN"))`, `("STARTTLS", None)`, ...
    pub entries: Vec<(String, Option<String>)>,
}

impl Capabilities {
    /// Reads the capability lines of a greeting, a CAPABILITY or the response after STARTTLS.
    pub fn from_response(response: &Response) -> Result<Self, Error> {
        let mut entries = Vec::new();
        for line in &response.data {
            match line.as_slice() {
                [Token::Str(name)] => {
                    entries.push((String::from_utf8_lossy(name).to_ascii_uppercase(), None));
                }
                [Token::Str(name), Token::Str(value)] => entries.push((
                    String::from_utf8_lossy(name).to_ascii_uppercase(),
                    Some(String::from_utf8_lossy(value).into_owned()),
                )),
                _ => return Err(peer(format!("malformed capability line {line:?}"))),
            }
        }
        Ok(Capabilities { entries })
    }

    /// Whether the capability is offered.
    pub fn has(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The SASL mechanisms offered, upper-cased.
    pub fn sasl(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(n, _)| n == "SASL")
            .filter_map(|(_, v)| v.as_deref())
            .flat_map(str::split_whitespace)
            .map(str::to_ascii_uppercase)
            .collect()
    }
}

/// One script of a LISTSCRIPTS answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptEntry {
    /// Its name.
    pub name: String,
    /// Whether it is the active script (at most one is).
    pub active: bool,
}

/// The scripts of a LISTSCRIPTS response.
pub fn scripts(response: &Response) -> Result<Vec<ScriptEntry>, Error> {
    response
        .data
        .iter()
        .map(|line| {
            let (name, active) = match line.as_slice() {
                [Token::Str(name)] => (name, false),
                [Token::Str(name), Token::Atom(a)] if a.eq_ignore_ascii_case("ACTIVE") => {
                    (name, true)
                }
                _ => return Err(peer(format!("malformed LISTSCRIPTS line {line:?}"))),
            };
            let name = String::from_utf8(name.clone())
                .map_err(|_| peer("the server sent a script name that is not UTF-8"))?;
            Ok(ScriptEntry { name, active })
        })
        .collect()
}

/// The script of a GETSCRIPT response.
pub fn script(response: &Response) -> Result<Vec<u8>, Error> {
    match response.data.as_slice() {
        [line] => match line.as_slice() {
            [Token::Str(body)] => Ok(body.clone()),
            _ => Err(peer(format!("malformed GETSCRIPT answer {line:?}"))),
        },
        lines => Err(peer(format!(
            "GETSCRIPT answered with {} lines instead of one",
            lines.len()
        ))),
    }
}

#[cfg(test)]
#[path = "proto_tests.rs"]
mod tests;
