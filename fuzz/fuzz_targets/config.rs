//! Arbitrary text as a configuration file through `pimlink::config::parse`, as `pimlink` reads
//! it. Checks that every error names the file (and, for syntax errors, a line and column within
//! the text), and that an accepted configuration is consistent: pairs name existing storages,
//! paths are absolute.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pimlink::config::{self, ConfigErrorKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/pimlink/config.toml");
    match config::parse(text, path) {
        Ok(config) => {
            assert!(config.state_dir.is_absolute(), "{:?}", config.state_dir);
            for pair in config.pairs.values() {
                assert!(config.storages.contains_key(&pair.a), "{pair:?}");
                assert!(config.storages.contains_key(&pair.b), "{pair:?}");
                assert_ne!(pair.a, pair.b);
            }
        }
        Err(err) => {
            let shown = err.to_string();
            assert!(!err.message().is_empty(), "{shown}");
            if err.kind() != ConfigErrorKind::Environment {
                assert_eq!(err.file(), Some(path), "{shown}");
            }
            if err.kind() == ConfigErrorKind::Syntax {
                let position = err.position().expect("a syntax error has a position");
                assert!(position.line >= 1 && position.line <= text.lines().count() + 1);
            }
        }
    }
});
