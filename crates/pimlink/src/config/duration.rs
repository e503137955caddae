//! Durations written as text in the configuration: a whole number followed by a unit, `ms`,
//! `s`, `m`, `h` or `d` ("500ms", "30s", "5m", "1h", "1d"). One parser for every duration key
//! (`hook_timeout` and the daemon's intervals), so that they all read alike.

use std::time::Duration;

use super::error::ConfigError;
use super::raw::Fields;

/// The units, longest suffix first so that "ms" is not read as "m".
const UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// `text` as a duration, or why it is not one.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let factor = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, factor)| *factor);
    match (number.parse::<u64>(), factor) {
        (Ok(n), Some(factor)) => n
            .checked_mul(factor)
            .map(Duration::from_millis)
            .ok_or_else(|| format!("{text:?} is too long")),
        _ => Err(format!(
            "{text:?} is not a duration; write a whole number and a unit: \"500ms\", \"30s\", \
             \"5m\", \"1h\", \"1d\""
        )),
    }
}

/// The duration at `key`, if the table has it; it must lie within `range` (`range.1` names
/// the bounds in the message).
pub(crate) fn read(
    fields: &Fields<'_, '_>,
    key: &str,
    range: (std::ops::RangeInclusive<Duration>, &str),
) -> Result<Option<Duration>, ConfigError> {
    let Some(text) = fields.string(key)? else {
        return Ok(None);
    };
    let value = parse(&text.value)
        .map_err(|why| fields.error(text.at.clone(), format!("key {key:?}: {why}")))?;
    if !range.0.contains(&value) {
        return Err(fields.error(text.at, format!("key {key:?} must be {}", range.1)));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_reads() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse(" 0s "), Ok(Duration::ZERO));
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "",
            "5",
            "s",
            "1.5s",
            "-1s",
            "5 m",
            "5min",
            "1w",
            "1S",
            "99999999999999999d",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }
}
