//! pimsync's `pimsync.conf`, in the scfg syntax: one directive per line (a name and its
//! parameters, separated by blanks, quoted with `"..."` or `'...'`), a trailing `{` opening a
//! block of directives that a line `}` closes, `#` starting a comment line. Top level:
//! `status_path`, `storage NAME { ... }` and `pair NAME { ... }`. A `url`, `username` or
//! `password` may be a block `{ cmd PROGRAM ARGS... }` instead of a value.

use std::path::Path;

use super::{ConfigFileError, Setting};

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PimsyncConfig {
    /// `status_path`.
    pub status_path: Option<String>,
    /// `storage` blocks.
    pub storages: Vec<Storage>,
    /// `pair` blocks.
    pub pairs: Vec<Pair>,
    /// Other top-level directives.
    pub other: Vec<Setting>,
}

/// A value written in the file or printed by a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Written in the file.
    Plain(String),
    /// `{ cmd PROGRAM ARGS... }`.
    Cmd(Vec<String>),
}

/// A `storage NAME { ... }` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Storage {
    /// The storage's name.
    pub name: String,
    /// The line of `storage`.
    pub line: usize,
    /// `type` (`vdir/icalendar`, `vdir/vcard`, `caldav`, `carddav`, `webcal`).
    pub kind: String,
    /// `path` (vdir).
    pub path: Option<String>,
    /// `fileext` (vdir), without a dot as pimsync writes it (vdirsyncer's `.ics` also read).
    pub fileext: Option<String>,
    /// `url`.
    pub url: Option<Value>,
    /// `username`.
    pub username: Option<Value>,
    /// `password`.
    pub password: Option<Value>,
    /// `collection_id` (webcal).
    pub collection_id: Option<String>,
    /// `interval`, seconds.
    pub interval: Option<u64>,
    /// `user_agent`.
    pub user_agent: Option<String>,
    /// Other directives.
    pub other: Vec<Setting>,
}

/// A `pair NAME { ... }` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pair {
    /// The pair's name.
    pub name: String,
    /// The line of `pair`.
    pub line: usize,
    /// `storage_a`.
    pub a: String,
    /// `storage_b`.
    pub b: String,
    /// `collections ...` and `collection ...` directives, in order.
    pub collections: Vec<Collections>,
    /// `on_empty` (`skip` or `sync`).
    pub on_empty: Option<String>,
    /// `conflict_resolution`.
    pub conflict_resolution: Option<Conflict>,
    /// Other directives.
    pub other: Vec<Setting>,
}

/// Which collections a pair syncs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Collections {
    /// `collections all`.
    All,
    /// `collections from a`.
    FromA,
    /// `collections from b`.
    FromB,
    /// `collection ID`.
    Id(String),
    /// `collection { alias ...; id_a/href_a ...; id_b/href_b ... }`.
    Mapping {
        /// `alias`.
        alias: String,
        /// `id_a` or `href_a`.
        a: CollectionRef,
        /// `id_b` or `href_b`.
        b: CollectionRef,
    },
}

/// A collection named by id or by href.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionRef {
    /// `id_X`.
    Id(String),
    /// `href_X`.
    Href(String),
}

/// `conflict_resolution`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// `keep a`.
    KeepA,
    /// `keep b`.
    KeepB,
    /// `cmd PROGRAM ARGS...`.
    Cmd(Vec<String>),
}

/// One scfg directive.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Directive {
    name: String,
    params: Vec<String>,
    line: usize,
    children: Option<Vec<Directive>>,
}

/// Reads `text` (the file `path`).
pub fn parse(path: &Path, text: &str) -> Result<PimsyncConfig, ConfigFileError> {
    let directives = parse_scfg(path, text)?;
    let mut config = PimsyncConfig::default();
    for directive in directives {
        let err = |message: String| ConfigFileError::new(path, directive.line, message);
        match directive.name.as_str() {
            "status_path" => config.status_path = Some(one(path, &directive)?),
            "storage" => config.storages.push(read_storage(path, &directive)?),
            "pair" => config.pairs.push(read_pair(path, &directive)?),
            _ if directive.children.is_some() => {
                return Err(err(format!(
                    "unknown block {:?} (expected storage or pair)",
                    directive.name
                )));
            }
            _ => config.other.push(setting(&directive)),
        }
    }
    let storages: Vec<&str> = config.storages.iter().map(|s| s.name.as_str()).collect();
    super::check_pair_storages(
        path,
        config
            .pairs
            .iter()
            .map(|p| (p.name.as_str(), p.line, [p.a.as_str(), p.b.as_str()])),
        &storages,
    )?;
    Ok(config)
}

fn setting(directive: &Directive) -> Setting {
    Setting {
        key: directive.name.clone(),
        value: directive.params.join(" "),
        line: directive.line,
    }
}

fn one(path: &Path, directive: &Directive) -> Result<String, ConfigFileError> {
    match (directive.params.as_slice(), &directive.children) {
        ([one], None) => Ok(one.clone()),
        _ => Err(ConfigFileError::new(
            path,
            directive.line,
            format!("{} takes one value", directive.name),
        )),
    }
}

/// A `name {` block's name and its directives.
fn block<'d>(
    path: &Path,
    directive: &'d Directive,
) -> Result<(String, &'d [Directive]), ConfigFileError> {
    match (directive.params.as_slice(), &directive.children) {
        ([name], Some(children)) => Ok((name.clone(), children)),
        _ => Err(ConfigFileError::new(
            path,
            directive.line,
            format!("expected: {} NAME {{ ... }}", directive.name),
        )),
    }
}

/// A value, or a block `{ cmd ... }`.
fn value(path: &Path, directive: &Directive) -> Result<Value, ConfigFileError> {
    match &directive.children {
        None => one(path, directive).map(Value::Plain),
        Some(children) => match children.as_slice() {
            [cmd] if cmd.name == "cmd" && !cmd.params.is_empty() && cmd.children.is_none() => {
                Ok(Value::Cmd(cmd.params.clone()))
            }
            _ => Err(ConfigFileError::new(
                path,
                directive.line,
                format!(
                    "{} {{ ... }} must hold one \"cmd COMMAND ...\"",
                    directive.name
                ),
            )),
        },
    }
}

fn read_storage(path: &Path, directive: &Directive) -> Result<Storage, ConfigFileError> {
    let (name, children) = block(path, directive)?;
    let mut storage = Storage {
        name,
        line: directive.line,
        ..Storage::default()
    };
    for child in children {
        match child.name.as_str() {
            "type" => storage.kind = one(path, child)?,
            "path" => storage.path = Some(one(path, child)?),
            "fileext" => storage.fileext = Some(one(path, child)?),
            "url" => storage.url = Some(value(path, child)?),
            "username" => storage.username = Some(value(path, child)?),
            "password" => storage.password = Some(value(path, child)?),
            "collection_id" => storage.collection_id = Some(one(path, child)?),
            "user_agent" => storage.user_agent = Some(one(path, child)?),
            "interval" => {
                let text = one(path, child)?;
                storage.interval = Some(text.parse().map_err(|_| {
                    ConfigFileError::new(
                        path,
                        child.line,
                        format!("interval: {text:?} is not a number of seconds"),
                    )
                })?);
            }
            _ => storage.other.push(setting(child)),
        }
    }
    if storage.kind.is_empty() {
        return Err(ConfigFileError::new(
            path,
            directive.line,
            format!("storage {} has no type", storage.name),
        ));
    }
    Ok(storage)
}

fn read_pair(path: &Path, directive: &Directive) -> Result<Pair, ConfigFileError> {
    let (name, children) = block(path, directive)?;
    let mut pair = Pair {
        name,
        line: directive.line,
        ..Pair::default()
    };
    for child in children {
        let err = |message: &str| {
            ConfigFileError::new(path, child.line, format!("{}: {message}", child.name))
        };
        let words: Vec<&str> = child.params.iter().map(String::as_str).collect();
        match child.name.as_str() {
            "storage_a" => pair.a = one(path, child)?,
            "storage_b" => pair.b = one(path, child)?,
            "collections" => pair.collections.push(match words.as_slice() {
                ["all"] => Collections::All,
                ["from", "a"] => Collections::FromA,
                ["from", "b"] => Collections::FromB,
                _ => return Err(err("expected all, from a or from b")),
            }),
            "collection" => pair.collections.push(match &child.children {
                None => Collections::Id(one(path, child)?),
                Some(rules) => read_mapping(path, child, rules)?,
            }),
            "on_empty" => pair.on_empty = Some(one(path, child)?),
            "conflict_resolution" => {
                pair.conflict_resolution = Some(match words.as_slice() {
                    ["keep", "a"] => Conflict::KeepA,
                    ["keep", "b"] => Conflict::KeepB,
                    ["cmd", command @ ..] if !command.is_empty() => {
                        Conflict::Cmd(command.iter().map(|s| (*s).to_owned()).collect())
                    }
                    _ => return Err(err("expected keep a, keep b or cmd COMMAND ...")),
                });
            }
            _ => pair.other.push(setting(child)),
        }
    }
    for (key, value) in [("storage_a", &pair.a), ("storage_b", &pair.b)] {
        if value.is_empty() {
            return Err(ConfigFileError::new(
                path,
                directive.line,
                format!("pair {} has no {key}", pair.name),
            ));
        }
    }
    Ok(pair)
}

fn read_mapping(
    path: &Path,
    directive: &Directive,
    rules: &[Directive],
) -> Result<Collections, ConfigFileError> {
    let (mut alias, mut a, mut b) = (None, None, None);
    for rule in rules {
        let value = one(path, rule)?;
        match rule.name.as_str() {
            "alias" => alias = Some(value),
            "id_a" => a = Some(CollectionRef::Id(value)),
            "href_a" => a = Some(CollectionRef::Href(value)),
            "id_b" => b = Some(CollectionRef::Id(value)),
            "href_b" => b = Some(CollectionRef::Href(value)),
            other => {
                return Err(ConfigFileError::new(
                    path,
                    rule.line,
                    format!("unknown rule {other:?} in a collection block"),
                ));
            }
        }
    }
    match (alias, a, b) {
        (Some(alias), Some(a), Some(b)) => Ok(Collections::Mapping { alias, a, b }),
        _ => Err(ConfigFileError::new(
            path,
            directive.line,
            "a collection block needs alias, id_a or href_a, and id_b or href_b",
        )),
    }
}

/// The directives of an scfg file.
fn parse_scfg(path: &Path, text: &str) -> Result<Vec<Directive>, ConfigFileError> {
    // The blocks being filled, innermost last; the bottom one is the file.
    let mut stack: Vec<(Directive, Vec<Directive>)> = Vec::new();
    let mut top = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let err = |message: &str| ConfigFileError::new(path, line, message);
        if trimmed == "}" {
            let Some((mut directive, children)) = stack.pop() else {
                return Err(err("'}' without a block to close"));
            };
            directive.children = Some(children);
            match stack.last_mut() {
                Some((_, siblings)) => siblings.push(directive),
                None => top.push(directive),
            }
            continue;
        }
        let mut words = split_words(trimmed).map_err(|m| err(&m))?;
        let opens = words.last().is_some_and(|w| w == "{");
        if opens {
            words.pop();
        }
        let Some((name, params)) = words.split_first() else {
            return Err(err("a block without a directive name"));
        };
        let directive = Directive {
            name: name.clone(),
            params: params.to_vec(),
            line,
            children: None,
        };
        if opens {
            stack.push((directive, Vec::new()));
        } else {
            match stack.last_mut() {
                Some((_, siblings)) => siblings.push(directive),
                None => top.push(directive),
            }
        }
    }
    if let Some((directive, _)) = stack.last() {
        return Err(ConfigFileError::new(
            path,
            directive.line,
            format!(
                "the block of {:?} is never closed with '}}'",
                directive.name
            ),
        ));
    }
    Ok(top)
}

/// scfg words: blank-separated; `"..."` (with `\` escapes) and `'...'` quote.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            match c {
                '"' => loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.push(chars.next().ok_or("unterminated quote")?),
                        Some(c) => word.push(c),
                        None => return Err("a quoted value without its closing quote".into()),
                    }
                },
                '\'' => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a quoted value without its closing quote".into()),
                    }
                },
                '\\' => word.push(chars.next().ok_or("a '\\' at the end of the line")?),
                c => word.push(c),
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<PimsyncConfig, ConfigFileError> {
        parse(Path::new("/pimsync.conf"), text)
    }

    #[test]
    fn reads_storages_pairs_and_commands() {
        let config = read(
            "status_path \"~/.local/share/pimsync/status/\"\n\npair contacts {\n\tstorage_a local\n\tstorage_b remote\n\tcollections from b\n\tcollection {\n\t\talias work\n\t\tid_a work\n\t\thref_b /dav/me/work/\n\t}\n\tconflict_resolution cmd nvim -d\n}\n\nstorage local {\n\ttype vdir/vcard\n\tpath ~/.contacts/\n\tfileext vcf\n\tinterval 30\n}\n\nstorage remote {\n\ttype carddav\n\turl https://dav.example.com/\n\tusername 'me@example.com'\n\tpassword {\n\t\tcmd pass show \"dav card\"\n\t}\n}\n",
        )
        .unwrap();
        assert_eq!(
            config.status_path.as_deref(),
            Some("~/.local/share/pimsync/status/")
        );
        let pair = &config.pairs[0];
        assert_eq!(pair.a, "local");
        assert_eq!(
            pair.collections,
            [
                Collections::FromB,
                Collections::Mapping {
                    alias: "work".into(),
                    a: CollectionRef::Id("work".into()),
                    b: CollectionRef::Href("/dav/me/work/".into())
                }
            ]
        );
        assert_eq!(
            pair.conflict_resolution,
            Some(Conflict::Cmd(vec!["nvim".into(), "-d".into()]))
        );
        let remote = &config.storages[1];
        assert_eq!(
            remote.password,
            Some(Value::Cmd(vec![
                "pass".into(),
                "show".into(),
                "dav card".into()
            ]))
        );
        assert_eq!(remote.username, Some(Value::Plain("me@example.com".into())));
        assert_eq!(config.storages[0].interval, Some(30));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("storage s {\n\ttype caldav\n", 1),
            ("}\n", 1),
            ("pair p {\n\tstorage_a x\n\tstorage_b y\n}\n", 1),
            (
                "storage s {\n\ttype caldav\n\tpassword {\n\t\tfetch x\n\t}\n}\n",
                3,
            ),
            ("pair p {\n\tcollections some\n}\n", 2),
            ("storage s {\n\ttype \"caldav\n}\n", 2),
        ];
        for (text, line) in cases {
            let error = read(text).unwrap_err();
            assert_eq!(error.line, line, "{text}: {error}");
        }
    }
}
