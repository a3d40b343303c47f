//! The disk steps every shell takes before serving: loading the static site and opening the
//! store named on the command line, each failing with one line that names the cause.

use std::path::Path;

use ferry_core::cli::{FsyncMode, SocketOptions, StoreLocation};
use ferry_core::site::Site;

use crate::{read_static_folder, FileStore, FsyncPolicy, StoreOptions};

/// Reads the static folder and checks it holds the pages the web app needs.
pub fn load_site(folder: &Path) -> Result<Site, String> {
    let files = read_static_folder(folder).map_err(|error| error.to_string())?;
    Site::new(files).map_err(|error| format!("static folder '{}': {error}", folder.display()))
}

/// Opens the store the socket server's options name. Returns the store and, when the file's
/// tail had to be repaired after a crash, a one-line note saying what was done.
pub fn open_store(options: &SocketOptions) -> Result<(FileStore, Option<String>), String> {
    let path = match &options.store {
        StoreLocation::File(path) => path,
        StoreLocation::MongoDb(url) => {
            return Err(format!(
                "cannot use store '{url}': MongoDB is not available in this version"
            ))
        }
    };
    let options = StoreOptions {
        fsync: options.fsync.into(),
    };
    FileStore::open(path, options).map_err(|error| error.to_string())
}

impl From<FsyncMode> for FsyncPolicy {
    fn from(mode: FsyncMode) -> Self {
        match mode {
            FsyncMode::Always => FsyncPolicy::Always,
            FsyncMode::Batch => FsyncPolicy::Batch,
            FsyncMode::Never => FsyncPolicy::Never,
        }
    }
}
