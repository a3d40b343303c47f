//! Performing one batch on the data file: the append's steps, the id journal, the sync, and the
//! undo when any of them fails.
//!
//! Owns the order of those calls and nothing else: which bytes go where, and why that order keeps
//! the file valid, is [`crate::format`]'s (`format/append.rs`). The calls go through
//! [`DataFile`], so the tests can make any of them fail or write short.

use std::fs::File;
use std::io;

use crate::format::{FileOp, PendingAppend};

/// The calls the store makes on its data file after opening it.
pub(crate) trait DataFile {
    /// Writes some of `bytes` at `offset` (all, part or none, as `pwrite` does).
    fn write_at(&self, bytes: &[u8], offset: u64) -> io::Result<usize>;
    /// Cuts or extends the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Forces the file's data to the disk.
    fn sync_data(&self) -> io::Result<()>;
}

impl DataFile for File {
    #[cfg(unix)]
    fn write_at(&self, bytes: &[u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::write_at(self, bytes, offset)
    }

    #[cfg(not(unix))]
    fn write_at(&self, bytes: &[u8], offset: u64) -> io::Result<usize> {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = self;
        file.seek(SeekFrom::Start(offset))?;
        file.write(bytes)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }

    fn sync_data(&self) -> io::Result<()> {
        File::sync_data(self)
    }
}

/// A batch that was not stored.
#[derive(Debug)]
pub(crate) struct Failed {
    /// Why.
    pub error: io::Error,
    /// Whether the file was put back as it was; if not, its end must be restored before the
    /// next append (and is repaired by the next open meanwhile).
    pub undone: bool,
}

/// Stores `pending`: its steps, then `journal` (noting the batch's ids), then a sync if `sync`.
/// If any of them fails, undoes the steps before returning, so the file holds exactly what it
/// held before whenever the caller reports the batch as not stored.
pub(crate) fn store(
    file: &impl DataFile,
    pending: &PendingAppend,
    sync: bool,
    journal: impl FnOnce() -> io::Result<()>,
) -> Result<(), Failed> {
    let stored = perform(file, &pending.steps())
        .and_then(|()| journal())
        .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
    stored.map_err(|error| Failed {
        error,
        undone: perform(file, &pending.undo()).is_ok(),
    })
}

/// Performs `ops` in order, each in full; stops at the first that fails.
pub(crate) fn perform(file: &impl DataFile, ops: &[FileOp<'_>]) -> io::Result<()> {
    for &op in ops {
        match op {
            FileOp::Write { offset, bytes } => write_all_at(file, bytes, offset)?,
            FileOp::SetLen(len) => file.set_len(len)?,
        }
    }
    Ok(())
}

/// Writes all of `bytes` at `offset`, however many calls it takes.
fn write_all_at(file: &impl DataFile, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    while !bytes.is_empty() {
        match file.write_at(bytes, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                bytes = &bytes[n..];
                offset += n as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
