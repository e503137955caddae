//! Folder names: the server's (decoded from modified UTF-7, with its own hierarchy delimiter)
//! and the engine's ([`CollectionName`], levels separated by `/`).
//!
//! A server level that contains `/` while the server's delimiter is something else (`a/b` under
//! delimiter `.`) has no engine form: `/` would split it into two levels, and the name could not
//! be mapped back. Such folders are skipped with a warning when listing. The other way round, an
//! engine level that contains the server's delimiter (a local folder `a.b` for a server with
//! delimiter `.`) cannot be created on the server: it would become two levels there.

use pimlink_core::name::HIERARCHY_SEPARATOR;
use pimlink_core::{CollectionName, Error, ErrorKind};

/// The engine's name for a server folder, or why it has none.
pub(crate) fn canonical_name(
    server_name: &str,
    delimiter: Option<char>,
) -> Result<CollectionName, String> {
    let joined = match delimiter {
        Some(HIERARCHY_SEPARATOR) => server_name.to_owned(),
        Some(delimiter) => {
            let levels: Vec<&str> = server_name.split(delimiter).collect();
            if levels.iter().any(|l| l.contains(HIERARCHY_SEPARATOR)) {
                return Err(format!(
                    "a level contains '/' while the server's hierarchy delimiter is {delimiter:?}"
                ));
            }
            levels.join("/")
        }
        None => {
            if server_name.contains(HIERARCHY_SEPARATOR) {
                return Err("it contains '/' on a server without hierarchy".to_owned());
            }
            server_name.to_owned()
        }
    };
    CollectionName::new(joined).map_err(|e| e.to_string())
}

/// The server's name for an engine folder.
pub(crate) fn server_name(name: &CollectionName, delimiter: Option<char>) -> Result<String, Error> {
    let levels: Vec<&str> = name.levels().collect();
    match delimiter {
        Some(HIERARCHY_SEPARATOR) => Ok(name.as_str().to_owned()),
        Some(delimiter) => {
            if let Some(level) = levels.iter().find(|l| l.contains(delimiter)) {
                return Err(Error::new(
                    ErrorKind::InvalidName,
                    format!(
                        "folder {name}: the level {level:?} contains {delimiter:?}, the server's \
                         hierarchy delimiter, so it cannot exist on this server"
                    ),
                ));
            }
            Ok(levels.join(&delimiter.to_string()))
        }
        None if levels.len() > 1 => Err(Error::new(
            ErrorKind::InvalidName,
            format!("folder {name}: the server has no folder hierarchy"),
        )),
        None => Ok(name.as_str().to_owned()),
    }
}

/// The server names of `name`'s ancestors and itself, outermost first (`a`, `a.b`, `a.b.c`).
pub(crate) fn server_name_prefixes(
    name: &CollectionName,
    delimiter: Option<char>,
) -> Result<Vec<(CollectionName, String)>, Error> {
    let levels: Vec<&str> = name.levels().collect();
    let mut out = Vec::with_capacity(levels.len());
    for end in 1..=levels.len() {
        let prefix = CollectionName::new(levels[..end].join("/"))?;
        let server = server_name(&prefix, delimiter)?;
        out.push((prefix, server));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> CollectionName {
        CollectionName::new(text).unwrap()
    }

    #[test]
    fn delimiters_translate_both_ways() {
        for (server, delimiter, canonical) in [
            ("INBOX", Some('.'), "INBOX"),
            ("inbox", Some('/'), "INBOX"),
            ("Lists.rust", Some('.'), "Lists/rust"),
            ("Lists/rust", Some('/'), "Lists/rust"),
            ("Entwürfe.日本語 & co", Some('.'), "Entwürfe/日本語 & co"),
            ("a\\b", Some('\\'), "a/b"),
            ("flat", None, "flat"),
        ] {
            let got = canonical_name(server, delimiter).unwrap();
            assert_eq!(got.as_str(), canonical, "{server}");
            if server != "inbox" {
                assert_eq!(server_name(&got, delimiter).unwrap(), server);
            }
        }
    }

    #[test]
    fn unrepresentable_names_are_refused() {
        assert!(canonical_name("a/b.c", Some('.')).is_err());
        assert!(canonical_name("a/b", None).is_err());
        assert!(canonical_name("a..b", Some('.')).is_err(), "empty level");
        let err = server_name(&name("a.b/c"), Some('.')).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName);
        assert!(err.to_string().contains("\"a.b\""), "{err}");
        assert!(server_name(&name("a/b"), None).is_err());
    }

    #[test]
    fn prefixes_name_every_ancestor() {
        let got = server_name_prefixes(&name("a/b/c"), Some('.')).unwrap();
        let servers: Vec<&str> = got.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(servers, ["a", "a.b", "a.b.c"]);
        assert_eq!(got[1].0.as_str(), "a/b");
    }
}
