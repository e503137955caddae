//! The imported configuration as it is printed: tables of keys, each key or table possibly
//! preceded by comment lines, and notes (comments) saying what was not translated and why.
//! Values are quoted by the `toml` crate, so any name or command comes out as valid TOML.

use std::fmt::Write as _;

/// A value of a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An array of strings.
    Strs(Vec<String>),
    /// An array of string arrays (`folder_map`, mapped collections).
    Lists(Vec<Vec<String>>),
    /// An array mixing strings and string arrays (a calendar pair's `collections`).
    Mixed(Vec<Value>),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }

    fn render(&self) -> String {
        match self {
            Value::Str(s) => toml::Value::String(s.clone()).to_string(),
            Value::Int(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Strs(items) => list(items.iter().map(|s| Value::Str(s.clone()).render())),
            Value::Lists(items) => list(items.iter().map(|l| Value::Strs(l.clone()).render())),
            Value::Mixed(items) => list(items.iter().map(Value::render)),
        }
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

/// One line of a table: a key with its value, or a comment.
#[derive(Clone, Debug, PartialEq)]
enum Line {
    Key(String, Value),
    Note(String),
}

/// A `[storage.NAME]` or `[pair.NAME]` table, or `[general]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// The header without brackets (`storage.work`).
    pub header: String,
    /// Comment lines printed above the header.
    pub intro: Vec<String>,
    lines: Vec<Line>,
}

impl Table {
    /// An empty table `[header]`.
    pub fn new(header: impl Into<String>) -> Self {
        Self {
            header: header.into(),
            ..Self::default()
        }
    }

    /// Adds `key = value`.
    pub fn set(&mut self, key: &str, value: Value) {
        self.lines.push(Line::Key(key.to_owned(), value));
    }

    /// Adds a comment line.
    pub fn note(&mut self, text: impl Into<String>) {
        self.lines.push(Line::Note(text.into()));
    }
}

/// The whole output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// Comment lines at the top.
    pub header: Vec<String>,
    /// The tables in order.
    pub tables: Vec<Table>,
    /// Comment lines at the end (options of the whole file that were not translated).
    pub footer: Vec<String>,
}

impl Document {
    /// The TOML text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        comments(&mut out, &self.header);
        for table in &self.tables {
            out.push('\n');
            comments(&mut out, &table.intro);
            let _ = writeln!(out, "[{}]", table.header);
            for line in &table.lines {
                match line {
                    Line::Key(key, value) => {
                        let _ = writeln!(out, "{key} = {}", value.render());
                    }
                    Line::Note(text) => comments(&mut out, std::slice::from_ref(text)),
                }
            }
        }
        if !self.footer.is_empty() {
            out.push('\n');
            comments(&mut out, &self.footer);
        }
        out
    }
}

fn comments(out: &mut String, lines: &[String]) {
    for line in lines {
        for part in line.lines() {
            if part.is_empty() {
                out.push_str("#\n");
            } else {
                let _ = writeln!(out, "# {part}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_toml_whatever_the_strings_hold() {
        let mut table = Table::new("storage.x");
        table.intro.push("from line 3\nsecond line".into());
        table.set("path", Value::str("~/Mail/\"odd\" \\ name"));
        table.note("not imported: X");
        table.set("n", Value::Int(5));
        table.set("list", Value::Strs(vec!["a".into(), "b\n".into()]));
        table.set(
            "collections",
            Value::Mixed(vec![
                Value::str("from a"),
                Value::Strs(vec!["n".into(), "a".into(), "b".into()]),
            ]),
        );
        let doc = Document {
            header: vec!["imported".into()],
            tables: vec![table],
            footer: vec!["end".into()],
        };
        let text = doc.render();
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(
            parsed["storage"]["x"]["path"].as_str(),
            Some("~/Mail/\"odd\" \\ name")
        );
        assert!(
            text.contains("# from line 3\n# second line\n[storage.x]"),
            "{text}"
        );
    }
}
