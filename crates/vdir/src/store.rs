//! [`Vdir`]: the [`ItemStore`] over a vdir tree.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pimlink_core::dav::store::{
    ChangesSince, Collection, CollectionId, CollectionKind, CollectionMeta, Etag, Fetched,
    FetchedItem, Href, ItemRef, ItemStore, MetaProperty, SyncToken, precondition_failed,
};
use pimlink_core::dav::vobject::{content_hash, item_file_name, uid};
use pimlink_core::own_writes::{self, Event};
use pimlink_core::{Error, ErrorKind, Result};
use tracing::warn;

use crate::files::{check_href, check_not_symlink, etag_of, fsync_dir, write_temp};

/// A vdir tree: one directory per collection below `root`, one file per item.
///
/// Methods take `&self` (the pending-fsync set is behind a mutex), so the engine may call
/// several at once.
#[derive(Debug)]
pub struct Vdir {
    root: PathBuf,
    kind: CollectionKind,
    extension: String,
    /// Directories whose entries changed since the last flush.
    dirty: Mutex<BTreeSet<PathBuf>>,
}

impl Vdir {
    /// Opens (creating it if needed) the vdir at `root` holding collections of `kind`, with the
    /// kind's usual file extension. The root may be a symbolic link; it is resolved once here.
    pub fn open(root: impl AsRef<Path>, kind: CollectionKind) -> Result<Self> {
        Self::open_with_extension(root, kind, kind.file_extension())
    }

    /// Like [`Vdir::open`] with another item file extension (vdirsyncer's `fileext`), which
    /// must start with `.` and be a plain name.
    pub fn open_with_extension(
        root: impl AsRef<Path>,
        kind: CollectionKind,
        extension: &str,
    ) -> Result<Self> {
        let root = root.as_ref();
        if !extension.starts_with('.') || extension.len() < 2 || extension.contains(['/', '\0']) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("vdir file extension {extension:?} must look like \".ics\""),
            ));
        }
        pimlink_core::private::dir_builder()
            .recursive(true)
            .create(root)
            .map_err(|e| Error::io(format!("creating vdir root {}", root.display()), e))?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io(format!("resolving vdir root {}", root.display()), e))?;
        Ok(Self {
            root,
            kind,
            extension: extension.to_owned(),
            dirty: Mutex::new(BTreeSet::new()),
        })
    }

    /// The resolved root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of `collection`, refused if it is a symbolic link.
    fn collection_dir(&self, collection: &CollectionId) -> Result<PathBuf> {
        // A listing skips hidden directories (`.git`, a sync tool's own), so a collection made
        // under such a name would look deleted on the next run: refuse it instead.
        if collection.as_str().starts_with('.') {
            return Err(Error::new(
                ErrorKind::InvalidName,
                format!(
                    "a vdir cannot hold collection {:?}: a name starting with '.' is a hidden \
                     directory, which vdir readers (and pimlink) skip; pair it under another name \
                     with an alias entry [name, id on a, id on b] in the pair's collections",
                    collection.as_str()
                ),
            ));
        }
        let dir = self.root.join(collection.as_str());
        check_not_symlink(&dir)?;
        Ok(dir)
    }

    /// The directory of an existing collection.
    fn existing_collection_dir(&self, collection: &CollectionId) -> Result<PathBuf> {
        let dir = self.collection_dir(collection)?;
        if !dir.is_dir() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("vdir collection {} does not exist", dir.display()),
            ));
        }
        Ok(dir)
    }

    fn item_path(&self, collection: &CollectionId, href: &Href) -> Result<(PathBuf, PathBuf)> {
        check_href(href, &self.extension)?;
        let dir = self.existing_collection_dir(collection)?;
        let path = dir.join(href.as_str());
        check_not_symlink(&path)?;
        Ok((dir, path))
    }

    fn mark_dirty(&self, dir: &Path) {
        // A poisoned lock only means another call panicked; the set itself is still valid.
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        dirty.insert(dir.to_path_buf());
    }

    /// The etag of the item at `path` now, `NotFound` if it is gone.
    fn current_etag(path: &Path) -> Result<Etag> {
        fs::symlink_metadata(path)
            .map(|meta| etag_of(&meta))
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))
    }

    fn check_etag(path: &Path, expected: &Etag) -> Result<()> {
        let now = Self::current_etag(path)?;
        if &now != expected {
            return Err(precondition_failed(format_args!(
                "{} has etag {now}, not {expected}",
                path.display()
            )));
        }
        Ok(())
    }

    fn read_meta(dir: &Path, property: MetaProperty) -> Result<Option<String>> {
        let path = dir.join(property.name());
        check_not_symlink(&path)?;
        match fs::read_to_string(&path) {
            Ok(text) => {
                let value = text.trim();
                Ok((!value.is_empty()).then(|| value.to_owned()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    fn read_all_meta(dir: &Path) -> Result<CollectionMeta> {
        Ok(CollectionMeta {
            displayname: Self::read_meta(dir, MetaProperty::DisplayName)?,
            color: Self::read_meta(dir, MetaProperty::Color)?,
            description: Self::read_meta(dir, MetaProperty::Description)?,
        })
    }

    fn collection(&self, id: CollectionId, dir: &Path) -> Result<Collection> {
        Ok(Collection {
            id,
            kind: self.kind,
            location: dir.display().to_string(),
            meta: Self::read_all_meta(dir)?,
            supports_sync: false,
            // The engine derives one from the listing it needs anyway.
            state: None,
        })
    }

    /// Reads one item through one open handle, so that content and etag belong together even
    /// if the file is replaced meanwhile. `None` if it is gone.
    fn read_item(path: &Path, href: &Href) -> Result<Option<FetchedItem>> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("opening {}", path.display()), e)),
        };
        let context = || format!("reading {}", path.display());
        let meta = file.metadata().map_err(|e| Error::io(context(), e))?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(context(), e))?;
        let data = String::from_utf8(bytes).map_err(|_| {
            Error::new(
                ErrorKind::Peer,
                format!(
                    "{} is not UTF-8; iCalendar and vCard items must be",
                    path.display()
                ),
            )
        })?;
        Ok(Some(FetchedItem {
            href: href.clone(),
            etag: etag_of(&meta),
            data,
        }))
    }
}

impl ItemStore for Vdir {
    fn describe(&self) -> String {
        format!("vdir {}", self.root.display())
    }

    fn kind(&self) -> CollectionKind {
        self.kind
    }

    async fn list_collections(&self) -> Result<Vec<Collection>> {
        let entries = fs::read_dir(&self.root)
            .map_err(|e| Error::io(format!("listing {}", self.root.display()), e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| Error::io(format!("listing {}", self.root.display()), e))?;
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                continue; // Vanished meanwhile.
            };
            if file_type.is_symlink() {
                warn!(path = %path.display(), "skipping symbolic link in vdir root");
                continue;
            }
            if !file_type.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                warn!(path = %path.display(), "skipping vdir collection with a non-UTF-8 name");
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            match CollectionId::new(name) {
                Ok(id) => out.push(self.collection(id, &path)?),
                Err(err) => warn!(path = %path.display(), %err, "skipping vdir collection"),
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn create_collection(&self, id: &CollectionId) -> Result<Collection> {
        let dir = self.collection_dir(id)?;
        match pimlink_core::private::dir_builder().create(&dir) {
            Ok(()) => fsync_dir(&self.root)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(Error::io(format!("creating {}", dir.display()), e)),
        }
        self.collection(id.clone(), &dir)
    }

    async fn delete_collection(&self, id: &CollectionId) -> Result<()> {
        let dir = self.existing_collection_dir(id)?;
        fs::remove_dir_all(&dir)
            .map_err(|e| Error::io(format!("deleting {}", dir.display()), e))?;
        self.mark_dirty(&self.root);
        Ok(())
    }

    async fn list_items(&self, collection: &CollectionId) -> Result<Vec<ItemRef>> {
        let dir = self.existing_collection_dir(collection)?;
        let entries =
            fs::read_dir(&dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                warn!(dir = %dir.display(), name = ?entry.file_name(), "skipping non-UTF-8 file name");
                continue;
            };
            if name.starts_with('.') || !name.ends_with(&self.extension) {
                continue;
            }
            // Readers and editors may delete files at any moment: a file gone between readdir
            // and stat simply is not listed.
            let Ok(meta) = fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if !meta.file_type().is_file() {
                continue;
            }
            out.push(ItemRef {
                href: Href::new(name),
                etag: etag_of(&meta),
            });
        }
        out.sort_by(|a, b| a.href.cmp(&b.href));
        Ok(out)
    }

    async fn changes_since(
        &self,
        _collection: &CollectionId,
        _token: Option<&SyncToken>,
    ) -> Result<ChangesSince> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "a vdir has no sync tokens; list its items instead (a readdir and a stat per file)",
        ))
    }

    async fn get_many(&self, collection: &CollectionId, hrefs: &[Href]) -> Result<Fetched> {
        let mut fetched = Fetched::default();
        for href in hrefs {
            let (_, path) = self.item_path(collection, href)?;
            match Self::read_item(&path, href) {
                Ok(Some(item)) => fetched.items.push(item),
                Ok(None) => fetched.missing.push(href.clone()),
                // One unreadable file must not stop the others.
                Err(err) if err.kind() == ErrorKind::Peer => {
                    fetched.failed.push((href.clone(), err.to_string()));
                }
                Err(err) => return Err(err),
            }
        }
        Ok(fetched)
    }

    async fn create_item(&self, collection: &CollectionId, data: &str) -> Result<ItemRef> {
        // Items without a UID still get a stable name: the hash of their content.
        let ident = uid(data).unwrap_or_else(|| content_hash(data).as_str().to_owned());
        let href = Href::new(item_file_name(&ident, &self.extension));
        let (dir, path) = self.item_path(collection, &href)?;
        let temp = write_temp(&dir, data.as_bytes())?;
        // A hard link fails if the name exists, so an existing item is never replaced.
        let linked = own_writes::during(&[(&path, Event::Arrive)], || fs::hard_link(&temp, &path));
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(precondition_failed(format_args!(
                    "{} already exists",
                    path.display()
                )));
            }
            Err(e) => return Err(Error::io(format!("creating {}", path.display()), e)),
        }
        self.mark_dirty(&dir);
        Ok(ItemRef {
            etag: Self::current_etag(&path)?,
            href,
        })
    }

    async fn update_item(
        &self,
        collection: &CollectionId,
        href: &Href,
        etag: &Etag,
        data: &str,
    ) -> Result<Etag> {
        let (dir, path) = self.item_path(collection, href)?;
        Self::check_etag(&path, etag)?;
        let temp = write_temp(&dir, data.as_bytes())?;
        if let Err(e) = own_writes::during(&[(&path, Event::Arrive)], || fs::rename(&temp, &path)) {
            let _ = fs::remove_file(&temp);
            return Err(Error::io(format!("replacing {}", path.display()), e));
        }
        self.mark_dirty(&dir);
        Self::current_etag(&path)
    }

    async fn delete_item(&self, collection: &CollectionId, href: &Href, etag: &Etag) -> Result<()> {
        let (dir, path) = self.item_path(collection, href)?;
        Self::check_etag(&path, etag)?;
        own_writes::during(&[(&path, Event::Leave)], || fs::remove_file(&path))
            .map_err(|e| Error::io(format!("deleting {}", path.display()), e))?;
        self.mark_dirty(&dir);
        Ok(())
    }

    async fn get_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
    ) -> Result<Option<String>> {
        let dir = self.existing_collection_dir(collection)?;
        Self::read_meta(&dir, property)
    }

    async fn set_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
        value: Option<&str>,
    ) -> Result<()> {
        let dir = self.existing_collection_dir(collection)?;
        let path = dir.join(property.name());
        check_not_symlink(&path)?;
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            Some(value) => {
                let temp = write_temp(&dir, value.as_bytes())?;
                if let Err(e) =
                    own_writes::during(&[(&path, Event::Arrive)], || fs::rename(&temp, &path))
                {
                    let _ = fs::remove_file(&temp);
                    return Err(Error::io(format!("writing {}", path.display()), e));
                }
            }
            None => match own_writes::during(&[(&path, Event::Leave)], || fs::remove_file(&path)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::io(format!("removing {}", path.display()), e)),
            },
        }
        self.mark_dirty(&dir);
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        let pending: Vec<PathBuf> = {
            let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *dirty).into_iter().collect()
        };
        let mut first_error = None;
        for (i, dir) in pending.iter().enumerate() {
            match fsync_dir(dir) {
                Ok(()) => {}
                // A collection deleted after it was written needs no fsync.
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                Err(err) => {
                    // Keep the failed and unsynced ones for the next flush.
                    let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
                    dirty.extend(pending[i..].iter().cloned());
                    first_error = Some(err);
                    break;
                }
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}
