//! [`FileSession`]: one connection's file requests, carried from the core's events to the file
//! operations of [`FileRoot`](super::FileRoot) and back, with the access log line of each.
//!
//! Every decision (which path, which status, which bytes, the log line) is `ferry-core`'s; this
//! module calls the file operations the [`FileStep`]s ask for and reports what they found.
//! Moving the bytes of a download is the shell's: it takes the [`Sending`] this session leaves,
//! sends it, and reports back with [`FileSession::body_sent`] or [`FileSession::body_cut`].

use std::fs::File;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ferry_core::files::{rejected_log_line, FileRequest, FileStep, UploadOutcome};
use ferry_core::http::{HttpConn, HttpEvent};
use time::OffsetDateTime;

use super::{FileServer, Sending, Upload};

/// One connection's file requests.
pub struct FileSession {
    remote: IpAddr,
    current: Option<Current>,
    /// The body bytes of a download the shell must send now, after the head.
    pub sending: Option<Sending>,
    /// The length of the download body in [`FileSession::sending`], for the log of a cut one.
    body_len: u64,
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

impl FileSession {
    /// A session for a connection from `remote`.
    pub fn new(remote: IpAddr) -> FileSession {
        FileSession {
            remote,
            current: None,
            sending: None,
            body_len: 0,
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
                        self.log(server, &current, None);
                    }
                    None => {
                        let wall = OffsetDateTime::now_utc();
                        let line =
                            rejected_log_line(self.remote, wall, error.status(), Duration::ZERO);
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

    /// The shell sent the whole download body: logs the request and lets the connection go on.
    pub fn body_sent(&mut self, server: &FileServer, conn: &mut HttpConn, now: Instant) {
        self.sending = None;
        if let Some(current) = self.current.take() {
            self.log(server, &current, None);
        }
        // The connection is in the sending state: this always succeeds.
        let _ = conn.handle_body_sent(now);
        self.drive(server, conn, now);
    }

    /// The shell gave up on the download body with `unsent` bytes of it left (the client went
    /// away, or stopped reading): logs the request with the bytes that were sent. The
    /// connection is finished.
    pub fn body_cut(&mut self, server: &FileServer, unsent: u64) {
        self.sending = None;
        if let Some(current) = self.current.take() {
            let sent = self.body_len.saturating_sub(unsent);
            self.log(server, &current, Some(sent));
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
                self.log(server, &current, None);
            }
            return;
        };
        match (file, answer.file_part) {
            (Some(file), Some((offset, _))) => {
                self.body_len = len;
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

    fn log(&self, server: &FileServer, current: &Current, cut_after: Option<u64>) {
        // Read the clock here: an event loop's `now` is the same for everything in one turn,
        // which would log a request answered within its turn as taking no time.
        let duration = Instant::now().saturating_duration_since(current.started);
        let line = current
            .request
            .log_line(self.remote, current.wall, duration, cut_after);
        server.log(&line);
    }
}
