//! `provider = "gmail" | "outlook" | "fastmail" | "icloud"`: the known settings of a big mail
//! provider, so that a storage needs only the address and the credentials.
//!
//! A preset fills what the storage's table leaves out; a key written in the table always wins
//! (`host`, `port`, `tls`, `auth`, `url`, `domain`, `trash`, `disable_extensions`; a pair's
//! own `collections` patterns decide, see [`Provider::hidden_folders`]). The quirks a preset
//! switches on are each tied to a documented misbehaviour of that provider (README, table
//! "Provider presets"); pimlink-config(5) says which key turns each off again.
//!
//! Not here: OAuth2 (the `oauth2` module takes [`Provider::oauth2_preset`]), connecting.

use super::error::ConfigError;
use super::model::{ImapAuth, StorageKind, TlsMode};
use super::raw::{Fields, Located};

/// A mail provider with a preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// Google Mail (and Google Calendar over CalDAV).
    Gmail,
    /// Outlook.com and Microsoft 365 (Exchange Online).
    Outlook,
    /// Fastmail (mail, calendars, contacts).
    Fastmail,
    /// Apple iCloud (mail, calendars, contacts).
    Icloud,
}

/// The providers as written in `provider`.
pub(crate) const PROVIDERS: &[(&str, Provider)] = &[
    ("gmail", Provider::Gmail),
    ("outlook", Provider::Outlook),
    ("fastmail", Provider::Fastmail),
    ("icloud", Provider::Icloud),
];

/// Where a provider's IMAP server is and how to log in there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImapPreset {
    /// The server's host name.
    pub host: &'static str,
    /// Its port (implicit TLS).
    pub port: u16,
    /// How the connection is encrypted.
    pub tls: TlsMode,
    /// The mechanism the provider accepts for this kind of account.
    pub auth: ImapAuth,
}

impl Provider {
    /// The name as written in `provider`.
    pub fn name(self) -> &'static str {
        PROVIDERS
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |(name, _)| name)
    }

    /// The provider written `name` in `provider`.
    pub fn from_name(name: &str) -> Option<Provider> {
        PROVIDERS
            .iter()
            .find(|(written, _)| *written == name)
            .map(|(_, provider)| *provider)
    }

    /// The OAuth2 preset (endpoints, scopes) of the `oauth2` module this provider's accounts
    /// log in with, if they use OAuth2 rather than an app password.
    pub fn oauth2_preset(&self) -> Option<&'static str> {
        match self {
            // Google and Microsoft refuse passwords for IMAP (basic authentication is off for
            // Exchange Online since 2022, and Google turned off "less secure apps" in 2024).
            Provider::Gmail => Some("google"),
            Provider::Outlook => Some("microsoft"),
            Provider::Fastmail | Provider::Icloud => None,
        }
    }

    /// The IMAP endpoint and login.
    pub fn imap(self) -> ImapPreset {
        let (host, auth) = match self {
            Provider::Gmail => ("imap.gmail.com", ImapAuth::XOAuth2),
            Provider::Outlook => ("outlook.office365.com", ImapAuth::XOAuth2),
            // Both take an app password (Fastmail: Settings > Privacy & Security; Apple:
            // appleid.apple.com > App-Specific Passwords) with AUTHENTICATE PLAIN.
            Provider::Fastmail => ("imap.fastmail.com", ImapAuth::Plain),
            Provider::Icloud => ("imap.mail.me.com", ImapAuth::Plain),
        };
        ImapPreset {
            host,
            port: 993,
            tls: TlsMode::Implicit,
            auth,
        }
    }

    /// Where CalDAV discovery starts, for providers that offer it.
    pub fn caldav_url(self) -> Option<&'static str> {
        match self {
            Provider::Gmail => Some("https://apidata.googleusercontent.com/caldav/v2/"),
            Provider::Fastmail => Some("https://caldav.fastmail.com/"),
            Provider::Icloud => Some("https://caldav.icloud.com/"),
            Provider::Outlook => None,
        }
    }

    /// Where CardDAV discovery starts, for providers that offer it.
    pub fn carddav_url(self) -> Option<&'static str> {
        match self {
            Provider::Fastmail => Some("https://carddav.fastmail.com/"),
            Provider::Icloud => Some("https://contacts.icloud.com/"),
            // Google's CardDAV is not covered by the preset yet: no test account to check it.
            Provider::Gmail | Provider::Outlook => None,
        }
    }

    /// IMAP extensions not to use even when offered: iCloud advertises QRESYNC but answers
    /// it wrongly (no ENABLED reply, VANISHED lists that do not match what was expunged).
    pub fn disabled_extensions(self) -> &'static [&'static str] {
        match self {
            Provider::Icloud => &["QRESYNC"],
            _ => &[],
        }
    }

    /// Folders a mail pair leaves out unless its `collections` name one exactly: Gmail shows
    /// each message once per label, and these three hold messages that are also elsewhere
    /// (every message, the important ones, the starred ones), so syncing them would download
    /// each message again. Both spellings of the root: "[Google Mail]" in Germany and the UK.
    pub fn hidden_folders(self) -> &'static [&'static str] {
        match self {
            Provider::Gmail => &[
                "[Gmail]/All Mail",
                "[Gmail]/Important",
                "[Gmail]/Starred",
                "[Google Mail]/All Mail",
                "[Google Mail]/Important",
                "[Google Mail]/Starred",
            ],
            _ => &[],
        }
    }

    /// The folder a message deleted by a sync is moved into: on Gmail, expunging a message from
    /// a label folder only takes the label off (it stays in All Mail); moving it to the Trash
    /// deletes it, as deleting does in Gmail's own interface.
    pub fn trash(self) -> Option<&'static str> {
        match self {
            Provider::Gmail => Some("[Gmail]/Trash"),
            _ => None,
        }
    }

    /// The types of storage the provider has a preset for, as written in `type`.
    fn types(self) -> &'static [&'static str] {
        match self {
            Provider::Gmail => &["imap", "caldav"],
            Provider::Outlook => &["imap"],
            Provider::Fastmail | Provider::Icloud => &["imap", "caldav", "carddav"],
        }
    }
}

/// The `provider` key of a storage of type `type_name`, refused where the provider offers no
/// such service.
pub(crate) fn read(
    fields: &Fields<'_, '_>,
    type_name: &str,
) -> Result<Option<Located<Provider>>, ConfigError> {
    let Some(provider) = fields.choice("provider", PROVIDERS)? else {
        return Ok(None);
    };
    let types = provider.value.types();
    if !types.contains(&type_name) {
        return Err(fields.error(
            provider.at,
            format!(
                "key \"provider\": {} has no preset for type {type_name:?} (it has one for: {}); \
                 remove \"provider\" and set the server's address yourself",
                provider.value.name(),
                types.join(", ")
            ),
        ));
    }
    Ok(Some(provider))
}

/// The preset's trash folder of a mail storage, for when its table sets no `trash`.
pub(crate) fn trash(kind: &StorageKind) -> Option<pimlink_core::CollectionName> {
    match kind {
        StorageKind::Imap(imap) => imap
            .provider
            .and_then(Provider::trash)
            .and_then(|name| pimlink_core::CollectionName::new(name).ok()),
        _ => None,
    }
}

/// The patterns a mail pair uses: its own, plus an exclusion for each folder a side's
/// provider hides that the pair's patterns do not name exactly.
pub(crate) fn pair_patterns(patterns: &[String], providers: &[Option<Provider>]) -> Vec<String> {
    let mut all = patterns.to_vec();
    for folder in providers.iter().flatten().flat_map(|p| p.hidden_folders()) {
        let named = patterns.iter().any(|p| p == folder);
        let exclusion = format!("!{}", escape(folder));
        if !named && !all.contains(&exclusion) {
            all.push(exclusion);
        }
    }
    all
}

/// `name` as a pattern that matches only itself.
fn escape(name: &str) -> String {
    let mut pattern = String::with_capacity(name.len());
    for c in name.chars() {
        if "*%?\\!".contains(c) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::filter::CollectionFilter;

    #[test]
    fn every_provider_has_a_name_an_imap_server_and_only_gmail_and_outlook_use_oauth2() {
        for &(name, provider) in PROVIDERS {
            assert_eq!(provider.name(), name);
            let imap = provider.imap();
            assert_eq!((imap.port, imap.tls), (993, TlsMode::Implicit), "{name}");
            let oauth = imap.auth == ImapAuth::XOAuth2;
            assert_eq!(oauth, provider.oauth2_preset().is_some(), "{name}");
        }
        assert_eq!(Provider::Gmail.oauth2_preset(), Some("google"));
        assert_eq!(Provider::Outlook.oauth2_preset(), Some("microsoft"));
    }

    #[test]
    fn gmail_hides_the_folders_that_repeat_messages_unless_the_pair_names_them() {
        let patterns = |list: &[&str]| -> Vec<String> {
            let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
            pair_patterns(&list, &[Some(Provider::Gmail), None])
        };
        let all = CollectionFilter::new(&patterns(&["*"])).unwrap();
        for hidden in [
            "[Gmail]/All Mail",
            "[Gmail]/Starred",
            "[Google Mail]/Important",
        ] {
            assert!(!all.matches(hidden), "{hidden}");
        }
        for shown in [
            "INBOX",
            "[Gmail]/Sent Mail",
            "[Gmail]/Trash",
            "Work/All Mail",
        ] {
            assert!(all.matches(shown), "{shown}");
        }
        let named = CollectionFilter::new(&patterns(&["INBOX", "[Gmail]/All Mail"])).unwrap();
        assert!(named.matches("[Gmail]/All Mail"));
        assert!(!named.matches("[Gmail]/Starred"));
        // No other provider changes the patterns.
        let other = pair_patterns(&["*".to_owned()], &[Some(Provider::Icloud), None]);
        assert_eq!(other, ["*"]);
    }

    #[test]
    fn only_icloud_turns_qresync_off_and_only_gmail_has_a_trash() {
        for &(name, provider) in PROVIDERS {
            let qresync_off = provider.disabled_extensions().contains(&"QRESYNC");
            assert_eq!(qresync_off, provider == Provider::Icloud, "{name}");
            assert_eq!(
                provider.trash().is_some(),
                provider == Provider::Gmail,
                "{name}"
            );
        }
    }
}
