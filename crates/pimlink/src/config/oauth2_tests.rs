//! The `oauth2` table (issue 18): presets, the generic form, and each mistake's message.

use std::path::Path;

use super::tests::{fails, ok};
use super::*;

const IMAP: &str =
    "[storage.g]\ntype = \"imap\"\nhost = \"imap.gmail.com\"\nuser = \"me@gmail.com\"\n";

fn source(config: &Config, name: &str) -> OAuth2Source {
    let credentials = match &config.storages[name].kind {
        StorageKind::Imap(imap) => imap.credentials.clone(),
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => dav.credentials.clone(),
        _ => None,
    };
    match credentials.map(|c| c.password) {
        Some(PasswordSource::OAuth2(source)) => *source,
        other => panic!("no oauth2 source: {other:?}"),
    }
}

#[test]
fn google_preset_fills_endpoints_and_scopes_and_auth_defaults_to_xoauth2() {
    let config = ok(&format!(
        "{IMAP}oauth2 = {{ provider = \"google\", client_id = \"id\" }}\n"
    ));
    let s = source(&config, "g");
    assert_eq!(s.storage, "g");
    assert_eq!(s.state_dir, Path::new("/home/u/state/pimlink"));
    assert_eq!(
        s.config.token_endpoint,
        "https://oauth2.googleapis.com/token"
    );
    assert_eq!(s.config.scopes, ["https://mail.google.com/"]);
    assert!(s.config.client_secret.is_none());
    let StorageKind::Imap(imap) = &config.storages["g"].kind else {
        panic!()
    };
    assert_eq!(imap.auth, Some(ImapAuth::XOAuth2));
}

#[test]
fn presets_pick_scopes_by_storage_type_and_keys_override_them() {
    let config = ok(
        "[storage.c]\ntype = \"carddav\"\nurl = \"https://www.googleapis.com/carddav/v1/principals/me/lists/default/\"\nuser = \"me\"\n\
         oauth2 = { provider = \"google\", client_id = \"id\", client_secret_cmd = \"pass g\" }\n",
    );
    let s = source(&config, "c");
    assert_eq!(s.config.scopes, ["https://www.googleapis.com/auth/carddav"]);
    assert_eq!(
        s.config.client_secret,
        Some(PasswordSource::Command("pass g".into()))
    );
    let config = ok(&format!(
        "{IMAP}auth = \"oauthbearer\"\noauth2 = {{ provider = \"microsoft\", client_id = \"id\", \
         token_endpoint = \"https://login.microsoftonline.com/t/oauth2/v2.0/token\" }}\n"
    ));
    let s = source(&config, "g");
    assert!(s.config.token_endpoint.contains("/t/"));
    assert!(s.config.scopes.contains(&"offline_access".to_owned()));
}

#[test]
fn oauth2_mistakes_are_named() {
    fails(
        &format!(
            "{IMAP}password = \"p\"\noauth2 = {{ provider = \"google\", client_id = \"i\" }}\n"
        ),
        5,
        &["\"password\"", "\"oauth2\"", "not both"],
    );
    fails(
        &format!(
            "{IMAP}auth = \"plain\"\noauth2 = {{ provider = \"google\", client_id = \"i\" }}\n"
        ),
        5,
        &["\"auth\" must be \"xoauth2\" or \"oauthbearer\""],
    );
    fails(
        &format!("{IMAP}oauth2 = {{ provider = \"yahoo\", client_id = \"i\" }}\n"),
        5,
        &["\"provider\"", "google, microsoft, generic"],
    );
    fails(
        &format!("{IMAP}oauth2 = {{ provider = \"google\" }}\n"),
        5,
        &["missing key \"client_id\""],
    );
    fails(
        &format!(
            "{IMAP}oauth2 = {{ provider = \"generic\", client_id = \"i\", scopes = [\"s\"] }}\n"
        ),
        5,
        &["missing key \"token_endpoint\""],
    );
    fails(
        &format!(
            "{IMAP}oauth2 = {{ provider = \"generic\", client_id = \"i\", token_endpoint = \"https://t/\", \
             authorization_endpoint = \"https://a/\" }}\n"
        ),
        5,
        &["missing key \"scopes\""],
    );
    fails(
        &format!(
            "{IMAP}oauth2 = {{ provider = \"generic\", client_id = \"i\", scopes = [\"s\"], \
             token_endpoint = \"https://t/\" }}\n"
        ),
        5,
        &[
            "\"authorization_endpoint\"",
            "device_authorization_endpoint",
        ],
    );
    fails(
        &format!(
            "{IMAP}oauth2 = {{ provider = \"google\", client_id = \"i\", token_endpoint = \"ftp://t\" }}\n"
        ),
        5,
        &["\"token_endpoint\"", "not an http:// or https:// URL"],
    );
    fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"https://x/\"\nuser = \"u\"\n\
         oauth2 = { provider = \"microsoft\", client_id = \"i\" }\n",
        5,
        &["no CalDAV or CardDAV"],
    );
    fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"https://x/\"\n\
         oauth2 = { provider = \"google\", client_id = \"i\" }\n",
        1,
        &["missing key \"user\""],
    );
    fails(
        "[storage.w]\ntype = \"webcal\"\nurl = \"https://x/\"\n\
         oauth2 = { provider = \"google\", client_id = \"i\" }\n",
        4,
        &["\"oauth2\" does not apply to type \"webcal\""],
    );
    fails(
        &format!("{IMAP}oauth2 = {{ provider = \"google\", client_id = \"i\", secret = \"s\" }}\n"),
        5,
        &["unknown key \"secret\""],
    );
}

#[test]
fn a_provider_preset_names_the_token_issuer() {
    let config = ok(
        "[storage.g]\ntype = \"imap\"\nprovider = \"gmail\"\nuser = \"me@gmail.com\"\n\
         oauth2 = { client_id = \"id\" }\n\n\
         [storage.o]\ntype = \"imap\"\nprovider = \"outlook\"\nuser = \"me@outlook.com\"\n\
         oauth2 = { client_id = \"id\" }\n",
    );
    assert_eq!(source(&config, "g").config.provider, OAuth2Provider::Google);
    assert_eq!(
        source(&config, "o").config.provider,
        OAuth2Provider::Microsoft
    );
    let StorageKind::Imap(imap) = &config.storages["g"].kind else {
        panic!()
    };
    assert_eq!(imap.auth, Some(ImapAuth::XOAuth2));
    // Fastmail has no OAuth2 preset: the table must say who issues the tokens.
    fails(
        "[storage.f]\ntype = \"imap\"\nprovider = \"fastmail\"\nuser = \"me@fastmail.com\"\n\
         oauth2 = { client_id = \"id\" }\n",
        5,
        &["provider"],
    );
}
