//! A batch against a file held in memory that fails, or writes short, at every possible point:
//! whatever happens, the file holds the old bytes or the new ones, and parses as JSON after the
//! call returns.

use std::cell::{Cell, RefCell};

use ferry_core::Message;
use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::format::{scan, Appender};
use crate::record::StoredRecord;

const T: OffsetDateTime = datetime!(2024-09-09 12:00:00 UTC);

/// How the in-memory file misbehaves.
#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    /// Call number `n` (counting every call, the journal's too) fails with an I/O error.
    FailCall(usize),
    /// The file cannot grow past this many bytes, as under a full disk or `RLIMIT_FSIZE`: a
    /// write that would cross it writes what fits, the next one fails with EFBIG.
    Limit(usize),
    /// As `Limit`, and every call after the EFBIG fails too, so nothing can be undone.
    LimitThenBroken(usize),
    /// Every write takes at most one byte; nothing fails.
    Trickle,
}

struct MemFile {
    bytes: RefCell<Vec<u8>>,
    fault: Fault,
    calls: Cell<usize>,
    broken: Cell<bool>,
}

impl MemFile {
    fn new(bytes: &[u8], fault: Fault) -> MemFile {
        MemFile {
            bytes: RefCell::new(bytes.to_vec()),
            fault,
            calls: Cell::new(0),
            broken: Cell::new(false),
        }
    }

    /// Counts a call; an error if it is the one that fails.
    fn call(&self) -> io::Result<()> {
        let n = self.calls.get();
        self.calls.set(n + 1);
        if self.broken.get() {
            return Err(io::Error::other("I/O error after EFBIG"));
        }
        match self.fault {
            Fault::FailCall(failing) if failing == n => Err(io::Error::other("I/O error")),
            _ => Ok(()),
        }
    }

    fn limit(&self) -> usize {
        match self.fault {
            Fault::Limit(limit) | Fault::LimitThenBroken(limit) => limit,
            _ => usize::MAX,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes.borrow().clone()
    }
}

impl MemFile {
    fn too_large(&self) -> io::Error {
        if matches!(self.fault, Fault::LimitThenBroken(_)) {
            self.broken.set(true);
        }
        io::Error::from_raw_os_error(27) // EFBIG
    }
}

impl DataFile for MemFile {
    fn write_at(&self, bytes: &[u8], offset: u64) -> io::Result<usize> {
        self.call()?;
        let offset = offset as usize;
        let room = self.limit().saturating_sub(offset);
        let mut take = bytes.len().min(room);
        if matches!(self.fault, Fault::Trickle) {
            take = take.min(1);
        }
        if take == 0 && !bytes.is_empty() {
            return Err(self.too_large());
        }
        let mut file = self.bytes.borrow_mut();
        if file.len() < offset + take {
            file.resize(offset + take, 0);
        }
        file[offset..offset + take].copy_from_slice(&bytes[..take]);
        Ok(take)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.call()?;
        if len as usize > self.limit() {
            return Err(self.too_large());
        }
        self.bytes.borrow_mut().resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.call()
    }
}

fn message(username: &str, text: &str) -> Message {
    Message {
        username: username.to_owned(),
        message: text.to_owned(),
    }
}

/// A store file with two records, its appender, and an append of two more prepared on it.
fn setup() -> (Vec<u8>, Appender, PendingAppend) {
    let mut file = b"{}\n".to_vec();
    let report = scan(&file[..]).unwrap();
    let mut appender = Appender::new(&report);
    let first = appender.prepare(T, &[message("ann", "one"), message("bob", "two")]);
    let mem = MemFile::new(&file, Fault::None);
    store(&mem, &first, true, || Ok(())).unwrap();
    file = mem.bytes();
    appender.commit(first);
    let pending = appender.prepare(T, &[message("cy", "three \"3\""), message("dé", "4")]);
    (file, appender, pending)
}

/// Runs the batch against a file with `fault`, the journal failing at call `journal_fails`,
/// and checks the outcome; returns whether it was stored.
fn run(fault: Fault, journal_fails: bool) -> bool {
    let (old, appender, pending) = setup();
    let mut new = old[..pending.offset() as usize].to_vec();
    new.extend_from_slice(pending.bytes());
    let file = MemFile::new(&old, fault);
    let outcome = store(&file, &pending, true, || {
        file.call()?;
        if journal_fails {
            return Err(io::Error::other("journal full"));
        }
        Ok(())
    });
    let shown = format!("{fault:?}, journal fails: {journal_fails}, {outcome:?}");
    let after = file.bytes();
    match outcome {
        Ok(()) => assert_eq!(after, new, "{shown}"),
        Err(Failed { undone: true, .. }) => assert_eq!(after, old, "{shown}"),
        Err(Failed { undone: false, .. }) => {
            // The undo itself failed: the next append restores the end first.
            let healthy = MemFile::new(&after, Fault::None);
            perform(&healthy, &appender.restore()).unwrap();
            assert_eq!(healthy.bytes(), old, "{shown}");
        }
    }
    let stays_json = !matches!(outcome, Err(Failed { undone: false, .. }))
        || matches!(fault, Fault::LimitThenBroken(_));
    if stays_json {
        let records = StoredRecord::read_all(&after);
        assert!(records.is_ok(), "not JSON after {shown}");
    }
    outcome.is_ok()
}

#[test]
fn a_healthy_or_trickling_file_stores_the_batch() {
    assert!(run(Fault::None, false));
    assert!(run(Fault::Trickle, false));
}

#[test]
fn a_file_that_cannot_grow_keeps_the_old_bytes_at_every_limit() {
    let (old, _, pending) = setup();
    let new_len = pending.offset() as usize + pending.bytes().len();
    for limit in old.len()..new_len {
        assert!(!run(Fault::Limit(limit), false), "limit {limit}");
        // Even with no undo, the refused write was only room after the object: still JSON.
        assert!(!run(Fault::LimitThenBroken(limit), false), "limit {limit}");
    }
    assert!(run(Fault::Limit(new_len), false));
}

#[test]
fn a_failure_at_any_call_keeps_the_old_bytes_or_stores_all() {
    // Calls 0 to 3 are the two steps, the journal and the sync; 4 and 5 would be the undo's,
    // and nothing is called after a batch that went well.
    for failing in 0..8 {
        assert_eq!(
            run(Fault::FailCall(failing), false),
            failing >= 4,
            "call {failing}"
        );
    }
    assert!(
        !run(Fault::None, true),
        "a journal failure undoes the batch"
    );
}
