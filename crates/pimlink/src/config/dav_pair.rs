//! The keys only calendar/contact pairs take: `collections` in its DAV form (`"from a"`,
//! `"from b"`, patterns and `[name, id on a, id on b]` aliases), `conflict_resolution`,
//! `on_delete` and `metadata`.

use pimlink_core::dav::store::MetaProperty;
use pimlink_core::dav::{ConflictPolicy, OnDelete};
use toml::Spanned;
use toml::de::DeValue;

use super::error::ConfigError;
use super::filter::CollectionFilter;
use super::raw::{Fields, names};

/// Which collections a calendar/contact pair syncs.
#[derive(Clone, Debug)]
pub struct DavCollections {
    /// `"from a"`: every collection of side a.
    pub from_a: bool,
    /// `"from b"`: every collection of side b.
    pub from_b: bool,
    /// Patterns on collection ids (same syntax as for mail folders), if any were given.
    pub patterns: Option<CollectionFilter>,
    /// `[name, id on a, id on b]`: explicit pairings, possibly of differently named
    /// collections. These are the only collections created on both sides when neither has
    /// them: a pattern, even one without wildcards, only selects collections that exist, so
    /// that a mistaken pattern (`"froma"`, `"all"`) never makes up calendars.
    pub explicit: Vec<(String, String, String)>,
}

impl Default for DavCollections {
    /// Every collection of both sides.
    fn default() -> Self {
        Self {
            from_a: true,
            from_b: true,
            patterns: None,
            explicit: Vec::new(),
        }
    }
}

/// The calendar/contact part of a pair's settings.
#[derive(Clone, Debug, Default)]
pub struct DavPairConfig {
    /// `collections`.
    pub collections: DavCollections,
    /// `conflict_resolution`: `"keep a"`, `"keep b"` or a command as an array; default: report.
    pub conflict: ConflictPolicy,
    /// `on_delete`: `"skip"` (default) or `"delete"`.
    pub on_delete: OnDelete,
    /// `metadata`: which collection properties are synced (default none).
    pub metadata: Vec<MetaProperty>,
}

impl PartialEq for DavPairConfig {
    fn eq(&self, other: &Self) -> bool {
        let c = |d: &DavCollections| {
            (
                d.from_a,
                d.from_b,
                d.patterns.as_ref().map(|p| p.patterns().to_vec()),
                d.explicit.clone(),
            )
        };
        c(&self.collections) == c(&other.collections)
            && self.conflict == other.conflict
            && self.on_delete == other.on_delete
            && self.metadata == other.metadata
    }
}

/// Reads the calendar/contact keys of a pair.
pub(crate) fn build(fields: &Fields<'_, '_>) -> Result<DavPairConfig, ConfigError> {
    Ok(DavPairConfig {
        collections: collections(fields)?,
        conflict: conflict(fields)?,
        on_delete: fields
            .choice(
                "on_delete",
                &[("skip", OnDelete::Skip), ("delete", OnDelete::Delete)],
            )?
            .map_or(OnDelete::Skip, |o| o.value),
        metadata: metadata(fields)?,
    })
}

fn conflict(fields: &Fields<'_, '_>) -> Result<ConflictPolicy, ConfigError> {
    let Some((_, value)) = fields.raw("conflict_resolution") else {
        return Ok(ConflictPolicy::Report);
    };
    const CHOICES: &[(&str, bool)] = &[("keep a", true), ("keep b", false)];
    if let Some(text) = value.get_ref().as_str() {
        return match CHOICES.iter().find(|(name, _)| *name == text) {
            Some((_, true)) => Ok(ConflictPolicy::KeepA),
            Some((_, false)) => Ok(ConflictPolicy::KeepB),
            None => Err(fields.error(
                value.span(),
                format!(
                    "key \"conflict_resolution\": unknown value {text:?} (expected one of: {}, \
                     or a command as an array such as [\"vimdiff\"])",
                    names(CHOICES)
                ),
            )),
        };
    }
    let command = string_array(fields, "conflict_resolution", value)?;
    if command.first().is_none_or(|c| c.trim().is_empty()) {
        return Err(fields.error(
            value.span(),
            "key \"conflict_resolution\": the command is empty; give the program and its \
             arguments, such as [\"vimdiff\"]",
        ));
    }
    Ok(ConflictPolicy::Command(command))
}

fn metadata(fields: &Fields<'_, '_>) -> Result<Vec<MetaProperty>, ConfigError> {
    let Some(list) = fields.strings("metadata")? else {
        return Ok(Vec::new());
    };
    let choices: Vec<(&str, MetaProperty)> =
        MetaProperty::ALL.iter().map(|p| (p.name(), *p)).collect();
    let mut out = Vec::new();
    for item in &list.value {
        let property = fields.pick("metadata", item, &choices)?.value;
        if !out.contains(&property) {
            out.push(property);
        }
    }
    Ok(out)
}

fn collections(fields: &Fields<'_, '_>) -> Result<DavCollections, ConfigError> {
    let Some((_, value)) = fields.raw("collections") else {
        return Ok(DavCollections::default());
    };
    let Some(array) = value.get_ref().as_array() else {
        return Err(fields.error(
            value.span(),
            format!(
                "key \"collections\" must be an array, found {}",
                value.get_ref().type_str()
            ),
        ));
    };
    if array.is_empty() {
        return Err(fields.error(
            value.span(),
            "key \"collections\" is empty, so no collection would be synced; use [\"from a\", \
             \"from b\"] for all",
        ));
    }
    let mut out = DavCollections {
        from_a: false,
        from_b: false,
        patterns: None,
        explicit: Vec::new(),
    };
    let mut patterns: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for item in array.iter() {
        match item.get_ref() {
            DeValue::String(text) => match text.as_ref() {
                "from a" => out.from_a = true,
                "from b" => out.from_b = true,
                pattern => patterns.push((pattern.to_owned(), item.span())),
            },
            DeValue::Array(_) => {
                let parts = string_array(fields, "collections", item)?;
                let [name, a, b] = parts.as_slice() else {
                    return Err(fields.error(
                        item.span(),
                        "key \"collections\": an alias is [\"name\", \"id on a\", \"id on b\"]",
                    ));
                };
                for id in [name, a, b] {
                    pimlink_core::dav::store::CollectionId::new(id.as_str()).map_err(|e| {
                        fields.error(item.span(), format!("key \"collections\": {e}"))
                    })?;
                }
                out.explicit.push((name.clone(), a.clone(), b.clone()));
            }
            other => {
                return Err(fields.error(
                    item.span(),
                    format!(
                        "key \"collections\": each entry must be \"from a\", \"from b\", a \
                         pattern or [\"name\", \"id on a\", \"id on b\"], found {}",
                        other.type_str()
                    ),
                ));
            }
        }
    }
    if !patterns.is_empty() {
        let texts: Vec<&str> = patterns.iter().map(|(p, _)| p.as_str()).collect();
        out.patterns = Some(CollectionFilter::new(&texts).map_err(|err| {
            let at = patterns
                .get(err.index)
                .map_or(value.span(), |(_, span)| span.clone());
            fields.error(at, format!("key \"collections\": {}", err.message))
        })?);
    }
    Ok(out)
}

/// An array whose elements must all be strings.
fn string_array(
    fields: &Fields<'_, '_>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
) -> Result<Vec<String>, ConfigError> {
    let Some(array) = value.get_ref().as_array() else {
        return Err(fields.error(
            value.span(),
            format!("key {key:?} must be an array of strings"),
        ));
    };
    array
        .iter()
        .map(|item| {
            item.get_ref().as_str().map(str::to_owned).ok_or_else(|| {
                fields.error(
                    item.span(),
                    format!(
                        "key {key:?}: expected a string, found {}",
                        item.get_ref().type_str()
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::expand::tests::MapEnv;
    use super::super::{Config, ConfigError, parse_in};
    use super::*;

    const FILE: &str = "/home/u/.config/pimlink/config.toml";

    fn parse(pair: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[storage.cal]\ntype = \"caldav\"\nurl = \"http://127.0.0.1:1/\"\n\n\
             [storage.local]\ntype = \"vdir\"\npath = \"/v\"\nfileext = \".ics\"\n\n\
             [storage.m1]\ntype = \"maildir\"\npath = \"/m1\"\n\n\
             [storage.m2]\ntype = \"maildir\"\npath = \"/m2\"\n\n\
             [pair.p]\n{pair}\n"
        );
        let env = MapEnv::new(&[("HOME", "/home/u")]);
        parse_in(&text, Path::new(FILE), &env)
    }

    fn dav(pair: &str) -> DavPairConfig {
        match parse(&format!("a = \"cal\"\nb = \"local\"\n{pair}")) {
            Ok(config) => config.pairs["p"].dav.clone().expect("a DAV pair"),
            Err(err) => panic!("unexpected error: {err}"),
        }
    }

    fn error(pair: &str) -> String {
        match parse(pair) {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn defaults_sync_everything_and_report_conflicts() {
        let d = dav("");
        assert!(d.collections.from_a && d.collections.from_b);
        assert!(d.collections.patterns.is_none() && d.collections.explicit.is_empty());
        assert_eq!(d.conflict, ConflictPolicy::Report);
        assert_eq!(d.on_delete, OnDelete::Skip);
        assert!(d.metadata.is_empty());
    }

    #[test]
    fn every_key_converts() {
        let d = dav(
            "collections = [\"from b\", \"work*\", [\"home\", \"personal\", \"privat\"]]\n\
             conflict_resolution = \"keep b\"\non_delete = \"delete\"\n\
             metadata = [\"color\", \"displayname\", \"color\"]\n",
        );
        assert!(!d.collections.from_a && d.collections.from_b);
        let patterns = d.collections.patterns.expect("patterns");
        assert!(patterns.matches("work-2") && !patterns.matches("home"));
        assert_eq!(
            d.collections.explicit,
            [("home".into(), "personal".into(), "privat".into())]
        );
        assert_eq!(d.conflict, ConflictPolicy::KeepB);
        assert_eq!(d.on_delete, OnDelete::Delete);
        assert_eq!(d.metadata, [MetaProperty::Color, MetaProperty::DisplayName]);
        let d = dav("conflict_resolution = [\"vimdiff\", \"-d\"]\n");
        assert_eq!(
            d.conflict,
            ConflictPolicy::Command(vec!["vimdiff".into(), "-d".into()])
        );
    }

    #[test]
    fn mistakes_name_the_line_and_key() {
        for (pair, line, parts) in [
            (
                "a = \"cal\"\nb = \"local\"\nconflict_resolution = \"keep c\"\n",
                21,
                &["conflict_resolution", "keep c", "keep a, keep b"][..],
            ),
            (
                "a = \"cal\"\nb = \"local\"\nconflict_resolution = []\n",
                21,
                &["command is empty"][..],
            ),
            (
                "a = \"cal\"\nb = \"local\"\nmetadata = [\"colour\"]\n",
                21,
                &["metadata", "colour", "displayname, color, description"][..],
            ),
            (
                "a = \"cal\"\nb = \"local\"\ncollections = [[\"x\", \"y\"]]\n",
                21,
                &["alias is [\"name\", \"id on a\", \"id on b\"]"][..],
            ),
            (
                "a = \"cal\"\nb = \"local\"\ncollections = [[\"x\", \"a/b\", \"c\"]]\n",
                21,
                &["invalid collection id"][..],
            ),
            (
                "a = \"cal\"\nb = \"local\"\ncollections = []\n",
                21,
                &["empty"][..],
            ),
            (
                "a = \"cal\"\nb = \"local\"\non_delete = \"always\"\n",
                21,
                &["on_delete", "skip, delete"][..],
            ),
            (
                "a = \"m1\"\nb = \"m2\"\non_delete = \"delete\"\n",
                21,
                &["on_delete", "only to calendar/contact pairs"][..],
            ),
        ] {
            let msg = error(pair);
            assert!(
                msg.starts_with(&format!("{FILE}:{line}:")),
                "line {line}: {msg}"
            );
            for part in parts {
                assert!(msg.contains(part), "{part:?} missing from: {msg}");
            }
        }
    }
}
