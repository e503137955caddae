//! One watching session: the connections of one attempt, from connecting until one of them
//! fails (or the receiver is dropped). NOTIFY needs one connection; without it each IDLE
//! folder has its own, and the first one also polls the rest.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use pimlink_core::{Error, ErrorKind};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::stamps::{Stamp, Stamps};
use super::timing::Quiet;
use super::{Ended, Event, WatchOptions};
use crate::client::{Client, SelectOptions};
use crate::proto::commands::Notify;
use crate::proto::notify::Notice;
use crate::store::names::{canonical_name, server_name};

type Step<T> = Result<T, Ended>;

/// Runs a session until it ends; sets `proven` once a connection answered after setup.
pub(super) async fn run(
    options: Arc<WatchOptions>,
    tx: mpsc::Sender<Event>,
    proven: Arc<AtomicBool>,
) -> Ended {
    let result = async {
        let mut client = open(&options).await?;
        // Events name folders as the engine does (levels split by `/`), whatever the server's
        // delimiter; `LIST "" ""` tells it.
        let delimiter = client
            .list("", "")
            .await
            .map_err(Ended::Failed)?
            .first()
            .and_then(|entry| entry.delimiter);
        if options.notify && client.has("NOTIFY") {
            notify_loop(client, &options, &tx, &proven, delimiter).await
        } else {
            idle_and_poll(client, options, tx, proven, delimiter).await
        }
    }
    .await;
    match result {
        Err(ended) => ended,
        Ok(never) => match never {},
    }
}

/// A connection, with CONDSTORE on if offered, so that STATUS carries HIGHESTMODSEQ (the
/// counter that shows a flag change).
async fn open(options: &WatchOptions) -> Step<Client> {
    let mut client = Client::connect(options.client.clone())
        .await
        .map_err(Ended::Failed)?;
    if client.has("CONDSTORE") {
        client.enable(&["CONDSTORE"]).await.map_err(Ended::Failed)?;
    }
    Ok(client)
}

async fn send(tx: &mpsc::Sender<Event>, event: Event) -> Step<()> {
    tx.send(event).await.map_err(|_| Ended::Closed)
}

/// Reports a change of the server folder `server` under its engine name. A folder with no
/// engine name (a level containing `/` under another delimiter) is never synced: nothing to
/// report.
async fn send_folder(
    tx: &mpsc::Sender<Event>,
    server: &str,
    delimiter: Option<char>,
    stamp: Option<Stamp>,
) -> Step<()> {
    match canonical_name(server, delimiter) {
        Ok(name) => {
            let name = name.as_str().to_owned();
            send(tx, Event::Folder { name, stamp }).await
        }
        Err(_) => Ok(()),
    }
}

/// NOTIFY: one connection reads what the server reports; after `keepalive` of silence a NOOP
/// checks it (its answer is bounded by the read timeout).
async fn notify_loop(
    mut client: Client,
    options: &WatchOptions,
    tx: &mpsc::Sender<Event>,
    proven: &AtomicBool,
    delimiter: Option<char>,
) -> Step<Infallible> {
    client
        .notify(Notify::whole_account())
        .await
        .map_err(Ended::Failed)?;
    info!("{}: watching every folder with NOTIFY", options.client.host);
    send(tx, Event::Everything).await?;
    let quiet = Quiet {
        keepalive: options.keepalive,
    };
    let mut stamps = Stamps::default();
    let mut heard = Instant::now();
    loop {
        let notices = match client
            .wait_notice(quiet.check_at(heard))
            .await
            .map_err(Ended::Failed)?
        {
            Some(notice) => vec![notice],
            None => client.noop_notices().await.map_err(Ended::Failed)?,
        };
        heard = Instant::now();
        for notice in notices {
            match notice {
                Notice::Mailbox(status) => {
                    let stamp = Stamp::from(&status);
                    if stamps.note(&status.name, stamp) {
                        send_folder(tx, &status.name, delimiter, Some(stamp)).await?;
                    }
                }
                Notice::Mailboxes => send(tx, Event::Folders).await?,
                Notice::Overflow => {
                    // The server stopped notifying: it must be asked again, and what it
                    // dropped is unknown.
                    send(tx, Event::Everything).await?;
                    client
                        .notify(Notify::whole_account())
                        .await
                        .map_err(Ended::Failed)?;
                }
                Notice::Closing => {
                    return Err(Ended::Failed(Error::new(
                        ErrorKind::Connection,
                        "the server is closing the connection (BYE)",
                    )));
                }
                Notice::Selected | Notice::Nothing => {}
            }
        }
        proven.store(true, Ordering::SeqCst);
    }
}

/// Without NOTIFY: IDLE on each IDLE folder, one connection each, and one more connection
/// that polls the other folders. With fewer connections allowed, the first IDLE connection
/// also polls (its own folder included: what the server reports while the poll runs is not
/// seen as an IDLE wake-up), and the IDLE folders left over are polled.
async fn idle_and_poll(
    first: Client,
    options: Arc<WatchOptions>,
    tx: mpsc::Sender<Event>,
    proven: Arc<AtomicBool>,
    delimiter: Option<char>,
) -> Step<Infallible> {
    // The IDLE folders by their server names.
    let mut idle: Vec<String> = Vec::new();
    for folder in &options.idle_folders {
        let server = pimlink_core::CollectionName::new(folder.as_str())
            .and_then(|name| server_name(&name, delimiter));
        match server {
            Ok(server) if !idle.contains(&server) => idle.push(server),
            Ok(_) => {}
            Err(error) => warn!("{}: cannot watch {folder}: {error}", options.client.host),
        }
    }
    let slots = options.connections.max(1);
    if idle.len() > slots {
        let polled = idle.split_off(slots);
        warn!(
            "{}: only {slots} connection(s) allowed: {} polled instead of watched with IDLE",
            options.client.host,
            polled.join(", ")
        );
    }
    // Connection i IDLEs on folders[i]; `None` is the connection that only polls.
    let mut folders: Vec<Option<String>> = idle.iter().cloned().map(Some).collect();
    if folders.len() < slots {
        folders.insert(0, None);
    }
    let mut exclude = idle.clone();
    if let Some(Some(own)) = folders.first() {
        exclude.retain(|f| f != own);
    }
    let mut clients = vec![first];
    while clients.len() < folders.len() {
        clients.push(open(&options).await?);
    }
    info!(
        "{}: watching {} with IDLE, polling the other folders every {:?}",
        options.client.host,
        if idle.is_empty() {
            "no folder".to_owned()
        } else {
            idle.join(", ")
        },
        options.poll_interval
    );
    send(&tx, Event::Everything).await?;
    let mut set = JoinSet::new();
    for (i, (client, folder)) in clients.into_iter().zip(folders).enumerate() {
        let watched = Watched {
            folder,
            poller: (i == 0).then(|| Poller {
                exclude: exclude.clone(),
                stamps: Stamps::default(),
            }),
            delimiter,
        };
        set.spawn(connection_loop(
            client,
            watched,
            Arc::clone(&options),
            tx.clone(),
            Arc::clone(&proven),
        ));
    }
    // Every loop runs until it fails; the first to fail ends the session (dropping the set
    // aborts the others, closing their connections).
    match set.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(join)) => Err(Ended::Failed(Error::new(
            ErrorKind::Connection,
            format!("a watching connection's task ended: {join}"),
        ))),
        None => Err(Ended::Closed),
    }
}

/// What one IDLE-mode connection watches.
struct Watched {
    /// The folder it IDLEs on.
    folder: Option<String>,
    /// The first connection polls the other folders.
    poller: Option<Poller>,
    delimiter: Option<char>,
}

struct Poller {
    /// Folders watched with IDLE, left out of polls.
    exclude: Vec<String>,
    stamps: Stamps,
}

async fn connection_loop(
    mut client: Client,
    mut watched: Watched,
    options: Arc<WatchOptions>,
    tx: mpsc::Sender<Event>,
    proven: Arc<AtomicBool>,
) -> Step<Infallible> {
    if let Some(folder) = &watched.folder {
        let examine = SelectOptions {
            read_only: true,
            ..SelectOptions::default()
        };
        match client.select(folder, examine).await {
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {
                warn!("{}: cannot watch {folder}: {error}", options.client.host);
                watched.folder = None;
            }
            Err(error) => return Err(Ended::Failed(error)),
        }
    }
    if watched.folder.is_none() && watched.poller.is_none() {
        // Nothing to do on this connection: close it and leave the others running.
        drop(client);
        return std::future::pending().await;
    }
    let quiet = Quiet {
        keepalive: options.keepalive,
    };
    // The first poll at once sets the baseline.
    let mut next_poll = watched.poller.as_ref().map(|_| Instant::now());
    loop {
        let now = Instant::now();
        if let (Some(poller), Some(due)) = (&mut watched.poller, next_poll)
            && due <= now
        {
            poll(&mut client, poller, &tx, watched.delimiter).await?;
            proven.store(true, Ordering::SeqCst);
            next_poll = Some(Instant::now() + options.poll_interval);
            continue;
        }
        let wait = quiet.idle_for(now, next_poll);
        match &watched.folder {
            Some(folder) => {
                let outcome = client.idle(wait).await.map_err(Ended::Failed)?;
                proven.store(true, Ordering::SeqCst);
                if !outcome.timed_out {
                    send_folder(&tx, folder, watched.delimiter, None).await?;
                }
            }
            None => {
                tokio::time::sleep(wait).await;
                if next_poll.is_none_or(|due| Instant::now() < due) {
                    client.noop().await.map_err(Ended::Failed)?;
                    proven.store(true, Ordering::SeqCst);
                }
            }
        }
    }
}

/// Reads every folder's counters (one LIST-STATUS, or LIST and pipelined STATUS) and reports
/// the folders whose counters moved since the last poll.
async fn poll(
    client: &mut Client,
    poller: &mut Poller,
    tx: &mpsc::Sender<Event>,
    delimiter: Option<char>,
) -> Step<()> {
    let failed = Ended::Failed;
    let mut folders: Vec<(String, Stamp)> = Vec::new();
    if client.has("LIST-STATUS") {
        for (entry, status) in client.list_status("*").await.map_err(failed)? {
            if let (true, Some(status)) = (entry.selectable(), status) {
                folders.push((entry.name, Stamp::from(&status)));
            }
        }
    } else {
        let names: Vec<String> = client
            .list("", "*")
            .await
            .map_err(failed)?
            .into_iter()
            .filter(|entry| entry.selectable())
            .map(|entry| entry.name)
            .filter(|name| !poller.exclude.contains(name))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let statuses = client.status_many(&refs).await.map_err(failed)?;
        for (name, status) in names.iter().zip(statuses) {
            match status {
                Ok(status) => folders.push((name.clone(), Stamp::from(&status))),
                // Deleted between LIST and STATUS: the next poll sees it gone.
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                Err(error) => return Err(Ended::Failed(error)),
            }
        }
    }
    folders.retain(|(name, _)| !poller.exclude.contains(name));
    let diff = poller.stamps.poll(folders);
    if diff.folders_changed {
        send(tx, Event::Folders).await?;
    }
    for (name, stamp) in diff.changed {
        send_folder(tx, &name, delimiter, Some(stamp)).await?;
    }
    Ok(())
}
