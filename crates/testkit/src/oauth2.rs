//! An OAuth2 authorization server on loopback, written for the tests (issue 18): authorization
//! (approves at once and redirects to the client's loopback `redirect_uri`), token
//! (`authorization_code` with a PKCE S256 check, `refresh_token`, the RFC 8628 `device_code`
//! grant), device authorization, and RFC 7662 introspection, which Dovecot's `oauth2` passdb
//! asks (`introspection_mode = post`) and the DAV test proxy asks too.
//!
//! The test steers it: how long access tokens live ([`OAuth2Server::set_lifetime`]), an
//! access token the server stops accepting ([`OAuth2Server::reject_access_tokens`]), refresh
//! tokens revoked ([`OAuth2Server::revoke`]), a `slow_down` answer for the device flow; and
//! counts the grants it answered, so a test sees whether a run refreshed.
//!
//! Plain HTTP/1.1, one request per connection, one thread per connection. Not a real
//! authorization server: no client registry, no consent, no expiry of codes.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::loopback::LoopbackServer;
use crate::net::HOST;

/// Counts of what the server answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantCounts {
    /// `authorization_code` grants that issued tokens.
    pub authorization_code: usize,
    /// `refresh_token` grants that issued tokens.
    pub refresh_token: usize,
    /// `device_code` grants that issued tokens.
    pub device_code: usize,
    /// `device_code` polls answered `authorization_pending` or `slow_down`.
    pub device_polls_refused: usize,
    /// Introspection requests.
    pub introspections: usize,
}

#[derive(Default)]
struct State {
    user: String,
    port: u16,
    lifetime: u64,
    next_id: u64,
    /// code -> (code_challenge, redirect_uri).
    codes: HashMap<String, (String, String)>,
    access: HashSet<String>,
    refresh: HashSet<String>,
    /// device_code -> approved.
    devices: HashMap<String, bool>,
    slow_down_next: bool,
    /// Every request's method and path (no bodies: they hold secrets... of the test).
    seen: Vec<String>,
    counts: GrantCounts,
}

/// The running server; stops accepting when dropped.
pub struct OAuth2Server {
    server: LoopbackServer,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for OAuth2Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Server")
            .field("port", &self.port())
            .finish()
    }
}

impl OAuth2Server {
    /// Starts the server; tokens it issues introspect as belonging to `user`, and live an
    /// hour unless [`OAuth2Server::set_lifetime`] says otherwise.
    pub fn start(user: &str) -> io::Result<Self> {
        let state = Arc::new(Mutex::new(State {
            user: user.to_owned(),
            lifetime: 3600,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let server = LoopbackServer::start("oauth2-server", move |stream| serve(stream, &shared))?;
        state.lock().unwrap_or_else(PoisonError::into_inner).port = server.port();
        Ok(Self { server, state })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{HOST}:{}", self.port())
    }

    /// The authorization endpoint.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.base_url())
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The device authorization endpoint.
    pub fn device_authorization_endpoint(&self) -> String {
        format!("{}/device", self.base_url())
    }

    /// The introspection endpoint (form POST `token=...`).
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.base_url())
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The `expires_in` of access tokens issued from now on (0: already expired).
    pub fn set_lifetime(&self, seconds: u64) {
        self.with(|s| s.lifetime = seconds);
    }

    /// Stops accepting every access token issued so far (introspection says inactive), as a
    /// server does that revoked them early; refresh tokens still work.
    pub fn reject_access_tokens(&self) {
        self.with(|s| s.access.clear());
    }

    /// Revokes every token issued so far, refresh tokens included.
    pub fn revoke(&self) {
        self.with(|s| {
            s.access.clear();
            s.refresh.clear();
        });
    }

    /// The next device-code poll is answered `slow_down`.
    pub fn slow_down_next(&self) {
        self.with(|s| s.slow_down_next = true);
    }

    /// What the server answered so far.
    pub fn counts(&self) -> GrantCounts {
        self.with(|s| s.counts)
    }

    /// Every request so far, as `METHOD PATH` (the query left out).
    pub fn requests(&self) -> Vec<String> {
        self.with(|s| s.seen.clone())
    }

    /// A [`crate::oauth2_proxy::BearerProxy`] in front of `127.0.0.1:upstream` that takes
    /// the tokens this server currently accepts, as its user.
    pub fn bearer_proxy(&self, upstream: u16) -> io::Result<crate::oauth2_proxy::BearerProxy> {
        let state = Arc::clone(&self.state);
        crate::oauth2_proxy::BearerProxy::start(
            upstream,
            Arc::new(move |token: &str| {
                let state = state.lock().unwrap_or_else(PoisonError::into_inner);
                state.access.contains(token).then(|| state.user.clone())
            }),
        )
    }

    /// True if `token` is an access token the server currently accepts.
    pub fn accepts(&self, token: &str) -> bool {
        self.with(|s| s.access.contains(token))
    }
}

/// GETs `url` (an `http://127.0.0.1` URL) and, if the answer is a redirect, GETs its
/// `Location` too, as a browser would: the authorization URL a program prints, followed to the
/// program's own loopback listener. Returns the last status and body.
pub fn follow(url: &str) -> io::Result<(u16, String)> {
    let (status, location, body) = get(url)?;
    match location {
        Some(next) if (300..400).contains(&status) => {
            let (status, _, body) = get(&next)?;
            Ok((status, body))
        }
        _ => Ok((status, body)),
    }
}

fn get(url: &str) -> io::Result<(u16, Option<String>, String)> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad(format!("not an http:// URL: {url}")))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| bad(format!("no port in {url}")))?;
    if host != HOST && host != "localhost" {
        return Err(bad(format!("only loopback URLs are followed: {url}")));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| bad(format!("bad port in {url}")))?;
    let mut stream = TcpStream::connect((HOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let path = if path.is_empty() { "/" } else { path };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("no status line from {url}")))?;
    let location = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.trim().to_owned());
    Ok((status, location, body.to_owned()))
}

/// A parsed request: method, path, query and form parameters.
struct Request {
    method: String,
    path: String,
    params: HashMap<String, String>,
}

fn read_request(stream: &TcpStream) -> io::Result<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    params.extend(form_urlencoded::parse(&body).into_owned());
    Ok(Request {
        method,
        path: path.to_owned(),
        params,
    })
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(request) = read_request(&stream) else {
        return;
    };
    let (status, headers, body) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .seen
            .push(format!("{} {}", request.method, request.path));
        answer(&mut state, &request)
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

type Answer = (u16, Vec<(&'static str, String)>, String);

fn json(status: u16, body: String) -> Answer {
    (
        status,
        vec![("Content-Type", "application/json".to_owned())],
        body,
    )
}

fn oauth_error(code: &str) -> Answer {
    json(400, format!("{{\"error\":\"{code}\"}}"))
}

fn answer(state: &mut State, request: &Request) -> Answer {
    let p = |name: &str| request.params.get(name).map(String::as_str).unwrap_or("");
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/authorize") => {
            let redirect = p("redirect_uri");
            if p("response_type") != "code"
                || p("code_challenge_method") != "S256"
                || p("code_challenge").is_empty()
                || p("client_id").is_empty()
                || !(redirect.starts_with("http://127.0.0.1:")
                    || redirect.starts_with("http://localhost:"))
            {
                return (400, Vec::new(), "bad authorization request".to_owned());
            }
            let code = state.new_token("code");
            state.codes.insert(
                code.clone(),
                (p("code_challenge").to_owned(), redirect.to_owned()),
            );
            let location = format!(
                "{redirect}?code={code}&state={}",
                form_urlencoded::byte_serialize(p("state").as_bytes()).collect::<String>()
            );
            (302, vec![("Location", location)], String::new())
        }
        ("POST", "/device") => {
            if p("client_id").is_empty() {
                return oauth_error("invalid_client");
            }
            let device = state.new_token("device");
            let user_code = state.new_token("user");
            state.devices.insert(device.clone(), false);
            let base = format!("http://{HOST}:{}", state.port);
            json(
                200,
                format!(
                    "{{\"device_code\":\"{device}\",\"user_code\":\"{user_code}\",\
                     \"verification_uri\":\"{base}/verify\",\
                     \"verification_uri_complete\":\"{base}/verify?device={device}\",\
                     \"expires_in\":600,\"interval\":1}}"
                ),
            )
        }
        ("GET", "/verify") => match state.devices.get_mut(p("device")) {
            Some(approved) => {
                *approved = true;
                (200, Vec::new(), "approved".to_owned())
            }
            None => (404, Vec::new(), "unknown device".to_owned()),
        },
        ("POST", "/token") => token(state, request),
        ("POST", "/introspect") => {
            state.counts.introspections += 1;
            if state.access.contains(p("token")) {
                json(
                    200,
                    format!("{{\"active\":true,\"username\":\"{}\"}}", state.user),
                )
            } else {
                json(200, "{\"active\":false}".to_owned())
            }
        }
        _ => (404, Vec::new(), "not found".to_owned()),
    }
}

fn token(state: &mut State, request: &Request) -> Answer {
    let p = |name: &str| request.params.get(name).map(String::as_str).unwrap_or("");
    if p("client_id").is_empty() {
        return oauth_error("invalid_client");
    }
    match p("grant_type") {
        "authorization_code" => {
            let Some((challenge, redirect)) = state.codes.remove(p("code")) else {
                return oauth_error("invalid_grant");
            };
            let computed = URL_SAFE_NO_PAD.encode(ring::digest::digest(
                &ring::digest::SHA256,
                p("code_verifier").as_bytes(),
            ));
            if computed != challenge || redirect != p("redirect_uri") {
                return oauth_error("invalid_grant");
            }
            state.counts.authorization_code += 1;
            state.issue(true)
        }
        "refresh_token" => {
            if !state.refresh.contains(p("refresh_token")) {
                return oauth_error("invalid_grant");
            }
            state.counts.refresh_token += 1;
            state.issue(false)
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let Some(&approved) = state.devices.get(p("device_code")) else {
                return oauth_error("expired_token");
            };
            if std::mem::take(&mut state.slow_down_next) {
                state.counts.device_polls_refused += 1;
                return oauth_error("slow_down");
            }
            if !approved {
                state.counts.device_polls_refused += 1;
                return oauth_error("authorization_pending");
            }
            state.devices.remove(p("device_code"));
            state.counts.device_code += 1;
            state.issue(true)
        }
        _ => oauth_error("unsupported_grant_type"),
    }
}

impl State {
    fn new_token(&mut self, what: &str) -> String {
        self.next_id += 1;
        format!("{what}-{}-{}", self.next_id, std::process::id())
    }

    /// An access token (and a refresh token if `with_refresh`, as a first grant has; a
    /// refresh grant keeps the old one, as Google does).
    fn issue(&mut self, with_refresh: bool) -> Answer {
        let access = self.new_token("access");
        self.access.insert(access.clone());
        let refresh = if with_refresh {
            let refresh = self.new_token("refresh");
            self.refresh.insert(refresh.clone());
            format!(",\"refresh_token\":\"{refresh}\"")
        } else {
            String::new()
        };
        json(
            200,
            format!(
                "{{\"access_token\":\"{access}\",\"token_type\":\"Bearer\",\
                 \"expires_in\":{}{refresh}}}",
                self.lifetime
            ),
        )
    }
}
