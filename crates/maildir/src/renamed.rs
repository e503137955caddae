//! Files mbsync renamed (issue 16): mbsync gives every message file in a tree it syncs a
//! Maildir UID of its own by adding `,U=<n>` to the file's unique part (`K:2,S` becomes
//! `K,U=7:2,S`). Without help pimlink would see key `K` vanish and `K,U=7` appear, and delete
//! the message on the server and upload the "new" one. A listing therefore reports such a file
//! under the key the status knows (`K`), and the store finds the file by that key; flag changes
//! keep the file's own name (`store/flags.rs`), so mbsync still knows it.

use std::collections::HashSet;

use pimlink_core::{Flags, ItemKey};

use crate::items::Index;

/// `key` without the numbering another tool added to it, if it has some: mbsync's
/// `,U=<digits>`, and with it OfflineIMAP's `,FMD5=<hex>` (OfflineIMAP numbers a file with
/// both, and pimlink's hand-back to it does the same).
pub(crate) fn without_mbsync_uid(key: &str) -> Option<String> {
    let start = key.find(",U=")?;
    let digits = &key[start + 3..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let without = format!("{}{}", &key[..start], &digits[end..]);
    Some(without_fmd5(&without))
}

/// `key` without an OfflineIMAP `,FMD5=<32 hex digits>` field.
fn without_fmd5(key: &str) -> String {
    let Some(start) = key.find(",FMD5=") else {
        return key.to_owned();
    };
    let hex = &key[start + 6..];
    let end = hex
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(hex.len());
    if end != 32 {
        return key.to_owned();
    }
    format!("{}{}", &key[..start], &hex[end..])
}

/// Files listed under a key the status does not know, whose key without `,U=` it knows (and
/// no other file has), are listed under the known key.
pub(crate) fn keep_known_keys(index: &mut Index, known: &[(ItemKey, Flags)]) {
    if known.is_empty() {
        return;
    }
    let known: HashSet<&str> = known.iter().map(|(key, _)| key.as_str()).collect();
    let renamed: Vec<(String, String)> = index
        .keys()
        .filter(|key| !known.contains(key.as_str()))
        .filter_map(|key| {
            let before = without_mbsync_uid(key)?;
            (known.contains(before.as_str()) && !index.contains_key(&before))
                .then(|| (key.clone(), before))
        })
        .collect();
    let mut taken = HashSet::new();
    for (key, before) in renamed {
        // Two files renamed from one key (a copy made meanwhile): the first keeps it, the
        // other is listed as what it is, a new message.
        if !taken.insert(before.clone()) {
            continue;
        }
        if let Some(location) = index.remove(&key) {
            index.insert(before, location);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{Location, Sub};

    #[test]
    fn strips_only_a_numeric_u_field() {
        assert_eq!(
            without_mbsync_uid("123.M1P2.host,U=7").as_deref(),
            Some("123.M1P2.host")
        );
        assert_eq!(
            without_mbsync_uid("123.host,S=400,U=12,W=410").as_deref(),
            Some("123.host,S=400,W=410")
        );
        assert_eq!(without_mbsync_uid("123.host,U=x"), None);
        assert_eq!(
            without_mbsync_uid("123.host,U=5,FMD5=0123456789abcdef0123456789abcdef").as_deref(),
            Some("123.host")
        );
        assert_eq!(
            without_mbsync_uid("123.host,U=5,FMD5=short").as_deref(),
            Some("123.host,FMD5=short")
        );
        assert_eq!(without_mbsync_uid("123.host"), None);
    }

    fn location(name: &str) -> Location {
        Location {
            sub: Sub::Cur,
            file_name: name.to_owned(),
        }
    }

    #[test]
    fn a_file_mbsync_renamed_keeps_the_key_the_status_knows() {
        let mut index = Index::new();
        index.insert("k1,U=3".to_owned(), location("k1,U=3:2,S"));
        index.insert("k2,U=4".to_owned(), location("k2,U=4:2,"));
        index.insert("k3".to_owned(), location("k3:2,"));
        index.insert("k3,U=5".to_owned(), location("k3,U=5:2,"));
        let known = [
            (ItemKey::new("k1"), Flags::new()),
            (ItemKey::new("k3"), Flags::new()),
        ];
        keep_known_keys(&mut index, &known);
        let mut keys: Vec<_> = index
            .iter()
            .map(|(k, l)| (k.as_str(), l.file_name.as_str()))
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                // Renamed: listed under its known key, found under its new name.
                ("k1", "k1,U=3:2,S"),
                // Unknown before and after: a new message.
                ("k2,U=4", "k2,U=4:2,"),
                // The known file is still there: the renamed one is another message.
                ("k3", "k3:2,"),
                ("k3,U=5", "k3,U=5:2,"),
            ]
        );
    }
}
