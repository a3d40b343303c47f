//! The file server's side that touches the file system, and the per-connection glue both shells
//! share: [`FileRoot`] opens files under the root (refusing what a symlink leads out of it) and
//! writes uploads atomically; [`FileSession`] carries one connection's requests from the core's
//! events to these file operations and back, and writes the access log.
//!
//! Every decision (which path, which status, which bytes, the log line) is `ferry-core`'s
//! ([`ferry_core::files`]); this module only opens, stats, writes, syncs and renames. Moving the
//! bytes of a download is the shell's: it takes the [`Sending`] this session leaves, sends it with
//! [`Sending::send_to`] (sendfile(2)) when the socket can take it, and reports back with
//! [`FileSession::body_sent`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

mod read;
mod send;

use ferry_cli::FilesOptions;
use ferry_core::files::{
    rejected_log_line, FilePath, FileRequest, FileStep, FilesConfig, Lookup, UploadOutcome,
};
use ferry_core::http::{HttpConn, HttpEvent};
use time::OffsetDateTime;

/// What every connection of a file server shares: the root, the settings, the log.
pub struct FileServer {
    pub root: FileRoot,
    pub config: FilesConfig,
    log: LogSink,
}

/// The served folder, canonical, so every path opened can be checked to lie under it.
pub struct FileRoot {
    root: PathBuf,
}

/// An upload being written to a temporary file beside its target. Dropped without
/// [`Upload::commit`], it removes the temporary file: the target is never half-written.
pub struct Upload {
    temp: PathBuf,
    target: PathBuf,
    folder: PathBuf,
    file: Option<File>,
    failed: bool,
}

/// A download body the shell owes: `remaining` bytes of `file` from `offset`.
pub struct Sending {
    pub file: File,
    pub offset: u64,
    pub remaining: u64,
}

/// One connection's file requests.
pub struct FileSession {
    remote: IpAddr,
    current: Option<Current>,
    /// The body bytes of a download the shell must send now, after the head.
    pub sending: Option<Sending>,
    /// A body is owed but there is no file to send it from: the shell must close.
    pub broken: bool,
    /// Set by a shell that must not block (an event loop): a finished upload is left in
    /// [`FileSession::committing`] instead of being committed (fsync, rename) in `drive`.
    pub defer_commits: bool,
    /// With `defer_commits`: an upload whose body is complete; the shell commits it elsewhere
    /// (a thread) and reports with [`FileSession::committed`].
    pub committing: Option<Upload>,
    body: Vec<u8>,
}

struct Current {
    request: FileRequest,
    started: Instant,
    wall: OffsetDateTime,
    file: Option<File>,
    upload: Option<Upload>,
}

enum LogSink {
    Stdout,
    File(Mutex<File>),
}

impl FileServer {
    /// Opens the root and the log file the options name.
    pub fn open(options: &FilesOptions) -> Result<FileServer, String> {
        let root = FileRoot::open(&options.root)?;
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
            log,
        })
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
}

impl FileRoot {
    /// The root at `path`, which must be a folder.
    pub fn open(path: &Path) -> Result<FileRoot, String> {
        let root =
            fs::canonicalize(path).map_err(|e| format!("root folder '{}': {e}", path.display()))?;
        if !root.is_dir() {
            return Err(format!("root folder '{}': not a folder", path.display()));
        }
        Ok(FileRoot { root })
    }

    /// Looks up a checked path: what is there and, for a regular file, the file opened.
    pub fn lookup(&self, path: &FilePath) -> (Lookup, Option<File>) {
        let full = self.join(path);
        let real = match fs::canonicalize(&full) {
            Ok(real) => real,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return (Lookup::Forbidden, None)
            }
            Err(_) => return (Lookup::Missing, None),
        };
        if !real.starts_with(&self.root) {
            return (Lookup::Forbidden, None);
        }
        let Ok(metadata) = fs::metadata(&real) else {
            return (Lookup::Missing, None);
        };
        if metadata.is_dir() {
            return (Lookup::Folder, None);
        }
        // Only regular files: opening a FIFO or a device could block or never end.
        if !metadata.is_file() {
            return (Lookup::Missing, None);
        }
        let file = match File::open(&real) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return (Lookup::Forbidden, None)
            }
            Err(_) => return (Lookup::Missing, None),
        };
        // The open file's own metadata, in case the name changed hands since.
        let Ok(metadata) = file.metadata() else {
            return (Lookup::Missing, None);
        };
        let modified = metadata.modified().unwrap_or(UNIX_EPOCH);
        let found = Lookup::File {
            len: metadata.len(),
            modified: OffsetDateTime::from(modified),
        };
        (found, Some(file))
    }

    /// Prepares an upload to a checked path: creates the missing folders one by one (never
    /// through a symlink that leads out of the root) and opens a temporary file beside the
    /// target.
    pub fn begin_upload(&self, path: &FilePath) -> Result<Upload, UploadOutcome> {
        let Some((name, folders)) = path.segments().split_last() else {
            return Err(UploadOutcome::Conflict);
        };
        let mut folder = self.root.clone();
        for segment in folders {
            let next = folder.join(segment);
            folder = match fs::symlink_metadata(&next) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&next) {
                    Ok(()) => next,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => next,
                    Err(e) => return Err(outcome_of(&e)),
                },
                Err(e) => return Err(outcome_of(&e)),
                Ok(meta) if meta.is_dir() => next,
                Ok(meta) if meta.file_type().is_symlink() => {
                    let real = fs::canonicalize(&next).map_err(|_| UploadOutcome::Forbidden)?;
                    if !real.starts_with(&self.root) {
                        return Err(UploadOutcome::Forbidden);
                    }
                    if !real.is_dir() {
                        return Err(UploadOutcome::Conflict);
                    }
                    real
                }
                Ok(_) => return Err(UploadOutcome::Conflict),
            };
        }
        let target = folder.join(name);
        match fs::symlink_metadata(&target) {
            Ok(meta) if meta.is_dir() => return Err(UploadOutcome::Conflict),
            Ok(meta) if meta.file_type().is_symlink() => {
                // The rename would replace the link itself; refuse one that points out anyway,
                // so nobody can mistake the outcome for a write outside the root.
                match fs::canonicalize(&target) {
                    Ok(real) if real.starts_with(&self.root) && !real.is_dir() => {}
                    _ => return Err(UploadOutcome::Forbidden),
                }
            }
            _ => {}
        }
        let (temp, file) = create_temp(&folder, name).map_err(|e| outcome_of(&e))?;
        Ok(Upload {
            temp,
            target,
            folder,
            file: Some(file),
            failed: false,
        })
    }

    fn join(&self, path: &FilePath) -> PathBuf {
        let mut full = self.root.clone();
        // Each segment is a plain name (core's FilePath guarantees it), so no push can replace
        // the root or climb out of it.
        for segment in path.segments() {
            full.push(segment);
        }
        full
    }
}

impl Upload {
    /// Appends body bytes. After a failed write the rest is discarded and the commit fails.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        if let Some(file) = self.file.as_mut() {
            if file.write_all(bytes).is_err() {
                self.failed = true;
            }
        }
    }

    /// Makes the upload the target: syncs the data, renames over the target, syncs the folder.
    pub fn commit(mut self) -> UploadOutcome {
        let Some(file) = self.file.take() else {
            return UploadOutcome::Failed;
        };
        if self.failed || file.sync_all().is_err() {
            return UploadOutcome::Failed;
        }
        drop(file);
        let existed = fs::symlink_metadata(&self.target).is_ok();
        if let Err(e) = fs::rename(&self.temp, &self.target) {
            return outcome_of(&e);
        }
        // The rename is durable only once the folder's entry is on disk.
        if let Ok(folder) = File::open(&self.folder) {
            let _ = folder.sync_all();
        }
        self.failed = true; // nothing left to remove on drop
        self.temp = PathBuf::new();
        if existed {
            UploadOutcome::Replaced
        } else {
            UploadOutcome::Created
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl FileSession {
    /// A session for a connection from `remote`.
    pub fn new(remote: IpAddr) -> FileSession {
        FileSession {
            remote,
            current: None,
            sending: None,
            broken: false,
            defer_commits: false,
            committing: None,
            body: Vec::new(),
        }
    }

    /// Writes uploaded bytes and answers every event the connection has; call after every input
    /// to `conn`. Afterwards, if [`FileSession::sending`] is set, the shell writes everything
    /// `poll_transmit` gives, then those file bytes, then calls [`FileSession::body_sent`].
    pub fn drive(&mut self, server: &FileServer, conn: &mut HttpConn, now: Instant) {
        loop {
            self.take_body(conn);
            let Some(event) = conn.poll_event() else {
                return;
            };
            match event {
                HttpEvent::Head(head) => {
                    let (request, step) = FileRequest::new(&head, &server.config);
                    self.current = Some(Current {
                        request,
                        started: now,
                        wall: OffsetDateTime::now_utc(),
                        file: None,
                        upload: None,
                    });
                    self.step(server, conn, step, now);
                }
                HttpEvent::BodyEnd => {
                    self.take_body(conn);
                    let Some(current) = self.current.as_mut() else {
                        continue;
                    };
                    let outcome = match current.upload.take() {
                        // The connection waits for the answer, so no event follows until then.
                        Some(upload) if self.defer_commits => {
                            self.committing = Some(upload);
                            continue;
                        }
                        Some(upload) => upload.commit(),
                        None => UploadOutcome::Failed,
                    };
                    let step = current.request.uploaded(outcome);
                    self.step(server, conn, step, now);
                }
                HttpEvent::Rejected(error) => match self.current.take() {
                    Some(mut current) => {
                        current.request.refused_by_connection(error.status());
                        self.log(server, &current, true);
                    }
                    None => {
                        let wall = OffsetDateTime::now_utc();
                        let line = rejected_log_line(
                            self.remote,
                            wall,
                            error.status(),
                            std::time::Duration::ZERO,
                        );
                        server.log(&line);
                    }
                },
                // Not produced when bodies are streamed.
                HttpEvent::Request(_) => {}
            }
        }
    }

    /// The upload taken from [`FileSession::committing`] ended with `outcome`: answers it and
    /// lets the connection go on.
    pub fn committed(
        &mut self,
        server: &FileServer,
        conn: &mut HttpConn,
        now: Instant,
        outcome: UploadOutcome,
    ) {
        let Some(current) = self.current.as_mut() else {
            return;
        };
        let step = current.request.uploaded(outcome);
        self.step(server, conn, step, now);
        self.drive(server, conn, now);
    }

    /// The shell sent the whole download body (`completed`) or gave up on it: logs the request
    /// and lets the connection go on.
    pub fn body_sent(
        &mut self,
        server: &FileServer,
        conn: &mut HttpConn,
        now: Instant,
        completed: bool,
    ) {
        self.sending = None;
        if let Some(current) = self.current.take() {
            self.log(server, &current, completed);
        }
        if completed {
            // The connection is in the sending state: this always succeeds.
            let _ = conn.handle_body_sent(now);
            self.drive(server, conn, now);
        }
    }

    /// Performs steps until the request is answered or waits for its body.
    fn step(&mut self, server: &FileServer, conn: &mut HttpConn, mut step: FileStep, now: Instant) {
        let Some(current) = self.current.as_mut() else {
            return;
        };
        let answer = loop {
            step = match step {
                FileStep::Lookup(path) => {
                    let (found, file) = server.root.lookup(&path);
                    current.file = file;
                    current.request.looked_up(found)
                }
                FileStep::Upload(path) => match server.root.begin_upload(&path) {
                    Ok(upload) => {
                        current.upload = Some(upload);
                        // The request's head was just reported: a body decision is pending.
                        let _ = conn.accept_body(now);
                        return;
                    }
                    Err(outcome) => current.request.uploaded(outcome),
                },
                FileStep::Respond(answer) => break answer,
            };
        };
        let file = current.file.take();
        // A request is pending: its head or its body's end was just reported.
        let _ = conn.respond(now, answer.response);
        let Some(len) = conn.external_body() else {
            if let Some(current) = self.current.take() {
                self.log(server, &current, true);
            }
            return;
        };
        match (file, answer.file_part) {
            (Some(file), Some((offset, _))) => {
                self.sending = Some(Sending {
                    file,
                    offset,
                    remaining: len,
                });
            }
            _ => self.broken = true,
        }
    }

    fn take_body(&mut self, conn: &mut HttpConn) {
        if conn.poll_body(&mut self.body).is_none() {
            return;
        }
        if let Some(upload) = self.current.as_mut().and_then(|c| c.upload.as_mut()) {
            upload.write(&self.body);
        }
        self.body.clear();
    }

    fn log(&self, server: &FileServer, current: &Current, completed: bool) {
        // Read the clock here: an event loop's `now` is the same for everything in one turn,
        // which would log a request answered within its turn as taking no time.
        let duration = Instant::now().saturating_duration_since(current.started);
        let line = current
            .request
            .log_line(self.remote, current.wall, duration, completed);
        server.log(&line);
    }
}

/// Creates a new temporary file in `folder` for an upload of `name`, hidden and unique.
fn create_temp(folder: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last_error = io::Error::from(io::ErrorKind::AlreadyExists);
    for attempt in 0..TEMP_ATTEMPTS {
        let temp = folder.join(format!(
            ".{name}.{}-{nanos:x}-{attempt}.part",
            std::process::id()
        ));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = e,
            Err(e) => return Err(e),
        }
    }
    Err(last_error)
}

/// What a failed file operation means for the client.
fn outcome_of(error: &io::Error) -> UploadOutcome {
    match error.kind() {
        io::ErrorKind::PermissionDenied => UploadOutcome::Forbidden,
        io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => UploadOutcome::Conflict,
        _ => UploadOutcome::Failed,
    }
}

/// Names tried for a temporary file before giving up; two uploads of one name in the same
/// nanosecond are already rare.
const TEMP_ATTEMPTS: u32 = 16;
