//! The INI dialect of Python's `configparser`, which OfflineIMAP and vdirsyncer both read their
//! files with: `[section]` headers, `key = value` or `key: value`, keys in any case (read in
//! lower case), whole-line comments starting with `#` or `;`, and values continued on more
//! deeply indented lines. As `configparser` does by default, a section or a key given twice is
//! an error, and so is a key before the first section.

use std::path::Path;

use super::{ConfigFileError, Setting};

/// One `[section]` with its settings in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IniSection {
    /// The text between the brackets.
    pub name: String,
    /// The header's line.
    pub line: usize,
    /// The settings; a continued value holds its lines joined with `\n`.
    pub entries: Vec<Setting>,
}

/// Reads `text` (the file `path`) into its sections.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Vec<IniSection>, ConfigFileError> {
    let mut sections: Vec<IniSection> = Vec::new();
    // The indentation of the key whose value a deeper line continues.
    let mut open_key_indent: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        let indent = raw.len() - raw.trim_start().len();
        if trimmed.is_empty() {
            open_key_indent = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(key_indent) = open_key_indent
            && indent > key_indent
            && let Some(entry) = sections.last_mut().and_then(|s| s.entries.last_mut())
        {
            if !entry.value.is_empty() {
                entry.value.push('\n');
            }
            entry.value.push_str(trimmed);
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            let Some(name) = header.strip_suffix(']') else {
                return Err(ConfigFileError::new(
                    path,
                    line,
                    format!("section header without its closing ']': {trimmed}"),
                ));
            };
            if let Some(first) = sections.iter().find(|s| s.name == name) {
                return Err(ConfigFileError::new(
                    path,
                    line,
                    format!(
                        "section [{name}] given twice (first at line {})",
                        first.line
                    ),
                ));
            }
            sections.push(IniSection {
                name: name.to_owned(),
                line,
                entries: Vec::new(),
            });
            open_key_indent = None;
            continue;
        }
        let Some(at) = trimmed.find(['=', ':']) else {
            return Err(ConfigFileError::new(
                path,
                line,
                format!("expected \"key = value\" or a [section], found {trimmed:?}"),
            ));
        };
        let key = trimmed[..at].trim().to_lowercase();
        let value = trimmed[at + 1..].trim().to_owned();
        if key.is_empty() {
            return Err(ConfigFileError::new(path, line, "a value without a key"));
        }
        let Some(section) = sections.last_mut() else {
            return Err(ConfigFileError::new(
                path,
                line,
                format!("key {key:?} before the first [section]"),
            ));
        };
        if let Some(first) = section.entries.iter().find(|e| e.key == key) {
            return Err(ConfigFileError::new(
                path,
                line,
                format!(
                    "key {key:?} given twice in [{}] (first at line {})",
                    section.name, first.line
                ),
            ));
        }
        section.entries.push(Setting { key, value, line });
        open_key_indent = Some(indent);
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<IniSection>, ConfigFileError> {
        parse(Path::new("/rc"), text)
    }

    #[test]
    fn reads_sections_keys_and_continued_values() {
        let sections = read(
            "# comment\n[general]\nAccounts = a, b\n\n[Account a]\n; note\nfolderfilter: lambda f: f in [\n    'INBOX',\n    'Sent']\n",
        )
        .unwrap();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].entries[0].key, "accounts");
        assert_eq!(sections[0].entries[0].value, "a, b");
        assert_eq!(sections[1].name, "Account a");
        assert_eq!(
            sections[1].entries[0].value,
            "lambda f: f in [\n'INBOX',\n'Sent']"
        );
        assert_eq!(sections[1].entries[0].line, 7);
    }

    #[test]
    fn errors_name_the_line() {
        let error = read("[a]\nx = 1\n[b]\nnonsense\n").unwrap_err();
        assert_eq!(error.line, 4);
        assert!(error.to_string().starts_with("/rc:4: expected"), "{error}");
        assert_eq!(read("x = 1\n").unwrap_err().line, 1);
        assert_eq!(read("[a]\nx = 1\nX = 2\n").unwrap_err().line, 3);
        assert_eq!(read("[a]\n[a]\n").unwrap_err().line, 2);
        assert_eq!(read("[a\n").unwrap_err().line, 1);
    }
}
