//! `FileStore`: the thin layer that makes the file calls for the JSON file store.
//!
//! Owns the data file, its lock file and the order of system calls: lock, scan once, fix the
//! tail, then per append the positioned writes of [`crate::format::PendingAppend::steps`] (and a
//! sync, by policy), undone before answering if anything fails ([`batch`]). Every decision about
//! the file's content comes from [`crate::format`]; this module never parses or formats JSON
//! itself and never reads the file after opening it, so an append costs the same at any size.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use ferry_core::datagram::MessageId;
use ferry_core::Message;
use time::OffsetDateTime;

use crate::format::{scan, Appender, FileOp, TailFix};
use crate::ids::IdJournal;
use crate::key::RecordKey;

mod batch;

/// An open JSON file store, holding the exclusive lock on it until dropped.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    file: File,
    /// Held only for its lock, which the operating system releases when it is closed.
    _lock: File,
    appender: Appender,
    options: StoreOptions,
    /// Set when a failed append could not be undone: the bytes after the append offset are
    /// unknown and must be put back to the closing before the next append.
    tail_dirty: bool,
    /// Ids of recently stored messages, for dedup across restarts.
    journal: IdJournal,
}

impl FileStore {
    /// Opens the store at `path`, creating its folders and the file (as `{}`) if missing.
    ///
    /// Takes an exclusive lock on `<path>.lock` beside the file, so a second process (or a second
    /// open in this one) fails with [`StoreError::Locked`]; scans the file once; repairs a torn
    /// tail left by a crash and returns a one-line note saying what was dropped.
    pub fn open(
        path: &Path,
        options: StoreOptions,
    ) -> Result<(FileStore, Option<String>), StoreError> {
        let path = path.to_path_buf();
        let (Some(name), parent) = (path.file_name(), path.parent()) else {
            return Err(StoreError::NotAFile { path });
        };
        if let Some(parent) = parent.filter(|parent| !parent.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|error| StoreError::folder(parent, &error))?;
        }
        let mut lock_name = name.to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|error| StoreError::open(&lock_path, &error))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StoreError::Locked { path, lock_path }),
            Err(TryLockError::Error(error)) => return Err(StoreError::open(&lock_path, &error)),
        }
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|error| StoreError::open(&path, &error))?;
        let report = scan(&file).map_err(|error| StoreError::InvalidStore {
            path: path.clone(),
            error,
        })?;
        let fix = TailFix::for_scan(&report);
        let note = fix.as_ref().and_then(|fix| fix.note(&path));
        let sync = options.fsync != FsyncPolicy::Never;
        if let Some(fix) = &fix {
            put_tail(&file, fix.truncate_at, fix.closing, sync)
                .map_err(|error| StoreError::repair(&path, &error))?;
        }
        if !existed && sync {
            sync_parent(&path).map_err(|error| StoreError::open(&path, &error))?;
        }
        // Opened under the lock, like the store itself.
        let journal = IdJournal::open(&path)?;
        let store = FileStore {
            path,
            file,
            _lock: lock,
            appender: Appender::new(&report),
            options,
            tail_dirty: false,
            journal,
        };
        Ok((store, note))
    }

    /// Stores `messages`, received at `now`, and returns their keys in order.
    ///
    /// With [`FsyncPolicy::Batch`] and [`FsyncPolicy::Never`] the whole batch is one append, so
    /// it is stored entirely or not at all; with [`FsyncPolicy::Always`] each message is its own
    /// append and sync, and an error means the messages before the failing one are stored. A
    /// failed append (a full disk, say) is undone before this returns, so the file is valid JSON
    /// holding exactly the stored messages; should the undo fail too, the next append first
    /// restores the closing (and a restart repairs the tail). Never reads or rewrites earlier
    /// records.
    pub fn append(
        &mut self,
        now: OffsetDateTime,
        messages: &[Message],
    ) -> Result<Vec<RecordKey>, StoreError> {
        self.append_identified(now, messages, &[])
    }

    /// Like [`FileStore::append`], and also notes each message's id (`ids[i]` for
    /// `messages[i]`; missing or `None` for a message without one) in the id journal, so after
    /// a restart a retransmitted copy is recognised. The ids are written after the records and
    /// before the sync, so no process crash can leave a stored record without its id.
    pub fn append_identified(
        &mut self,
        now: OffsetDateTime,
        messages: &[Message],
        ids: &[Option<MessageId>],
    ) -> Result<Vec<RecordKey>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        if self.tail_dirty {
            batch::perform(&self.file, &self.appender.restore())
                .map_err(|error| StoreError::append(&self.path, &error))?;
            self.tail_dirty = false;
        }
        match self.options.fsync {
            FsyncPolicy::Always => {
                let mut keys = Vec::with_capacity(messages.len());
                for (i, message) in messages.iter().enumerate() {
                    let id = ids.get(i).map(std::slice::from_ref).unwrap_or(&[]);
                    keys.extend(self.write_batch(now, std::slice::from_ref(message), id)?);
                }
                Ok(keys)
            }
            FsyncPolicy::Batch | FsyncPolicy::Never => self.write_batch(now, messages, ids),
        }
    }

    /// Ids stored before this open, oldest first, to seed the receiver's dedup window.
    pub fn recent_ids(&self) -> &[MessageId] {
        self.journal.recent()
    }

    /// Forces every stored record and id to the disk, whatever the fsync policy; the socket
    /// server calls it once when it stops, so a clean shutdown never leaves data in the page
    /// cache alone.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.journal
            .sync()
            .and_then(|()| self.file.sync_data())
            .map_err(|error| StoreError::append(&self.path, &error))
    }

    /// Records stored, including those found in the file when it was opened.
    pub fn len(&self) -> u64 {
        self.appender.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.appender.is_empty()
    }

    /// The data file's path, as given to [`FileStore::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One append of the whole batch, then a sync unless the policy is `Never`.
    fn write_batch(
        &mut self,
        now: OffsetDateTime,
        messages: &[Message],
        ids: &[Option<MessageId>],
    ) -> Result<Vec<RecordKey>, StoreError> {
        let pending = self.appender.prepare(now, messages);
        let sync = self.syncs();
        let journal = &mut self.journal;
        let stored = batch::store(&self.file, &pending, sync, || {
            journal
                .record(ids.iter().flatten())
                .map_err(|error| io::Error::other(error.to_string()))
        });
        if let Err(failed) = stored {
            self.tail_dirty = !failed.undone;
            return Err(StoreError::append(&self.path, &failed.error));
        }
        Ok(self.appender.commit(pending))
    }

    fn syncs(&self) -> bool {
        self.options.fsync != FsyncPolicy::Never
    }
}

/// How a [`FileStore`] is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// When stored data is forced to the disk.
    pub fsync: FsyncPolicy,
}

/// When a [`FileStore`] calls `sync_data`, trading throughput for durability across power loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// One write and one sync per message.
    Always,
    /// One write and one sync per [`FileStore::append`] call: a batch is durable when the call
    /// returns, which is when the socket server acknowledges it.
    #[default]
    Batch,
    /// No sync: data survives a crash of ferry but not of the machine.
    Never,
}

impl FsyncPolicy {
    /// Every policy, in the order help lists them.
    pub const ALL: [FsyncPolicy; 3] = [FsyncPolicy::Always, FsyncPolicy::Batch, FsyncPolicy::Never];

    /// The policy's name, as `--fsync` takes it.
    pub fn name(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Batch => "batch",
            FsyncPolicy::Never => "never",
        }
    }
}

/// Why the store could not be opened or appended to. Each names the cause and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The path has no file name (`/`, `..`).
    NotAFile { path: PathBuf },
    /// A folder on the way to the file could not be created.
    CreateFolder { path: PathBuf, detail: String },
    /// The file system refused access (permissions, read-only mount).
    PermissionDenied { path: PathBuf },
    /// The file or its lock file could not be opened for another reason.
    Open { path: PathBuf, detail: String },
    /// Another open store holds the lock.
    Locked { path: PathBuf, lock_path: PathBuf },
    /// The file is not an acceptable store; nothing was changed.
    InvalidStore {
        path: PathBuf,
        error: crate::format::ScanError,
    },
    /// Writing the repaired or rewritten end of the file failed.
    Repair { path: PathBuf, detail: String },
    /// Writing or syncing an append failed; the messages are not stored.
    Append { path: PathBuf, detail: String },
    /// The id journal beside the store could not be read or written.
    Journal { path: PathBuf, detail: String },
    /// `--store mongodb://...` could not be used as a connection string (the URL itself is
    /// left out: it may hold a password).
    MongoUrl { detail: String },
    /// The MongoDB server did not store the batch (unreachable, refused, or not durable).
    Mongo { target: String, detail: String },
    /// The MongoDB server failed recently and the next try is not due yet.
    MongoWaiting {
        target: String,
        retry_in: std::time::Duration,
    },
}

impl StoreError {
    fn folder(path: &Path, error: &io::Error) -> StoreError {
        match error.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StoreError::PermissionDenied {
                    path: path.to_path_buf(),
                }
            }
            _ => StoreError::CreateFolder {
                path: path.to_path_buf(),
                detail: error.to_string(),
            },
        }
    }

    fn open(path: &Path, error: &io::Error) -> StoreError {
        match error.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StoreError::PermissionDenied {
                    path: path.to_path_buf(),
                }
            }
            _ => StoreError::Open {
                path: path.to_path_buf(),
                detail: error.to_string(),
            },
        }
    }

    fn repair(path: &Path, error: &io::Error) -> StoreError {
        StoreError::Repair {
            path: path.to_path_buf(),
            detail: error.to_string(),
        }
    }

    /// Whether this error only repeats one already reported (a try skipped while waiting to
    /// retry), so a log may leave it out.
    pub fn is_repeat(&self) -> bool {
        matches!(self, StoreError::MongoWaiting { .. })
    }

    pub(crate) fn journal(path: &Path, error: &io::Error) -> StoreError {
        StoreError::Journal {
            path: path.to_path_buf(),
            detail: error.to_string(),
        }
    }

    fn append(path: &Path, error: &io::Error) -> StoreError {
        StoreError::Append {
            path: path.to_path_buf(),
            detail: error.to_string(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotAFile { path } => {
                write!(f, "store path {} does not name a file", path.display())
            }
            StoreError::CreateFolder { path, detail } => {
                write!(f, "cannot create store folder {}: {detail}", path.display())
            }
            StoreError::PermissionDenied { path } => {
                write!(
                    f,
                    "permission denied: cannot write the store at {}",
                    path.display()
                )
            }
            StoreError::Open { path, detail } => {
                write!(f, "cannot open store {}: {detail}", path.display())
            }
            StoreError::Locked { path, lock_path } => write!(
                f,
                "store {} is in use by another process (lock {} is held)",
                path.display(),
                lock_path.display()
            ),
            StoreError::InvalidStore { path, error } => {
                write!(f, "store {} is not usable: {error}", path.display())
            }
            StoreError::Repair { path, detail } => {
                write!(
                    f,
                    "cannot repair the end of store {}: {detail}",
                    path.display()
                )
            }
            StoreError::Append { path, detail } => {
                write!(f, "cannot append to store {}: {detail}", path.display())
            }
            StoreError::Journal { path, detail } => {
                write!(f, "cannot use id journal {}: {detail}", path.display())
            }
            StoreError::MongoUrl { detail } => {
                write!(f, "cannot use the MongoDB URL: {detail}")
            }
            StoreError::Mongo { target, detail } => {
                write!(
                    f,
                    "MongoDB at {target} did not store the messages: {detail}"
                )
            }
            StoreError::MongoWaiting { target, retry_in } => write!(
                f,
                "MongoDB at {target} failed recently; next try in {} ms",
                retry_in.as_millis()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// Cuts the file at `offset` and writes `closing` there. Cutting first means an interruption
/// leaves a torn tail (repaired on open) rather than a stale closing behind the new one.
fn put_tail(file: &File, offset: u64, closing: &[u8], sync: bool) -> io::Result<()> {
    let write = FileOp::Write {
        offset,
        bytes: closing,
    };
    batch::perform(file, &[FileOp::SetLen(offset), write])?;
    if sync {
        file.sync_data()?;
    }
    Ok(())
}

/// Makes a newly created file's directory entry durable (POSIX needs the folder synced too).
#[cfg(unix)]
fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Other systems make the entry durable with the file, or offer no way to sync a folder.
#[cfg(not(unix))]
fn sync_parent(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests;
