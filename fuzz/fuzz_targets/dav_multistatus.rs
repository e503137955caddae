//! Arbitrary `207 Multi-Status` bodies through the DAV storage's response parsers: the XML tree,
//! the multistatus reader and what the storage takes from it (collections of both kinds,
//! etag listings, multiget answers, sync-collection changes, change stamps). Besides panics it
//! checks what the storage relies on: hrefs come out canonical (canonical twice changes
//! nothing) and lead to the configured server, and an href the storage accepts as an item of a collection still names an item
//! of that collection once the HTTP client has resolved it, so that no PUT or DELETE can land
//! outside the collection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pimlink_core::dav::store::{CollectionId, CollectionKind};
use pimlink_dav::proto::href::{canonical, is_direct_child, last_segment};
use pimlink_dav::proto::{multistatus, stamp, xml};
use url::Url;

/// Collections and homes the answers are read against, beside the hrefs the input names.
const FIXED: [&str; 3] = ["/", "/c/", "/dav/calendars/user/"];

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let _ = xml::parse(body);
    let _ = multistatus::is_invalid_sync_token(body);
    let Ok(ms) = multistatus::parse(body) else {
        return;
    };
    let mut collections: Vec<String> = FIXED.iter().map(|c| (*c).to_owned()).collect();
    for response in &ms.responses {
        assert_eq!(
            canonical(&response.href),
            response.href,
            "response hrefs are canonical"
        );
        same_server(&response.href);
        if response.href.ends_with('/') && collections.len() < 8 {
            collections.push(response.href.clone());
        }
    }
    for kind in [CollectionKind::Calendar, CollectionKind::AddressBook] {
        let _ = multistatus::multiget_entries(&ms, kind);
        for home in &collections {
            for found in multistatus::collections(&ms, home, kind) {
                assert!(found.href.ends_with('/'), "{found:?}");
                assert_eq!(canonical(&found.href), found.href);
                if let Ok(id) = CollectionId::new(last_segment(&found.href)) {
                    assert!(!id.as_str().contains('/'));
                }
                let _ = stamp::from_last_modified(
                    found.last_modified.as_deref(),
                    Some("Sun, 06 Nov 1994 08:49:37 GMT"),
                );
            }
        }
    }
    for collection in &collections {
        let (with, without) = multistatus::etags(&ms, collection);
        let (changed, deleted) = multistatus::sync_changes(&ms, collection);
        let hrefs = with
            .iter()
            .chain(&changed)
            .map(|(h, _)| h)
            .chain(&without)
            .chain(&deleted);
        for href in hrefs {
            stays_inside(collection, href);
        }
    }
});

/// The client sends requests for canonical hrefs to the server it was configured for, whatever
/// the server answered (`//other.example/x` would name another host).
fn same_server(href: &str) {
    let Ok(base) = Url::parse("https://dav.example/") else {
        return;
    };
    if let Ok(url) = base.join(href) {
        assert_eq!(url.host_str(), base.host_str(), "{href:?} leads to {url}");
    }
}

/// What `DavStore::item_href` accepts must resolve, as the client resolves it, to one item
/// directly inside `collection`.
fn stays_inside(collection: &str, href: &str) {
    let item = canonical(href);
    if !is_direct_child(collection, &item) || item.ends_with('/') {
        return;
    }
    let Ok(base) = Url::parse("https://dav.example/") else {
        return;
    };
    let (Ok(col_url), Ok(item_url)) = (base.join(collection), base.join(&item)) else {
        return;
    };
    let col_path = col_url.path().trim_end_matches('/').to_owned() + "/";
    let rest = item_url.path().strip_prefix(&col_path);
    assert!(
        rest.is_some_and(|rest| !rest.is_empty() && !rest.contains('/')),
        "item {item:?} of {collection:?} resolves to {}",
        item_url.path()
    );
}
