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

use ferry_core::files::{rejected_log_line, Credentials, FileRequest, FileStep, WriteOutcome};
use ferry_core::http::{HttpConn, HttpEvent};
use time::OffsetDateTime;

use super::access::Started;
use super::{Commit, FileServer, Sending, Upload};

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
    /// Set by a shell that must not block (an event loop): a change that waits on the disk (an
    /// upload's fsync and rename, a removal's folder sync) is left in
    /// [`FileSession::committing`], and credentials to check in
    /// [`FileSession::authenticating`], instead of being carried out in `drive`.
    pub defer_commits: bool,
    /// With `defer_commits`: a change to commit elsewhere (a thread); the shell reports with
    /// [`FileSession::committed`].
    pub committing: Option<Commit>,
    /// With `defer_commits`: credentials to check with [`FileSession::begin_authentication`].
    pub authenticating: Option<Credentials>,
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
            authenticating: None,
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
                            self.committing = Some(Commit::Upload(upload));
                            continue;
                        }
                        Some(upload) => upload.commit(),
                        None => WriteOutcome::Failed,
                    };
                    let step = current.request.written(outcome);
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

    /// The change taken from [`FileSession::committing`] ended with `outcome`: answers it and
    /// lets the connection go on.
    pub fn committed(
        &mut self,
        server: &FileServer,
        conn: &mut HttpConn,
        now: Instant,
        outcome: WriteOutcome,
    ) {
        let Some(current) = self.current.as_mut() else {
            return;
        };
        let step = current.request.written(outcome);
        self.step(server, conn, step, now);
        self.drive(server, conn, now);
    }

    /// Starts checking the credentials left in [`FileSession::authenticating`]; `report` gets
    /// the verdict on another thread, for the shell to hand to [`FileSession::authenticated`].
    /// True when the verdict comes that way; false when the request was answered already.
    pub fn begin_authentication(
        &mut self,
        server: &FileServer,
        conn: &mut HttpConn,
        now: Instant,
        report: impl FnOnce(bool) + Send + 'static,
    ) -> bool {
        let Some(credentials) = self.authenticating.take() else {
            return false;
        };
        let verdict = match server.access.as_ref() {
            Some(access) => match access.start(self.remote, credentials, now, report) {
                Started::Pending => return true,
                Started::Known(ok) => Some(ok),
                Started::Busy => None,
            },
            None => Some(false),
        };
        self.authenticated(server, conn, now, verdict);
        false
    }

    /// The credentials of the request ended as `verdict` (`None`: not checked, too busy):
    /// answers or goes on with the request.
    pub fn authenticated(
        &mut self,
        server: &FileServer,
        conn: &mut HttpConn,
        now: Instant,
        verdict: Option<bool>,
    ) {
        let Some(current) = self.current.as_mut() else {
            return;
        };
        let step = current.request.authenticated(verdict);
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
                FileStep::List(path) => current.request.listed(server.root.list(&path)),
                FileStep::Authenticate(credentials) => match server.access.as_ref() {
                    None => current.request.authenticated(Some(false)),
                    Some(_) if self.defer_commits => {
                        self.authenticating = Some(credentials);
                        return;
                    }
                    Some(access) => {
                        let verdict = access.check_blocking(self.remote, credentials, now);
                        current.request.authenticated(verdict)
                    }
                },
                FileStep::Upload(path) => match server.root.begin_upload(&path) {
                    Ok(upload) => {
                        current.upload = Some(upload);
                        // The request's head was just reported: a body decision is pending.
                        let _ = conn.accept_body(now);
                        return;
                    }
                    Err(outcome) => current.request.written(outcome),
                },
                FileStep::MakeFolder(path) => {
                    let commit = server.root.make_folder(&path);
                    match carry_out(commit, self.defer_commits, &mut self.committing) {
                        Some(outcome) => current.request.written(outcome),
                        None => return,
                    }
                }
                FileStep::Remove(path) => {
                    let commit = server.root.remove(&path);
                    match carry_out(commit, self.defer_commits, &mut self.committing) {
                        Some(outcome) => current.request.written(outcome),
                        None => return,
                    }
                }
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

/// Carries out a change here, or leaves it in `committing` when it waits on the disk and the
/// shell must not block (`defer`): `None` then.
fn carry_out(commit: Commit, defer: bool, committing: &mut Option<Commit>) -> Option<WriteOutcome> {
    if let Some(outcome) = commit.done() {
        return Some(outcome);
    }
    if defer {
        *committing = Some(commit);
        return None;
    }
    Some(commit.run())
}
