//! The limit keys of a mail pair: `max_size`, `max_messages`, `max_age` and `near`, the side
//! they apply to (mbsync's `MaxSize`/`MaxMessages`, OfflineIMAP's `maxsize`/`maxage`).

use std::time::Duration;

use pimlink_core::policy::{Direction, Limits};
use pimlink_core::side::Side;

use super::error::ConfigError;
use super::model::StorageKind;
use super::raw::Fields;

const SIDES: &[(&str, Side)] = &[("a", Side::A), ("b", Side::B)];

/// Reads the limits of a mail pair whose sides are `kinds` and whose changes flow `direction`.
pub(crate) fn build(
    fields: &Fields<'_, '_>,
    kinds: (&StorageKind, &StorageKind),
    direction: Direction,
) -> Result<Limits, ConfigError> {
    let max_size = size(fields, "max_size")?;
    let max_messages = fields
        .integer("max_messages", 1..=i64::from(u32::MAX))?
        .map(|n| usize::try_from(n.value).unwrap_or(usize::MAX));
    let max_age = age(fields, "max_age")?;
    let any = max_size.is_some() || max_messages.is_some() || max_age.is_some();
    let near = match fields.choice("near", SIDES)? {
        Some(near) => {
            // Limits hold copies back from the near side and remove copies there: a side that
            // never receives copies has nothing they could apply to.
            if !direction.allows_from(near.value.other()) {
                return Err(fields.error(
                    near.at,
                    format!(
                        "key \"near\": side {} receives no copies in this pair (direction), so \
                         limits cannot apply to it",
                        near.value
                    ),
                ));
            }
            Some(near.value)
        }
        None if any => Some(default_near(fields, kinds, direction)?),
        None => None,
    };
    Ok(Limits {
        near,
        max_size,
        max_messages,
        max_age,
    })
}

/// The near side when `near` is not given: the receiving side of a one-way pair, else the one
/// Maildir side of an IMAP <-> Maildir pair.
fn default_near(
    fields: &Fields<'_, '_>,
    (a, b): (&StorageKind, &StorageKind),
    direction: Direction,
) -> Result<Side, ConfigError> {
    match direction {
        Direction::AToB | Direction::Mirror => return Ok(Side::B),
        Direction::BToA => return Ok(Side::A),
        Direction::Both => {}
    }
    let local = |k: &StorageKind| k.local_path().is_some();
    match (local(a), local(b)) {
        (true, false) => Ok(Side::A),
        (false, true) => Ok(Side::B),
        _ => {
            let key = ["max_size", "max_messages", "max_age"]
                .into_iter()
                .find_map(|k| fields.key_span(k))
                .unwrap_or_default();
            Err(fields.error(
                key,
                "the limits need to know which side keeps only what they allow: add near = \
                 \"a\" or near = \"b\" (the local side, mbsync's near side)",
            ))
        }
    }
}

/// `max_size`: bytes as an integer, or a string with a k, M or G suffix (binary multiples).
fn size(fields: &Fields<'_, '_>, key: &str) -> Result<Option<u64>, ConfigError> {
    let Some((_, value)) = fields.raw(key) else {
        return Ok(None);
    };
    if value.get_ref().as_integer().is_some() {
        let n = fields.integer(key, 1..=i64::MAX)?;
        return Ok(n.and_then(|n| u64::try_from(n.value).ok()));
    }
    let Some(text) = fields.string(key).ok().flatten() else {
        return Err(fields.error(
            value.span(),
            format!("key {key:?} must be a size such as \"10M\", \"500k\" or a number of bytes"),
        ));
    };
    parse_size(&text.value).map(Some).ok_or_else(|| {
        fields.error(
            text.at,
            format!(
                "key {key:?}: {:?} is not a size; write a positive number of bytes with an \
                 optional k, M or G (1024, 1024², 1024³), e.g. \"10M\"",
                text.value
            ),
        )
    })
}

/// `max_age`: days as an integer, or a string with h (hours), d (days) or w (weeks).
fn age(fields: &Fields<'_, '_>, key: &str) -> Result<Option<Duration>, ConfigError> {
    let Some((_, value)) = fields.raw(key) else {
        return Ok(None);
    };
    if value.get_ref().as_integer().is_some() {
        let days = fields.integer(key, 1..=100_000)?;
        return Ok(days.map(|d| Duration::from_secs(d.value.unsigned_abs() * 86_400)));
    }
    let Some(text) = fields.string(key).ok().flatten() else {
        return Err(fields.error(
            value.span(),
            format!("key {key:?} must be an age such as \"90d\", \"12w\" or a number of days"),
        ));
    };
    parse_age(&text.value).map(Some).ok_or_else(|| {
        fields.error(
            text.at,
            format!(
                "key {key:?}: {:?} is not an age; write a positive number with h (hours), d \
                 (days) or w (weeks), e.g. \"90d\"",
                text.value
            ),
        )
    })
}

/// `"10M"` -> 10 MiB. Case-insensitive suffixes, an optional trailing `B`.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text
        .strip_suffix(['B', 'b'])
        .filter(|t| t.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(text);
    let (digits, multiplier) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (&text[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&text[..i], 1 << 20),
        (i, 'g' | 'G') => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    let digits = digits.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()?
        .checked_mul(multiplier)
        .filter(|n| *n > 0)
}

/// `"90d"` -> 90 days.
pub(crate) fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (i, unit) = text.char_indices().last()?;
    let seconds = match unit {
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let digits = text[..i].trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    (n > 0 && n <= 1_000_000).then(|| Duration::from_secs(n * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10M"), Some(10 << 20));
        assert_eq!(parse_size("500k"), Some(500 << 10));
        assert_eq!(parse_size("500KB"), Some(500 << 10));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1234"), Some(1234));
        for bad in [
            "",
            "M",
            "0",
            "-1M",
            "1.5M",
            "10 X",
            "10MM",
            "99999999999999999999G",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("90d"), Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_age("2w"), Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_age("36h"), Some(Duration::from_secs(36 * 3_600)));
        for bad in ["", "d", "0d", "90", "90m", "-3d", "1.5d"] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
    }
}
