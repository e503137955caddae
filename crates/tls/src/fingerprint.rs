//! [`CertFingerprint`]: the SHA-256 of a certificate, parsed once from the configuration and
//! compared as bytes from then on.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The SHA-256 fingerprint of a certificate (of its DER encoding).
///
/// Any 32 bytes are a valid digest, so the field is public; [`CertFingerprint::parse`] reads
/// the configuration's text form and [`fmt::Display`] writes it back.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertFingerprint(pub [u8; 32]);

/// Why a text is not a certificate fingerprint. The messages quote the text and name the
/// accepted form, so that the configuration can show them after the key's name.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    /// Another digest (`md5:`, `sha1:`) or none named.
    #[error("{text:?} must start with \"sha256:\"")]
    NoPrefix {
        /// The text as given.
        text: String,
    },
    /// Not 64 digits after the prefix (colons not counted).
    #[error("{text:?} must have 64 hexadecimal digits after \"sha256:\", it has {digits}")]
    WrongLength {
        /// The text as given.
        text: String,
        /// How many non-colon bytes followed the prefix.
        digits: usize,
    },
    /// 64 characters, not all of them hexadecimal digits.
    #[error("{text:?} contains a character that is not hexadecimal")]
    NotHex {
        /// The text as given.
        text: String,
    },
}

const PREFIX: &str = "sha256:";

impl CertFingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Parses `sha256:` followed by 64 hexadecimal digits, optionally separated by `:` (the
    /// form `openssl x509 -fingerprint -sha256` prints, after its `sha256 Fingerprint=`).
    /// Case does not matter, in the prefix or the digits.
    pub fn parse(text: &str) -> Result<Self, FingerprintError> {
        let hex = text
            .get(..PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
            .map(|_| &text[PREFIX.len()..])
            .ok_or_else(|| FingerprintError::NoPrefix { text: text.into() })?;
        let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(FingerprintError::WrongLength {
                text: text.into(),
                digits: digits.len(),
            });
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
            // from_str_radix alone would accept a leading '+'.
            let pair = std::str::from_utf8(pair)
                .ok()
                .filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit()));
            *byte = pair
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| FingerprintError::NotHex { text: text.into() })?;
        }
        Ok(Self(out))
    }
}

impl FromStr for CertFingerprint {
    type Err = FingerprintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// `sha256:AB:CD:...`, which [`CertFingerprint::parse`] reads back: a message showing a
/// server's fingerprint gives the user the exact text for the configuration.
impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let colons = format!("sha256:{}", vec!["aB"; 32].join(":"));
        let plain = format!("SHA256:{}", "ab".repeat(32));
        let a = CertFingerprint::parse(&colons).unwrap();
        assert_eq!(a, CertFingerprint::parse(&plain).unwrap());
        assert_eq!(a.0, [0xab; 32]);
        assert_eq!(
            a.to_string(),
            format!("sha256:{}", vec!["AB"; 32].join(":"))
        );
    }

    #[test]
    fn errors_quote_the_text_and_name_the_accepted_form() {
        assert_eq!(
            CertFingerprint::parse("md5:ab").unwrap_err().to_string(),
            r#""md5:ab" must start with "sha256:""#
        );
        assert_eq!(
            CertFingerprint::parse("sha256:ab:cd")
                .unwrap_err()
                .to_string(),
            r#""sha256:ab:cd" must have 64 hexadecimal digits after "sha256:", it has 4"#
        );
        let bad = format!("sha256:{}", "zz".repeat(32));
        assert_eq!(
            CertFingerprint::parse(&bad).unwrap_err(),
            FingerprintError::NotHex { text: bad.clone() }
        );
        // Multi-byte characters must not be sliced in the middle.
        assert!(CertFingerprint::parse("shä256:").is_err());
        assert!(CertFingerprint::parse(&format!("sha256:{}", "é".repeat(32))).is_err());
    }

    #[test]
    fn a_sign_is_not_a_hex_digit() {
        // u8::from_str_radix alone reads "+a" as 10: the configuration took such a pin before.
        let signed = format!("sha256:+a{}", "00".repeat(31));
        assert_eq!(
            CertFingerprint::parse(&signed),
            Err(FingerprintError::NotHex { text: signed })
        );
    }

    #[test]
    fn of_is_the_sha256_of_the_bytes() {
        // FIPS 180-2 test vector "abc".
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let fingerprint = CertFingerprint::of(b"abc");
        let hex: String = fingerprint.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
        assert_eq!(fingerprint, format!("sha256:{expected}").parse().unwrap());
    }

    proptest! {
        #[test]
        fn display_parses_back(bytes in any::<[u8; 32]>()) {
            let fingerprint = CertFingerprint(bytes);
            prop_assert_eq!(CertFingerprint::parse(&fingerprint.to_string()), Ok(fingerprint));
        }

        #[test]
        fn parse_never_panics(text in ".{0,80}") {
            let _ = CertFingerprint::parse(&text);
        }
    }
}
