//! The append position as a pure value: where the next write goes, what it holds, and the state
//! once it has landed.
//!
//! Owns the bookkeeping of a store between appends (append offset, record count, key clock) and
//! the two-step protocol that keeps it honest: [`Appender::prepare`] computes a write without
//! changing anything, [`Appender::commit`] adopts its outcome once the caller's write succeeded.
//! Never touches files; `FileStore` performs the write in between.

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
        PendingAppend {
            offset: self.offset,
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
}

/// A write computed by [`Appender::prepare`], not yet performed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAppend {
    offset: u64,
    bytes: Vec<u8>,
    keys: Vec<RecordKey>,
    next: Appender,
}

impl PendingAppend {
    /// The file offset to write at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The bytes to write, in one positioned write; afterwards they end the file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The keys the messages get, in order.
    pub fn keys(&self) -> &[RecordKey] {
        &self.keys
    }
}

/// Bytes reserved per record before encoding: the layout takes about 70 bytes around a short
/// username and message, so most batches encode without growing the buffer.
const RECORD_SIZE_GUESS: usize = 128;
