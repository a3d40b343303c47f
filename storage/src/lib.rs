//! `ferry-storage`: the message store of ferry.
//!
//! Owns the record key and its clock ([`key`]), the `data.json` format ([`format`]), reading
//! records back ([`record`]), the file store that puts them together ([`FileStore`]), the
//! MongoDB store ([`MongoStore`]), which of the two a `--store` text names ([`location`]) and
//! the contract both meet for the shells ([`MessageStore`]); and the chat's accounts and
//! history ([`chat`]), in files or MongoDB the same way.
//!
//! The split follows ferry's sans-io rule: everything about the file's content (where to append,
//! how records are laid out, what a torn tail is and how to repair it, how key collisions are
//! resolved) is pure functions over bytes and time values, tested without files. [`FileStore`] is
//! the thin layer that makes the system calls: lock, scan once at open, fix the tail, then two
//! positioned writes (and a sync, by [`FsyncPolicy`]) per append, undone if anything fails. Wall-clock time is always passed
//! in as a `time::OffsetDateTime`. The MongoDB store splits the same way ([`mongo::document`],
//! [`mongo::outcome`] are pure); it reads the monotonic clock only to pace its retries.

pub mod backend;
pub mod chat;
pub mod file;
pub mod format;
pub mod ids;
pub mod key;
pub mod location;
pub mod mongo;
pub mod record;

pub use backend::MessageStore;
pub use file::{FileStore, FsyncPolicy, StoreError, StoreOptions};
pub use format::{ScanError, ScanReport, TailFix};
pub use ids::IdJournal;
pub use key::{KeyClock, RecordKey};
pub use location::{LocationError, StoreLocation};
pub use mongo::MongoStore;
pub use record::{RecordError, StoredRecord};
