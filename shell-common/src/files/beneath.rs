//! Opening paths beneath the root's directory descriptor, never following a symlink out of it,
//! and the few `*at` calls uploads make through descriptors (`mkdirat`, `renameat`, `unlinkat`).
//!
//! A path is never checked and then opened again by name: whatever is opened is resolved by the
//! kernel relative to a descriptor held open, in one step. With `openat2(2)` (Linux 5.6) that is
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: symlinks inside the root are followed, one that
//! leads out (absolute, or through `..` past the root) fails with `EXDEV` before anything past
//! it is looked at, so the answer never depends on what exists outside. Without `openat2`
//! (`ENOSYS`, or a seccomp filter refusing it) each segment is opened with `O_NOFOLLOW` from
//! the descriptor of the one before, and any symlink on the way counts as leading out.
//!
//! Every `unsafe` block here is one system call on descriptors this module owns or borrows and
//! on NUL-terminated names that outlive the call.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A directory the server resolves paths beneath, held open for the server's life.
pub(super) struct Beneath {
    root: OwnedFd,
    /// Whether the kernel has `openat2`; decided once, when the root is opened.
    openat2: bool,
}

/// What `fstat` says about an open descriptor or a name.
pub(super) struct Kind {
    pub is_dir: bool,
    pub is_file: bool,
    pub is_symlink: bool,
    pub device: u64,
}

impl Beneath {
    /// Opens the folder at `path` (following symlinks: the operator chose it).
    pub(super) fn open(path: &Path) -> io::Result<Beneath> {
        let name = CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: a NUL-terminated path; the descriptor returned is owned below.
        let fd = unsafe {
            libc::open(
                name.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        let root = owned(fd)?;
        let openat2 = match openat2(root.as_raw_fd(), c".", libc::O_PATH, RESOLVE) {
            Ok(_) => true,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => false,
            Err(e) => return Err(e),
        };
        Ok(Beneath { root, openat2 })
    }

    /// The root at `path`, resolving as kernels without `openat2` make it: every symlink refused.
    #[cfg(test)]
    pub(super) fn open_walking(path: &Path) -> io::Result<Beneath> {
        Ok(Beneath {
            openat2: false,
            ..Beneath::open(path)?
        })
    }

    /// The root's descriptor.
    pub(super) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Opens the path made of `segments` (plain names, none `.` or `..`) beneath the root with
    /// `flags`. `EXDEV` means a symlink on the way leads out of the root (or, without `openat2`,
    /// that there is a symlink on the way at all).
    pub(super) fn open_at(&self, segments: &[String], flags: libc::c_int) -> io::Result<OwnedFd> {
        if self.openat2 {
            let path = if segments.is_empty() {
                c".".to_owned()
            } else {
                CString::new(segments.join("/"))?
            };
            return openat2(self.root.as_raw_fd(), &path, flags, RESOLVE);
        }
        self.walk(segments, flags)
    }

    /// Opens the existing folder `name` in `parent`, which must not be a symlink at all.
    pub(super) fn open_child_folder(
        &self,
        parent: BorrowedFd,
        name: &CStr,
        flags: libc::c_int,
    ) -> io::Result<OwnedFd> {
        let flags = flags | libc::O_DIRECTORY;
        if self.openat2 {
            return openat2(
                parent.as_raw_fd(),
                name,
                flags,
                RESOLVE | libc::RESOLVE_NO_SYMLINKS,
            );
        }
        open_no_follow(parent, name, flags)
    }

    /// The fallback without `openat2`: one segment at a time, refusing every symlink.
    fn walk(&self, segments: &[String], flags: libc::c_int) -> io::Result<OwnedFd> {
        let Some((last, folders)) = segments.split_last() else {
            return openat(self.root(), c".", flags);
        };
        let mut current: Option<OwnedFd> = None;
        for segment in folders {
            let parent = current.as_ref().map_or(self.root(), AsFd::as_fd);
            let name = CString::new(segment.as_str())?;
            let folder = open_no_follow(parent, &name, libc::O_PATH | libc::O_DIRECTORY)?;
            current = Some(folder);
        }
        let parent = current.as_ref().map_or(self.root(), AsFd::as_fd);
        open_no_follow(parent, &CString::new(last.as_str())?, flags)
    }
}

/// Creates the folder `name` in `parent` (the process umask applies to `mode`).
pub(super) fn mkdir_at(parent: BorrowedFd, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: a borrowed open descriptor and a NUL-terminated name.
    check(unsafe { libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), mode) })
}

/// Renames `from` in `from_dir` over `to` in `to_dir`, atomically.
pub(super) fn rename_at(
    from_dir: BorrowedFd,
    from: &CStr,
    to_dir: BorrowedFd,
    to: &CStr,
) -> io::Result<()> {
    // SAFETY: borrowed open descriptors and NUL-terminated names.
    check(unsafe {
        libc::renameat(
            from_dir.as_raw_fd(),
            from.as_ptr(),
            to_dir.as_raw_fd(),
            to.as_ptr(),
        )
    })
}

/// Removes the file `name` in `dir`, or the empty folder when `folder`.
pub(super) fn unlink_at(dir: BorrowedFd, name: &CStr, folder: bool) -> io::Result<()> {
    let flags = if folder { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: a borrowed open descriptor and a NUL-terminated name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })
}

/// Creates `name` in `dir` for writing; fails if anything has that name (`O_EXCL`).
pub(super) fn create_new_at(dir: BorrowedFd, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: a borrowed open descriptor and a NUL-terminated name; the descriptor is owned.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o666 as libc::c_uint,
        )
    };
    owned(fd)
}

/// Opens the existing `name` in `dir` with `flags`, never following a symlink.
pub(super) fn open_file_at(
    dir: BorrowedFd,
    name: &CStr,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    openat(dir, name, flags | libc::O_NOFOLLOW)
}

/// Takes an exclusive `flock` on `fd` without waiting; false when another process holds one.
pub(super) fn try_lock(fd: BorrowedFd) -> io::Result<bool> {
    // SAFETY: a borrowed open descriptor.
    match check(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What `fd` is.
pub(super) fn stat(fd: BorrowedFd) -> io::Result<Kind> {
    stat_at(fd, c"", libc::AT_EMPTY_PATH)
}

/// What `name` in `dir` is, without following a symlink.
pub(super) fn stat_name(dir: BorrowedFd, name: &CStr) -> io::Result<Kind> {
    stat_at(dir, name, libc::AT_SYMLINK_NOFOLLOW)
}

/// Whether a rename from `a` to `b` stays on one mount (rename(2) cannot cross one): the same
/// mount id where the kernel tells it (`statx`, Linux 5.8), else the same file system.
pub(super) fn same_mount(a: BorrowedFd, b: BorrowedFd) -> io::Result<bool> {
    match (mount_id(a), mount_id(b)) {
        (Some(a), Some(b)) => Ok(a == b),
        _ => Ok(stat(a)?.device == stat(b)?.device),
    }
}

fn mount_id(fd: BorrowedFd) -> Option<u64> {
    let mut statx = MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: a borrowed open descriptor, an empty NUL-terminated name and room for one statx.
    let done = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            statx.as_mut_ptr(),
        )
    };
    if done < 0 {
        return None;
    }
    // SAFETY: statx succeeded, so it filled the struct (zeroed before, for fields it skipped).
    let statx = unsafe { statx.assume_init() };
    (statx.stx_mask & libc::STATX_MNT_ID != 0).then_some(statx.stx_mnt_id)
}

/// Opens `name` in `parent` without following a symlink; a symlink is `EXDEV`, as if it led
/// out, whatever it points at.
fn open_no_follow(parent: BorrowedFd, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    match openat(parent, name, flags | libc::O_NOFOLLOW) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
            match stat_name(parent, name) {
                Ok(kind) if kind.is_symlink => Err(io::Error::from_raw_os_error(libc::EXDEV)),
                _ => Err(e),
            }
        }
        // `O_PATH | O_NOFOLLOW` opens a symlink itself instead of failing.
        Ok(fd) if stat(fd.as_fd())?.is_symlink => Err(io::Error::from_raw_os_error(libc::EXDEV)),
        other => other,
    }
}

fn openat(parent: BorrowedFd, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a borrowed open descriptor and a NUL-terminated name; the descriptor is owned.
    let fd = unsafe { libc::openat(parent.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
    owned(fd)
}

/// `struct open_how` of `linux/openat2.h`; libc's is non-exhaustive, so it cannot be built.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn openat2(dir: libc::c_int, path: &CStr, flags: libc::c_int, resolve: u64) -> io::Result<OwnedFd> {
    let how = OpenHow {
        // Flags are a bit set; widening keeps the bits.
        flags: (flags | libc::O_CLOEXEC) as u32 as u64,
        mode: 0,
        resolve,
    };
    let mut attempts = 0;
    loop {
        // SAFETY: `how` is a valid open_how of the size passed, `path` is NUL-terminated, and
        // both outlive the call; the descriptor returned is owned below.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        // A descriptor fits in a c_int; a failure is -1.
        let result = owned(fd as libc::c_int);
        // EAGAIN: a rename elsewhere raced the `..` checks; the kernel asks for a retry.
        match result {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && attempts < EAGAIN_RETRIES => {
                attempts += 1;
            }
            other => return other,
        }
    }
}

fn stat_at(dir: BorrowedFd, name: &CStr, flags: libc::c_int) -> io::Result<Kind> {
    let mut stat = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a borrowed open descriptor, a NUL-terminated name and room for one stat.
    check(unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), stat.as_mut_ptr(), flags) })?;
    // SAFETY: fstatat succeeded, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    let kind = stat.st_mode & libc::S_IFMT;
    Ok(Kind {
        is_dir: kind == libc::S_IFDIR,
        is_file: kind == libc::S_IFREG,
        is_symlink: kind == libc::S_IFLNK,
        device: stat.st_dev,
    })
}

fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor a successful call just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Resolution beneath the starting directory, never through `/proc` magic links.
const RESOLVE: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
/// `EAGAIN` retries before giving up; a rename storm outlasting these is an attack anyway.
const EAGAIN_RETRIES: u32 = 16;

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    use super::*;

    /// A scratch folder holding `root/` (a file, a folder, symlinks in and out) and `outside/`.
    fn scratch(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ferry-beneath-{}-{label}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("root/sub")).unwrap();
        fs::create_dir(dir.join("outside")).unwrap();
        fs::write(dir.join("outside/secret"), "secret").unwrap();
        fs::write(dir.join("root/sub/a.txt"), "a").unwrap();
        symlink("sub/a.txt", dir.join("root/in")).unwrap();
        symlink(dir.join("outside/secret"), dir.join("root/out-yes")).unwrap();
        symlink(dir.join("outside/none"), dir.join("root/out-no")).unwrap();
        symlink("../outside", dir.join("root/up")).unwrap();
        dir
    }

    fn segments(path: &str) -> Vec<String> {
        path.split('/').map(str::to_owned).collect()
    }

    fn errno(beneath: &Beneath, path: &str) -> Option<i32> {
        beneath
            .open_at(&segments(path), libc::O_RDONLY)
            .err()
            .and_then(|e| e.raw_os_error())
    }

    #[test]
    fn symlinks_out_fail_alike_whatever_they_point_at() {
        let dir = scratch("out");
        let with = Beneath::open(&dir.join("root")).unwrap();
        let without = Beneath::open_walking(&dir.join("root")).unwrap();
        for beneath in [&with, &without] {
            assert_eq!(errno(beneath, "sub/a.txt"), None);
            assert_eq!(errno(beneath, "out-yes"), Some(libc::EXDEV));
            assert_eq!(errno(beneath, "out-no"), Some(libc::EXDEV));
            assert_eq!(errno(beneath, "up/secret"), Some(libc::EXDEV));
            assert_eq!(errno(beneath, "up/none"), Some(libc::EXDEV));
            assert_eq!(errno(beneath, "missing"), Some(libc::ENOENT));
            assert_eq!(errno(beneath, "sub/a.txt/x"), Some(libc::ENOTDIR));
        }
        // A symlink that stays inside is followed where the kernel can guarantee it does.
        assert_eq!(errno(&with, "in"), None);
        assert_eq!(errno(&without, "in"), Some(libc::EXDEV));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_child_folder_is_never_a_symlink() {
        let dir = scratch("child");
        symlink("sub", dir.join("root/sub-link")).unwrap();
        for beneath in [
            Beneath::open(&dir.join("root")).unwrap(),
            Beneath::open_walking(&dir.join("root")).unwrap(),
        ] {
            let root = beneath.root();
            assert!(beneath
                .open_child_folder(root, c"sub", libc::O_RDONLY)
                .is_ok());
            let refused = beneath.open_child_folder(root, c"sub-link", libc::O_RDONLY);
            assert!(refused.is_err());
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_root_must_be_a_folder() {
        let dir = scratch("not-a-folder");
        let error = Beneath::open(&dir.join("root/sub/a.txt")).err().unwrap();
        assert_eq!(error.raw_os_error(), Some(libc::ENOTDIR));
        fs::remove_dir_all(dir).unwrap();
    }
}
