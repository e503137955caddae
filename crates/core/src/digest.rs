//! SHA-256 as lower-case hex: the content hashes and names of calendar and contact items
//! (dav/vobject.rs, dav/skip.rs) and the mail settled-record fingerprints
//! (mail/plan/unchanged.rs). The hash is the `sha2` crate's (already built for pimlink-tls);
//! the text form is what the status and vdir file names have always held.
//!
//! Not here: message fingerprints (mail/fingerprint.rs), which are not cryptographic.

use sha2::{Digest, Sha256};

/// SHA-256 (FIPS 180-4) of `data` as 64 lower-case hex digits.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_fips_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        // Many blocks (checked with `sha256sum`).
        assert_eq!(
            sha256_hex(&[b'x'; 1000]),
            "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f"
        );
    }
}
