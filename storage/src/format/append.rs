//! The append position as a pure value: where the next write goes, what it holds, and the state
//! once it has landed.
//!
//! Owns the bookkeeping of a store between appends (append offset, record count, key clock), the
//! two-step protocol that keeps it honest ([`Appender::prepare`] computes an append without
//! changing anything, [`Appender::commit`] adopts its outcome once the caller's writes
//! succeeded), and the file operations in between, as values ([`FileOp`]). Never touches files;
//! `FileStore` performs the operations.
//!
//! # Why an append is two writes
//!
//! The records go where the closing `\n}\n` is, so writing them in one go over the closing means
//! that a write the disk cuts short (full disk, file size limit) leaves half a record where the
//! closing was: invalid JSON for every reader until something repairs it. So the space comes
//! first: [`PendingAppend::steps`] writes whitespace after the closing, as many bytes as the
//! append will add, and only then the records over the closing and that whitespace.
//!
//! - The first write is the one that asks the disk for room. Whatever part of it lands is
//!   whitespace after the object, which JSON allows: a reader sees the old records, valid.
//! - The second write lies wholly inside the file's length, in room the first one took, so the
//!   disk has nothing left to refuse (short of an I/O error).
//! - If either fails, or anything after them (the id journal, the sync),
//!   [`PendingAppend::undo`] puts the old end back before the socket server answers: cut the
//!   file to the old closing's end, then write the closing over the first bytes. Both stay
//!   within the old length, so they need no room either.
//!
//! Killed between or during any of these (kill -9, a power cut), the file is the old records
//! followed by one of: the old closing and some whitespace (a valid closing in another layout,
//! tidied without a note on the next open); the start of the new records followed by whitespace
//! (a torn tail with padding, which the scan at open cuts back to the last complete record); or
//! all of the new records (stored, and the socket server did not yet acknowledge them, which the
//! id journal and the sender's retransmission handle). Cutting before rewriting the closing in
//! the undo keeps it in that list: the other order would leave new bytes after a valid closing,
//! which the scan refuses as data after the object. The tests in `append/tests.rs` replay every
//! stop and every cut.

use ferry_core::Message;
use time::OffsetDateTime;

use crate::format::encode::{closing, encode_append};
use crate::format::scan::ScanReport;
use crate::key::{KeyClock, RecordKey};

/// The state of a store whose file ends in ferry's closing at [`Appender::offset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appender {
    offset: u64,
    records: u64,
    clock: KeyClock,
}

impl Appender {
    /// Starts from a scan, once its [`TailFix`](crate::format::TailFix) (if any) has been applied.
    pub fn new(report: &ScanReport) -> Appender {
        Appender {
            offset: report.append_offset,
            records: report.records,
            clock: KeyClock::new(report.latest.clone()),
        }
    }

    /// Computes the write that stores `messages`, received at `now`, in one piece. Nothing
    /// changes until [`Appender::commit`] is called with the result.
    pub fn prepare(&self, now: OffsetDateTime, messages: &[Message]) -> PendingAppend {
        let mut clock = self.clock.clone();
        let keys: Vec<RecordKey> = messages.iter().map(|_| clock.next(now)).collect();
        let mut bytes = Vec::with_capacity(messages.len() * RECORD_SIZE_GUESS);
        let kept = encode_append(&mut bytes, self.is_empty(), keys.iter().zip(messages));
        let next = Appender {
            offset: self.offset + kept,
            records: self.records + messages.len() as u64,
            clock,
        };
        let old_end = self.offset + self.closing().len() as u64;
        let grows_by = (self.offset + bytes.len() as u64).saturating_sub(old_end);
        PendingAppend {
            offset: self.offset,
            old_closing: self.closing(),
            padding: vec![PADDING; usize::try_from(grows_by).unwrap_or(0)],
            bytes,
            keys,
            next,
        }
    }

    /// Adopts the outcome of `pending` after its bytes were written at its offset, and gives back
    /// the keys the messages were stored under.
    pub fn commit(&mut self, pending: PendingAppend) -> Vec<RecordKey> {
        // A pending append from another state would move the offset somewhere unrelated to the
        // file; that is a bug in the caller, not something input can cause.
        debug_assert_eq!(
            pending.offset, self.offset,
            "commit of a stale pending append"
        );
        *self = pending.next;
        pending.keys
    }

    /// Where the next write goes; the file's closing starts here.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Records stored.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The bytes that follow [`Appender::offset`] in the file.
    pub fn closing(&self) -> &'static [u8] {
        closing(self.is_empty())
    }

    /// The operations that make the file end in this state's closing again, whatever an
    /// interrupted or failed append left after [`Appender::offset`]; see the module doc.
    pub fn restore(&self) -> [FileOp<'static>; 2] {
        restore(self.offset, self.closing())
    }
}

/// One operation on the data file, performed in full before the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp<'a> {
    /// Write all of `bytes` at `offset`, extending the file if they reach past its end.
    Write { offset: u64, bytes: &'a [u8] },
    /// Cut the file to this length.
    SetLen(u64),
}

/// An append computed by [`Appender::prepare`], not yet performed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAppend {
    offset: u64,
    /// The closing at `offset` before this append, which an undo writes back.
    old_closing: &'static [u8],
    /// Whitespace for the room the append takes past the old end of the file.
    padding: Vec<u8>,
    bytes: Vec<u8>,
    keys: Vec<RecordKey>,
    next: Appender,
}

impl PendingAppend {
    /// The file offset to write at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The bytes that end the file once the append is done, from [`PendingAppend::offset`] on.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The operations that store the batch, in order: whitespace past the old end first, then
    /// the records over the old closing. See the module doc for why.
    pub fn steps(&self) -> [FileOp<'_>; 2] {
        let old_end = self.offset + self.old_closing.len() as u64;
        [
            FileOp::Write {
                offset: old_end,
                bytes: &self.padding,
            },
            FileOp::Write {
                offset: self.offset,
                bytes: &self.bytes,
            },
        ]
    }

    /// The operations that put the file back as it was before this append, after any of its
    /// steps ran in full, in part or not at all.
    pub fn undo(&self) -> [FileOp<'static>; 2] {
        restore(self.offset, self.old_closing)
    }

    /// The keys the messages get, in order.
    pub fn keys(&self) -> &[RecordKey] {
        &self.keys
    }
}

/// Cuts the file to the end of `closing` at `offset`, then writes `closing` there. The cut comes
/// first so that a stop between the two leaves a torn tail, never bytes after a valid closing.
fn restore(offset: u64, closing: &'static [u8]) -> [FileOp<'static>; 2] {
    [
        FileOp::SetLen(offset + closing.len() as u64),
        FileOp::Write {
            offset,
            bytes: closing,
        },
    ]
}

/// What the room taken ahead of the records holds: a space is whitespace to every JSON reader,
/// and keeps the file one line long where a reader shows it.
const PADDING: u8 = b' ';

/// Bytes reserved per record before encoding: the layout takes about 70 bytes around a short
/// username and message, so most batches encode without growing the buffer.
const RECORD_SIZE_GUESS: usize = 128;

#[cfg(test)]
mod tests;
