//! Collection change stamps read with the home-set listing, so that the engine can leave a
//! collection unchanged since its last clean sync alone (the `skip_unchanged` key): which
//! property to ask for, and when its value may be trusted.
//!
//! Two sources, because a server must keep a promise the protocol does not make:
//! - `CS:getctag` must change whenever any member does. Servers that store it answer at no
//!   cost; Radicale 3 computes it from every item, as costly as the REPORTs it saves.
//! - `DAV:getlastmodified` of the collection must move whenever a member is added, changed or
//!   removed. RFC 4918 does not say so for collections, and many servers do not (a collection's
//!   own mtime, or nothing). Radicale 3 does: it answers the newest mtime of the collection's
//!   directory, its properties file and every item file, from `stat` alone.
//!
//! By default ([`ChangeStamp::Auto`]) the last-modified stamp is asked for (it costs Radicale a
//! `stat` per item, and other servers nothing worth measuring), and trusted only for a
//! collection whose last sync token came from Radicale's own storage
//! ([`moves_last_modified`]): the one server known to keep that promise. Every other server is
//! asked for its changes with the token (RFC 6578), which is what the standard promises.
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
    /// `DAV:getlastmodified`, trusted only for collections whose sync token shows Radicale's
    /// storage ([`moves_last_modified`]).
    Auto,
}

impl ChangeStamp {
    /// Whether a stamp read with this setting may be trusted for a collection whose last sync
    /// token (the one the last clean run recorded, or the one this run is about to record) is
    /// `token`.
    pub fn trusted(self, token: Option<&str>) -> bool {
        match self {
            Self::Auto => token.is_some_and(moves_last_modified),
            Self::Off | Self::Ctag | Self::LastModified => true,
        }
    }
}

/// The prefix of every sync token of Radicale's file-system storage (Radicale 2 and 3,
/// `multifilesystem`): a URI in Radicale's own namespace followed by a hash. The same storage
/// answers a collection's `getlastmodified` with the newest mtime of the collection directory,
/// its properties file and every item file, so that value moves with every change.
const RADICALE_TOKEN: &str = "http://radicale.org/ns/sync/";

/// True if a collection whose sync token is `token` is kept by Radicale's file-system storage,
/// whose last-modified moves with every member change (see [`RADICALE_TOKEN`]). A server that
/// merely copied the prefix would have to copy the behaviour too; any other token says no.
pub fn moves_last_modified(token: &str) -> bool {
    token
        .strip_prefix(RADICALE_TOKEN)
        .is_some_and(|hash| !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit()))
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

    #[test]
    fn auto_trusts_a_stamp_only_with_a_token_of_radicales_storage() {
        let radicale = format!("http://radicale.org/ns/sync/{}", "0a1b".repeat(16));
        // (token, trusted by Auto?)
        let table = [
            (Some(radicale.as_str()), true),
            // Xandikos, other servers, something merely starting like Radicale's, none.
            (Some("http://xandikos.org/ns/sync/0a1b"), false),
            (Some("1795806000"), false),
            (Some("http://radicale.org/ns/sync/"), false),
            (Some("http://radicale.org/ns/sync/abc/../x"), false),
            (Some("https://radicale.org/ns/sync/0a1b"), false),
            (None, false),
        ];
        for (token, want) in table {
            assert_eq!(ChangeStamp::Auto.trusted(token), want, "{token:?}");
            // The explicit settings are the user's promise, whatever the server.
            for stamp in [
                ChangeStamp::Off,
                ChangeStamp::Ctag,
                ChangeStamp::LastModified,
            ] {
                assert!(stamp.trusted(token), "{stamp:?} {token:?}");
            }
        }
    }
}
