//! The file server's side that touches the file system, and the per-connection glue both shells
//! share: [`FileRoot`] opens files beneath the root's descriptor (never through a symlink that
//! leads out) and prepares [`Upload`]s, which write atomically; [`FileSession`] carries one
//! connection's requests from the core's events to these file operations and back, and writes
//! the access log.
//!
//! Every decision (which path, which status, which bytes, the log line) is `ferry-core`'s
//! ([`ferry_core::files`]); this module only opens, stats, writes, syncs and renames. Moving the
//! bytes of a download is the shell's: it takes the [`Sending`] a session leaves, sends it with
//! [`Sending::send_to`] (sendfile(2)) when the socket can take it, and reports back with
//! [`FileSession::body_sent`] or [`FileSession::body_cut`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Mutex;

mod access;
mod beneath;
mod change;
mod listing;
mod read;
mod root;
mod send;
mod session;
mod upload;

use ferry_cli::FilesOptions;
use ferry_core::files::auth::{anonymous_writes_allowed, anonymous_writes_notice};
use ferry_core::files::FilesConfig;

pub use access::{Access, Started};
pub use change::Commit;
pub use root::FileRoot;
pub use session::FileSession;
pub use upload::Upload;

/// What every connection of a file server shares: the root, the settings, the password
/// file, the log.
pub struct FileServer {
    pub root: FileRoot,
    pub config: FilesConfig,
    /// `--auth`: the password file and the threads that check against it.
    pub access: Option<Access>,
    log: LogSink,
}

/// A download body the shell owes: `remaining` bytes of `file` from `offset`.
pub struct Sending {
    pub file: File,
    pub offset: u64,
    pub remaining: u64,
}

enum LogSink {
    Stdout,
    File(Mutex<File>),
}

impl FileServer {
    /// Opens the root (removing what crashed uploads left in it), the password file and the
    /// log file the options name. Whether anyone may write without credentials is settled
    /// once the server knows where it listens ([`FileServer::bound`]).
    pub fn open(options: &FilesOptions) -> Result<FileServer, String> {
        ignore_file_size_signal();
        let root = FileRoot::open(&options.root)?;
        let access = match &options.auth {
            Some(path) => Some(Access::open(path)?),
            None => None,
        };
        let log = match &options.log {
            None => LogSink::Stdout,
            Some(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open the log '{}': {e}", path.display()))?;
                LogSink::File(Mutex::new(file))
            }
        };
        Ok(FileServer {
            root,
            config: options.files_config(),
            access,
            log,
        })
    }

    /// The server listens at `address`: anonymous writes are open only on loopback (or with
    /// `--allow-anonymous-writes`). Returns the line to print on stderr when the server listens
    /// beyond loopback without `--auth`: that anyone may write, or that nobody may.
    pub fn bound(&mut self, address: IpAddr, allow_anonymous_writes: bool) -> Option<String> {
        self.config.anonymous_writes = anonymous_writes_allowed(address, allow_anonymous_writes);
        anonymous_writes_notice(
            address,
            self.config.auth,
            self.config.read_only,
            allow_anonymous_writes,
        )
    }

    /// Appends one access log line.
    pub fn log(&self, line: &str) {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        // A log that cannot be written must not stop the server from serving.
        let _ = match &self.log {
            LogSink::Stdout => io::stdout().lock().write_all(text.as_bytes()),
            LogSink::File(file) => file
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .write_all(text.as_bytes()),
        };
    }

    /// The last step of a stop: removes the temporary files of the uploads the grace period
    /// cut short, so a stopped server leaves neither a file nor a temporary file of them.
    pub fn finish(&self) {
        self.root.remove_temps();
    }
}

/// A write past the process's file-size limit (`ulimit -f`) raises SIGXFSZ, which kills by
/// default; ignored, the write fails with `EFBIG` instead and the upload gets its 507.
fn ignore_file_size_signal() {
    // SAFETY: installing SIG_IGN runs no code of ours in a signal handler.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
