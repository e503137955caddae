//! Durations in the file: a positive whole number and a unit, `"500ms"`, `"30s"`, `"5m"`,
//! `"1h"`, `"1d"`. One parser for every key that takes one (the daemon's intervals, the
//! watchers' keepalive, the hooks' timeout).

use std::time::Duration;

use super::error::ConfigError;
use super::raw::{Fields, Located};

/// The units, longest suffix first so that `ms` is not read as `m`.
const UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// `"5m"` -> five minutes; `None` if it is not a positive number with a unit (at most a year,
/// so that adding it to a time cannot overflow).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, millis) = UNITS
        .iter()
        .find_map(|(unit, millis)| Some((text.strip_suffix(unit)?, *millis)))?;
    let digits = digits.trim_end();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let total = n.checked_mul(millis)?;
    (n > 0 && total <= 366 * 86_400_000).then(|| Duration::from_millis(total))
}

/// The duration at `key`, if set.
pub(crate) fn duration(
    fields: &Fields<'_, '_>,
    key: &str,
) -> Result<Option<Located<Duration>>, ConfigError> {
    let bad = |at| {
        fields.error(
            at,
            format!(
                "key {key:?} must be a duration: a positive whole number with ms, s, m, h or \
                 d, e.g. \"30s\" or \"5m\""
            ),
        )
    };
    let Some((_, value)) = fields.raw(key) else {
        return Ok(None);
    };
    let Ok(Some(text)) = fields.string(key) else {
        return Err(bad(value.span()));
    };
    match parse_duration(&text.value) {
        Some(value) => Ok(Some(Located {
            value,
            key: text.key,
            at: text.at,
        })),
        None => Err(bad(text.at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Some(ms(500)));
        assert_eq!(parse_duration("30s"), Some(ms(30_000)));
        assert_eq!(parse_duration("5m"), Some(ms(300_000)));
        assert_eq!(parse_duration("1h"), Some(ms(3_600_000)));
        assert_eq!(parse_duration("1d"), Some(ms(86_400_000)));
        assert_eq!(parse_duration(" 2 h "), Some(ms(7_200_000)));
        for bad in [
            "",
            "m",
            "0s",
            "5",
            "-5m",
            "1.5h",
            "5 minutes",
            "5M",
            "400d",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
