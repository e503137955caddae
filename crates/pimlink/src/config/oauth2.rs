//! `oauth2 = { provider, client_id, ... }` of an IMAP, CalDAV or CardDAV storage (issue 18):
//! the login's access token comes from the provider's token endpoint, with the refresh token
//! `pimlink auth STORAGE` obtained. Presets fill the endpoints and scopes of Google and
//! Microsoft; `generic` takes them from the table.

use std::path::Path;

use super::error::ConfigError;
use super::raw::{Fields, Located};
use super::secret::{PasswordSource, Secret};

/// Who issues the tokens (`provider`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuth2Provider {
    /// Google (Gmail, Google Calendar and Contacts).
    Google,
    /// Microsoft (Outlook.com, Microsoft 365); mail only.
    Microsoft,
    /// Any other provider: the table names the endpoints and scopes.
    Generic,
}

/// What kind of storage the token is for: the presets' scopes differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    Imap,
    CalDav,
    CardDav,
}

/// The settings of an `oauth2` table, presets applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2Config {
    /// `provider`.
    pub provider: OAuth2Provider,
    /// `client_id`: the application's identity at the provider.
    pub client_id: String,
    /// `client_secret` or `client_secret_cmd` (Google's "desktop" clients have one, which is
    /// not really secret; public clients have none).
    pub client_secret: Option<PasswordSource>,
    /// `scopes`: what the token grants.
    pub scopes: Vec<String>,
    /// `authorization_endpoint`: where the browser goes (authorization-code flow).
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `device_authorization_endpoint` (RFC 8628, `pimlink auth --device`).
    pub device_authorization_endpoint: Option<String>,
}

/// Where a storage's tokens live: the keyring entry `service=pimlink-oauth2 storage=NAME`, or
/// `STATE_DIR/oauth2/NAME.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2Source {
    /// The storage's name.
    pub storage: String,
    /// `[general] state_dir`.
    pub state_dir: std::path::PathBuf,
    /// The `oauth2` table.
    pub config: OAuth2Config,
}

const PROVIDERS: &[(&str, OAuth2Provider)] = &[
    ("google", OAuth2Provider::Google),
    ("microsoft", OAuth2Provider::Microsoft),
    ("generic", OAuth2Provider::Generic),
];

const KEYS: &[&str] = &[
    "provider",
    "client_id",
    "client_secret",
    "client_secret_cmd",
    "scopes",
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
];

/// A provider's endpoints (authorization, token, device) and default scopes per service.
struct Preset {
    authorization: &'static str,
    token: &'static str,
    device: &'static str,
    scopes: fn(Service) -> Option<&'static [&'static str]>,
}

fn preset(provider: OAuth2Provider) -> Option<Preset> {
    match provider {
        // https://developers.google.com/identity/protocols/oauth2/native-app and
        // https://developers.google.com/gmail/imap/xoauth2-protocol
        OAuth2Provider::Google => Some(Preset {
            authorization: "https://accounts.google.com/o/oauth2/v2/auth",
            token: "https://oauth2.googleapis.com/token",
            device: "https://oauth2.googleapis.com/device/code",
            scopes: |service| {
                Some(match service {
                    Service::Imap => &["https://mail.google.com/"],
                    Service::CalDav => &["https://www.googleapis.com/auth/calendar"],
                    Service::CardDav => &["https://www.googleapis.com/auth/carddav"],
                })
            },
        }),
        // https://learn.microsoft.com/en-us/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
        OAuth2Provider::Microsoft => Some(Preset {
            authorization: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            token: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            device: "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
            scopes: |service| match service {
                Service::Imap => Some(&[
                    "https://outlook.office.com/IMAP.AccessAsUser.All",
                    "offline_access",
                ]),
                // Microsoft offers no CalDAV or CardDAV.
                Service::CalDav | Service::CardDav => None,
            },
        }),
        OAuth2Provider::Generic => None,
    }
}

/// The storage's `oauth2` table as a password source, if it has one. `user` is the storage's
/// (required: XOAUTH2 and OAUTHBEARER name the user beside the token).
pub(crate) fn build(
    fields: &Fields<'_, '_>,
    service: Service,
    storage: &str,
    state_dir: &Path,
) -> Result<Option<PasswordSource>, ConfigError> {
    let Some((_, value)) = fields.raw("oauth2") else {
        return Ok(None);
    };
    for key in ["password", "password_cmd"] {
        if let Some(span) = fields.key_span(key) {
            return Err(fields.error(
                span,
                format!(
                    "set either {key:?} or \"oauth2\", not both (the access token is the password)"
                ),
            ));
        }
    }
    let table = Fields::new(
        fields.source,
        format!("{}: key \"oauth2\"", fields.context),
        value.span(),
        value,
    )?;
    table.only(KEYS, |_| None)?;
    // A storage's provider preset (`provider = "gmail"`) names its token issuer (issue 18).
    let type_name = match service {
        Service::Imap => "imap",
        Service::CalDav => "caldav",
        Service::CardDav => "carddav",
    };
    let implied = super::provider::read(fields, type_name)?.and_then(|preset| {
        let issuer = preset.value.oauth2_preset()?;
        let (_, provider) = PROVIDERS.iter().find(|(name, _)| *name == issuer)?;
        Some(Located {
            value: *provider,
            key: preset.key,
            at: preset.at,
        })
    });
    let provider = match table.choice("provider", PROVIDERS)? {
        Some(provider) => provider,
        None => implied.ok_or_else(|| {
            table.missing(
                "provider",
                " (google, microsoft or generic; or the storage's provider = \"gmail\" or \"outlook\")",
            )
        })?,
    };
    let client_id = table.non_empty("client_id")?.ok_or_else(|| {
        table.missing(
            "client_id",
            " (the application registered with the provider; README: OAuth2)",
        )
    })?;
    let client_secret = match (
        table.string("client_secret")?,
        table.non_empty("client_secret_cmd")?,
    ) {
        (Some(_), Some(cmd)) => {
            return Err(table.error(
                cmd.key,
                "set either \"client_secret\" or \"client_secret_cmd\", not both",
            ));
        }
        (Some(secret), None) => Some(PasswordSource::Literal(Secret::new(secret.value))),
        (None, Some(cmd)) => Some(PasswordSource::Command(cmd.value)),
        (None, None) => None,
    };
    let preset = preset(provider.value);
    let endpoint = |key: &str, preset: Option<&'static str>| -> Result<_, ConfigError> {
        match table.non_empty(key)? {
            Some(url) if url.value.starts_with("https://") || url.value.starts_with("http://") => {
                Ok(Some(url.value))
            }
            Some(url) => Err(table.error(
                url.at,
                format!(
                    "key {key:?}: {:?} is not an http:// or https:// URL",
                    url.value
                ),
            )),
            None => Ok(preset.map(str::to_owned)),
        }
    };
    let authorization_endpoint = endpoint(
        "authorization_endpoint",
        preset.as_ref().map(|p| p.authorization),
    )?;
    let device_authorization_endpoint = endpoint(
        "device_authorization_endpoint",
        preset.as_ref().map(|p| p.device),
    )?;
    let token_endpoint =
        endpoint("token_endpoint", preset.as_ref().map(|p| p.token))?.ok_or_else(|| {
            table.missing(
                "token_endpoint",
                " (provider \"generic\" names its endpoints)",
            )
        })?;
    if authorization_endpoint.is_none() && device_authorization_endpoint.is_none() {
        return Err(table.missing(
            "authorization_endpoint",
            " (or \"device_authorization_endpoint\": how `pimlink auth` gets the first token)",
        ));
    }
    let scopes = match table.strings("scopes")? {
        Some(scopes) => scopes.value.into_iter().map(|s| s.value).collect(),
        None => match preset.as_ref().map(|p| (p.scopes)(service)) {
            Some(Some(scopes)) => scopes.iter().map(|s| (*s).to_owned()).collect(),
            Some(None) => {
                return Err(table.error(
                    provider.at,
                    "provider \"microsoft\" has no CalDAV or CardDAV service; use provider \
                     \"generic\" with the endpoints and scopes of yours",
                ));
            }
            None => return Err(table.missing("scopes", " (provider \"generic\" names its scopes)")),
        },
    };
    Ok(Some(PasswordSource::OAuth2(Box::new(OAuth2Source {
        storage: storage.to_owned(),
        state_dir: state_dir.to_owned(),
        config: OAuth2Config {
            provider: provider.value,
            client_id: client_id.value,
            client_secret,
            scopes,
            authorization_endpoint,
            token_endpoint,
            device_authorization_endpoint,
        },
    }))))
}
