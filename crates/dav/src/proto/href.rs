//! Hrefs as servers write them (absolute paths or full URLs, percent-encoded in different
//! ways) turned into one canonical form, so that an href from a listing compares equal to the
//! same href in a multiget or sync answer.

/// Characters left as they are in a canonical path: RFC 3986 unreserved, sub-delims, `:`, `@`
/// and the `/` separator.
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b)
}

/// Percent-decodes `text`; a `%` not followed by two hex digits is kept literally.
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            // Two hex digits make at most 255.
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Percent-encodes every byte that is not a path character.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if is_path_char(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical form of an href: the path part only (scheme and authority of a full URL are
/// dropped, as are query and fragment), percent-decoded and re-encoded uniformly, without dot
/// segments and with one leading `/`. It is what the client requests (resolving `..` or a
/// leading `//host` would otherwise happen later, in the URL), and canonical twice is canonical
/// once, so an href compares equal to itself wherever it was canonicalised.
pub fn canonical(href: &str) -> String {
    let href = href.trim();
    let path = match scheme_end(href) {
        Some(scheme_end) => {
            let after = &href[scheme_end + 3..];
            after.find('/').map_or("/", |slash| &after[slash..])
        }
        None => href,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let encoded = percent_encode(&percent_decode(path));
    let absolute = if encoded.starts_with('/') {
        encoded
    } else {
        format!("/{encoded}")
    };
    // `//host/x` would be resolved as another host: one slash starts the path.
    let merged = remove_dot_segments(&absolute);
    format!("/{}", merged.trim_start_matches('/'))
}

/// Where `://` ends a URL scheme (RFC 3986 3.1: a letter, then letters, digits, `+ - .`) at the
/// very start of `href`; a `://` anywhere else is part of a path.
fn scheme_end(href: &str) -> Option<usize> {
    let end = href.find("://")?;
    let scheme = &href[..end];
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(end)
}

/// `path` (starting with `/`) with `.` and `..` segments applied (RFC 3986 5.2.4), as a URL
/// resolver applies them.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut segments = path.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "." | ".." => {
                if segment == ".." {
                    kept.pop();
                }
                // A final dot segment names a directory: the path keeps its trailing slash.
                if last {
                    kept.push("");
                }
            }
            _ => kept.push(segment),
        }
    }
    format!("/{}", kept.join("/"))
}

/// The last non-empty segment of a path, percent-decoded: a collection's id.
pub fn last_segment(path: &str) -> String {
    let segment = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    String::from_utf8_lossy(&percent_decode(segment)).into_owned()
}

/// `collection` (a canonical path ending in `/`) joined with the file name `name`, encoded.
pub fn join(collection: &str, name: &str) -> String {
    let base = if collection.ends_with('/') {
        collection.to_owned()
    } else {
        format!("{collection}/")
    };
    format!(
        "{base}{}",
        percent_encode(name.as_bytes()).replace('/', "%2F")
    )
}

/// Whether `child` lies directly inside the collection `parent` (both canonical).
pub fn is_direct_child(parent: &str, child: &str) -> bool {
    let parent = parent.trim_end_matches('/');
    child
        .strip_prefix(parent)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| {
            !rest.trim_end_matches('/').is_empty() && !rest.trim_end_matches('/').contains('/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_compare_equal() {
        let forms = [
            "/cal/a b@x.ics",
            "/cal/a%20b%40x.ics",
            "/cal/a%20b@x.ics",
            "https://dav.example:8443/cal/a%20b@x.ics",
            " /cal/a%20b@x.ics?x=1",
        ];
        for form in forms {
            assert_eq!(canonical(form), "/cal/a%20b@x.ics", "{form}");
        }
        assert_eq!(canonical("http://host"), "/");
        assert_eq!(canonical("rel/x"), "/rel/x");
        assert_eq!(canonical("/%zz%4"), "/%25zz%254");
        assert_eq!(canonical("/ä"), "/%C3%A4");
    }

    /// Issue 12: what the fuzz target's invariants reject (fuzz/fuzz_targets/dav_multistatus.rs):
    /// the client resolves `..` and a leading `//host`, so an href the storage accepted as an
    /// item of a collection could name the collection's parent, or another server.
    #[test]
    fn canonical_paths_stay_in_their_collection_and_on_the_server() {
        assert_eq!(canonical("/c/.."), "/");
        assert!(!is_direct_child("/c/", &canonical("/c/..")));
        assert_eq!(canonical("/c/%2E%2E/x.ics"), "/x.ics");
        assert_eq!(canonical("/c/./x.ics"), "/c/x.ics");
        assert_eq!(canonical("/c/sub/."), "/c/sub/");
        assert_eq!(canonical("//evil.example/c/"), "/evil.example/c/");
        assert_eq!(canonical("/c//x.ics"), "/c//x.ics");
        for form in ["/c/..", "//x", "/a/..//b", "h%3A//", "/%2e/%2E%2e/"] {
            let once = canonical(form);
            assert_eq!(canonical(&once), once, "{form}");
        }
    }

    #[test]
    fn segments_and_joins() {
        assert_eq!(last_segment("/user/my%20cal/"), "my cal");
        assert_eq!(last_segment("/user/x"), "x");
        assert_eq!(join("/user/cal/", "a b/c.ics"), "/user/cal/a%20b%2Fc.ics");
        assert_eq!(join("/user/cal", "x.ics"), "/user/cal/x.ics");
        assert!(is_direct_child("/user/", "/user/cal/"));
        assert!(is_direct_child("/user", "/user/x.ics"));
        assert!(!is_direct_child("/user/", "/user/"));
        assert!(!is_direct_child("/user/", "/user/cal/x.ics"));
        assert!(!is_direct_child("/user/", "/other/cal/"));
    }
}
