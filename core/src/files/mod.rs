//! The file server (`ferry files`): every decision about a GET, HEAD, PUT or DELETE under the
//! root.
//!
//! A shell drives one [`FileRequest`] per request head: it performs the [`FileStep`]s the
//! request asks for (look a path up, list a folder, check credentials, open an upload, remove a
//! file) and reports what it found, until the request answers with a [`FileAnswer`] — a
//! response plus, for a download, which bytes of the looked-up file to send after the head.
//! Path safety ([`path`]), ranges ([`range`]), validators and conditional requests
//! ([`crate::http::conditional`]), listings ([`listing`]), credentials ([`auth`], [`throttle`]),
//! content types and the access log ([`log`]) are decided here; the shell only opens, stats,
//! reads, writes and renames files, hashes passwords and moves bytes. Nothing in this module
//! touches the file system.

pub mod auth;
pub mod client;
pub mod listing;
pub mod log;
pub mod path;
pub mod range;
mod request;
pub mod throttle;

use std::net::SocketAddr;

pub use auth::{AuthScope, Credentials, PasswordTable};
pub use listing::{Entry, EntryKind, Listing};
pub use log::{log_line, LogEntry};
pub use path::{
    download_name, folder_location, is_temp_name, resolve, temp_name, FilePath, PathError, INDEX,
    TEMP_PREFIX, UPLOAD_FOLDER,
};
pub use range::{parse_range, RangeRequest};
pub use request::{
    rejected_log_line, FileAnswer, FileRequest, FileStep, FilesConfig, Lookup, WriteOutcome,
    ALLOW_READ_ONLY, ALLOW_READ_WRITE, DEFAULT_MAX_UPLOAD, DEFAULT_UPLOAD_TIMEOUT,
};

/// The line the file server prints once it listens.
pub fn listening(address: SocketAddr) -> String {
    format!("file server listening on http://{address}")
}
