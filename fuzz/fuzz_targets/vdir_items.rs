//! Arbitrary collection ids and item texts through a real vdir (in a temporary directory, on
//! tmpfs when `TMPDIR` points there): create a collection and an item, list, read back, delete.
//! Checks that every directory and file the store creates lies directly in its parent, that an
//! item reads back byte for byte under the name it was created with, and that hrefs the store
//! is handed (as a hostile status database could) never read a file outside the collection.
#![no_main]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use pimlink_core::dav::store::{CollectionId, CollectionKind, Href, ItemStore};
use pimlink_vdir::Vdir;

/// Content of files placed where a path escaping a collection would lead.
const SECRET: &str = "BEGIN:VCALENDAR\r\nX-SECRET:outside\r\nEND:VCALENDAR\r\n";

struct World {
    store: Vdir,
    root: PathBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("pimlink-fuzz-vdir-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(&root).expect("temporary directory");
        std::fs::write(base.join("outside.ics"), SECRET).expect("sentinel file");
        std::fs::write(root.join("beside.ics"), SECRET).expect("sentinel file");
        let store = Vdir::open(&root, CollectionKind::Calendar).expect("open vdir");
        let root = store.root().to_owned();
        World { store, root }
    })
}

/// Runs a future of the vdir, whose methods never wait on anything.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn is_directly_in(parent: &Path, child: &Path) -> bool {
    child.parent() == Some(parent) && child.file_name().is_some()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First line: a collection id; second line: an href to try; the rest: an item.
    let mut parts = text.splitn(3, '\n');
    let (Some(id), Some(href), Some(item)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let World { store, root } = world();
    let Ok(id) = CollectionId::new(id) else {
        return;
    };
    let Ok(collection) = run(store.create_collection(&id)) else {
        return;
    };
    let dir = PathBuf::from(&collection.location);
    assert!(
        is_directly_in(root, &dir),
        "collection {id} at {}",
        dir.display()
    );

    if let Ok(fetched) = run(store.get_many(&id, &[Href::new(href)])) {
        for got in fetched.items {
            assert_ne!(got.data, SECRET, "href {href:?} read a file outside {id}");
        }
    }

    match run(store.create_item(&id, item)) {
        Ok(created) => {
            let path = dir.join(created.href.as_str());
            assert!(is_directly_in(&dir, &path), "item at {}", path.display());
            let listed = run(store.list_items(&id)).expect("list items");
            assert!(
                listed
                    .iter()
                    .any(|r| r.href == created.href && r.etag == created.etag),
                "{created:?} not in {listed:?}"
            );
            let fetched = run(store.get_many(&id, &[created.href.clone()])).expect("read back");
            assert_eq!(fetched.items.len(), 1, "{fetched:?}");
            assert_eq!(fetched.items[0].data, item);
            run(store.delete_item(&id, &created.href, &created.etag)).expect("delete item");
        }
        Err(err) => panic!("creating an item in {id} failed: {err}"),
    }
    run(store.delete_collection(&id)).expect("delete collection");
    run(store.flush()).expect("flush");
});
