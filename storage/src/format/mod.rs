//! The `data.json` format as pure functions over bytes and time values.
//!
//! Owns every decision about the file's content: what an acceptable store looks like and where
//! appending happens ([`scan`]), the bytes of an append ([`encode_append`]), the bookkeeping
//! between appends ([`Appender`]) and the repair of a torn tail ([`TailFix`]). Nothing here opens,
//! reads or writes a file by itself; scanning reads from any `std::io::Read` the caller hands in,
//! so every rule is tested on byte slices. [`FileStore`](crate::FileStore) makes the file calls.
//!
//! The file is one JSON object, keyed by record keys, whose values are records:
//!
//! ```text
//! {
//!   "2024-09-09T12:34:56.789012": {
//!     "username": "john_doe",
//!     "message": "Hello, world!"
//!   }
//! }
//! ```
//!
//! An append replaces the closing `\n}\n` with `,\n  "KEY": {...}\n}\n` in two writes (room
//! first, then the records; see [`PendingAppend::steps`]), so a write the disk refuses or cuts
//! short leaves valid JSON; it never touches a byte of an earlier record.

mod append;
mod encode;
mod lexer;
mod repair;
mod scan;

pub use append::{Appender, FileOp, PendingAppend};
pub use encode::{closing, encode_append};
pub use repair::TailFix;
pub use scan::{scan, ScanError, ScanReport, Tail, MAX_NAME_LEN};

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod proptests;
