//! The one error type of the configuration module, with the file and position it refers to.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What kind of configuration problem an error is, so the caller can pick an exit status or a
/// hint without parsing the message.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file could not be read (missing, unreadable, not UTF-8).
    Io,
    /// The file is not valid TOML.
    Syntax,
    /// The file is valid TOML but asks for something pimlink does not understand or cannot do:
    /// an unknown key, a wrong value, a missing storage.
    Invalid,
    /// The environment lacks something the configuration needs (`HOME`, a `$VAR` in a path).
    Environment,
    /// A `password_cmd` failed or printed nothing.
    PasswordCommand,
    /// No OAuth2 access token could be had (issue 18): none stored yet, the refresh token was
    /// refused, the token endpoint could not be reached. Not a mistake in the file: exit 3.
    OAuth2,
}

/// A line and column in the configuration file, both counted from 1; the column counts
/// characters, not bytes, so it matches what an editor shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the end of the text and moved back
    /// to a character boundary, so any offset gives an answer).
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// A configuration problem, rendered as `FILE:LINE:COLUMN: MESSAGE` (or `FILE: MESSAGE` when no
/// position applies) so that editors and humans can jump to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    file: Option<PathBuf>,
    position: Option<Position>,
    message: String,
}

impl ConfigError {
    /// An error that belongs to no particular file (the environment, a password command).
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            file: None,
            position: None,
            message: message.into(),
        }
    }

    /// An error about the whole of `file`.
    pub(crate) fn in_file(kind: ConfigErrorKind, file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: Some(file.to_owned()),
            ..Self::new(kind, message)
        }
    }

    /// An error about the bytes `span` of `text`, the contents of `file`.
    pub(crate) fn at(
        kind: ConfigErrorKind,
        file: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            position: Some(Position::of_offset(text, span.start)),
            ..Self::in_file(kind, file, message)
        }
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The configuration file the error is about, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Where in the file, if the error is about one place.
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// The message without the file and position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:", file.display())?;
            if let Some(Position { line, column }) = self.position {
                write!(f, "{line}:{column}:")?;
            }
            f.write_str(" ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 6),
            Position { line: 2, column: 1 }
        );
        // "é" is two bytes: the '=' after "bé " is the fourth character, not the fifth.
        let eq = text.rfind('=').unwrap();
        assert_eq!(
            Position::of_offset(text, eq),
            Position { line: 2, column: 4 }
        );
        // Past the end and inside a character both still give an answer.
        assert_eq!(Position::of_offset(text, 999).line, 3);
        assert_eq!(
            Position::of_offset(text, 8),
            Position { line: 2, column: 2 }
        );
    }

    #[test]
    fn display_names_file_line_and_column() {
        let err = ConfigError::at(
            ConfigErrorKind::Invalid,
            Path::new("/c.toml"),
            "x\ny = 1",
            2..3,
            "bad",
        );
        assert_eq!(err.to_string(), "/c.toml:2:1: bad");
        let err = ConfigError::in_file(ConfigErrorKind::Io, Path::new("/c.toml"), "gone");
        assert_eq!(err.to_string(), "/c.toml: gone");
        assert_eq!(
            ConfigError::new(ConfigErrorKind::Environment, "no HOME").to_string(),
            "no HOME"
        );
    }
}
