//! `[mbnames] peritem`: the line written for each folder, with placeholders.
//!
//! Syntax: `{NAME}` is replaced by a value, quoted for a double-quoted muttrc string (`\`, `"`,
//! `` ` `` and `$` get a backslash, so that mutt neither ends the string nor expands
//! anything); `{NAME:raw}` inserts the value as it is; `{{` and `}}` are literal braces. The
//! names are [`Placeholder`]s. An unknown name or a lone brace is an error when the
//! configuration is read, not a surprise in the file.

use std::fmt;

/// What a placeholder stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    /// `{folder}`: the folder's name on the local side (`INBOX`, `Lists/rust`).
    Folder,
    /// `{dir}`: its directory relative to the Maildir root (`.Lists.rust` in Maildir++; empty
    /// for the Maildir++ inbox, which is the root).
    Dir,
    /// `{path}`: its directory, absolute.
    Path,
    /// `{pair}`: the pair's name.
    Pair,
    /// `{storage}`: the local storage's name.
    Storage,
}

const NAMES: &[(&str, Placeholder)] = &[
    ("folder", Placeholder::Folder),
    ("dir", Placeholder::Dir),
    ("path", Placeholder::Path),
    ("pair", Placeholder::Pair),
    ("storage", Placeholder::Storage),
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Value { of: Placeholder, quoted: bool },
}

/// A parsed `peritem`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Default for Template {
    /// `"+{folder}"`: mutt's `mailboxes "+INBOX"`, relative to its `folder` (the Maildir root).
    fn default() -> Self {
        Self {
            parts: vec![
                Part::Text("\"+".to_owned()),
                Part::Value {
                    of: Placeholder::Folder,
                    quoted: true,
                },
                Part::Text("\"".to_owned()),
            ],
        }
    }
}

impl Template {
    /// Parses `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            literal.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
                literal.push_str(&tail[..1]);
                rest = after;
                continue;
            }
            if tail.starts_with('}') {
                return Err("a lone \"}\"; write \"}}\" for a brace".to_owned());
            }
            let end = tail
                .find('}')
                .ok_or("a \"{\" without its \"}\"; write \"{{\" for a brace")?;
            let inner = &tail[1..end];
            let (name, quoted) = match inner.strip_suffix(":raw") {
                Some(name) => (name, false),
                None => (inner, true),
            };
            let of = NAMES
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, of)| *of)
                .ok_or_else(|| {
                    let known: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                    format!(
                        "unknown placeholder {{{inner}}} (known: {}, each also as {{NAME:raw}})",
                        known.join(", ")
                    )
                })?;
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Value { of, quoted });
            rest = &tail[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The template with each placeholder replaced by `value(placeholder)`.
    pub fn render<V: fmt::Display>(&self, value: impl Fn(Placeholder) -> V) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value { of, quoted: false } => out.push_str(&value(*of).to_string()),
                Part::Value { of, quoted: true } => {
                    for c in value(*of).to_string().chars() {
                        if matches!(c, '\\' | '"' | '`' | '$') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(of: Placeholder) -> &'static str {
        match of {
            Placeholder::Folder => "Say \"hi\" $HOME `x` \\ now",
            Placeholder::Dir => ".a.b",
            Placeholder::Path => "/m/.a.b",
            Placeholder::Pair => "work",
            Placeholder::Storage => "local",
        }
    }

    #[test]
    fn the_default_quotes_for_mutt() {
        assert_eq!(
            Template::default().render(sample),
            r#""+Say \"hi\" \$HOME \`x\` \\ now""#
        );
        assert_eq!(Template::parse("\"+{folder}\""), Ok(Template::default()));
    }

    #[test]
    fn raw_values_braces_and_every_name() {
        let t = Template::parse("{{{pair}}} {storage}:{dir} {path:raw} {folder:raw}").unwrap();
        assert_eq!(
            t.render(sample),
            "{work} local:.a.b /m/.a.b Say \"hi\" $HOME `x` \\ now"
        );
    }

    #[test]
    fn mistakes_are_refused() {
        for text in [
            "{",
            "}",
            "{nope}",
            "{folder",
            "a}b",
            "{folder:quoted}",
            "{}",
        ] {
            assert!(Template::parse(text).is_err(), "{text:?}");
        }
    }
}
