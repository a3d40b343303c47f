//! `ferry-storage`: the message store of ferry.
//!
//! Owns the record key and its clock ([`key`]), the `data.json` format ([`format`]) and reading
//! records back ([`record`]).
//!
//! The split follows ferry's sans-io rule: everything about the file's content (where to append,
//! how records are laid out, what a torn tail is and how to repair it, how key collisions are
//! resolved) is pure functions over bytes and time values, tested without files. Wall-clock time
//! is always passed in as a `time::OffsetDateTime`; nothing in this crate reads a clock.

pub mod format;
pub mod key;
pub mod record;

pub use format::{ScanError, ScanReport, TailFix};
pub use key::{KeyClock, RecordKey};
pub use record::{RecordError, StoredRecord};
