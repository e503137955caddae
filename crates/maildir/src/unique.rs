//! Fresh unique names for new messages, in the usual Maildir form
//! `<secs>.M<usec>P<pid>Q<counter>R<random hex>.<host>`.

use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// Hands out unique names. One per store; the random part keeps two stores in one process (or
/// two processes that reuse a pid within a microsecond) apart.
#[derive(Debug)]
pub(crate) struct KeyMaker {
    host: String,
    pid: u32,
    counter: u64,
    // `RandomState` is seeded from the operating system's randomness: a dependency-free source
    // of unpredictable bits, which is all the `R` part needs.
    seed: std::collections::hash_map::RandomState,
}

impl KeyMaker {
    /// A key maker for this host and process.
    pub fn new() -> Self {
        Self {
            host: escape_host(&hostname()),
            pid: std::process::id(),
            counter: 0,
            seed: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The next unique name.
    pub fn next_key(&mut self) -> String {
        // A clock before 1970 is a broken clock; the counter and random part still keep names
        // unique, so zero is a safe stand-in.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.counter += 1;
        let mut hasher = self.seed.build_hasher();
        hasher.write_u64(self.counter);
        hasher.write_u128(now.as_nanos());
        format!(
            "{}.M{}P{}Q{}R{:016x}.{}",
            now.as_secs(),
            now.subsec_micros(),
            self.pid,
            self.counter,
            hasher.finish(),
            self.host
        )
    }
}

/// This machine's name, or `localhost` if it cannot be found (the name only makes keys easier to
/// trace; uniqueness does not depend on it).
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Escapes the characters the Maildir spec forbids in the host part: `/` as `\057`, `:` as
/// `\072`. Control characters and a leading `.` never occur in real host names, but a key must
/// never contain them either, so they are escaped the same way.
pub(crate) fn escape_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for c in host.chars() {
        match c {
            '/' => out.push_str("\\057"),
            ':' => out.push_str("\\072"),
            c if c.is_control() => out.push_str(&format!("\\{:03o}", u32::from(c) & 0o377)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filename::check_new_key;

    #[test]
    fn escapes_slash_and_colon() {
        assert_eq!(escape_host("a/b:c"), "a\\057b\\072c");
        assert_eq!(escape_host("mail.example"), "mail.example");
    }

    #[test]
    fn keys_are_unique_well_formed_and_usable() {
        let mut maker = KeyMaker::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let key = maker.next_key();
            check_new_key(&key).unwrap();
            let (secs, rest) = key.split_once('.').unwrap();
            assert!(secs.bytes().all(|b| b.is_ascii_digit()), "{key}");
            assert!(rest.starts_with('M'), "{key}");
            assert!(rest.contains(&format!("P{}Q", std::process::id())), "{key}");
            assert!(seen.insert(key.clone()), "duplicate {key}");
        }
        // Two makers in one process (two stores) still never collide.
        let mut other = KeyMaker::new();
        for _ in 0..1000 {
            assert!(seen.insert(other.next_key()));
        }
    }
}
