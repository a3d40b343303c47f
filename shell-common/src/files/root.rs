//! [`FileRoot`]: the served folder, held open by descriptor for the server's life, and the two
//! things done in it — looking a path up for a download, and preparing an upload.
//!
//! Which path is asked for, and whether it may be asked for at all, is the core's decision
//! ([`FilePath`] holds only plain names, and never the server's own); this module only decides
//! how to open it: beneath the root's descriptor, in one step, never through a symlink that
//! leads out (see [`super::beneath`]). A symlink that leads out is refused the same way whether
//! or not anything exists where it points, so nothing outside the root can be probed.

use std::ffi::CString;
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_core::files::{is_temp_name, FilePath, Lookup, WriteOutcome, UPLOAD_FOLDER};
use time::OffsetDateTime;

use super::beneath::{
    mkdir_at, open_file_at, same_mount, stat, stat_name, try_lock, unlink_at, Beneath,
};
use super::upload::{outcome_of, CreatedFolders, Temps, Upload};

/// The served folder.
pub struct FileRoot {
    beneath: Beneath,
    temps: Temps,
    /// The next temporary file's id; starts from the clock and the process id, so two servers
    /// on one root rarely try the same name (and `O_EXCL` settles it when they do).
    next_temp: AtomicU64,
}

impl FileRoot {
    /// The root at `path`, which must be a folder. Temporary files that crashed uploads left in
    /// its upload folder are removed.
    pub fn open(path: &Path) -> Result<FileRoot, String> {
        let beneath = Beneath::open(path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) => format!("root folder '{}': not a folder", path.display()),
            _ => format!("root folder '{}': {e}", path.display()),
        })?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let root = FileRoot {
            beneath,
            temps: Temps::default(),
            next_temp: AtomicU64::new(nanos ^ (u64::from(std::process::id()) << 40)),
        };
        root.remove_stale_temps();
        Ok(root)
    }

    /// Looks up a checked path: what is there and, for a regular file, the file opened.
    pub fn lookup(&self, path: &FilePath) -> (Lookup, Option<File>) {
        // Non-blocking, so a FIFO planted in the root opens at once (and is then refused).
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
        let fd = match self.beneath.open_at(path.segments(), flags) {
            Ok(fd) => fd,
            Err(error) => return (lookup_error(&error), None),
        };
        let Ok(kind) = stat(fd.as_fd()) else {
            return (Lookup::Missing, None);
        };
        if kind.is_dir {
            return (Lookup::Folder, None);
        }
        // Only regular files: a device or a FIFO could block or never end.
        if !kind.is_file {
            return (Lookup::Missing, None);
        }
        let file = File::from(fd);
        let Ok(metadata) = file.metadata() else {
            return (Lookup::Missing, None);
        };
        let modified = metadata.modified().unwrap_or(UNIX_EPOCH);
        let found = Lookup::File {
            len: metadata.len(),
            modified: OffsetDateTime::from(modified),
        };
        (found, Some(file))
    }

    /// Prepares an upload to a checked path: creates the missing folders (never through a
    /// symlink) and opens a temporary file where a rename can bring it to the target.
    pub fn begin_upload(&self, path: &FilePath) -> Result<Upload, WriteOutcome> {
        let Some((name, folders)) = path.segments().split_last() else {
            return Err(WriteOutcome::Conflict);
        };
        // A checked segment holds no NUL.
        let target = CString::new(name.as_str()).map_err(|_| WriteOutcome::Forbidden)?;
        let mut created = CreatedFolders::default();
        let prepared = self.prepare(path, folders, &target, &mut created);
        match prepared {
            Ok((temp_dir, folder)) => {
                let next_id = || self.next_temp.fetch_add(1, Ordering::Relaxed);
                let created = std::mem::take(&mut created);
                Upload::create(temp_dir, folder, target, created, &self.temps, next_id)
                    .map_err(|e| outcome_of(&e))
            }
            Err(error) => {
                created.remove();
                Err(error)
            }
        }
    }

    /// The root's descriptor and how paths are opened beneath it.
    pub(super) fn beneath(&self) -> &Beneath {
        &self.beneath
    }

    /// Removes the temporary files of uploads this process still has in progress: the ones a
    /// stop's grace period cut short.
    pub fn remove_temps(&self) {
        self.temps.remove_all();
    }

    /// Opens (creating what is missing) the target's folder, checks the target, and picks the
    /// temporary file's folder: `(temp folder, target folder)`.
    fn prepare(
        &self,
        path: &FilePath,
        folders: &[String],
        target: &CString,
        created: &mut CreatedFolders,
    ) -> Result<(Arc<OwnedFd>, Arc<OwnedFd>), WriteOutcome> {
        let folder = self.folder(folders, created).map_err(|e| outcome_of(&e))?;
        match stat_name(folder.as_fd(), target) {
            Ok(kind) if kind.is_dir => return Err(WriteOutcome::Conflict),
            // The rename replaces the link itself; one that leads out is refused anyway, so
            // nobody can mistake the outcome for a write outside the root.
            Ok(kind) if kind.is_symlink => {
                match self.beneath.open_at(path.segments(), libc::O_PATH) {
                    Ok(fd) if stat(fd.as_fd()).is_ok_and(|k| k.is_dir) => {
                        return Err(WriteOutcome::Conflict)
                    }
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                    Err(e) => return Err(outcome_of(&e)),
                }
            }
            _ => {}
        }
        let folder = Arc::new(folder);
        let uploads = match self.upload_folder() {
            Ok(uploads) => uploads,
            Err(_) => return Ok((folder.clone(), folder)),
        };
        // rename(2) cannot cross mounts: a target on another one gets its file beside it.
        if same_mount(uploads.as_fd(), folder.as_fd()).unwrap_or(false) {
            Ok((Arc::new(uploads), folder))
        } else {
            Ok((folder.clone(), folder))
        }
    }

    /// Opens the folder made of `folders` under the root for reading (so it can be synced),
    /// creating the missing ones and noting them in `created`.
    pub(super) fn folder(
        &self,
        folders: &[String],
        created: &mut CreatedFolders,
    ) -> io::Result<OwnedFd> {
        const FOLDER: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY;
        // Usually the whole folder exists: one call, following symlinks that stay inside.
        match self.beneath.open_at(folders, FOLDER) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            other => return other,
        }
        let mut existing = 0;
        let mut current = self.beneath.open_at(&[], FOLDER)?;
        while existing < folders.len() {
            match self.beneath.open_at(&folders[..=existing], FOLDER) {
                Ok(fd) => current = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) => return Err(e),
            }
            existing += 1;
        }
        for segment in &folders[existing..] {
            let name = CString::new(segment.as_str())?;
            let parent = Arc::new(current);
            match mkdir_at(parent.as_fd(), &name, FOLDER_MODE) {
                Ok(()) => created.0.push((parent.clone(), name.clone())),
                // Another upload made it meanwhile: use it, leave it to that upload.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            // Just made (or found) by name: it must not have become a symlink since.
            current = self
                .beneath
                .open_child_folder(parent.as_fd(), &name, FOLDER)?;
        }
        Ok(current)
    }

    /// The root's upload folder, created when missing; never a symlink.
    fn upload_folder(&self) -> io::Result<OwnedFd> {
        let name = CString::new(UPLOAD_FOLDER)?;
        let flags = libc::O_RDONLY;
        match self
            .beneath
            .open_child_folder(self.beneath.root(), &name, flags)
        {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                match mkdir_at(self.beneath.root(), &name, UPLOAD_FOLDER_MODE) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                    _ => {}
                }
                self.beneath
                    .open_child_folder(self.beneath.root(), &name, flags)
            }
            other => other,
        }
    }

    /// Removes the temporary files in the upload folder that no process holds locked: what
    /// uploads cut short by a crash or a kill left behind.
    fn remove_stale_temps(&self) {
        let name = CString::new(UPLOAD_FOLDER).unwrap_or_default();
        let Ok(uploads) =
            self.beneath
                .open_child_folder(self.beneath.root(), &name, libc::O_RDONLY)
        else {
            return;
        };
        // Names only; every file is then opened through the folder's descriptor.
        let listing = format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&uploads)
        );
        let Ok(entries) = fs::read_dir(listing) else {
            return;
        };
        for entry in entries.flatten() {
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !is_temp_name(&file_name) {
                continue;
            }
            let Ok(name) = CString::new(file_name) else {
                continue;
            };
            if is_stale(&uploads, &name) {
                let _ = unlink_at(uploads.as_fd(), &name, false);
            }
        }
    }
}

/// Whether the temporary file `name` in `dir` is a regular file nobody holds locked.
fn is_stale(dir: &OwnedFd, name: &CString) -> bool {
    let Ok(kind) = stat_name(dir.as_fd(), name) else {
        return false;
    };
    if !kind.is_file {
        return false;
    }
    // Opened only to try the lock its writer held; the lock goes when this descriptor does.
    match open_file_at(dir.as_fd(), name, libc::O_RDONLY | libc::O_NONBLOCK) {
        Ok(fd) => try_lock(fd.as_fd()).unwrap_or(false),
        Err(_) => false,
    }
}

/// What a failed open means for a download.
pub(super) fn lookup_error(error: &io::Error) -> Lookup {
    match error.raw_os_error() {
        // A symlink leads out of the root: the same answer whatever is (or is not) there.
        Some(libc::EXDEV | libc::ELOOP) => Lookup::Forbidden,
        Some(libc::EACCES | libc::EPERM) => Lookup::Forbidden,
        _ => Lookup::Missing,
    }
}

/// New folders: everyone may read them, the umask decides the rest, as for `mkdir -p`.
const FOLDER_MODE: libc::mode_t = 0o777;
/// The upload folder: the server's alone, so other local users cannot tamper with uploads.
const UPLOAD_FOLDER_MODE: libc::mode_t = 0o700;

#[cfg(test)]
mod tests;
