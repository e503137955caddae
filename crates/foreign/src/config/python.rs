//! The Python lambdas OfflineIMAP takes for `folderfilter` and `nametrans`, read in their common
//! forms so that the importer can translate them: a filter of `in`/`not in` lists,
//! `startswith`, anchored `re.search`/`re.match`, `==`, joined with `and`/`or`/`not`; a name
//! translation of `re.sub` with a literal pattern, `.replace(a, b)` chains and prefixes added
//! with `+`. Anything else is [`Filter::Other`] or [`NameTrans::Other`], holding the text, for
//! the importer to list as not translated. Nothing is evaluated by Python.

/// What `folderfilter` keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `f in [...]`.
    In(Vec<String>),
    /// `f == 'x'`.
    Equals(String),
    /// `f.startswith('x')`, `re.search('^x', f)`, `re.match('x', f)`.
    StartsWith(String),
    /// `not ...`, `f not in [...]`, `f != 'x'`.
    Not(Box<Filter>),
    /// `... and ...`.
    All(Vec<Filter>),
    /// `... or ...`.
    Any(Vec<Filter>),
    /// A constant (`lambda f: True`).
    Always(bool),
    /// A form not understood: the lambda as written.
    Other(String),
}

/// One step of a `nametrans`, applied to the name in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameStep {
    /// A leading `from` becomes `to` (`re.sub('^from', 'to', f)`); names without it are kept.
    ReplacePrefix {
        /// The literal prefix.
        from: String,
        /// Its replacement.
        to: String,
    },
    /// `'p' + f`.
    AddPrefix(String),
    /// Every occurrence of `from` becomes `to` (`f.replace(a, b)`, `re.sub('a', 'b', f)`).
    Replace {
        /// The literal text.
        from: String,
        /// Its replacement.
        to: String,
    },
}

/// What `nametrans` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameTrans {
    /// The steps, in order (empty: the identity).
    Steps(Vec<NameStep>),
    /// A form not understood: the lambda as written.
    Other(String),
}

impl NameTrans {
    /// The name `name` becomes, if the translation is understood.
    pub fn apply(&self, name: &str) -> Option<String> {
        let NameTrans::Steps(steps) = self else {
            return None;
        };
        let mut name = name.to_owned();
        for step in steps {
            name = match step {
                NameStep::ReplacePrefix { from, to } => match name.strip_prefix(from.as_str()) {
                    Some(rest) => format!("{to}{rest}"),
                    None => name,
                },
                NameStep::AddPrefix(prefix) => format!("{prefix}{name}"),
                NameStep::Replace { from, to } if !from.is_empty() => name.replace(from, to),
                NameStep::Replace { .. } => name,
            };
        }
        Some(name)
    }
}

/// Reads a `folderfilter` value.
pub fn filter(text: &str) -> Filter {
    parse_whole(text, |p| p.or()).unwrap_or_else(|| Filter::Other(text.trim().to_owned()))
}

/// Reads a `nametrans` value.
pub fn nametrans(text: &str) -> NameTrans {
    parse_whole(text, |p| p.name_expr())
        .map(NameTrans::Steps)
        .unwrap_or_else(|| NameTrans::Other(text.trim().to_owned()))
}

/// The lambda's body read by `body`, if that reads all of it.
fn parse_whole<T>(text: &str, body: impl FnOnce(&mut Parser<'_>) -> Option<T>) -> Option<T> {
    let (var, tokens) = parse_lambda(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
        var: &var,
    };
    let value = body(&mut parser)?;
    parser.done().then_some(value)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Name(String),
    Str(String),
    Punct(&'static str),
}

/// `lambda VAR: BODY` as the variable's name and the body's tokens.
fn parse_lambda(text: &str) -> Option<(String, Vec<Token>)> {
    let tokens = tokenize(text)?;
    match tokens.as_slice() {
        [
            Token::Name(lambda),
            Token::Name(var),
            Token::Punct(":"),
            body @ ..,
        ] if lambda == "lambda" => Some((var.clone(), body.to_vec())),
        _ => None,
    }
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    const PUNCT: [&str; 11] = ["==", "!=", "(", ")", "[", "]", ",", ":", "+", ".", "{"];
    let mut tokens = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let c = rest.chars().next()?;
        if c.is_whitespace() || c == '\\' {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let raw = rest.starts_with("r'") || rest.starts_with("r\"");
        let quote_at = usize::from(raw);
        if let Some(quote @ ('\'' | '"')) = rest[quote_at..].chars().next() {
            let body = &rest[quote_at + 1..];
            let mut value = String::new();
            let mut chars = body.char_indices();
            let end = loop {
                let (i, ch) = chars.next()?;
                if ch == quote {
                    break i;
                }
                if ch == '\\' {
                    let (_, next) = chars.next()?;
                    if raw {
                        value.push('\\');
                        value.push(next);
                    } else {
                        match next {
                            'n' => value.push('\n'),
                            't' => value.push('\t'),
                            other => {
                                // Python keeps the backslash of an unknown escape ('\.').
                                if !matches!(other, '\\' | '\'' | '"') {
                                    value.push('\\');
                                }
                                value.push(other);
                            }
                        }
                    }
                } else {
                    value.push(ch);
                }
            };
            tokens.push(Token::Str(value));
            rest = &body[end + 1..];
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let end = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            tokens.push(Token::Name(rest[..end].to_owned()));
            rest = &rest[end..];
            continue;
        }
        let punct = PUNCT.iter().find(|p| rest.starts_with(**p))?;
        tokens.push(Token::Punct(punct));
        rest = &rest[punct.len()..];
    }
    Some(tokens)
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    var: &'t str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat_name(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Some(Token::Name(n)) if n == name) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(p)) if *p == punct) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Option<()> {
        self.eat(punct).then_some(())
    }

    fn string(&mut self) -> Option<String> {
        match self.peek() {
            Some(Token::Str(s)) => {
                let s = s.clone();
                self.at += 1;
                Some(s)
            }
            _ => None,
        }
    }

    fn done(&self) -> bool {
        self.at == self.tokens.len()
    }

    fn var(&mut self) -> bool {
        let var = self.var.to_owned();
        self.eat_name(&var)
    }

    fn or(&mut self) -> Option<Filter> {
        self.joined("or", Self::and, Filter::Any)
    }

    fn and(&mut self) -> Option<Filter> {
        self.joined("and", Self::not, Filter::All)
    }

    /// `NEXT (WORD NEXT)*`, several of them joined by `make`.
    fn joined(
        &mut self,
        word: &str,
        next: fn(&mut Self) -> Option<Filter>,
        make: fn(Vec<Filter>) -> Filter,
    ) -> Option<Filter> {
        let mut parts = vec![next(self)?];
        while self.eat_name(word) {
            parts.push(next(self)?);
        }
        Some(if parts.len() == 1 {
            parts.remove(0)
        } else {
            make(parts)
        })
    }

    fn not(&mut self) -> Option<Filter> {
        if self.eat_name("not") {
            return Some(Filter::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn list(&mut self) -> Option<Vec<String>> {
        let close = if self.eat("[") {
            "]"
        } else if self.eat("(") {
            ")"
        } else {
            return None;
        };
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.string()?);
            if !self.eat(",") {
                self.expect(close)?;
                return Some(items);
            }
        }
    }

    fn atom(&mut self) -> Option<Filter> {
        if self.eat("(") {
            let inner = self.or()?;
            self.expect(")")?;
            return Some(inner);
        }
        if self.eat_name("True") {
            return Some(Filter::Always(true));
        }
        if self.eat_name("False") {
            return Some(Filter::Always(false));
        }
        if self.eat_name("re") {
            self.expect(".")?;
            let anchored = if self.eat_name("match") {
                true
            } else if self.eat_name("search") {
                false
            } else {
                return None;
            };
            self.expect("(")?;
            let pattern = self.string()?;
            self.expect(",")?;
            if !self.var() {
                return None;
            }
            self.expect(")")?;
            let prefix = match pattern.strip_prefix('^') {
                Some(rest) => rest.to_owned(),
                None if anchored => pattern,
                None => return None,
            };
            return regex_literal(&prefix).map(Filter::StartsWith);
        }
        if !self.var() {
            return None;
        }
        if self.eat(".") {
            if !self.eat_name("startswith") {
                return None;
            }
            self.expect("(")?;
            let prefix = self.string()?;
            self.expect(")")?;
            return Some(Filter::StartsWith(prefix));
        }
        if self.eat_name("in") {
            return self.list().map(Filter::In);
        }
        if self.eat_name("not") {
            if !self.eat_name("in") {
                return None;
            }
            return self.list().map(|l| Filter::Not(Box::new(Filter::In(l))));
        }
        if self.eat("==") {
            return self.string().map(Filter::Equals);
        }
        if self.eat("!=") {
            return self
                .string()
                .map(|s| Filter::Not(Box::new(Filter::Equals(s))));
        }
        None
    }

    /// `TERM (+ TERM)*` where exactly one term holds the name: strings before it are a prefix.
    fn name_expr(&mut self) -> Option<Vec<NameStep>> {
        let mut prefix = String::new();
        loop {
            if let Some(s) = self.string() {
                prefix.push_str(&s);
                self.expect("+")?;
                continue;
            }
            let mut steps = self.name_term()?;
            if self.peek().is_some() {
                return None;
            }
            if !prefix.is_empty() {
                steps.push(NameStep::AddPrefix(prefix));
            }
            return Some(steps);
        }
    }

    /// The variable, or `re.sub(...)` of a term, followed by `.replace(a, b)` calls.
    fn name_term(&mut self) -> Option<Vec<NameStep>> {
        let mut steps = if self.var() {
            Vec::new()
        } else if self.eat_name("re") {
            self.expect(".")?;
            if !self.eat_name("sub") {
                return None;
            }
            self.expect("(")?;
            let pattern = self.string()?;
            self.expect(",")?;
            let to = self.string()?;
            self.expect(",")?;
            let mut inner = self.name_term()?;
            self.expect(")")?;
            if to.contains('\\') {
                return None;
            }
            inner.push(match pattern.strip_prefix('^') {
                Some(rest) => NameStep::ReplacePrefix {
                    from: regex_literal(rest)?,
                    to,
                },
                None => NameStep::Replace {
                    from: regex_literal(&pattern)?,
                    to,
                },
            });
            inner
        } else {
            return None;
        };
        while self.eat(".") {
            if !self.eat_name("replace") {
                return None;
            }
            self.expect("(")?;
            let from = self.string()?;
            self.expect(",")?;
            let to = self.string()?;
            self.expect(")")?;
            steps.push(NameStep::Replace { from, to });
        }
        Some(steps)
    }
}

/// The text a regular expression matches if it matches exactly one text (escaped
/// metacharacters only), else `None`.
fn regex_literal(pattern: &str) -> Option<String> {
    let mut literal = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next()?;
                if next.is_alphanumeric() {
                    return None;
                }
                literal.push(next);
            }
            '.' | '*' | '+' | '?' | '[' | ']' | '(' | ')' | '{' | '}' | '|' | '^' | '$' => {
                return None;
            }
            other => literal.push(other),
        }
    }
    Some(literal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_the_common_filters() {
        assert_eq!(
            filter("lambda folder: folder in ['INBOX', \"Sent\",]"),
            Filter::In(names(&["INBOX", "Sent"]))
        );
        assert_eq!(
            filter("lambda f: f not in ('Trash', 'Junk')"),
            Filter::Not(Box::new(Filter::In(names(&["Trash", "Junk"]))))
        );
        assert_eq!(
            filter("lambda f: not re.search('^Lists\\.', f) and f != 'Spam'"),
            Filter::All(vec![
                Filter::Not(Box::new(Filter::StartsWith("Lists.".into()))),
                Filter::Not(Box::new(Filter::Equals("Spam".into()))),
            ])
        );
        assert_eq!(
            filter("lambda f: f.startswith('[Gmail]') or f == 'INBOX'"),
            Filter::Any(vec![
                Filter::StartsWith("[Gmail]".into()),
                Filter::Equals("INBOX".into())
            ])
        );
        // A regular expression that is not a literal, or any other code, stays as written.
        assert!(matches!(
            filter("lambda f: re.search('^(Lists|Archive)', f)"),
            Filter::Other(_)
        ));
        assert!(matches!(filter("lambda f: len(f) > 3"), Filter::Other(_)));
    }

    #[test]
    fn reads_the_common_name_translations() {
        let strip = nametrans("lambda folder: re.sub('^INBOX\\.', '', folder)");
        assert_eq!(
            strip,
            NameTrans::Steps(vec![NameStep::ReplacePrefix {
                from: "INBOX.".into(),
                to: String::new()
            }])
        );
        assert_eq!(strip.apply("INBOX.Sent").as_deref(), Some("Sent"));
        assert_eq!(strip.apply("Other").as_deref(), Some("Other"));
        let chain = nametrans(
            "lambda f: re.sub('^\\[Gmail\\]/', '', f).replace('Sent Mail', 'Sent').replace(' ', '_')",
        );
        assert_eq!(chain.apply("[Gmail]/Sent Mail").as_deref(), Some("Sent"));
        assert_eq!(chain.apply("My Lists").as_deref(), Some("My_Lists"));
        let add = nametrans("lambda f: 'INBOX.' + f");
        assert_eq!(
            add,
            NameTrans::Steps(vec![NameStep::AddPrefix("INBOX.".into())])
        );
        assert!(matches!(
            nametrans("lambda f: f.lower()"),
            NameTrans::Other(_)
        ));
        assert!(matches!(
            nametrans("lambda f: re.sub('^(a|b)', '', f)"),
            NameTrans::Other(_)
        ));
    }
}
