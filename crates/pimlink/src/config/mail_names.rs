//! The mail pair keys that shape folder names and keywords: `prefix_a`, `prefix_b`,
//! `folder_map` (name translation, see `pimlink_core::mail::nametrans`) and `keywords`.

use pimlink_core::PerSide;
use pimlink_core::mail::nametrans::NameTranslation;
use toml::de::DeValue;

use super::error::ConfigError;
use super::raw::Fields;

/// What the keys say.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MailNames {
    /// The translation between each side's folder names and the pair's names.
    pub translation: NameTranslation,
    /// `keywords` (default true): false leaves keywords alone on both sides, as mbsync does.
    pub keywords: bool,
}

/// Reads the keys of a mail pair.
pub(crate) fn build(fields: &Fields<'_, '_>) -> Result<MailNames, ConfigError> {
    let prefix_a = fields.string("prefix_a")?;
    let prefix_b = fields.string("prefix_b")?;
    let (entries, spans) = folder_map(fields)?;
    for (key, prefix) in [("prefix_a", &prefix_a), ("prefix_b", &prefix_b)] {
        if let Some(prefix) = prefix {
            let alone = PerSide {
                a: Some(prefix.value.as_str()),
                b: None,
            };
            NameTranslation::new(alone, &[]).map_err(|err| {
                fields.error(prefix.at.clone(), format!("key {key:?}: {}", err.message))
            })?;
        }
    }
    let translation = NameTranslation::new(
        PerSide {
            a: prefix_a.as_ref().map(|p| p.value.as_str()),
            b: prefix_b.as_ref().map(|p| p.value.as_str()),
        },
        &entries,
    )
    .map_err(|err| {
        let at = err
            .entry
            .and_then(|index| spans.get(index).cloned())
            .or_else(|| fields.key_span("folder_map"))
            .unwrap_or_default();
        fields.error(at, format!("key \"folder_map\": {}", err.message))
    })?;
    Ok(MailNames {
        translation,
        keywords: fields.boolean("keywords")?.is_none_or(|k| k.value),
    })
}

/// `folder_map = [["on a", "on b"], ...]`, with each entry's position.
type Entries = (Vec<(String, String)>, Vec<std::ops::Range<usize>>);

fn folder_map(fields: &Fields<'_, '_>) -> Result<Entries, ConfigError> {
    let Some((_, value)) = fields.raw("folder_map") else {
        return Ok((Vec::new(), Vec::new()));
    };
    let shape = |at| {
        fields.error(
            at,
            "key \"folder_map\" must be an array of [\"name on a\", \"name on b\"] pairs, e.g. \
             [[\"[Gmail]/Sent Mail\", \"Sent\"]]",
        )
    };
    let Some(array) = value.get_ref().as_array() else {
        return Err(shape(value.span()));
    };
    let mut entries = Vec::new();
    let mut spans = Vec::new();
    for item in array.iter() {
        let DeValue::Array(pair) = item.get_ref() else {
            return Err(shape(item.span()));
        };
        let texts: Vec<&str> = pair.iter().filter_map(|v| v.get_ref().as_str()).collect();
        let [a, b] = texts.as_slice() else {
            return Err(shape(item.span()));
        };
        if pair.len() != 2 {
            return Err(shape(item.span()));
        }
        entries.push(((*a).to_owned(), (*b).to_owned()));
        spans.push(item.span());
    }
    Ok((entries, spans))
}
