//! New messages on their way in: each is written to `tmp/` with LF line ends, unsynced
//! ([`write_unsynced`]), and waits as an [`Unplaced`] until the flush ([`flush_blocking`], on a
//! thread of its own) makes the batch durable (one `syncfs` per large folder group, else
//! concurrent fsyncs), places each in `new/` or `cur/` without replacing anything, and fsyncs
//! the changed directories.
//!
//! Key types: [`Unplaced`], [`Flushed`]. Not here: choosing the key and the file name
//! (`MailStore::deliver` in `mail_store.rs`), the syncfs/fsync decision and the no-replace
//! placing (`durable.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use pimlink_core::own_writes::{self, Event};
use pimlink_core::{CollectionName, Content, Error, ErrorKind, ItemData, Result};

use crate::durable::{self, Strategy};
use crate::fsutil::fsync_dir;
use crate::items::Sub;
use crate::lineend::CrlfToLf;

use super::exists;

/// A delivery waiting for `flush`.
#[derive(Debug)]
pub(super) struct Unplaced {
    pub(super) collection: CollectionName,
    pub(super) key: String,
    pub(super) file: File,
    pub(super) tmp: PathBuf,
    pub(super) destination: PathBuf,
    pub(super) dir: PathBuf,
    pub(super) sub: Sub,
}

/// How many fsyncs run at once in `flush`; more stop helping on an ordinary disk.
const CONCURRENT_FSYNCS: usize = 16;

/// The write buffer of a delivery: a large message takes one `write` per 64 KiB instead of
/// per 8 KiB (std's default); one delivery is written at a time, so it costs 64 KiB once.
const WRITE_BUFFER: usize = 64 * 1024;

/// What a flush did, for the handle to update its index and its list of dirty directories.
pub(super) struct Flushed {
    /// Deliveries that failed: their keys are free again.
    pub(super) failed: Vec<(CollectionName, String)>,
    /// Directories still to fsync after a failure.
    pub(super) unsynced_dirs: BTreeSet<PathBuf>,
    /// The first delivery that failed.
    pub(super) placing_error: Option<Error>,
    /// The directory fsync that failed.
    pub(super) dir_error: Option<Error>,
}

/// The blocking part of a flush: makes every pending delivery durable and moves it into new/
/// or cur/, then fsyncs every changed directory (`dirty` and those the deliveries changed).
/// A delivery that fails is removed from tmp/ and reported; the engine then records none of the
/// batch and finds out next run which ones landed.
pub(super) fn flush_blocking(unplaced: Vec<Unplaced>, mut dirty: BTreeSet<PathBuf>) -> Flushed {
    let mut flushed = Flushed {
        failed: Vec::new(),
        unsynced_dirs: BTreeSet::new(),
        placing_error: None,
        dir_error: None,
    };
    let synced = sync_deliveries(&unplaced);
    for (delivery, synced) in unplaced.into_iter().zip(synced) {
        let result = synced.and_then(|()| {
            own_writes::during(&[(&delivery.destination, Event::Arrive)], || {
                durable::place(&delivery.tmp, &delivery.destination)
            })
            .map_err(|err| {
                if err.kind() == ErrorKind::Refused {
                    exists(&delivery.collection, &delivery.key)
                } else {
                    err
                }
            })
        });
        match result {
            Ok(()) => {
                dirty.insert(delivery.dir.join(delivery.sub.dir_name()));
            }
            Err(err) => {
                let _ = std::fs::remove_file(&delivery.tmp);
                flushed.failed.push((delivery.collection, delivery.key));
                flushed.placing_error.get_or_insert(err);
            }
        }
    }
    let mut pending = dirty.into_iter();
    while let Some(dir) = pending.next() {
        if let Err(err) = fsync_dir(&dir) {
            flushed.unsynced_dirs.insert(dir);
            flushed.unsynced_dirs.extend(pending);
            flushed.dir_error = Some(err);
            break;
        }
    }
    flushed
}

/// Makes the files of `deliveries` durable, one result each, in order: per folder, one
/// `syncfs` for a large group (see `durable.rs`), else an fsync per file from up to
/// [`CONCURRENT_FSYNCS`] threads.
fn sync_deliveries(deliveries: &[Unplaced]) -> Vec<Result<()>> {
    let mut groups: BTreeMap<&Path, Vec<usize>> = BTreeMap::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        groups.entry(&delivery.dir).or_default().push(index);
    }
    let mut results: Vec<Option<Result<()>>> = deliveries.iter().map(|_| None).collect();
    let mut one_by_one = Vec::new();
    for members in groups.into_values() {
        let trusted = members.len() >= durable::SYNCFS_MIN_FILES
            && durable::syncfs_reports_errors()
            && durable::syncfs_is_thorough(&deliveries[members[0]].file);
        match durable::strategy(members.len(), trusted) {
            Strategy::SyncFs => {
                // Through the descriptor of the group's first file: it was opened before any
                // of the group's data was written, so a writeback error of any of them since
                // is reported here (syncfs checks the file system's error sequence against
                // the one the descriptor saw when it was opened).
                let outcome = durable::syncfs(&deliveries[members[0]].file);
                for &index in &members {
                    results[index] = Some(outcome.as_ref().map(|_| ()).map_err(|err| {
                        Error::io(
                            format!("writing {}", deliveries[index].tmp.display()),
                            io::Error::new(err.kind(), err.to_string()),
                        )
                    }));
                }
            }
            Strategy::FsyncEach => one_by_one.extend(members),
        }
    }
    let chosen: Vec<&Unplaced> = one_by_one.iter().map(|&index| &deliveries[index]).collect();
    for (index, result) in one_by_one.into_iter().zip(sync_all_concurrently(&chosen)) {
        results[index] = Some(result);
    }
    results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(Error::new(ErrorKind::Io, "not synced"))))
        .collect()
}

/// fsyncs the files of `deliveries` from up to [`CONCURRENT_FSYNCS`] threads; one result each,
/// in order.
fn sync_all_concurrently(deliveries: &[&Unplaced]) -> Vec<Result<()>> {
    if deliveries.is_empty() {
        return Vec::new();
    }
    let threads = CONCURRENT_FSYNCS.min(deliveries.len()).max(1);
    let chunk = deliveries.len().div_ceil(threads);
    let sync = |delivery: &&Unplaced| {
        delivery
            .file
            .sync_all()
            .map_err(|err| Error::io(format!("writing {}", delivery.tmp.display()), err))
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = deliveries
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(sync).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .zip(deliveries.chunks(chunk))
            .flat_map(|(worker, part)| {
                worker.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|d| {
                            Err(Error::new(
                                ErrorKind::Io,
                                format!("fsync of {} failed", d.tmp.display()),
                            ))
                        })
                        .collect()
                })
            })
            .collect()
    })
}

/// Writes a message to `path` with LF line ends and stamps its mtime; the fsync is left to
/// `flush`. Large messages are streamed, never held in memory.
pub(super) fn write_unsynced(path: &Path, data: ItemData) -> Result<File> {
    let context = || format!("writing {}", path.display());
    // tmp/<key> may be left over from an interrupted delivery of the same reserved key: tmp/ is
    // scratch space, so it is simply overwritten.
    let file = pimlink_core::private::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|err| Error::io(context(), err))?;
    // Buffered, so that the line-end conversion does not turn into one write per chunk.
    let mut writer = CrlfToLf::new(io::BufWriter::with_capacity(WRITE_BUFFER, file));
    match data.content {
        Content::Bytes(bytes) => writer.write_all(&bytes),
        Content::File(mut source) => io::copy(&mut source, &mut writer).map(|_| ()),
    }
    .map_err(|err| Error::io(context(), err))?;
    let file = writer
        .finish()
        .and_then(|buffered| {
            buffered
                .into_inner()
                .map_err(io::IntoInnerError::into_error)
        })
        .map_err(|err| Error::io(context(), err))?;
    if let Some(date) = data.internal_date {
        file.set_modified(date)
            .map_err(|err| Error::io(format!("setting the mtime of {}", path.display()), err))?;
    }
    Ok(file)
}
