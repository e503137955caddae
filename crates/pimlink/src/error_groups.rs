//! A collection's failures as the user reads them: one line per cause.
//!
//! When something fails for every item alike (a full disk, a read-only directory) the engine
//! goes on with the other items, and each fails the same way: 958 messages gave 958 lines
//! that said one thing. So failures that share a cause (the I/O or SQLite error underneath)
//! are counted on one line with the first of them as an example; `-v` lists each. A failure
//! with a cause of its own keeps its line.

use pimlink_core::Error;

/// The lines that report the `errors` of collection `name` (each error on its own with
/// `verbose`).
pub fn lines(name: &str, errors: &[Error], verbose: bool) -> Vec<String> {
    if verbose {
        return errors.iter().map(ToString::to_string).collect();
    }
    let mut groups: Vec<(Option<String>, Vec<&Error>)> = Vec::new();
    for error in errors {
        let cause = error.cause().map(ToString::to_string);
        let shared = cause
            .as_ref()
            .and_then(|cause| groups.iter_mut().find(|(c, _)| c.as_ref() == Some(cause)));
        match shared {
            Some((_, members)) => members.push(error),
            None => groups.push((cause, vec![error])),
        }
    }
    groups
        .into_iter()
        .flat_map(|(cause, members)| match (cause, members.as_slice()) {
            (Some(cause), [first, _, ..]) => vec![summary(name, &cause, first, members.len())],
            _ => members.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

/// "collection INBOX: 958 changes failed, the disk is full (...); the first: copy a->b ...".
fn summary(name: &str, cause: &str, first: &Error, count: usize) -> String {
    let what = if first.is_disk_full() {
        format!("the disk is full ({cause})")
    } else {
        cause.to_owned()
    };
    let text = first.to_string();
    let prefix = format!("collection {name}: ");
    let example = text.strip_prefix(&prefix).unwrap_or(&text);
    let example = example
        .strip_suffix(&format!(": {cause}"))
        .unwrap_or(example);
    format!(
        "collection {name}: {count} changes failed, {what}; the first: {example}; -v lists \
         each"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::ErrorKind;
    use std::io;

    fn full(key: &str) -> Error {
        Error::io(
            format!("writing /m/INBOX/tmp/{key}"),
            io::Error::from(io::ErrorKind::StorageFull),
        )
        .context(format!("collection INBOX: copy a->b {key}"))
    }

    #[test]
    fn failures_with_one_cause_make_one_line_and_others_keep_theirs() {
        let mut errors: Vec<Error> = (0..958).map(|i| full(&format!("k{i}"))).collect();
        errors.insert(
            3,
            Error::new(ErrorKind::NotFound, "collection INBOX: message x is gone"),
        );
        let lines = lines("INBOX", &errors, false);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        let cause = io::Error::from(io::ErrorKind::StorageFull).to_string();
        assert_eq!(
            lines[0],
            format!(
                "collection INBOX: 958 changes failed, the disk is full ({cause}); the first: \
                 copy a->b k0: writing /m/INBOX/tmp/k0; -v lists each"
            )
        );
        assert_eq!(lines[1], "collection INBOX: message x is gone");
    }

    #[test]
    fn one_failure_or_verbose_output_lists_each() {
        let one = [full("k0")];
        assert_eq!(lines("INBOX", &one, false), [one[0].to_string()]);
        let two = [full("k0"), full("k1")];
        assert_eq!(lines("INBOX", &two, true).len(), 2);
    }
}
