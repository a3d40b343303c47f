//! [`Upload`]: one PUT body on its way to disk, and the bookkeeping that makes sure nothing of
//! it outlives a failure, a stop or a crash.
//!
//! The body goes to a temporary file in the root's upload folder (`.ferry-uploads`, which no
//! request can name), or beside the target when the target's folder is on another mount, where
//! a rename from the upload folder could not reach it; its name is the core's short
//! [`temp_name`], so a 255-byte target name still fits. The file is locked (`flock`) while it is
//! written, which is how a server starting later tells a crashed upload's file (unlocked:
//! removed) from one another server is writing (locked: kept). Commit syncs the file, renames it
//! over the target through the folders' descriptors and syncs the folder. Dropped without a
//! commit, an upload removes its file and the folders it created.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use ferry_core::files::{temp_name, WriteOutcome};

use super::beneath::{create_new_at, rename_at, stat_name, try_lock, unlink_at};

/// An upload being written to a temporary file. Dropped without [`Upload::commit`], it removes
/// the temporary file and the folders it created: the target is never half-written.
pub struct Upload {
    file: Option<File>,
    temp: Temp,
    /// The target's folder, opened for reading so it can be synced.
    folder: Arc<OwnedFd>,
    target: CString,
    created: CreatedFolders,
    /// Why writing failed, once it did; the rest of the body is discarded.
    failed: Option<WriteOutcome>,
    temps: Temps,
    committed: bool,
}

/// Folders an upload created on its way to the target, outermost first, each as its parent's
/// descriptor and its name; removed (if still empty) when the upload fails.
#[derive(Default)]
pub(super) struct CreatedFolders(pub(super) Vec<(Arc<OwnedFd>, CString)>);

/// The temporary files of the uploads in progress, so a stopping server can remove the ones its
/// grace period cut short.
#[derive(Clone, Default)]
pub(super) struct Temps(Arc<Mutex<HashMap<u64, Temp>>>);

/// Where a temporary file is: its folder's descriptor and its name.
#[derive(Clone)]
pub(super) struct Temp {
    pub(super) id: u64,
    pub(super) dir: Arc<OwnedFd>,
    pub(super) name: CString,
}

impl Upload {
    /// Creates the temporary file in `dir` under a name from `ids` and locks it.
    pub(super) fn create(
        dir: Arc<OwnedFd>,
        folder: Arc<OwnedFd>,
        target: CString,
        created: CreatedFolders,
        temps: &Temps,
        mut next_id: impl FnMut() -> u64,
    ) -> io::Result<Upload> {
        let mut last_error = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..TEMP_ATTEMPTS {
            let id = next_id();
            let name = CString::new(temp_name(id))?;
            let fd = match create_new_at(dir.as_fd(), &name) {
                Ok(fd) => fd,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    last_error = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let temp = Temp { id, dir, name };
            temps.add(temp.clone());
            // A new file nobody else has open: the lock is ours at once.
            let _ = try_lock(fd.as_fd());
            return Ok(Upload {
                file: Some(File::from(fd)),
                temp,
                folder,
                target,
                created,
                failed: None,
                temps: temps.clone(),
                committed: false,
            });
        }
        Err(last_error)
    }

    /// Appends body bytes. After a failed write the rest is discarded and the commit fails.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if let Some(file) = self.file.as_mut() {
            if let Err(error) = file.write_all(bytes) {
                self.failed = Some(outcome_of(&error));
            }
        }
    }

    /// Makes the upload the target: syncs the data, renames over the target, syncs the folder.
    pub fn commit(mut self) -> WriteOutcome {
        let Some(file) = self.file.as_ref() else {
            return WriteOutcome::Failed;
        };
        if let Some(outcome) = self.failed {
            return outcome;
        }
        if let Err(error) = file.sync_all() {
            return outcome_of(&error);
        }
        let existed = stat_name(self.folder.as_fd(), &self.target).is_ok();
        let renamed = rename_at(
            self.temp.dir.as_fd(),
            &self.temp.name,
            self.folder.as_fd(),
            &self.target,
        );
        if let Err(error) = renamed {
            return outcome_of(&error);
        }
        self.committed = true;
        self.temps.remove(self.temp.id);
        // The rename is durable only once the folder's entry is on disk.
        if let Ok(folder) = self.folder.try_clone() {
            let _ = File::from(folder).sync_all();
        }
        if existed {
            WriteOutcome::Replaced
        } else {
            WriteOutcome::Created
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let _ = unlink_at(self.temp.dir.as_fd(), &self.temp.name, false);
        self.temps.remove(self.temp.id);
        self.created.remove();
    }
}

impl CreatedFolders {
    /// Removes the folders, innermost first; one that is no longer empty (another upload put
    /// something there meanwhile) stays, and so do the ones around it.
    pub(super) fn remove(&mut self) {
        while let Some((parent, name)) = self.0.pop() {
            if unlink_at(parent.as_fd(), &name, true).is_err() {
                self.0.clear();
            }
        }
    }
}

impl Temps {
    fn add(&self, temp: Temp) {
        self.lock().insert(temp.id, temp);
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Removes every temporary file still registered: the uploads the stop cut short.
    pub(super) fn remove_all(&self) {
        for (_, temp) in self.lock().drain() {
            let _ = unlink_at(temp.dir.as_fd(), &temp.name, false);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Temp>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a failed file operation means for the client.
pub(super) fn outcome_of(error: &io::Error) -> WriteOutcome {
    match error.raw_os_error() {
        // A symlink on the way leads out of the root (or, without openat2, is a symlink).
        Some(libc::EXDEV | libc::ELOOP) => WriteOutcome::Forbidden,
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => WriteOutcome::Forbidden,
        Some(libc::ENOTDIR | libc::EISDIR | libc::EEXIST) => WriteOutcome::Conflict,
        // EFBIG: the file size limit, which is the disk being full as far as this server goes.
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG) => WriteOutcome::NoSpace,
        _ => WriteOutcome::Failed,
    }
}

/// Names tried for a temporary file before giving up; ids are unique per process, so only
/// another server writing to the same folder can take one first.
const TEMP_ATTEMPTS: u32 = 16;
