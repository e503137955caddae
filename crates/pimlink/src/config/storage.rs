//! `[storage.NAME]` tables: which keys each type takes, and their conversion to
//! [`StorageKind`].

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ConfigError;
use super::model::{
    CertFingerprint, ClientCert, Credentials, DavConfig, ImapAuth, ImapConfig, ImapEndpoint,
    MaildirConfig, MaildirLayout, SkipUnchanged, StorageKind, TlsMode, Trust, VdirConfig,
    WebcalConfig,
};
use super::oauth2::Service;
use super::provider::{self, Provider};
use super::raw::{Fields, Located, names};
use super::secret::{PasswordSource, Secret};

/// `connections` when not set: folders synced four at a time overlap their round trips (the
/// bench's mail scenarios were fastest there), well within common servers' limits per user and
/// address (Dovecot 10, Gmail 15), leaving room for a mail reader's connections.
const DEFAULT_CONNECTIONS: NonZeroUsize = match NonZeroUsize::new(4) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// The storage types as written in `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Imap,
    Maildir,
    CalDav,
    CardDav,
    Webcal,
    Vdir,
}

const TYPES: &[(&str, Type)] = &[
    ("imap", Type::Imap),
    ("maildir", Type::Maildir),
    ("caldav", Type::CalDav),
    ("carddav", Type::CardDav),
    ("webcal", Type::Webcal),
    ("vdir", Type::Vdir),
];

/// Every storage type as written in `type`, with the keys its table accepts.
#[cfg(test)]
pub(super) fn keys_by_type() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
    TYPES.iter().map(|&(name, ty)| (name, keys(ty)))
}

/// The keys each type accepts; any other key in its table is an error.
fn keys(ty: Type) -> &'static [&'static str] {
    match ty {
        Type::Imap => &[
            "type",
            "host",
            "port",
            "tls",
            "user",
            "password",
            "password_cmd",
            "ca_file",
            "cert_fingerprint",
            "client_cert",
            "client_key",
            "tunnel",
            "auth",
            "connections",
            "timeout",
            "subscribed_only",
            "read_only",
            "trash",
            // The daemon.
            "poll_interval",
            // The daemon's IMAP watcher (config/imap_watch.rs).
            "notify",
            "idle_folders",
            "keepalive",
            // Provider presets (issue 18): provider.rs.
            "provider",
            "disable_extensions",
            // OAuth2 (issue 18): config/oauth2.rs.
            "oauth2",
            // Replication of Sieve scripts (issue 15): the host's ManageSieve port.
            "sieve_port",
        ],
        Type::Maildir => &[
            "type",
            "path",
            "layout",
            "read_only",
            "trash",
            // The daemon.
            "poll_interval",
            // Trees other tools wrote (issue 16): maildir_tree.rs.
            "flatten",
            "names",
            "inbox",
        ],
        Type::CalDav | Type::CardDav => &[
            "type",
            "url",
            "domain",
            "user",
            "password",
            "password_cmd",
            "ca_file",
            "cert_fingerprint",
            "client_cert",
            "client_key",
            "timeout",
            "skip_unchanged",
            // The daemon.
            "poll_interval",
            // Provider presets (issue 18): provider.rs.
            "provider",
            // OAuth2 (issue 18): config/oauth2.rs.
            "oauth2",
        ],
        Type::Webcal => &[
            "type",
            "url",
            "collection_id",
            "ca_file",
            "cert_fingerprint",
            "client_cert",
            "client_key",
            "timeout",
            // The daemon.
            "poll_interval",
        ],
        Type::Vdir => &["type", "path", "fileext", "poll_interval"],
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The storage's name and the state directory: where its OAuth2 tokens live (issue 18).
#[derive(Clone, Copy)]
pub(crate) struct Home<'a> {
    pub name: &'a str,
    pub state_dir: &'a Path,
}

/// Converts the table of storage `home.name` (already known to be a valid name).
/// `login_per_account`: a `[migration]` names it, so an imap storage may leave its login to
/// each account.
pub(crate) fn build(
    fields: &Fields<'_, '_>,
    home: Home<'_>,
    login_per_account: bool,
) -> Result<StorageKind, ConfigError> {
    let ty = fields
        .choice("type", TYPES)?
        .ok_or_else(|| fields.missing("type", &format!(" (one of: {})", names(TYPES))))?;
    let type_name = TYPES
        .iter()
        .find(|(_, t)| *t == ty.value)
        .map_or("?", |(n, _)| *n);
    fields.only(keys(ty.value), |key| {
        TYPES
            .iter()
            .any(|(_, other)| keys(*other).contains(&key))
            .then(|| format!("key {key:?} does not apply to type {type_name:?}"))
    })?;
    Ok(match ty.value {
        Type::Imap => StorageKind::Imap(imap(fields, home, login_per_account)?),
        Type::Maildir => {
            let layout = fields
                .choice(
                    "layout",
                    &[
                        ("verbatim", MaildirLayout::Verbatim),
                        ("maildir++", MaildirLayout::MaildirPlusPlus),
                    ],
                )?
                .map_or(MaildirLayout::Verbatim, |l| l.value);
            StorageKind::Maildir(MaildirConfig {
                path: required_path(fields, "path")?,
                layout,
                tree: super::maildir_tree::build(fields, layout)?,
            })
        }
        Type::CalDav => StorageKind::CalDav(dav(fields, type_name, (Service::CalDav, home))?),
        Type::CardDav => StorageKind::CardDav(dav(fields, type_name, (Service::CardDav, home))?),
        Type::Webcal => StorageKind::Webcal(WebcalConfig {
            url: webcal_to_https(url(fields, &["http", "https", "webcal", "webcals"])?),
            collection_id: collection_id(fields)?,
            trust: trust(fields)?,
            timeout: timeout(fields)?,
        }),
        Type::Vdir => StorageKind::Vdir(VdirConfig {
            path: required_path(fields, "path")?,
            fileext: fileext(fields)?,
        }),
    })
}

fn imap(
    fields: &Fields<'_, '_>,
    home: Home<'_>,
    login_per_account: bool,
) -> Result<ImapConfig, ConfigError> {
    let provider = provider::read(fields, "imap")?.map(|p| p.value);
    let preset = provider.map(Provider::imap);
    let host = fields.non_empty("host")?;
    let tunnel = fields.non_empty("tunnel")?;
    // A preset's host stands in for a missing one; an explicit host or tunnel wins.
    let host = match (host, &tunnel, preset) {
        (None, None, Some(preset)) => Some(Located {
            value: preset.host.to_owned(),
            key: 0..0,
            at: 0..0,
        }),
        (host, _, _) => host,
    };
    let endpoint = match (host, tunnel) {
        (Some(host), Some(tunnel)) => {
            let second = if host.key.start > tunnel.key.start {
                host.key
            } else {
                tunnel.key
            };
            return Err(fields.error(second, "set either \"host\" or \"tunnel\", not both"));
        }
        (None, None) => {
            return Err(fields.missing(
                "host",
                " (or \"tunnel\", a command that speaks IMAP, or \"provider\" for a known \
                 provider's server)",
            ));
        }
        (None, Some(tunnel)) => {
            // These describe a TCP connection, which a tunnel does not have.
            for key in [
                "port",
                "tls",
                "ca_file",
                "cert_fingerprint",
                "client_cert",
                "client_key",
                "sieve_port",
            ] {
                if let Some(key_span) = fields.key_span(key) {
                    return Err(fields.error(
                        key_span,
                        format!("key {key:?} does not apply to a \"tunnel\" connection"),
                    ));
                }
            }
            ImapEndpoint::Tunnel {
                command: tunnel.value,
            }
        }
        (Some(host), None) => {
            let tls = fields.choice(
                "tls",
                &[
                    ("implicit", TlsMode::Implicit),
                    ("starttls", TlsMode::StartTls),
                    ("none", TlsMode::None),
                ],
            )?;
            // An explicit `tls` brings its own default port; only the preset's TLS brings
            // the preset's port.
            let default_port = match (&tls, preset) {
                (None, Some(preset)) => preset.port,
                (Some(tls), _) if tls.value != TlsMode::Implicit => 143,
                _ => 993,
            };
            let tls = tls
                .map(|t| t.value)
                .or(preset.map(|p| p.tls))
                .unwrap_or(TlsMode::Implicit);
            let port = fields
                .integer("port", 1..=65535)?
                .and_then(|p| u16::try_from(p.value).ok())
                .unwrap_or(default_port);
            ImapEndpoint::Tcp {
                host: host.value,
                port,
                tls,
                trust: trust(fields)?,
            }
        }
    };
    let tunnel = matches!(endpoint, ImapEndpoint::Tunnel { .. });
    let connections = fields
        .integer("connections", 1..=64)?
        .and_then(|c| usize::try_from(c.value).ok())
        .and_then(NonZeroUsize::new)
        .unwrap_or(DEFAULT_CONNECTIONS);
    let credentials = credentials(
        fields,
        !tunnel && !login_per_account,
        Some((Service::Imap, home)),
    )?;
    let auth = fields.choice(
        "auth",
        &[
            ("login", ImapAuth::Login),
            ("plain", ImapAuth::Plain),
            ("cram-md5", ImapAuth::CramMd5),
            ("xoauth2", ImapAuth::XOAuth2),
            ("oauthbearer", ImapAuth::OAuthBearer),
        ],
    )?;
    let oauth2 = credentials
        .as_ref()
        .is_some_and(|c| matches!(c.password, PasswordSource::OAuth2(_)));
    let auth = match auth {
        // A token is useless to the other mechanisms, and XOAUTH2 is what Gmail and
        // Microsoft 365 take.
        None if oauth2 => Some(ImapAuth::XOAuth2),
        Some(auth)
            if oauth2 && !matches!(auth.value, ImapAuth::XOAuth2 | ImapAuth::OAuthBearer) =>
        {
            return Err(fields.error(
                auth.at,
                "with \"oauth2\", \"auth\" must be \"xoauth2\" or \"oauthbearer\" (the \
                 mechanisms that carry a token)",
            ));
        }
        auth => auth.map(|a| a.value),
    };
    Ok(ImapConfig {
        credentials,
        auth: auth.or(preset.map(|p| p.auth)),
        endpoint,
        connections,
        timeout: timeout(fields)?,
        subscribed_only: fields.boolean("subscribed_only")?.is_some_and(|b| b.value),
        watch: super::imap_watch::build(fields)?,
        authzid: None,
        disabled_extensions: disabled_extensions(fields, provider)?,
        provider,
        sieve_port: fields
            .integer("sieve_port", 1..=65535)?
            .and_then(|p| u16::try_from(p.value).ok()),
    })
}

/// `disable_extensions`: capabilities to ignore, upper-cased as servers advertise them; the
/// provider's quirks when absent.
fn disabled_extensions(
    fields: &Fields<'_, '_>,
    provider: Option<Provider>,
) -> Result<Vec<String>, ConfigError> {
    let Some(list) = fields.strings("disable_extensions")? else {
        let preset = provider.map_or(&[][..], Provider::disabled_extensions);
        return Ok(preset.iter().map(|e| (*e).to_owned()).collect());
    };
    list.value
        .into_iter()
        .map(|name| {
            let plain = !name.value.is_empty()
                && name
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "=+-_".contains(c));
            if plain {
                Ok(name.value.to_ascii_uppercase())
            } else {
                Err(fields.error(
                    name.at,
                    format!(
                        "key \"disable_extensions\": {:?} is not an IMAP capability such as \
                         \"QRESYNC\" or \"COMPRESS=DEFLATE\"",
                        name.value
                    ),
                ))
            }
        })
        .collect()
}

fn dav(
    fields: &Fields<'_, '_>,
    type_name: &str,
    oauth2: (Service, Home<'_>),
) -> Result<DavConfig, ConfigError> {
    let provider = provider::read(fields, type_name)?.map(|p| p.value);
    let domain = match (fields.key_span("url"), fields.non_empty("domain")?) {
        (Some(url), Some(domain)) => {
            let second = if url.start > domain.key.start {
                url
            } else {
                domain.key
            };
            return Err(fields.error(second, "set either \"url\" or \"domain\", not both"));
        }
        (_, Some(domain)) => Some(domain_name(fields, domain)?),
        (_, None) => None,
    };
    let preset_url = provider.and_then(|p| {
        if type_name == "caldav" {
            p.caldav_url()
        } else {
            p.carddav_url()
        }
    });
    let url = match (&domain, preset_url) {
        (Some(domain), _) => format!("https://{domain}/"),
        (None, Some(preset)) if fields.key_span("url").is_none() => preset.to_owned(),
        (None, _) => url(fields, &["http", "https"]).map_err(|err| {
            if fields.key_span("url").is_none() {
                fields.missing(
                    "url",
                    " (or \"domain\", to find the server through DNS SRV records)",
                )
            } else {
                err
            }
        })?,
    };
    Ok(DavConfig {
        url,
        domain,
        credentials: credentials(fields, false, Some(oauth2))?,
        trust: trust(fields)?,
        timeout: timeout(fields)?,
        skip_unchanged: skip_unchanged(fields)?,
        provider,
    })
}

/// `skip_unchanged`: `true` (kept from when the ctag was the only choice), `false`, or the name
/// of the change stamp to trust; absent means `"auto"`.
fn skip_unchanged(fields: &Fields<'_, '_>) -> Result<SkipUnchanged, ConfigError> {
    const CHOICES: [(&str, SkipUnchanged); 3] = [
        ("auto", SkipUnchanged::Auto),
        ("ctag", SkipUnchanged::Ctag),
        ("last-modified", SkipUnchanged::LastModified),
    ];
    let Some((key, value)) = fields.raw("skip_unchanged") else {
        return Ok(SkipUnchanged::Auto);
    };
    let raw = value.get_ref();
    if let Some(on) = raw.as_bool() {
        return Ok(if on {
            SkipUnchanged::Ctag
        } else {
            SkipUnchanged::Off
        });
    }
    let Some(text) = raw.as_str() else {
        return Err(fields.error(
            value.span(),
            format!(
                "key \"skip_unchanged\" must be true, false, \"auto\", \"ctag\" or \"last-modified\", \
                 found {}",
                raw.type_str()
            ),
        ));
    };
    let text = Located {
        value: text.to_owned(),
        key,
        at: value.span(),
    };
    Ok(fields.pick("skip_unchanged", &text, &CHOICES)?.value)
}

/// A DNS name such as `example.com`: letters, digits, `-` and dots, at least two labels.
fn domain_name(
    fields: &Fields<'_, '_>,
    domain: super::raw::Located<String>,
) -> Result<String, ConfigError> {
    let name = domain.value.trim_end_matches('.');
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if !labels_ok || !name.contains('.') || name.len() > 253 {
        return Err(fields.error(
            domain.at,
            format!(
                "key \"domain\": {:?} is not a domain name such as \"example.com\" (for a URL \
                 use \"url\")",
                domain.value
            ),
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// `client_cert` (a PEM file with the chain, and the key unless `client_key` names another).
fn client_cert(fields: &Fields<'_, '_>) -> Result<Option<ClientCert>, ConfigError> {
    match (fields.path("client_cert")?, fields.path("client_key")?) {
        (Some(cert), key) => Ok(Some(ClientCert {
            key: key.unwrap_or_else(|| cert.clone()),
            cert,
        })),
        (None, Some(_)) => Err(fields.error(
            fields.key_span("client_key").unwrap_or_default(),
            "\"client_key\" needs \"client_cert\" (the certificate it belongs to)",
        )),
        (None, None) => Ok(None),
    }
}

/// `collection_id` of a webcal storage: must be usable as a collection id (and so as a vdir
/// directory name).
fn collection_id(fields: &Fields<'_, '_>) -> Result<Option<String>, ConfigError> {
    let Some(id) = fields.non_empty("collection_id")? else {
        return Ok(None);
    };
    match pimlink_core::dav::store::CollectionId::new(&id.value) {
        Ok(_) => Ok(Some(id.value)),
        Err(why) => Err(fields.error(id.at, format!("key \"collection_id\": {why}"))),
    }
}

/// `password = { keyring = { service = "...", user = "..." } }`: the password is looked up
/// in the Secret Service keyring (GNOME Keyring, KeePassXC, KWallet's bridge) under these two
/// attributes; `service` defaults to "pimlink", `user` to the storage's `user`. `None` when
/// `password` is absent or a plain string.
fn keyring(
    fields: &Fields<'_, '_>,
    user: Option<&str>,
) -> Result<Option<PasswordSource>, ConfigError> {
    let Some((_, value)) = fields.raw("password") else {
        return Ok(None);
    };
    if value.get_ref().as_str().is_some() {
        return Ok(None);
    }
    let outer = Fields::new(
        fields.source,
        format!("{}: key \"password\"", fields.context),
        value.span(),
        value,
    )?;
    outer.only(&["keyring"], |_| {
        Some("a password table has one key, keyring".to_owned())
    })?;
    let Some((_, inner)) = outer.raw("keyring") else {
        return Err(outer.missing("keyring", " (password = { keyring = { service, user } })"));
    };
    let lookup = Fields::new(
        fields.source,
        format!("{}: key \"password.keyring\"", fields.context),
        inner.span(),
        inner,
    )?;
    lookup.only(&["service", "user"], |_| None)?;
    let service = lookup
        .non_empty("service")?
        .map_or_else(|| "pimlink".to_owned(), |s| s.value);
    let user = match lookup.non_empty("user")? {
        Some(user) => user.value,
        None => user
            .map(str::to_owned)
            .ok_or_else(|| lookup.missing("user", " (or a \"user\" key in the storage)"))?,
    };
    Ok(Some(PasswordSource::Keyring { service, user }))
}

/// `user` with exactly one of `password`, `password_cmd` and (where `oauth2` says for which
/// service) `oauth2`; all may be absent unless `required`.
fn credentials(
    fields: &Fields<'_, '_>,
    required: bool,
    oauth2: Option<(Service, Home<'_>)>,
) -> Result<Option<Credentials>, ConfigError> {
    let user = fields.non_empty("user")?;
    if let Some((service, home)) = oauth2
        && let Some(source) = super::oauth2::build(fields, service, home.name, home.state_dir)?
    {
        return match user {
            Some(user) => Ok(Some(Credentials {
                user: user.value,
                password: source,
            })),
            None => Err(fields.missing("user", " (the account the OAuth2 token is for)")),
        };
    }
    if let Some(keyring) = keyring(fields, user.as_ref().map(|u| u.value.as_str()))? {
        if let Some(command) = fields.non_empty("password_cmd")? {
            return Err(fields.error(
                command.key,
                "set either \"password\" or \"password_cmd\", not both",
            ));
        }
        return match user {
            Some(user) => Ok(Some(Credentials {
                user: user.value,
                password: keyring,
            })),
            None => Err(fields.missing("user", " (the keyring holds the password of a user)")),
        };
    }
    let password = fields.string("password")?;
    let command = fields.non_empty("password_cmd")?;
    let source = match (password, command) {
        (Some(password), Some(command)) => {
            let second = if password.key.start > command.key.start {
                password.key
            } else {
                command.key
            };
            return Err(fields.error(
                second,
                "set either \"password\" or \"password_cmd\", not both",
            ));
        }
        (Some(password), None) => Some((
            password.key,
            PasswordSource::Literal(Secret::new(password.value)),
        )),
        (None, Some(command)) => Some((command.key, PasswordSource::Command(command.value))),
        (None, None) => None,
    };
    match (user, source) {
        (Some(user), Some((_, password))) => Ok(Some(Credentials {
            user: user.value,
            password,
        })),
        (None, None) if !required => Ok(None),
        (None, Some((key, _))) => Err(fields.error(key, "a password needs a \"user\" too")),
        (None, None) => Err(fields.missing("user", "")),
        (Some(user), None) => Err(fields.error(
            user.key,
            "\"user\" needs \"password\" or \"password_cmd\" (a command printing the password)",
        )),
    }
}

fn trust(fields: &Fields<'_, '_>) -> Result<Trust, ConfigError> {
    let cert_fingerprint = match fields.string("cert_fingerprint")? {
        Some(fp) => Some(
            CertFingerprint::parse(&fp.value)
                .map_err(|why| fields.error(fp.at, format!("key \"cert_fingerprint\": {why}")))?,
        ),
        None => None,
    };
    Ok(Trust {
        ca_file: fields.path("ca_file")?,
        cert_fingerprint,
        client_cert: client_cert(fields)?,
    })
}

fn timeout(fields: &Fields<'_, '_>) -> Result<Duration, ConfigError> {
    Ok(fields
        .integer("timeout", 1..=86_400)?
        .and_then(|t| u64::try_from(t.value).ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs))
}

/// A URL with one of `schemes` and a host; nothing more is checked here, the HTTP client will
/// parse it fully.
fn url(fields: &Fields<'_, '_>, schemes: &[&str]) -> Result<String, ConfigError> {
    let url = fields
        .non_empty("url")?
        .ok_or_else(|| fields.missing("url", ""))?;
    let ok = url.value.split_once("://").is_some_and(|(scheme, rest)| {
        schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme))
            && !rest.is_empty()
            && !rest.starts_with('/')
    }) && !url.value.chars().any(char::is_whitespace);
    if !ok {
        let schemes: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
        return Err(fields.error(
            url.at,
            format!(
                "key \"url\": {:?} is not a URL starting with {} followed by a host",
                without_userinfo(&url.value),
                schemes.join(" or ")
            ),
        ));
    }
    // A URL is printed in messages and logs, so credentials in it would leak there; they have
    // keys of their own whose values pimlink never prints.
    if userinfo(&url.value).is_some() {
        return Err(fields.error(
            url.at,
            format!(
                "key \"url\": {:?} carries a user name or password before the host; put the user \
                 name in \"user\" and the password in \"password\" or \"password_cmd\" (a URL \
                 is shown in messages, they are not)",
                without_userinfo(&url.value)
            ),
        ));
    }
    Ok(url.value)
}

/// The `user:password` part of a URL's authority (before the last `@` ahead of the path), if any.
fn userinfo(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit_once('@').map(|(info, _)| info)
}

/// `url` with its user name and password replaced by `...`, for messages.
fn without_userinfo(url: &str) -> String {
    match (userinfo(url), url.split_once("://")) {
        (Some(info), Some((scheme, rest))) => {
            format!("{scheme}://...@{}", &rest[info.len() + 1..])
        }
        _ => url.to_owned(),
    }
}

/// `webcal://` is only a hint for browsers to open a calendar program; the feed is fetched
/// over HTTPS.
fn webcal_to_https(url: String) -> String {
    match url.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("webcal") || scheme.eq_ignore_ascii_case("webcals") =>
        {
            format!("https://{rest}")
        }
        _ => url,
    }
}

fn fileext(fields: &Fields<'_, '_>) -> Result<String, ConfigError> {
    let ext = fields.string("fileext")?.ok_or_else(|| {
        fields.missing(
            "fileext",
            " (\".ics\" for calendars, \".vcf\" for contacts)",
        )
    })?;
    // pimsync writes the extension without its dot (`fileext ics`), vdirsyncer with it: a
    // plain extension means the same either way (issue 16).
    let plain = |e: &str| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric());
    match ext.value.strip_prefix('.') {
        Some(rest) if plain(rest) => Ok(ext.value),
        None if plain(&ext.value) => Ok(format!(".{}", ext.value)),
        _ => Err(fields.error(
            ext.at,
            format!(
                "key \"fileext\": {:?} must be an extension such as \".ics\" (letters and \
                 digits, after an optional dot)",
                ext.value
            ),
        )),
    }
}

fn required_path(fields: &Fields<'_, '_>, key: &str) -> Result<PathBuf, ConfigError> {
    fields.path(key)?.ok_or_else(|| fields.missing(key, ""))
}
