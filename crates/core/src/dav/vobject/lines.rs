//! The content-line layer every other part of `vobject` reads through: unfolding a text into
//! lines (any line end; a leading space or tab continues the line before) and cutting each into
//! name, parameters and value, with `:` and `;` inside double quotes left alone.
//!
//! Key types: [`ContentLine`]. Not here: what any property means (`item.rs`), components and
//! feeds (`feed.rs`).

/// One unfolded content line: `NAME;PARAMS:VALUE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentLine {
    /// The whole line, unfolded, without its line break.
    pub line: String,
    /// Where the name ends (at the first `;` or `:` outside quotes, or the line's end).
    pub(super) name_end: usize,
    /// Where the value starts (after the first `:` outside quotes), if there is one.
    value_start: Option<usize>,
}

impl ContentLine {
    pub(super) fn parse(line: String) -> Self {
        let bytes = line.as_bytes();
        let name_end = bytes
            .iter()
            .position(|&b| b == b';' || b == b':')
            .unwrap_or(bytes.len());
        let mut in_quotes = false;
        let mut value_start = None;
        for (i, &b) in bytes.iter().enumerate().skip(name_end) {
            match b {
                b'"' => in_quotes = !in_quotes,
                b':' if !in_quotes => {
                    value_start = Some(i + 1);
                    break;
                }
                _ => {}
            }
        }
        // A line whose quotes never close: take the first colon after the name, as lenient
        // parsers do, rather than losing the value.
        if value_start.is_none() {
            value_start = line[name_end..].find(':').map(|i| name_end + i + 1);
        }
        Self {
            line,
            name_end,
            value_start,
        }
    }

    /// The property name as written (compare it case-insensitively).
    pub fn name(&self) -> &str {
        self.line[..self.name_end].trim()
    }

    /// True if the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name)
    }

    /// The parameters between the name and the value, without the leading `;` (may be empty).
    pub fn params(&self) -> &str {
        let end = self.value_start.map_or(self.line.len(), |v| v - 1);
        self.line
            .get(self.name_end..end)
            .map_or("", |p| p.strip_prefix(';').unwrap_or(p))
    }

    /// The raw value (escapes not decoded); empty for a line without `:`.
    pub fn value(&self) -> &str {
        self.value_start.map_or("", |v| &self.line[v..])
    }
}

/// The unfolded content lines of `raw`, in order. Accepts CRLF, LF and lone CR line ends;
/// a line starting with a space or tab continues the previous one; empty lines are dropped.
pub fn content_lines(raw: &str) -> Vec<ContentLine> {
    let mut out: Vec<String> = Vec::new();
    for physical in raw.split('\n').flat_map(|l| l.split('\r')) {
        if let Some(rest) = physical.strip_prefix([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        if !physical.is_empty() {
            out.push(physical.to_owned());
        }
    }
    out.into_iter().map(ContentLine::parse).collect()
}

pub(super) fn component_name(line: &ContentLine, keyword: &str) -> Option<String> {
    line.is(keyword)
        .then(|| line.value().trim().to_ascii_uppercase())
}

/// Splits a parameter list at `;` outside double quotes.
pub(super) fn split_params(params: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, c) in params.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                out.push(&params[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < params.len() {
        out.push(&params[start..]);
    }
    out
}
