//! RFC 8474 (OBJECTID) in STATUS responses, which imap-codec cannot parse: the `MAILBOXID
//! (id)` item is cut out of a `* STATUS` frame so that the codec reads the rest.

/// The `MAILBOXID` item of a `* STATUS` frame: the frame without it, and the id. `None` for
/// any other frame, or where the item is not plainly the last list's (a folder name that
/// merely contains the text is left alone).
pub(super) fn take_mailbox_id(frame: &[u8]) -> Option<(Vec<u8>, String)> {
    const VERB: &[u8] = b"* STATUS ";
    const ITEM: &[u8] = b"MAILBOXID (";
    if !frame.get(..VERB.len())?.eq_ignore_ascii_case(VERB) {
        return None;
    }
    let start = (VERB.len()..=frame.len().checked_sub(ITEM.len())?)
        .rev()
        .find(|&i| frame[i..i + ITEM.len()].eq_ignore_ascii_case(ITEM))?;
    let before = frame[start - 1];
    if before != b'(' && before != b' ' {
        return None;
    }
    let id_start = start + ITEM.len();
    // objectid = 1*255(ALPHA / DIGIT / "_" / "-")
    let id_len = frame[id_start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        .count();
    let close = id_start + id_len;
    if id_len == 0 || id_len > 255 || frame.get(close) != Some(&b')') {
        return None;
    }
    let rest = &frame[close + 1..];
    // Only more items and the end of the list may follow: no name, no other list.
    if rest.iter().any(|b| matches!(b, b'(' | b'"' | b'{'))
        || !rest.trim_ascii_end().ends_with(b")")
    {
        return None;
    }
    let id = String::from_utf8_lossy(&frame[id_start..close]).into_owned();
    let mut without = Vec::with_capacity(frame.len());
    if before == b' ' {
        without.extend_from_slice(&frame[..start - 1]);
        without.extend_from_slice(rest);
    } else {
        without.extend_from_slice(&frame[..start]);
        without.extend_from_slice(rest.strip_prefix(b" ").unwrap_or(rest));
    }
    Some((without, id))
}

/// RFC 8474 `objectid = 1*255(ALPHA / DIGIT / "_" / "-")`: safe to keep in a line of text.
pub(crate) fn is_object_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::take_mailbox_id;

    fn take(frame: &str) -> Option<(String, String)> {
        take_mailbox_id(frame.as_bytes()).map(|(rest, id)| (String::from_utf8(rest).unwrap(), id))
    }

    #[test]
    fn the_item_is_cut_out_wherever_it_stands_in_the_list() {
        assert_eq!(
            take("* STATUS Work (MAILBOXID (4qwx-n_0))\r\n"),
            Some(("* STATUS Work ()\r\n".into(), "4qwx-n_0".into()))
        );
        assert_eq!(
            take("* STATUS Work (UIDVALIDITY 7 MAILBOXID (abc))\r\n"),
            Some(("* STATUS Work (UIDVALIDITY 7)\r\n".into(), "abc".into()))
        );
        assert_eq!(
            take("* status \"A b\" (mailboxid (abc) MESSAGES 2)\r\n"),
            Some(("* status \"A b\" (MESSAGES 2)\r\n".into(), "abc".into()))
        );
    }

    #[test]
    fn other_frames_and_names_that_look_like_the_item_are_left_alone() {
        assert_eq!(take("* LIST () \"/\" Work\r\n"), None);
        assert_eq!(take("* STATUS Work (MESSAGES 2)\r\n"), None);
        assert_eq!(take("* STATUS \"x MAILBOXID (a)\" (MESSAGES 2)\r\n"), None);
        assert_eq!(take("* STATUS Work (MAILBOXID (a b))\r\n"), None);
        assert_eq!(take("* STATUS Work (MAILBOXID ())\r\n"), None);
    }
}
