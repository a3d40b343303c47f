//! Reading a folder for a listing: its entries' names, kinds, sizes and modification times,
//! through the root's descriptor, bounded.
//!
//! Which entries are shown and how is the core's ([`ferry_core::files::listing`]); this module
//! only reads. A symlink is listed as what it leads to when that stays inside the root (opened
//! beneath the root, as a download would be), and left out when it leads out, so a listing
//! tells nothing about the world outside. Devices, FIFOs and sockets are left out too: the
//! server serves none of them.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd};

use ferry_core::files::listing::{Entry, EntryKind, Listing, MAX_ENTRIES};
use ferry_core::files::{FilePath, Lookup};
use time::OffsetDateTime;

use super::root::{lookup_error, FileRoot};

impl FileRoot {
    /// Reads the entries of the folder at `path` (at most [`MAX_ENTRIES`]): `Missing` when it
    /// is not a folder, `Forbidden` when it leads out or may not be read.
    pub fn list(&self, path: &FilePath) -> Result<Listing, Lookup> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        let fd = self
            .beneath()
            .open_at(path.segments(), flags)
            .map_err(|error| match error.raw_os_error() {
                Some(libc::ENOTDIR) => Lookup::Missing,
                _ => lookup_error(&error),
            })?;
        let folder = Folder::open(fd.into_raw_fd()).map_err(|e| lookup_error(&e))?;
        let mut listing = Listing::default();
        loop {
            let name = match folder.next_name() {
                Ok(Some(name)) => name,
                Ok(None) => break,
                Err(error) => return Err(lookup_error(&error)),
            };
            let bytes = name.to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            if listing.entries.len() == MAX_ENTRIES {
                listing.truncated = true;
                break;
            }
            // A name that is not UTF-8 cannot be asked for, so it is not offered either.
            let Ok(text) = std::str::from_utf8(bytes) else {
                continue;
            };
            if let Some(entry) = self.entry(path, folder.fd(), text, &name) {
                listing.entries.push(entry);
            }
        }
        Ok(listing)
    }

    /// What the entry `name` of the folder `dir` (at `path`) is, if it is listed at all.
    fn entry(&self, path: &FilePath, dir: BorrowedFd, text: &str, name: &CStr) -> Option<Entry> {
        let mut stat = stat_at(dir, name, libc::AT_SYMLINK_NOFOLLOW).ok()?;
        if stat.st_mode & libc::S_IFMT == libc::S_IFLNK {
            // Followed only beneath the root, as a request for it would be.
            let mut segments = path.segments().to_vec();
            segments.push(text.to_owned());
            let fd = self.beneath().open_at(&segments, libc::O_PATH).ok()?;
            stat = stat_at(fd.as_fd(), c"", libc::AT_EMPTY_PATH).ok()?;
        }
        let kind = match stat.st_mode & libc::S_IFMT {
            libc::S_IFREG => EntryKind::File,
            libc::S_IFDIR => EntryKind::Folder,
            _ => return None,
        };
        let nanos = i128::from(stat.st_mtime) * 1_000_000_000 + i128::from(stat.st_mtime_nsec);
        let modified =
            OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Some(Entry {
            name: text.to_owned(),
            kind,
            size: if kind == EntryKind::File {
                u64::try_from(stat.st_size).unwrap_or(0)
            } else {
                0
            },
            modified,
        })
    }
}

/// An open directory stream; closed (with its descriptor) when dropped.
struct Folder {
    stream: *mut libc::DIR,
}

impl Folder {
    /// Takes ownership of `fd`, an open folder, and reads it as a stream.
    fn open(fd: libc::c_int) -> io::Result<Folder> {
        // SAFETY: `fd` is an open descriptor this function owns; on success the stream owns it.
        let stream = unsafe { libc::fdopendir(fd) };
        if stream.is_null() {
            let error = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so the descriptor is still ours to close.
            unsafe { libc::close(fd) };
            return Err(error);
        }
        Ok(Folder { stream })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the stream is open while `self` lives, and so is its descriptor.
        unsafe { BorrowedFd::borrow_raw(libc::dirfd(self.stream)) }
    }

    /// The next entry's name, or `None` at the end.
    fn next_name(&self) -> io::Result<Option<CString>> {
        // readdir reports an error only through errno, so it is cleared first.
        // SAFETY: writing the calling thread's errno.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: an open stream; the entry it returns stays valid until the next call, and
        // its name is copied out before that.
        let entry = unsafe { libc::readdir(self.stream) };
        if entry.is_null() {
            let error = io::Error::last_os_error();
            return match error.raw_os_error() {
                Some(0) | None => Ok(None),
                Some(_) => Err(error),
            };
        }
        // SAFETY: a non-null entry from readdir holds a NUL-terminated name.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        Ok(Some(name.to_owned()))
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        // SAFETY: the stream is open and closed only here.
        unsafe { libc::closedir(self.stream) };
    }
}

fn stat_at(dir: BorrowedFd, name: &CStr, flags: libc::c_int) -> io::Result<libc::stat> {
    let mut stat = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a borrowed open descriptor, a NUL-terminated name and room for one stat.
    let done = unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), stat.as_mut_ptr(), flags) };
    if done < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat succeeded, so it filled the struct.
    Ok(unsafe { stat.assume_init() })
}
