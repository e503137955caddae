//! SASL payloads. Only building the bytes lives here; the exchange is in the client.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use md5::Md5;

/// The base64 initial response for PLAIN: `authzid\0user\0password`, where `authzid` (the
/// user to act as, RFC 4616) is empty unless given.
pub fn plain(authzid: Option<&str>, user: &str, password: &str) -> String {
    let authzid = authzid.unwrap_or_default();
    STANDARD.encode(format!("{authzid}\0{user}\0{password}"))
}

/// The base64 response to a CRAM-MD5 challenge (already base64-decoded).
pub fn cram_md5(user: &str, password: &str, challenge: &[u8]) -> String {
    let digest = match Hmac::<Md5>::new_from_slice(password.as_bytes()) {
        Ok(mut mac) => {
            mac.update(challenge);
            mac.finalize().into_bytes()
        }
        // HMAC accepts keys of any length; this branch cannot be taken.
        Err(_) => Default::default(),
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    STANDARD.encode(format!("{user} {hex}"))
}

/// The base64 initial response for XOAUTH2 (Google/Microsoft).
pub fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

/// The base64 initial response for OAUTHBEARER (RFC 7628).
pub fn oauthbearer(user: &str, host: &str, port: u16, token: &str) -> String {
    STANDARD.encode(format!(
        "n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2195_example() {
        let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
        let response = STANDARD
            .decode(cram_md5("tim", "tanstaaftanstaaf", challenge))
            .unwrap();
        assert_eq!(response, b"tim b913a602c7eda7a495b4e6e7334d3890");
    }

    #[test]
    fn plain_and_oauth_payloads() {
        assert_eq!(STANDARD.decode(plain(None, "u", "p")).unwrap(), b"\0u\0p");
        assert_eq!(
            STANDARD.decode(plain(Some("bob"), "admin", "p")).unwrap(),
            b"bob\0admin\0p"
        );
        assert_eq!(
            STANDARD.decode(xoauth2("u@x", "tok")).unwrap(),
            b"user=u@x\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            STANDARD.decode(oauthbearer("u", "h", 993, "t")).unwrap(),
            b"n,a=u,\x01host=h\x01port=993\x01auth=Bearer t\x01\x01"
        );
    }
}
