//! Typed, located access to the parsed TOML tree: the layer that turns "the value at byte 123"
//! into "`storage "local"`: key "port" must be an integer, at line 7".
//!
//! The file is parsed into `toml`'s spanned document tree rather than with serde derives,
//! because the messages need what serde cannot give: the table an unknown key is in, the keys
//! that are valid *for this storage's type*, and the line of any key a later check rejects.

use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, ConfigErrorKind};
use super::expand::{Env, expand_path};

/// The file being read: its name and text (for positions) and the environment (for paths).
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub env: &'a dyn Env,
}

impl Source<'_> {
    /// An "invalid configuration" error at `span`.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(
            ConfigErrorKind::Invalid,
            self.path,
            self.text,
            span,
            message,
        )
    }
}

/// A value together with where its key and the value itself are in the file.
#[derive(Clone, Debug)]
pub(crate) struct Located<T> {
    pub value: T,
    /// The key (`port` in `port = 10143`); errors about the key's presence point here.
    pub key: Range<usize>,
    /// The value; errors about what was written point here.
    pub at: Range<usize>,
}

/// The keys of one table, read with a context (`storage "local"`) that prefixes every message.
pub(crate) struct Fields<'a, 'i> {
    pub source: &'a Source<'a>,
    pub context: String,
    table: &'a DeTable<'i>,
    /// Where the table is named (its header), for errors about missing keys.
    named_at: Range<usize>,
}

impl<'a, 'i> Fields<'a, 'i> {
    /// The table `value` (named at `named_at`), or an error if `value` is not a table.
    pub fn new(
        source: &'a Source<'a>,
        context: String,
        named_at: Range<usize>,
        value: &'a Spanned<DeValue<'i>>,
    ) -> Result<Self, ConfigError> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(Self::from_table(source, context, named_at, table)),
            other => Err(source.error(
                value.span(),
                format!("{context} must be a table, found {}", other.type_str()),
            )),
        }
    }

    /// The table `table`, named at `named_at`.
    pub fn from_table(
        source: &'a Source<'a>,
        context: String,
        named_at: Range<usize>,
        table: &'a DeTable<'i>,
    ) -> Self {
        Self {
            source,
            context,
            table,
            named_at,
        }
    }

    /// An error at `span`, prefixed with this table's context.
    pub fn error(&self, span: Range<usize>, message: impl std::fmt::Display) -> ConfigError {
        self.source
            .error(span, format!("{}: {message}", self.context))
    }

    /// The error for a required key that is absent; it points at the table's header.
    pub fn missing(&self, key: &str, hint: &str) -> ConfigError {
        self.error(self.named_at.clone(), format!("missing key {key:?}{hint}"))
    }

    /// The entries of the table, in file order.
    pub fn entries(&self) -> Vec<(Located<&'a str>, &'a Spanned<DeValue<'i>>)> {
        let mut entries: Vec<_> = self
            .table
            .iter()
            .map(|(key, value)| {
                (
                    Located {
                        value: key.get_ref().as_ref(),
                        key: key.span(),
                        at: value.span(),
                    },
                    value,
                )
            })
            .collect();
        entries.sort_by_key(|(key, _)| key.key.start);
        entries
    }

    /// Refuses the first key (in file order) that is not in `allowed`. `explain` may give a
    /// better message for a key that is known elsewhere (valid for another storage type, say).
    pub fn only(
        &self,
        allowed: &[&str],
        explain: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for (key, _) in self.entries() {
            if !allowed.contains(&key.value) {
                let what =
                    explain(key.value).unwrap_or_else(|| format!("unknown key {:?}", key.value));
                return Err(self.error(
                    key.key,
                    format!("{what} (expected one of: {})", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Where `key` is, if the table has it.
    pub fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.get(key).map(|(key_span, _)| key_span)
    }

    /// The raw value of `key` with where its key is, for values of mixed shape (a string or an
    /// array) that the typed accessors cannot read.
    pub fn raw(&self, key: &str) -> Option<(Range<usize>, &'a Spanned<DeValue<'i>>)> {
        self.get(key)
    }

    fn get(&self, key: &str) -> Option<(Range<usize>, &'a Spanned<DeValue<'i>>)> {
        self.table.get_key_value(key).map(|(k, v)| (k.span(), v))
    }

    fn wrong_type(&self, key: &str, want: &str, value: &Spanned<DeValue<'_>>) -> ConfigError {
        self.error(
            value.span(),
            format!(
                "key {key:?} must be {want}, found {}",
                value.get_ref().type_str()
            ),
        )
    }

    /// A string value.
    pub fn string(&self, key: &str) -> Result<Option<Located<String>>, ConfigError> {
        let Some((key_span, value)) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref().as_str() {
            Some(s) => Ok(Some(Located {
                value: s.to_owned(),
                key: key_span,
                at: value.span(),
            })),
            None => Err(self.wrong_type(key, "a string", value)),
        }
    }

    /// A non-empty string value.
    pub fn non_empty(&self, key: &str) -> Result<Option<Located<String>>, ConfigError> {
        let value = self.string(key)?;
        if let Some(v) = &value
            && v.value.trim().is_empty()
        {
            return Err(self.error(v.at.clone(), format!("key {key:?} must not be empty")));
        }
        Ok(value)
    }

    /// A path value, expanded as the `expand` module describes. An unset variable is an
    /// environment problem, anything else a mistake in the file.
    pub fn path(&self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        let Some(raw) = self.string(key)? else {
            return Ok(None);
        };
        let source = self.source;
        let base = source.path.parent().unwrap_or(source.path);
        expand_path(&raw.value, base, source.env)
            .map(Some)
            .map_err(|why| {
                ConfigError::at(
                    why.kind,
                    source.path,
                    source.text,
                    raw.at,
                    format!("{}: key {key:?}: {}", self.context, why.message),
                )
            })
    }

    /// A boolean value.
    pub fn boolean(&self, key: &str) -> Result<Option<Located<bool>>, ConfigError> {
        let Some((key_span, value)) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(Some(Located {
                value: *b,
                key: key_span,
                at: value.span(),
            })),
            _ => Err(self.wrong_type(key, "true or false", value)),
        }
    }

    /// An integer value within `range`.
    pub fn integer(
        &self,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Result<Option<Located<i64>>, ConfigError> {
        let Some((key_span, value)) = self.get(key) else {
            return Ok(None);
        };
        let Some(int) = value.get_ref().as_integer() else {
            return Err(self.wrong_type(key, "an integer", value));
        };
        match i64::from_str_radix(int.as_str(), int.radix()) {
            Ok(n) if range.contains(&n) => Ok(Some(Located {
                value: n,
                key: key_span,
                at: value.span(),
            })),
            _ => Err(self.error(
                value.span(),
                format!(
                    "key {key:?} must be between {} and {}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// A string value that must be one of `choices` (written form, meaning).
    pub fn choice<T: Copy>(
        &self,
        key: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<Located<T>>, ConfigError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        self.pick(key, &s, choices).map(Some)
    }

    /// Looks `s` up in `choices`, or explains what would have been accepted.
    pub fn pick<T: Copy>(
        &self,
        key: &str,
        s: &Located<String>,
        choices: &[(&str, T)],
    ) -> Result<Located<T>, ConfigError> {
        match choices.iter().find(|(name, _)| *name == s.value) {
            Some((_, value)) => Ok(Located {
                value: *value,
                key: s.key.clone(),
                at: s.at.clone(),
            }),
            None => Err(self.error(
                s.at.clone(),
                format!(
                    "key {key:?}: unknown value {:?} (expected one of: {})",
                    s.value,
                    names(choices)
                ),
            )),
        }
    }

    /// An array of strings; each element keeps its own position.
    pub fn strings(&self, key: &str) -> Result<Option<Located<Vec<Located<String>>>>, ConfigError> {
        let Some((key_span, value)) = self.get(key) else {
            return Ok(None);
        };
        let Some(array) = value.get_ref().as_array() else {
            return Err(self.wrong_type(key, "an array of strings", value));
        };
        let mut items = Vec::new();
        for item in array.iter() {
            match item.get_ref().as_str() {
                Some(s) => items.push(Located {
                    value: s.to_owned(),
                    key: key_span.clone(),
                    at: item.span(),
                }),
                None => return Err(self.wrong_type(key, "an array of strings", item)),
            }
        }
        Ok(Some(Located {
            value: items,
            key: key_span,
            at: value.span(),
        }))
    }
}

/// `a, b, c` from the written forms of `choices`.
pub(crate) fn names<T>(choices: &[(&str, T)]) -> String {
    choices
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}
