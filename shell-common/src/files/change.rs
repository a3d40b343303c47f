//! Removals and new folders beneath the root, and [`Commit`]: the part of any change (these,
//! or an upload) that waits on the disk, which an event loop hands to a thread.
//!
//! A removal opens the parent folder beneath the root (never through a symlink that leads out)
//! and removes the entry by name from that descriptor (`unlinkat`), so what is removed is
//! always inside the root; a symlink is removed itself, never what it points at. A new folder
//! is made the same way (`mkdirat`), with the missing folders above it. Either is then made
//! durable by syncing the parent folder, as an upload's rename is. Which path, and whether it
//! may be changed at all, is the core's decision.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use ferry_core::files::{FilePath, WriteOutcome};

use super::beneath::{mkdir_at, stat, stat_name, unlink_at};
use super::root::FileRoot;
use super::upload::{outcome_of, CreatedFolders};
use super::Upload;

/// A change that may still have to reach the disk.
pub enum Commit {
    /// An upload whose body is complete: sync, rename, sync the folder.
    Upload(Upload),
    /// A change made already, durable once `folder` is synced.
    Sync {
        folder: OwnedFd,
        outcome: WriteOutcome,
    },
    /// A change that ended already (refused, or failed) with nothing to wait for.
    Done(WriteOutcome),
}

impl Commit {
    /// Waits for the disk and says how the change ended.
    pub fn run(self) -> WriteOutcome {
        match self {
            Commit::Upload(upload) => upload.commit(),
            Commit::Sync { folder, outcome } => {
                // The entry changed already; a failed sync only weakens its durability.
                let _ = File::from(folder).sync_all();
                outcome
            }
            Commit::Done(outcome) => outcome,
        }
    }

    /// The outcome, when there is nothing to wait for.
    pub fn done(&self) -> Option<WriteOutcome> {
        match self {
            Commit::Done(outcome) => Some(*outcome),
            _ => None,
        }
    }
}

impl FileRoot {
    /// Removes the file or empty folder at `path`; a path with a trailing slash must name a
    /// folder.
    pub fn remove(&self, path: &FilePath) -> Commit {
        let Some((name, folders)) = path.segments().split_last() else {
            return Commit::Done(WriteOutcome::Forbidden);
        };
        let Ok(name) = CString::new(name.as_str()) else {
            return Commit::Done(WriteOutcome::Forbidden);
        };
        let parent = match self
            .beneath()
            .open_at(folders, libc::O_RDONLY | libc::O_DIRECTORY)
        {
            Ok(parent) => parent,
            Err(error) => return Commit::Done(removal_outcome(&error)),
        };
        let kind = match stat_name(parent.as_fd(), &name) {
            Ok(kind) => kind,
            Err(error) => return Commit::Done(removal_outcome(&error)),
        };
        if path.is_folder() && !kind.is_dir {
            return Commit::Done(WriteOutcome::Conflict);
        }
        match unlink_at(parent.as_fd(), &name, kind.is_dir) {
            Ok(()) => Commit::Sync {
                folder: parent,
                outcome: WriteOutcome::Removed,
            },
            Err(error) => Commit::Done(removal_outcome(&error)),
        }
    }

    /// Creates the folder at `path` and the missing folders above it.
    pub fn make_folder(&self, path: &FilePath) -> Commit {
        let Some((name, folders)) = path.segments().split_last() else {
            return Commit::Done(WriteOutcome::Exists);
        };
        match self.beneath().open_at(path.segments(), libc::O_PATH) {
            Ok(fd) => {
                let is_dir = stat(fd.as_fd()).is_ok_and(|kind| kind.is_dir);
                let outcome = if is_dir {
                    WriteOutcome::Exists
                } else {
                    WriteOutcome::Conflict
                };
                return Commit::Done(outcome);
            }
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => {}
            Err(error) => return Commit::Done(outcome_of(&error)),
        }
        let Ok(name) = CString::new(name.as_str()) else {
            return Commit::Done(WriteOutcome::Forbidden);
        };
        let mut created = CreatedFolders::default();
        let parent = match self.folder(folders, &mut created) {
            Ok(parent) => parent,
            Err(error) => {
                created.remove();
                return Commit::Done(outcome_of(&error));
            }
        };
        match mkdir_at(parent.as_fd(), &name, FOLDER_MODE) {
            Ok(()) => Commit::Sync {
                folder: parent,
                outcome: WriteOutcome::Created,
            },
            // Made meanwhile by another request: there it is.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                Commit::Done(WriteOutcome::Exists)
            }
            Err(error) => {
                created.remove();
                Commit::Done(outcome_of(&error))
            }
        }
    }
}

/// What a failed removal means for the client.
fn removal_outcome(error: &io::Error) -> WriteOutcome {
    match error.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => WriteOutcome::Missing,
        Some(libc::ENOTEMPTY | libc::EEXIST) => WriteOutcome::NotEmpty,
        _ => outcome_of(error),
    }
}

/// New folders: everyone may read them, the umask decides the rest, as for `mkdir -p`.
const FOLDER_MODE: libc::mode_t = 0o777;
