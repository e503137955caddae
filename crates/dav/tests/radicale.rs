//! The CalDAV/CardDAV storage against a real Radicale 3 on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use pimlink_core::ErrorKind;
use pimlink_core::dav::store::{
    ChangesSince, CollectionId, CollectionKind, Etag, Href, ItemStore, MetaProperty, SyncToken,
};
use pimlink_dav::{ClientOptions, DavStore, Secret};
use pimlink_testkit::Radicale;

fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n\
         SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn card(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n")
}

fn options(server: &Radicale) -> ClientOptions {
    ClientOptions::new(server.url()).credentials(server.user(), Secret::new(server.password()))
}

async fn store(server: &Radicale, kind: CollectionKind) -> DavStore {
    DavStore::discover(&options(server), kind).await.unwrap()
}

fn id(name: &str) -> CollectionId {
    CollectionId::new(name).unwrap()
}

#[tokio::test]
async fn discovery_finds_the_home_sets() {
    let server = Radicale::start().unwrap();
    let cal = store(&server, CollectionKind::Calendar).await;
    assert_eq!(cal.home(), "/test/");
    let book = store(&server, CollectionKind::AddressBook).await;
    assert_eq!(book.home(), "/test/");
    assert!(cal.list_collections().await.unwrap().is_empty());

    // A wrong password is a refused login that says so.
    let wrong = ClientOptions::new(server.url()).credentials("test", Secret::new("wrong"));
    let err = DavStore::discover(&wrong, CollectionKind::Calendar)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("401"), "{err}");
    assert!(
        !format!("{wrong:?}").contains("secret"),
        "password in Debug"
    );
}

#[tokio::test]
async fn collections_are_created_with_metadata_of_their_kind() {
    let server = Radicale::start().unwrap();
    let cals = store(&server, CollectionKind::Calendar).await;
    let books = store(&server, CollectionKind::AddressBook).await;

    let work = cals.create_collection(&id("work")).await.unwrap();
    assert_eq!(work.id, id("work"));
    assert_eq!(work.kind, CollectionKind::Calendar);
    assert!(work.supports_sync, "Radicale advertises sync tokens");
    // Creating it again is fine.
    cals.create_collection(&id("work")).await.unwrap();
    books.create_collection(&id("contacts")).await.unwrap();

    cals.set_meta(&id("work"), MetaProperty::DisplayName, Some("Work & Play"))
        .await
        .unwrap();
    cals.set_meta(&id("work"), MetaProperty::Color, Some("#ff8800ff"))
        .await
        .unwrap();
    cals.set_meta(&id("work"), MetaProperty::Description, Some("Meetings"))
        .await
        .unwrap();
    books
        .set_meta(&id("contacts"), MetaProperty::Description, Some("People"))
        .await
        .unwrap();

    let listed = cals.list_collections().await.unwrap();
    assert_eq!(
        listed.len(),
        1,
        "address books are not calendars: {listed:?}"
    );
    assert_eq!(listed[0].meta.displayname.as_deref(), Some("Work & Play"));
    assert_eq!(listed[0].meta.color.as_deref(), Some("#ff8800ff"));
    assert_eq!(listed[0].meta.description.as_deref(), Some("Meetings"));
    let listed = books.list_collections().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id("contacts"));
    assert_eq!(listed[0].meta.description.as_deref(), Some("People"));

    cals.set_meta(&id("work"), MetaProperty::Color, None)
        .await
        .unwrap();
    assert_eq!(
        cals.get_meta(&id("work"), MetaProperty::Color)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        cals.get_meta(&id("work"), MetaProperty::DisplayName)
            .await
            .unwrap()
            .as_deref(),
        Some("Work & Play")
    );

    cals.delete_collection(&id("work")).await.unwrap();
    assert!(cals.list_collections().await.unwrap().is_empty());
}

#[tokio::test]
async fn items_round_trip_with_etag_preconditions() {
    let server = Radicale::start().unwrap();
    let cals = store(&server, CollectionKind::Calendar).await;
    let cal = id("cal");
    cals.create_collection(&cal).await.unwrap();

    let a = cals.create_item(&cal, &event("a@x", "A")).await.unwrap();
    assert_eq!(a.href.as_str(), "/test/cal/a@x.ics");
    // A UID with unsafe characters gets a hashed name that stays inside the collection.
    let odd = cals
        .create_item(&cal, &event("odd/../uid with space", "odd"))
        .await
        .unwrap();
    assert!(odd.href.as_str().starts_with("/test/cal/"), "{}", odd.href);
    assert_eq!(odd.href.as_str().matches('/').count(), 3);

    // Creating at an existing href is refused, never overwritten.
    let err = cals
        .create_item(&cal, &event("a@x", "again"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");

    let mut listed = cals.list_items(&cal).await.unwrap();
    listed.sort_by(|x, y| x.href.cmp(&y.href));
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&a), "{listed:?} vs {a:?}");

    let fetched = cals
        .get_many(
            &cal,
            &[
                a.href.clone(),
                odd.href.clone(),
                Href::new("/test/cal/none.ics"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(fetched.items.len(), 2, "{fetched:?}");
    assert_eq!(fetched.missing, [Href::new("/test/cal/none.ics")]);
    assert!(fetched.failed.is_empty());
    let got_a = fetched.items.iter().find(|i| i.href == a.href).unwrap();
    assert_eq!(got_a.etag, a.etag);
    assert!(got_a.data.contains("SUMMARY:A"), "{}", got_a.data);

    let new_etag = cals
        .update_item(&cal, &a.href, &a.etag, &event("a@x", "A2"))
        .await
        .unwrap();
    assert_ne!(new_etag, a.etag);
    // The stale etag no longer works for update or delete (HTTP 412).
    let err = cals
        .update_item(&cal, &a.href, &a.etag, &event("a@x", "lost"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    assert!(err.to_string().contains("precondition failed"), "{err}");
    let err = cals.delete_item(&cal, &a.href, &a.etag).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    let fetched = cals
        .get_many(&cal, std::slice::from_ref(&a.href))
        .await
        .unwrap();
    assert!(fetched.items[0].data.contains("SUMMARY:A2"));

    cals.delete_item(&cal, &a.href, &new_etag).await.unwrap();
    let err = cals
        .delete_item(&cal, &a.href, &new_etag)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    // Hrefs outside the collection are refused before anything is sent.
    for bad in [
        "/test/other/x.ics",
        "/test/cal/",
        "/test/cal/sub/x.ics",
        "../x.ics",
    ] {
        let err = cals
            .delete_item(&cal, &Href::new(bad), &Etag::new("\"x\""))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{bad}: {err}");
    }
}

#[tokio::test]
async fn sync_collection_reports_changes_and_invalid_tokens() {
    let server = Radicale::start().unwrap();
    let cals = store(&server, CollectionKind::Calendar).await;
    let cal = id("cal");
    cals.create_collection(&cal).await.unwrap();
    let a = cals.create_item(&cal, &event("a", "A")).await.unwrap();
    let b = cals.create_item(&cal, &event("b", "B")).await.unwrap();

    let ChangesSince::Changes(initial) = cals.changes_since(&cal, None).await.unwrap() else {
        panic!("no token given, so it cannot be invalid");
    };
    let mut hrefs: Vec<_> = initial.changed.iter().map(|r| r.href.clone()).collect();
    hrefs.sort();
    assert_eq!(hrefs, [a.href.clone(), b.href.clone()]);
    assert!(initial.deleted.is_empty());

    // Nothing changed: nothing reported.
    let ChangesSince::Changes(none) = cals
        .changes_since(&cal, Some(&initial.new_token))
        .await
        .unwrap()
    else {
        panic!("fresh token refused");
    };
    assert!(
        none.changed.is_empty() && none.deleted.is_empty(),
        "{none:?}"
    );

    let b2 = cals
        .update_item(&cal, &b.href, &b.etag, &event("b", "B2"))
        .await
        .unwrap();
    cals.delete_item(&cal, &a.href, &a.etag).await.unwrap();
    let c = cals.create_item(&cal, &event("c", "C")).await.unwrap();
    let ChangesSince::Changes(changes) = cals
        .changes_since(&cal, Some(&none.new_token))
        .await
        .unwrap()
    else {
        panic!("token refused");
    };
    let mut changed = changes.changed.clone();
    changed.sort_by(|x, y| x.href.cmp(&y.href));
    assert_eq!(
        changed,
        [
            pimlink_core::dav::store::ItemRef {
                href: b.href.clone(),
                etag: b2
            },
            c
        ]
    );
    assert_eq!(changes.deleted, [a.href]);
    assert_ne!(changes.new_token, none.new_token);

    let bogus = SyncToken::new(
        "http://radicale.org/ns/sync/0000000000000000000000000000000000000000000000000000000000000000",
    );
    assert_eq!(
        cals.changes_since(&cal, Some(&bogus)).await.unwrap(),
        ChangesSince::TokenInvalid
    );
    let garbage = SyncToken::new("not-a-token");
    assert_eq!(
        cals.changes_since(&cal, Some(&garbage)).await.unwrap(),
        ChangesSince::TokenInvalid
    );
}

#[tokio::test]
async fn address_books_hold_vcards() {
    let server = Radicale::start().unwrap();
    let books = store(&server, CollectionKind::AddressBook).await;
    let book = id("people");
    books.create_collection(&book).await.unwrap();
    let created = books
        .create_item(&book, &card("card-1", "Ann"))
        .await
        .unwrap();
    assert_eq!(created.href.as_str(), "/test/people/card-1.vcf");
    let fetched = books
        .get_many(&book, std::slice::from_ref(&created.href))
        .await
        .unwrap();
    assert_eq!(fetched.items.len(), 1);
    assert!(fetched.items[0].data.contains("FN:Ann"));
    assert_eq!(
        books.list_items(&book).await.unwrap(),
        std::slice::from_ref(&created),
        "{}",
        server.log()
    );
    let ChangesSince::Changes(all) = books.changes_since(&book, None).await.unwrap() else {
        panic!();
    };
    assert_eq!(all.changed, [created]);
}

#[tokio::test]
async fn many_requests_in_flight_and_multiget_in_batches() {
    let server = Radicale::start().unwrap();
    let cals = Arc::new(store(&server, CollectionKind::Calendar).await);
    let cal = id("big");
    cals.create_collection(&cal).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..130 {
        let cals = Arc::clone(&cals);
        let cal = cal.clone();
        tasks.spawn(async move { cals.create_item(&cal, &event(&format!("e{i}"), "x")).await });
    }
    let mut created = Vec::new();
    while let Some(result) = tasks.join_next().await {
        created.push(result.unwrap().unwrap());
    }
    assert_eq!(created.len(), 130);
    let hrefs: Vec<Href> = created.iter().map(|c| c.href.clone()).collect();
    // More than one multiget batch (100).
    let fetched = cals.get_many(&cal, &hrefs).await.unwrap();
    assert_eq!(fetched.items.len(), 130);
    assert!(fetched.missing.is_empty() && fetched.failed.is_empty());
    for item in &fetched.items {
        let expected = created.iter().find(|c| c.href == item.href).unwrap();
        assert_eq!(item.etag, expected.etag);
    }
    assert_eq!(cals.list_items(&cal).await.unwrap().len(), 130);
}

#[tokio::test]
async fn discovery_falls_back_to_the_well_known_url() {
    let server = Radicale::start().unwrap();
    // A URL that is no DAV resource: discovery must go through /.well-known/caldav, which
    // Radicale redirects, and the redirect must keep the PROPFIND method.
    let options = ClientOptions::new(format!("{}nothing/here/", server.url()))
        .credentials(server.user(), Secret::new(server.password()));
    let cals = DavStore::discover(&options, CollectionKind::Calendar)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(cals.home(), "/test/");
    let books = DavStore::discover(&options, CollectionKind::AddressBook)
        .await
        .unwrap();
    assert_eq!(books.home(), "/test/");
    assert!(
        server.log().contains("well-known"),
        "the well-known URL was not asked: {}",
        server.log()
    );
}
