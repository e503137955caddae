//! Keeps core's layout rules true (docs/ARCHITECTURE.md, "Layout of core"):
//!
//! 1. the floor (every module outside `mail/`, `dav/` and `runner/`) imports no wing;
//! 2. `mail/` never imports `dav/` and `dav/` never imports `mail/`;
//! 3. no import circle among the children of any module (the top-level modules of core, the
//!    sub-modules of a wing, the files of a planner directory, ...).
//!
//! It reads `src/**/*.rs` as text, so it needs no extra dependency and runs with every
//! `cargo nextest run`. What counts as an import: every `crate::a::b` and `super::a` path outside
//! comments (in `use` lines, groups `crate::{a, b::{c, d}}` included, and in expressions), and
//! the relative paths of `pub use` re-exports in a module's own file. A path that names a
//! re-export (`super::Refusal` where `plan/mod.rs` has `pub use items::Refusal`) is followed to
//! the module that defines it, so a re-export cannot hide a circle.
//!
//! Not counted: unit tests in an inline `#[cfg(test)] mod tests { ... }` (a test may use
//! anything of the crate). Test files of their own (`plan/tests.rs`) are counted like any module:
//! they are leaves, so they close no circle.
//!
//! Approximations, chosen to keep this small: an inline module is recognised by its opening
//! line, and `super::` inside one that is not a test module means the file's own module; string
//! literals are skipped, raw strings are not.

// A test reading this crate's own sources: a failure to read them is the test failing.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A module path inside core: `["mail", "plan", "items"]`; the crate root is `[]`.
type ModPath = Vec<String>;

/// One import found in a file: where it is and the item path it names.
struct Reference {
    line: usize,
    path: ModPath,
}

struct SourceFile {
    /// Relative to `crates/core/src`, for messages.
    shown: String,
    module: ModPath,
    references: Vec<Reference>,
    /// Names this module re-exports, with the full path each one refers to.
    reexports: Vec<(String, ModPath)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wing {
    Floor,
    Mail,
    Dav,
    Runner,
}

fn wing_of(module: &[String]) -> Wing {
    match module.first().map(String::as_str) {
        Some("mail") => Wing::Mail,
        Some("dav") => Wing::Dav,
        Some("runner") => Wing::Runner,
        _ => Wing::Floor,
    }
}

/// This crate's sources, or another tree's given in `PIMLINK_LAYOUT_SRC` (to see what the check
/// says of an older commit: `git archive` it to a directory and point this there).
fn src_dir() -> PathBuf {
    std::env::var_os("PIMLINK_LAYOUT_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// `src/mail/plan/mod.rs` -> `mail::plan`; `src/mail/plan/items.rs` -> `mail::plan::items`.
fn module_of(relative: &Path) -> ModPath {
    let mut parts: ModPath = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The text with comments blanked out (newlines kept, so offsets still give line numbers).
fn without_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' && i + 1 < bytes.len() {
                out.push(' ');
                out.push(if bytes[i + 1] == b'\n' { '\n' } else { ' ' });
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
            out.push(if c == b'\n' { '\n' } else { ' ' });
            i += 1;
            continue;
        }
        if c == b'"' && (i == 0 || bytes[i - 1] != b'\'') {
            in_string = true;
            out.push(' ');
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                out.push(if bytes[i] == b'\n' { '\n' } else { ' ' });
                i += 1;
            }
            out.push_str("  ");
            i += 2;
            continue;
        }
        out.push(c as char);
        i += 1;
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Reads `a::b::c`, `a::{b, c::d}`, `a::*` or `a as b` at `at`; returns every full path (with
/// the alias, if any, as the last element of the pair) and where the path ends.
fn read_paths(
    text: &[u8],
    mut at: usize,
    prefix: &ModPath,
) -> (Vec<(ModPath, Option<String>)>, usize) {
    let skip_space = |at: &mut usize| {
        while *at < text.len() && text[*at].is_ascii_whitespace() {
            *at += 1;
        }
    };
    let mut path = prefix.clone();
    loop {
        skip_space(&mut at);
        if at < text.len() && text[at] == b'{' {
            at += 1;
            let mut all = Vec::new();
            loop {
                skip_space(&mut at);
                if at >= text.len() {
                    return (all, at);
                }
                if text[at] == b'}' {
                    return (all, at + 1);
                }
                if text[at] == b',' {
                    at += 1;
                    continue;
                }
                let before = at;
                let (inner, end) = read_paths(text, at, &path);
                all.extend(inner);
                at = if end == before { end + 1 } else { end };
            }
        }
        if at < text.len() && text[at] == b'*' {
            return (vec![(path, None)], at + 1);
        }
        let start = at;
        while at < text.len() && is_ident(text[at]) {
            at += 1;
        }
        if start == at {
            return (vec![(path, None)], at);
        }
        let word = String::from_utf8_lossy(&text[start..at]).into_owned();
        if word != "self" {
            path.push(word);
        }
        if text[at..].starts_with(b"::") {
            at += 2;
            continue;
        }
        // `name as alias`
        let mut look = at;
        while look < text.len() && text[look].is_ascii_whitespace() {
            look += 1;
        }
        if text[look..].starts_with(b"as ") {
            let mut alias_start = look + 3;
            while alias_start < text.len() && text[alias_start].is_ascii_whitespace() {
                alias_start += 1;
            }
            let mut alias_end = alias_start;
            while alias_end < text.len() && is_ident(text[alias_end]) {
                alias_end += 1;
            }
            let alias = String::from_utf8_lossy(&text[alias_start..alias_end]).into_owned();
            return (vec![(path, Some(alias))], alias_end);
        }
        return (vec![(path, None)], at);
    }
}

fn line_at(line_starts: &[usize], offset: usize) -> usize {
    line_starts.partition_point(|&start| start <= offset)
}

fn parse(root: &Path, file: &Path) -> SourceFile {
    let relative = file.strip_prefix(root).expect("under src");
    let module = module_of(relative);
    let raw = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let text = without_comments(&raw);
    let bytes = text.as_bytes();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    // Where the first inline module opens: `super::` after it means this file's module.
    let inline_start = text
        .match_indices("mod ")
        .find(|&(i, _)| {
            let rest = &text[i + 4..];
            let name_end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'));
            (i == 0 || !is_ident(bytes[i - 1]))
                && name_end.is_some_and(|end| end > 0 && rest[end..].trim_start().starts_with('{'))
        })
        .map_or(usize::MAX, |(i, _)| i);

    // Unit tests (an inline module under `#[cfg(test)]`) may use anything of the crate: what
    // they import is not part of the layout.
    let tests_start = if inline_start != usize::MAX
        && text[..inline_start].trim_end().ends_with("#[cfg(test)]")
    {
        inline_start
    } else {
        usize::MAX
    };

    let mut references = Vec::new();
    let mut reexports = Vec::new();
    let mut i = 0;
    while i < bytes.len().min(tests_start) {
        let boundary = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':';
        if !boundary {
            i += 1;
            continue;
        }
        let base: Option<(ModPath, usize)> = if text[i..].starts_with("crate::") {
            Some((Vec::new(), i + "crate::".len()))
        } else if text[i..].starts_with("super::") {
            let mut base = module.clone();
            if i < inline_start {
                base.pop();
            }
            let mut at = i + "super::".len();
            while text[at..].starts_with("super::") {
                base.pop();
                at += "super::".len();
            }
            Some((base, at))
        } else {
            None
        };
        if let Some((base, at)) = base {
            let (paths, end) = read_paths(bytes, at, &base);
            let line = line_at(&line_starts, i);
            for (path, _) in paths {
                references.push(Reference { line, path });
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }

    // Re-exports: `pub use x::{...};` (also `pub(crate)`), relative to this module.
    for (start, _) in text.match_indices("pub") {
        let rest = &text[start..];
        let after_vis = if let Some(r) = rest.strip_prefix("pub(crate) ") {
            r
        } else if let Some(r) = rest.strip_prefix("pub(super) ") {
            r
        } else if let Some(r) = rest.strip_prefix("pub ") {
            r
        } else {
            continue;
        };
        let Some(after_use) = after_vis.strip_prefix("use ") else {
            continue;
        };
        let at = text.len() - after_use.len();
        let (base, at) = if after_use.starts_with("crate::") {
            (Vec::new(), at + "crate::".len())
        } else if after_use.starts_with("super::") {
            let mut base = module.clone();
            base.pop();
            (base, at + "super::".len())
        } else if after_use.starts_with("self::") {
            (module.clone(), at + "self::".len())
        } else {
            (module.clone(), at)
        };
        let (paths, _) = read_paths(bytes, at, &base);
        let line = line_at(&line_starts, start);
        for (path, alias) in paths {
            if let Some(name) = alias.or_else(|| path.last().cloned()) {
                // A relative path that leaves core (`pub use std::x`) names no module of ours
                // and is dropped by `resolve`.
                reexports.push((name, path.clone()));
            }
            // A re-export of a child is also an import of it.
            references.push(Reference { line, path });
        }
    }

    SourceFile {
        shown: relative.display().to_string(),
        module,
        references,
        reexports,
    }
}

struct Tree {
    files: Vec<SourceFile>,
    modules: BTreeSet<ModPath>,
    reexports: BTreeMap<(ModPath, String), ModPath>,
}

impl Tree {
    fn load() -> Tree {
        let root = src_dir();
        let mut paths = Vec::new();
        rust_files(&root, &mut paths);
        let files: Vec<SourceFile> = paths.iter().map(|path| parse(&root, path)).collect();
        let modules = files.iter().map(|file| file.module.clone()).collect();
        let mut reexports = BTreeMap::new();
        for file in &files {
            for (name, target) in &file.reexports {
                reexports.insert((file.module.clone(), name.clone()), target.clone());
            }
        }
        Tree {
            files,
            modules,
            reexports,
        }
    }

    /// The module (file) an item path points into, following re-exports.
    fn resolve(&self, path: &[String]) -> Option<ModPath> {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let mut longest = None;
            for len in (0..=path.len()).rev() {
                if self.modules.contains(&path[..len]) {
                    longest = Some(len);
                    break;
                }
            }
            let len = longest?;
            let module = path[..len].to_vec();
            let Some(name) = path.get(len) else {
                return Some(module);
            };
            match self.reexports.get(&(module.clone(), name.clone())) {
                Some(target) if target.as_slice() != path.as_slice() => {
                    let mut next = target.clone();
                    next.extend(path[len + 1..].iter().cloned());
                    path = next;
                }
                _ => return Some(module),
            }
        }
        None
    }
}

/// An edge between two children of `parent`, with one place that makes it.
type Edges = BTreeMap<ModPath, BTreeMap<(String, String), String>>;

fn layout_problems(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let mut edges: Edges = BTreeMap::new();
    for file in &tree.files {
        let from_wing = wing_of(&file.module);
        for reference in &file.references {
            let Some(target) = tree.resolve(&reference.path) else {
                continue;
            };
            let to_wing = wing_of(&target);
            let place = format!("{}:{}", file.shown, reference.line);
            // The crate root is the facade: its re-exports of either wing are not an import.
            let at_root = file.module.is_empty();
            let crossing = match (from_wing, to_wing) {
                _ if at_root => None,
                (Wing::Floor, Wing::Mail | Wing::Dav | Wing::Runner) => Some("the floor imports"),
                (Wing::Mail, Wing::Dav) | (Wing::Dav, Wing::Mail) => {
                    Some("one wing imports the other")
                }
                (Wing::Mail | Wing::Dav, Wing::Runner) => Some("a wing imports the runner"),
                _ => None,
            };
            if let Some(what) = crossing {
                problems.push(format!("{place}: {what} {}", target.join("::")));
            }
            // The closest module holding both ends; the edge is between two of its children.
            let common = file
                .module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if let (Some(from), Some(to)) = (file.module.get(common), target.get(common)) {
                edges
                    .entry(file.module[..common].to_vec())
                    .or_default()
                    .entry((from.clone(), to.clone()))
                    .or_insert(place);
            }
        }
    }
    for (parent, graph) in &edges {
        for circle in circles(graph) {
            let mut message = format!(
                "import circle among the children of {}: ",
                if parent.is_empty() {
                    "crate".to_owned()
                } else {
                    parent.join("::")
                }
            );
            for pair in circle.windows(2) {
                let place = &graph[&(pair[0].clone(), pair[1].clone())];
                let _ = write!(message, "{} -> {} ({place}); ", pair[0], pair[1]);
            }
            problems.push(message.trim_end_matches("; ").to_owned());
        }
    }
    problems.dedup();
    problems
}

/// One circle per strongly connected part of the graph (enough to name every tangle), each
/// given as `a, b, ..., a`.
fn circles(graph: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in graph.keys() {
        next.entry(from).or_default().push(to);
    }
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut found = Vec::new();
    for &start in next.keys() {
        if reported.contains(start) {
            continue;
        }
        // Shortest way back to `start`, breadth first.
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closed = None;
        while let Some(node) = queue.pop_front() {
            for &to in next.get(node).map_or(&[][..], Vec::as_slice) {
                if to == start {
                    closed = Some(node);
                    break;
                }
                if to != node && !came_from.contains_key(to) {
                    came_from.insert(to, node);
                    queue.push_back(to);
                }
            }
            if closed.is_some() {
                break;
            }
        }
        let Some(mut node) = closed else { continue };
        let mut back = Vec::new();
        while node != start {
            back.push(node.to_owned());
            node = came_from[node];
        }
        back.reverse();
        let circle: Vec<String> = std::iter::once(start.to_owned())
            .chain(back)
            .chain(std::iter::once(start.to_owned()))
            .collect();
        reported.extend(circle.iter().cloned());
        found.push(circle);
    }
    found
}

#[test]
fn core_keeps_its_layout_rules() {
    let tree = Tree::load();
    let problems = layout_problems(&tree);
    assert!(
        problems.is_empty(),
        "core breaks its layout rules (docs/ARCHITECTURE.md, \"Layout of core\"):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_names_a_circle_it_is_given() {
    let mut graph = BTreeMap::new();
    for (from, to) in [
        ("items", "limits"),
        ("limits", "items"),
        ("items", "action"),
    ] {
        graph.insert((from.to_owned(), to.to_owned()), format!("{from}.rs:1"));
    }
    assert_eq!(circles(&graph), vec![vec!["items", "limits", "items"]]);
    graph.remove(&("limits".to_owned(), "items".to_owned()));
    assert!(circles(&graph).is_empty());
}
