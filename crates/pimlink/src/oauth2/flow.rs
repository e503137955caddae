//! Getting the first refresh token (`pimlink auth`): the authorization-code flow with PKCE and
//! a loopback redirect (RFC 7636, RFC 8252), or the device flow (RFC 8628) for a machine
//! without a browser.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use super::error::{OAuth2Error, OAuth2ErrorKind};
use super::store::{self, Place};
use super::{client_secret, endpoint_error, granted, http, printable};
use crate::config::{OAuth2Provider, OAuth2Source};

/// How long the loopback listener waits for the browser.
const BROWSER_WAIT: Duration = Duration::from_secs(600);
/// RFC 8628 section 3.5: the poll interval when the provider names none.
const DEFAULT_INTERVAL: u64 = 5;
/// RFC 8628 section 3.5: how much `slow_down` adds to the interval.
const SLOW_DOWN: u64 = 5;

/// `n` random bytes from the system's generator, base64url without padding.
fn random(n: usize) -> Result<String, OAuth2Error> {
    let mut bytes = vec![0; n];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        OAuth2Error::new(
            OAuth2ErrorKind::Storage,
            "the system's random generator failed",
        )
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 section 4.2).
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

fn missing_endpoint(source: &OAuth2Source, key: &str, other: &str) -> OAuth2Error {
    OAuth2Error::new(
        OAuth2ErrorKind::Config,
        format!(
            "storage {:?}: oauth2 has no {key}; set it, or use {other}",
            source.storage
        ),
    )
}

/// The authorization-code flow: prints the URL (and opens it unless `no_browser`), waits on
/// `127.0.0.1` for the browser to come back with the code, and trades it for tokens.
pub fn authorize(
    source: &OAuth2Source,
    no_browser: bool,
    say: &mut dyn FnMut(&str),
) -> Result<Place, OAuth2Error> {
    let Some(endpoint) = &source.config.authorization_endpoint else {
        return Err(missing_endpoint(
            source,
            "authorization_endpoint",
            "--device",
        ));
    };
    let io = |e: std::io::Error| {
        OAuth2Error::new(
            OAuth2ErrorKind::Transport,
            format!("cannot listen on 127.0.0.1 for the browser's answer: {e}"),
        )
    };
    // RFC 8252 section 7.3: a loopback IP literal and any free port.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
    let redirect_uri = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().map_err(io)?.port()
    );
    let verifier = random(32)?;
    let state = random(16)?;
    let scope = source.config.scopes.join(" ");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &source.config.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &scope)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    if source.config.provider == OAuth2Provider::Google {
        // Without these Google grants no refresh token (or none on a second consent).
        query
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent");
    }
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    let url = format!("{endpoint}{separator}{}", query.finish());
    say(&format!(
        "Open this URL in a browser to let pimlink use storage {:?}:\n{url}",
        source.storage
    ));
    if !no_browser {
        // Best effort: the URL is printed in any case.
        let _ = Command::new("xdg-open")
            .arg(&url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
    say(&format!("Waiting for the browser on {redirect_uri} ..."));
    let code = wait_for_code(&listener, &state)?;
    let secret = client_secret(source)?;
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("client_id", source.config.client_id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    if let Some(secret) = &secret {
        params.push(("client_secret", secret.expose()));
    }
    let reply = http::post_form(&source.config.token_endpoint, &params)?;
    let tokens = granted(source, &reply, None)?;
    store::save_new(source, &tokens)
}

/// Answers requests on the listener until one carries the code (with our `state`) or an
/// error; anything else (a favicon, a forged request with another state) is answered and
/// ignored.
fn wait_for_code(listener: &TcpListener, state: &str) -> Result<String, OAuth2Error> {
    let deadline = Instant::now() + BROWSER_WAIT;
    listener
        .set_nonblocking(true)
        .map_err(|e| OAuth2Error::new(OAuth2ErrorKind::Transport, e.to_string()))?;
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(OAuth2Error::new(
                        OAuth2ErrorKind::Denied,
                        "no answer from the browser within 10 minutes",
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => return Err(OAuth2Error::new(OAuth2ErrorKind::Transport, e.to_string())),
        };
        let Some(params) = read_query(&stream) else {
            continue;
        };
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if get("state") != Some(state) {
            reply(
                stream,
                400,
                "This answer is not for the pimlink waiting here.",
            );
            continue;
        }
        if let Some(error) = get("error") {
            reply(
                stream,
                200,
                "pimlink was not authorized. You can close this page.",
            );
            let text = get("error_description").map(printable).unwrap_or_default();
            return Err(OAuth2Error::new(
                OAuth2ErrorKind::Denied,
                format!("the provider answered {error} {text}")
                    .trim_end()
                    .to_owned(),
            ));
        }
        if let Some(code) = get("code") {
            reply(
                stream,
                200,
                "pimlink is authorized. You can close this page.",
            );
            return Ok(code.to_owned());
        }
        reply(stream, 404, "Not found.");
    }
}

/// The query parameters of the HTTP request on `stream` (`None` if it is not one).
fn read_query(stream: &TcpStream) -> Option<Vec<(String, String)>> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut line = String::new();
    BufReader::new(stream).take_line(&mut line)?;
    let target = line.split_whitespace().nth(1)?;
    let query = target.split_once('?').map_or("", |(_, q)| q);
    Some(
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
    )
}

/// Reads one line of at most 8 KiB.
trait TakeLine {
    fn take_line(self, line: &mut String) -> Option<()>;
}

impl<R: std::io::Read> TakeLine for BufReader<R> {
    fn take_line(self, line: &mut String) -> Option<()> {
        use std::io::Read;
        let mut limited = BufReader::new(self.take(8192));
        limited.read_line(line).ok().map(|_| ())
    }
}

fn reply(mut stream: TcpStream, status: u16, text: &str) {
    let body = format!("<!doctype html><title>pimlink</title><p>{text}</p>\n");
    let _ = write!(
        stream,
        "HTTP/1.1 {status} pimlink\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The device flow: asks for a user code, prints where to enter it, and polls the token
/// endpoint at the interval the provider asks for until the user has approved.
pub fn device(source: &OAuth2Source, say: &mut dyn FnMut(&str)) -> Result<Place, OAuth2Error> {
    let Some(endpoint) = &source.config.device_authorization_endpoint else {
        return Err(missing_endpoint(
            source,
            "device_authorization_endpoint",
            "the browser flow (without --device)",
        ));
    };
    let scope = source.config.scopes.join(" ");
    let secret = client_secret(source)?;
    let mut params = vec![
        ("client_id", source.config.client_id.as_str()),
        ("scope", scope.as_str()),
    ];
    if let Some(secret) = &secret {
        params.push(("client_secret", secret.expose()));
    }
    let answer = http::post_form(endpoint, &params)?;
    let (Some(device_code), Some(user_code)) = (answer.str("device_code"), answer.str("user_code"))
    else {
        return Err(endpoint_error(
            source,
            &answer,
            "the device authorization endpoint",
        ));
    };
    // Google spells it verification_url.
    let uri = answer
        .str("verification_uri")
        .or(answer.str("verification_url"))
        .unwrap_or_default();
    say(&format!(
        "To let pimlink use storage {:?}, open {} and enter the code {}",
        source.storage,
        printable(uri),
        printable(user_code)
    ));
    if let Some(complete) = answer.str("verification_uri_complete") {
        say(&format!("(or open {} directly)", printable(complete)));
    }
    let mut interval = answer.seconds("interval").unwrap_or(DEFAULT_INTERVAL);
    let deadline =
        Instant::now() + Duration::from_secs(answer.seconds("expires_in").unwrap_or(1800));
    let device_code = device_code.to_owned();
    loop {
        std::thread::sleep(Duration::from_secs(interval));
        let mut params = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code.as_str()),
            ("client_id", source.config.client_id.as_str()),
        ];
        if let Some(secret) = &secret {
            params.push(("client_secret", secret.expose()));
        }
        let reply = http::post_form(&source.config.token_endpoint, &params)?;
        match reply.str("error") {
            Some("authorization_pending") if Instant::now() < deadline => continue,
            Some("slow_down") if Instant::now() < deadline => {
                interval += SLOW_DOWN;
                continue;
            }
            Some("authorization_pending" | "slow_down") => {
                return Err(OAuth2Error::new(
                    OAuth2ErrorKind::Denied,
                    format!(
                        "storage {:?}: the code was not entered in time; run `pimlink auth {} --device` again",
                        source.storage, source.storage
                    ),
                ));
            }
            _ => {}
        }
        let tokens = granted(source, &reply, None)?;
        return store::save_new(source, &tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b_challenge() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random(32).unwrap(), random(32).unwrap());
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }
}
