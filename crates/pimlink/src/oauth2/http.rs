//! The one kind of request OAuth2 makes: a form POST answered with a JSON object (RFC 6749
//! sections 4-6, RFC 8628 section 3). Sent with reqwest, the HTTP stack pimlink-dav already
//! builds, on a thread of its own with its own small runtime: callers are synchronous (a
//! password provider) and may themselves run inside a runtime, where blocking on another
//! future would panic.

use std::time::Duration;

use serde_json::{Map, Value};

use super::error::{OAuth2Error, OAuth2ErrorKind};

/// The largest answer read; token answers are a few kilobytes.
const MAX_BODY: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(60);

/// An endpoint's answer: its status and its JSON object (empty if the body was not one).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub json: Map<String, Value>,
}

impl Reply {
    /// A string member of the answer.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.json.get(name).and_then(Value::as_str)
    }

    /// A number of seconds (some providers send it as a string).
    pub fn seconds(&self, name: &str) -> Option<u64> {
        match self.json.get(name)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// POSTs `params` form-encoded to `url`.
pub(crate) fn post_form(url: &str, params: &[(&str, &str)]) -> Result<Reply, OAuth2Error> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let url = url.to_owned();
    let job = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| transport(&url, &e))?;
        runtime.block_on(send(&url, body))
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("oauth2-http".into())
            .spawn_scoped(scope, job)
            .map_err(|e| OAuth2Error::new(OAuth2ErrorKind::Transport, e.to_string()))?
            .join()
            .unwrap_or_else(|_| {
                Err(OAuth2Error::new(
                    OAuth2ErrorKind::Transport,
                    "the HTTP request panicked",
                ))
            })
    })
}

fn transport(url: &str, error: &dyn std::fmt::Display) -> OAuth2Error {
    OAuth2Error::new(
        OAuth2ErrorKind::Transport,
        format!("cannot reach {url}: {error}"),
    )
}

async fn send(url: &str, body: String) -> Result<Reply, OAuth2Error> {
    let mut tls = pimlink_tls::client_config(&pimlink_tls::Trust::default())
        .map_err(|e| transport(url, &e))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // A token endpoint that redirects is misconfigured; following would resend the form.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .http1_only()
        .user_agent(concat!("pimlink/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| transport(url, &e))?;
    let mut response = client
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| transport(url, &e))?;
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(url, &e))? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(transport(url, &"the answer is larger than 1 MiB"));
        }
        bytes.extend_from_slice(&chunk);
    }
    let json = match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Ok(Reply { status, json })
}
