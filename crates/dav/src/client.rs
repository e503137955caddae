//! The HTTP transport: carries [`Request`]s built by [`crate::proto`] over one pooled
//! HTTP/1.1 client (keep-alive; the pool opens more connections when several requests are in
//! flight), adds basic auth, follows redirects without changing the method, and caps response
//! sizes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use pimlink_core::{Error, ErrorKind, Result};
use pimlink_tls::Trust;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use crate::bearer::Bearer;
use crate::dns::{Dns, host_resolver};
use crate::proto::Request;
use crate::secret::Secret;

/// How many redirects one request may follow.
const MAX_REDIRECTS: usize = 5;

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The URL the user configured (a server root, a principal or a home set).
    pub url: String,
    /// User name and password for HTTP basic auth, if the server needs them.
    pub credentials: Option<(String, Secret)>,
    /// An OAuth2 token to send instead (`Authorization: Bearer`), renewed once when the
    /// server answers 401 (issue 18).
    pub bearer: Option<Bearer>,
    /// Which server certificates `https://` URLs accept, and the client certificate to
    /// present.
    pub trust: Trust,
    /// The largest response body accepted, in bytes.
    pub max_body: usize,
    /// How long one request may take.
    pub timeout: Duration,
    /// How many requests may be in flight at once (each needs its own connection). Servers
    /// cap connections (Radicale accepts 8 by default) and make the rest wait or time out.
    pub max_in_flight: usize,
    /// The resolver for RFC 6764 SRV/TXT lookups (see [`crate::discovery`]).
    pub dns: Dns,
    /// The URL names only a domain (`https://DOMAIN/`): discovery asks DNS SRV before the
    /// domain's own well-known path, as RFC 6764 section 6 orders it.
    pub srv_first: bool,
}

impl ClientOptions {
    /// Options for `url` with no credentials, default TLS, a 256 MiB body cap, a 120 s
    /// timeout and at most 4 requests in flight.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            credentials: None,
            bearer: None,
            trust: Trust::default(),
            max_body: 256 << 20,
            timeout: Duration::from_secs(120),
            max_in_flight: 4,
            dns: Dns::System,
            srv_first: false,
        }
    }

    /// Options for a service known only by its domain: discovery starts with the DNS SRV
    /// records of `domain`, then tries `https://DOMAIN/.well-known/...`.
    pub fn for_domain(domain: &str) -> Self {
        let mut options = Self::new(format!("https://{}/", domain.trim_end_matches('.')));
        options.srv_first = true;
        options
    }

    /// Adds basic-auth credentials.
    pub fn credentials(mut self, user: impl Into<String>, password: Secret) -> Self {
        self.credentials = Some((user.into(), password));
        self
    }

    /// Sends `bearer`'s token instead of a password.
    pub fn bearer(mut self, bearer: Bearer) -> Self {
        self.bearer = Some(bearer);
        self
    }
}

/// An HTTP response as the storages need it.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The `Date` header: when the server answered, by its own clock.
    pub date: Option<String>,
    /// The `Last-Modified` header (a webcal feed's, for a conditional GET next time).
    pub last_modified: Option<String>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The URL that finally answered (after redirects).
    pub url: Url,
}

impl Response {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A connection pool to one DAV server.
#[derive(Clone, Debug)]
pub struct DavClient {
    http: reqwest::Client,
    base: Url,
    credentials: Option<(String, Secret)>,
    bearer: Option<Bearer>,
    max_body: usize,
    in_flight: Arc<Semaphore>,
}

impl DavClient {
    /// Sets up the client (no connection is made yet).
    pub fn new(options: &ClientOptions) -> Result<Self> {
        let base = Url::parse(&options.url).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("invalid URL {:?}: {e}", options.url),
            )
        })?;
        Self::for_url(options, base)
    }

    /// A client like one made from `options` but for `base` (a server found through DNS).
    pub(crate) fn for_url(options: &ClientOptions, base: Url) -> Result<Self> {
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::new(
                ErrorKind::Config,
                format!("URL {base} must start with http:// or https://"),
            ));
        }
        let mut tls = pimlink_tls::client_config(&options.trust)?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut builder = reqwest::Client::builder();
        if let Some(resolver) = host_resolver(&options.dns) {
            builder = builder.dns_resolver(resolver);
        }
        let http = builder
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(60))
            .http1_only()
            .user_agent(concat!("pimlink/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot set up the HTTP client").with_source(e)
            })?;
        Ok(Self {
            http,
            base,
            credentials: options.credentials.clone(),
            bearer: options.bearer.clone(),
            max_body: options.max_body,
            in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
        })
    }

    /// The configured URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Resolves a target (absolute path or URL) against the configured URL.
    pub fn resolve(&self, target: &str) -> Result<Url> {
        self.base.join(target).map_err(|e| {
            Error::new(
                ErrorKind::Peer,
                format!("cannot resolve {target:?} against {}: {e}", self.base),
            )
        })
    }

    /// Sends `request` and returns the response whatever its status; only transport failures
    /// and oversized bodies are errors.
    pub async fn send(&self, request: &Request) -> Result<Response> {
        // The semaphore is never closed, so acquiring only fails if that invariant breaks.
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| Error::new(ErrorKind::Connection, "the HTTP client was shut down"))?;
        let method = Method::from_bytes(request.method.as_bytes()).map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                format!("bad method {}", request.method),
            )
            .with_source(e)
        })?;
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let value = HeaderValue::from_str(value).map_err(|_| {
                Error::new(
                    ErrorKind::Peer,
                    format!("header {name} value {value:?} cannot be sent over HTTP"),
                )
            })?;
            // from_bytes lower-cases the name; from_static would panic on an upper-case one.
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!("header name {name:?} cannot be sent over HTTP"),
                )
            })?;
            headers.insert(header, value);
        }
        let mut url = self.resolve(&request.target)?;
        let mut token = self.bearer.as_ref().map(Bearer::current);
        let mut renewed = false;
        let mut redirects = 0;
        while redirects <= MAX_REDIRECTS {
            let mut builder = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some((user, password)) = &self.credentials {
                builder = builder.basic_auth(user, Some(password.expose()));
            }
            if let Some(token) = &token {
                builder = builder.bearer_auth(token.expose());
            }
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            let context = || format!("{} {url}", request.method);
            let response = builder
                .send()
                .await
                .map_err(|e| transport_error(context(), e))?;
            let status = response.status();
            // A token the server stopped taking before its stated expiry: renewed, and the
            // request sent once more.
            if let (StatusCode::UNAUTHORIZED, Some(bearer), Some(refused), false) =
                (status, &self.bearer, &token, renewed)
            {
                token = Some(bearer.renew(refused)?);
                renewed = true;
                continue;
            }
            if is_redirect(status) {
                redirects += 1;
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::Peer,
                            format!("{}: redirect {status} without a Location", context()),
                        )
                    })?;
                let next = url.join(location).map_err(|e| {
                    Error::new(
                        ErrorKind::Peer,
                        format!("{}: bad redirect Location {location:?}: {e}", context()),
                    )
                })?;
                // Credentials go only where the user pointed us: same scheme, host and port.
                if next.origin() != self.base.origin() {
                    return Err(Error::new(
                        ErrorKind::Refused,
                        format!(
                            "{}: redirected to another server ({next}); configure that URL \
                             instead",
                            context()
                        ),
                    ));
                }
                url = next;
                continue;
            }
            let etag = response
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let date = header(reqwest::header::DATE);
            let last_modified = header(reqwest::header::LAST_MODIFIED);
            let body = self.read_body(response, &context()).await?;
            return Ok(Response {
                status: status.as_u16(),
                etag,
                date,
                last_modified,
                body,
                url,
            });
        }
        Err(Error::new(
            ErrorKind::Peer,
            format!(
                "{} {}: more than {MAX_REDIRECTS} redirects",
                request.method, request.target
            ),
        ))
    }

    async fn read_body(&self, mut response: reqwest::Response, context: &str) -> Result<String> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(context.to_owned(), e))?
        {
            if body.len() + chunk.len() > self.max_body {
                return Err(Error::new(
                    ErrorKind::Peer,
                    format!("{context}: response larger than {} bytes", self.max_body),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8(body)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn transport_error(context: String, err: reqwest::Error) -> Error {
    let kind = if err.is_builder() {
        ErrorKind::Config
    } else {
        ErrorKind::Connection
    };
    // reqwest's Display omits the cause (connection refused, certificate errors); walk it.
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::new(kind, format!("{context}: {message}"))
}

/// The error for an unexpected HTTP status, sorted by what the caller can do about it.
pub fn status_error(context: impl std::fmt::Display, response: &Response) -> Error {
    let kind = match response.status {
        401 => ErrorKind::Auth,
        403 => ErrorKind::Config,
        404 | 410 => ErrorKind::NotFound,
        412 => ErrorKind::Refused,
        405 | 501 => ErrorKind::Unsupported,
        408 | 429 | 500..=599 => ErrorKind::Connection,
        _ => ErrorKind::Peer,
    };
    let hint = match response.status {
        401 => " (wrong user name or password?)",
        403 => " (no permission)",
        412 => " (precondition failed: the item changed since it was last seen)",
        _ => "",
    };
    // The server's words are for the user's terminal: line breaks and control characters
    // (an escape sequence) become spaces.
    let snippet: String = response
        .body
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Error::new(
        kind,
        format!(
            "{context}: HTTP {}{hint}{}",
            response.status,
            if snippet.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", snippet.trim())
            }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_error_names_the_status_and_keeps_control_characters_off_the_terminal() {
        let response = Response {
            status: 401,
            etag: None,
            date: None,
            last_modified: None,
            body: "<html>\r\n\u{1b}[2JNo entry\0</html>".to_owned(),
            url: Url::parse("http://127.0.0.1/").unwrap(),
        };
        let error = status_error("PROPFIND /", &response);
        assert_eq!(error.kind(), ErrorKind::Auth);
        assert_eq!(
            error.to_string(),
            "PROPFIND /: HTTP 401 (wrong user name or password?): <html>   [2JNo entry </html>"
        );
    }
}
