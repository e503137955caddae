//! Collection change stamps read with the home-set listing, so that the engine can leave a
//! collection unchanged since its last clean sync alone (the `skip_unchanged` key): which
//! property to ask for, and when its value may be trusted.
//!
//! Two sources, each opt-in because a server must keep a promise the protocol does not make:
//! - `CS:getctag` must change whenever any member does. Servers that store it answer at no
//!   cost; Radicale 3 computes it from every item, as costly as the REPORTs it saves.
//! - `DAV:getlastmodified` of the collection must move whenever a member is added, changed or
//!   removed. RFC 4918 does not say so for collections, and many servers do not (a collection's
//!   own mtime, or nothing). Radicale 3 does: it answers the newest mtime of the collection's
//!   directory, its properties file and every item file, from `stat` alone.
//!
//! A last-modified value is in whole seconds, so a change made in the same second as the one it
//! shows, after the server looked, would leave it unchanged. It is therefore trusted only when
//! it is at least [`MIN_AGE`] seconds older than the `Date` of the same response (the server's
//! own clock, so the client's clock does not matter): any later change then lands in a later
//! second. A value that is too recent, in the future, missing or unparsable gives no stamp, and
//! no stamp means "unknown", which never lets a collection be skipped.

use pimlink_core::dav::store::CollectionState;

/// Which property the home-set listing asks for, to learn each collection's change stamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChangeStamp {
    /// None: every collection is asked for its changes on every run.
    #[default]
    Off,
    /// `CS:getctag`.
    Ctag,
    /// `DAV:getlastmodified`, on servers known to move it with every member change.
    LastModified,
}

/// How many seconds older than the response's `Date` a collection's last-modified time must be
/// to be trusted. One second covers the resolution; the rest covers the time the server took
/// between reading its files and stamping the response, and mtimes set by another machine's
/// clock (a collection on a network file system).
pub const MIN_AGE: i64 = 3;

/// The stamp of a collection whose `getlastmodified` is `last_modified`, in a response whose
/// `Date` header is `date`; `None` when it cannot be trusted (see the module docs).
pub fn from_last_modified(
    last_modified: Option<&str>,
    date: Option<&str>,
) -> Option<CollectionState> {
    let modified = parse_http_date(last_modified?)?;
    let now = parse_http_date(date?)?;
    (now - modified >= MIN_AGE).then(|| CollectionState::new(format!("last-modified {modified}")))
}

/// The stamp from a `getctag` value, kept apart from last-modified stamps so that switching
/// between the two never compares one with the other.
pub fn from_ctag(ctag: Option<&str>) -> Option<CollectionState> {
    ctag.map(|c| CollectionState::new(format!("ctag {c}")))
}

/// Seconds since 1970 of an HTTP date (RFC 9110 5.6.7: IMF-fixdate, which RFC 4918 prescribes
/// for `getlastmodified`, and the two obsolete forms a recipient must still accept), or `None`
/// for anything else, including dates before 1970; a caller then simply has no stamp.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    let seconds = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_known_answers() {
        let table = [
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(784_111_777)),
            ("Tue, 29 Feb 2000 23:59:59 GMT", Some(951_868_799)),
            ("Fri, 27 Nov 2026 20:15:00 GMT", Some(1_795_810_500)),
            // Surrounding spaces are harmless; the obsolete forms name the same instant.
            ("  Sun, 06 Nov 1994 08:49:37 GMT ", Some(784_111_777)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(784_111_777)),
            ("Sun Nov  6 08:49:37 1994", Some(784_111_777)),
            // Other zones, missing parts, impossible dates, nonsense: no date.
            ("Sun, 06 Nov 1994 08:49:37 +0000", None),
            ("Sun, 06 Nov 1994 08:49:37", None),
            ("Sun, 06 Nov 1994 08:49:37 GMT x", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 31 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Wed, 31 Dec 1969 23:59:59 GMT", None),
            ("", None),
            ("1994", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_http_date(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_last_modified_is_trusted_only_well_before_the_response() {
        let date = "Fri, 27 Nov 2026 20:15:10 GMT";
        // (last-modified, Date, stamp?)
        let table = [
            (Some("Fri, 27 Nov 2026 20:15:07 GMT"), Some(date), true),
            (Some("Fri, 27 Nov 2026 19:00:00 GMT"), Some(date), true),
            // Within the same few seconds: a later change could keep the same value.
            (Some("Fri, 27 Nov 2026 20:15:08 GMT"), Some(date), false),
            (Some("Fri, 27 Nov 2026 20:15:10 GMT"), Some(date), false),
            // Newer than the server's own clock (an mtime set ahead): never trusted.
            (Some("Fri, 27 Nov 2026 21:00:00 GMT"), Some(date), false),
            // Missing or unparsable on either side.
            (None, Some(date), false),
            (Some("yesterday"), Some(date), false),
            (Some("Fri, 27 Nov 2026 19:00:00 GMT"), None, false),
            (Some("Fri, 27 Nov 2026 19:00:00 GMT"), Some("now"), false),
        ];
        for (modified, now, trusted) in table {
            assert_eq!(
                from_last_modified(modified, now).is_some(),
                trusted,
                "{modified:?} at {now:?}"
            );
        }
    }

    #[test]
    fn stamps_say_their_source_and_move_with_the_value() {
        let date = Some("Fri, 27 Nov 2026 20:15:10 GMT");
        let one = from_last_modified(Some("Fri, 27 Nov 2026 19:00:00 GMT"), date);
        let two = from_last_modified(Some("Fri, 27 Nov 2026 19:00:01 GMT"), date);
        assert_ne!(one, two);
        // The same instant spelt differently is the same stamp; a later Date does not move it.
        let later = Some("Sat, 28 Nov 2026 08:00:00 GMT");
        assert_eq!(
            one,
            from_last_modified(Some("Friday, 27-Nov-26 19:00:00 GMT"), later)
        );
        let ctag = from_ctag(Some("1795806000"));
        assert!(
            ctag.as_ref()
                .is_some_and(|c| c.as_str().starts_with("ctag "))
        );
        assert!(
            one.is_some_and(
                |s| s.as_str().starts_with("last-modified ") && Some(&s) != ctag.as_ref()
            )
        );
        assert_eq!(from_ctag(None), None);
    }
}
