//! The CalDAV/CardDAV storage against a real Xandikos on loopback (no authentication: Xandikos
//! leaves that to a proxy).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pimlink_core::ErrorKind;
use pimlink_core::dav::store::{
    ChangesSince, CollectionId, CollectionKind, ItemStore, MetaProperty, SyncToken,
};
use pimlink_dav::{ClientOptions, DavStore};
use pimlink_testkit::Xandikos;

fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n\
         SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn id(name: &str) -> CollectionId {
    CollectionId::new(name).unwrap()
}

async fn store(server: &Xandikos, kind: CollectionKind) -> DavStore {
    DavStore::discover(&ClientOptions::new(server.url()), kind)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()))
}

#[tokio::test]
async fn discovery_and_default_collections() {
    let server = Xandikos::start().unwrap();
    let cals = store(&server, CollectionKind::Calendar).await;
    assert_eq!(cals.home(), "/user/calendars/");
    let books = store(&server, CollectionKind::AddressBook).await;
    assert_eq!(books.home(), "/user/contacts/");
    let ids: Vec<_> = cals
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [id("calendar")]);
    let ids: Vec<_> = books
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [id("addressbook")]);
}

#[tokio::test]
async fn collections_and_metadata() {
    let server = Xandikos::start().unwrap();
    let cals = store(&server, CollectionKind::Calendar).await;
    let created = cals.create_collection(&id("work")).await.unwrap();
    assert_eq!(created.kind, CollectionKind::Calendar);
    cals.create_collection(&id("work")).await.unwrap();
    cals.set_meta(&id("work"), MetaProperty::DisplayName, Some("Work"))
        .await
        .unwrap();
    cals.set_meta(&id("work"), MetaProperty::Color, Some("#00ff00"))
        .await
        .unwrap();
    let work = cals
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == id("work"))
        .unwrap();
    assert_eq!(work.meta.displayname.as_deref(), Some("Work"));
    assert_eq!(work.meta.color.as_deref(), Some("#00ff00"));
    let books = store(&server, CollectionKind::AddressBook).await;
    books.create_collection(&id("friends")).await.unwrap();
    assert_eq!(books.list_collections().await.unwrap().len(), 2);
}

#[tokio::test]
async fn items_preconditions_multiget_and_sync_tokens() {
    let server = Xandikos::start().unwrap();
    let cals = store(&server, CollectionKind::Calendar).await;
    let cal = id("calendar");
    let a = cals.create_item(&cal, &event("a", "A")).await.unwrap();
    let b = cals.create_item(&cal, &event("b", "B")).await.unwrap();
    let err = cals.create_item(&cal, &event("a", "A")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");

    let ChangesSince::Changes(initial) = cals.changes_since(&cal, None).await.unwrap() else {
        panic!("no token given");
    };
    assert_eq!(initial.changed.len(), 2, "{initial:?}");

    let fetched = cals
        .get_many(&cal, &[a.href.clone(), b.href.clone()])
        .await
        .unwrap();
    assert_eq!(fetched.items.len(), 2, "{fetched:?}");
    assert!(fetched.items.iter().any(|i| i.data.contains("SUMMARY:B")));

    let a2 = cals
        .update_item(&cal, &a.href, &a.etag, &event("a", "A2"))
        .await
        .unwrap();
    let err = cals
        .update_item(&cal, &a.href, &a.etag, &event("a", "lost"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    let err = cals.delete_item(&cal, &b.href, &a2).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    cals.delete_item(&cal, &b.href, &b.etag).await.unwrap();

    let ChangesSince::Changes(changes) = cals
        .changes_since(&cal, Some(&initial.new_token))
        .await
        .unwrap()
    else {
        panic!("token refused");
    };
    assert_eq!(changes.changed.len(), 1, "{changes:?}");
    assert_eq!(changes.changed[0].href, a.href);
    assert_eq!(changes.changed[0].etag, a2);
    assert_eq!(changes.deleted, std::slice::from_ref(&b.href));

    let fetched = cals
        .get_many(&cal, std::slice::from_ref(&b.href))
        .await
        .unwrap();
    assert_eq!(fetched.missing, [b.href], "{fetched:?}");

    let bogus = SyncToken::new("http://xandikos/invalid-token");
    // Xandikos answers an unknown token with HTTP 500; it must still read as "invalid".
    assert_eq!(
        cals.changes_since(&cal, Some(&bogus)).await.unwrap(),
        ChangesSince::TokenInvalid,
        "{}",
        server.log()
    );
}
