//! OAuth2 for IMAP (XOAUTH2, OAUTHBEARER) and CalDAV/CardDAV (Bearer), issue 18: the access
//! token a login needs, from the refresh token `pimlink auth STORAGE` obtained
//! ([`flow`]), kept in the keyring or a 0600 file ([`store`]), cached in memory and refreshed
//! before it expires or when a server refused it.
//!
//! Written by hand over reqwest rather than with the `oauth2` crate: that crate's HTTP
//! clients are its own reqwest/ureq/curl integrations (a second configuration of the HTTP
//! stack, without pimlink-tls's trust settings), and what pimlink needs is four form POSTs
//! and a loopback listener.
//!
//! Tokens never appear in logs or messages: errors quote only the provider's `error` and
//! `error_description`.

mod error;
pub mod flow;
mod http;
pub mod store;

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

pub use error::{OAuth2Error, OAuth2ErrorKind};
pub use store::Place;

use crate::config::{OAuth2Source, Secret};
use http::Reply;
use store::Tokens;

/// An access token is renewed when it has less than this left, so that a login that starts
/// now does not race its expiry.
const MARGIN_SECS: u64 = 120;

/// When a provider does not say how long a token lives: an hour, as Google's and Microsoft's
/// do.
const DEFAULT_LIFETIME_SECS: u64 = 3600;

/// Access tokens of this process by token file, so that the connections and pairs of one run
/// (and a daemon's many runs) ask the provider once per token lifetime.
static CACHE: Mutex<BTreeMap<std::path::PathBuf, (Secret, u64)>> = Mutex::new(BTreeMap::new());

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The hint every "authorize again" error ends with.
fn run_auth(source: &OAuth2Source) -> String {
    format!("run `pimlink auth {}`", source.storage)
}

/// An access token for `source`'s storage: the one in memory or stored, unless it expires
/// within [`MARGIN_SECS`] or `force` (a server just refused it); else a new one from the
/// token endpoint, stored for the next run.
pub fn access_token(source: &OAuth2Source, force: bool) -> Result<Secret, OAuth2Error> {
    let key = store::file_path(source);
    // Held across the refresh: two connections that both find the token expired must not
    // both spend the refresh token (providers that rotate it would revoke the loser's).
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let fresh = |expires_at: u64| expires_at > now() + MARGIN_SECS;
    if !force
        && let Some((token, expires_at)) = cache.get(&key)
        && fresh(*expires_at)
    {
        return Ok(token.clone());
    }
    let Some((mut tokens, place)) = store::load(source)? else {
        return Err(OAuth2Error::new(
            OAuth2ErrorKind::NeedsAuth,
            format!(
                "storage {:?} has no OAuth2 token yet; {}",
                source.storage,
                run_auth(source)
            ),
        ));
    };
    if let (false, Some(token), Some(expires_at)) = (force, &tokens.access_token, tokens.expires_at)
        && fresh(expires_at)
    {
        let token = Secret::new(token.clone());
        cache.insert(key, (token.clone(), expires_at));
        return Ok(token);
    }
    let secret = client_secret(source)?;
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh_token.as_str()),
        ("client_id", source.config.client_id.as_str()),
    ];
    if let Some(secret) = &secret {
        params.push(("client_secret", secret.expose()));
    }
    let reply = http::post_form(&source.config.token_endpoint, &params)?;
    tokens = granted(source, &reply, Some(&tokens.refresh_token))?;
    store::save(source, &tokens, &place)?;
    let token = Secret::new(tokens.access_token.clone().unwrap_or_default());
    cache.insert(key, (token.clone(), tokens.expires_at.unwrap_or(0)));
    tracing::debug!(storage = %source.storage, "OAuth2 access token refreshed");
    Ok(token)
}

/// `client_secret` or what `client_secret_cmd` prints.
fn client_secret(source: &OAuth2Source) -> Result<Option<Secret>, OAuth2Error> {
    source
        .config
        .client_secret
        .as_ref()
        .map(|s| s.resolve())
        .transpose()
        .map_err(|e| {
            OAuth2Error::new(OAuth2ErrorKind::Config, e.to_string()).context(format!(
                "storage {:?}: oauth2.client_secret_cmd",
                source.storage
            ))
        })
}

/// The tokens a successful token-endpoint answer grants (RFC 6749 section 5.1), keeping
/// `old_refresh` when the answer brings no new refresh token; or the error it reports
/// (section 5.2), `invalid_grant` meaning the refresh token is no longer good.
fn granted(
    source: &OAuth2Source,
    reply: &Reply,
    old_refresh: Option<&str>,
) -> Result<Tokens, OAuth2Error> {
    if let (200..=299, Some(access)) = (reply.status, reply.str("access_token")) {
        let refresh = reply.str("refresh_token").or(old_refresh).ok_or_else(|| {
            OAuth2Error::new(
                OAuth2ErrorKind::Refused,
                format!(
                    "storage {:?}: the provider granted no refresh token, so pimlink could \
                     not renew the access token; check the scopes (Microsoft: \
                     offline_access)",
                    source.storage
                ),
            )
        })?;
        let lifetime = reply.seconds("expires_in").unwrap_or(DEFAULT_LIFETIME_SECS);
        return Ok(Tokens {
            refresh_token: refresh.to_owned(),
            access_token: Some(access.to_owned()),
            expires_at: Some(now().saturating_add(lifetime)),
        });
    }
    Err(endpoint_error(source, reply, "the token endpoint"))
}

/// The error an endpoint answered, in the provider's words.
fn endpoint_error(source: &OAuth2Source, reply: &Reply, what: &str) -> OAuth2Error {
    let code = reply.str("error");
    let said = match (code, reply.str("error_description")) {
        (Some(code), Some(text)) => format!("{code}: {}", printable(text)),
        (Some(code), None) => code.to_owned(),
        (None, _) => format!("HTTP status {}", reply.status),
    };
    let (kind, next) = match code {
        Some("invalid_grant") => (
            OAuth2ErrorKind::NeedsAuth,
            format!(
                "the refresh token was refused (revoked or expired); {}",
                run_auth(source)
            ),
        ),
        Some("access_denied") => (OAuth2ErrorKind::Denied, "access was denied".to_owned()),
        Some("expired_token") => (
            OAuth2ErrorKind::Denied,
            format!(
                "the code expired before it was entered; {}",
                run_auth(source)
            ),
        ),
        Some(_) => (
            OAuth2ErrorKind::Refused,
            "check client_id, client_secret and scopes".to_owned(),
        ),
        None => (
            OAuth2ErrorKind::Transport,
            "is this an OAuth2 endpoint?".to_owned(),
        ),
    };
    OAuth2Error::new(
        kind,
        format!(
            "storage {:?}: {what} answered {said}: {next}",
            source.storage
        ),
    )
}

/// `text` without control characters (a server's words go to the terminal).
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}
