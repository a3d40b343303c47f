//! The file server on the loop: each connection's `HttpConn` and [`FileSession`], download
//! bodies sent with sendfile(2) by the loop's driver (file bytes go from the page cache to the
//! socket without passing through this process), changes committed (an upload's fsync, rename
//! and fsync; a removal's or new folder's folder sync) on a thread of their own, so syncing
//! never stalls the other connections, and credentials checked on the password pool's threads
//! (a hash costs tens of milliseconds). Both report back through the loop's one waker.
//! What to answer, which bytes to send and when to close are the core's decisions; this module
//! moves bytes.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use ferry_core::files::WriteOutcome;
use ferry_core::http::{HttpConfig, HttpConn};
use ferry_shell::files::{FileServer, FileSession, Sending};
use mio::Waker;
use time::OffsetDateTime;

use crate::conns::{ConnKey, Wakes};
use crate::http::{Answer, HttpSession};

/// What the file server's connections share.
pub struct FilesService {
    server: FileServer,
    http: HttpConfig,
    /// Commit threads report here and wake the loop.
    commits: (Sender<Committed>, Receiver<Committed>),
    waker: Arc<Waker>,
    /// Connections whose upload is being committed on a thread.
    committing: HashSet<ConnKey>,
    /// Commits that ended, for their connection to answer.
    committed: HashMap<ConnKey, WriteOutcome>,
    /// The password pool reports verdicts here and wakes the loop.
    verdicts: (Sender<Verdict>, Receiver<Verdict>),
    /// Connections whose credentials are being checked.
    authenticating: HashSet<ConnKey>,
    /// Checks that ended, for their connection to go on with.
    verified: HashMap<ConnKey, bool>,
}

/// How the check of a connection's credentials ended.
struct Verdict {
    key: ConnKey,
    ok: bool,
}

/// How a commit thread's upload ended, for the connection in `key`.
struct Committed {
    key: ConnKey,
    outcome: WriteOutcome,
}

/// One connection of the file server.
pub type FilesSession = HttpSession<FileAnswer>;

/// The file server's side of one connection.
pub struct FileAnswer {
    files: FileSession,
}

impl FilesService {
    pub fn new(server: FileServer, http: HttpConfig, waker: Arc<Waker>) -> FilesService {
        FilesService {
            server,
            http,
            commits: mpsc::channel(),
            waker,
            committing: HashSet::new(),
            committed: HashMap::new(),
            verdicts: mpsc::channel(),
            authenticating: HashSet::new(),
            verified: HashMap::new(),
        }
    }

    pub fn open(&mut self, remote: SocketAddr, now: Instant) -> FilesSession {
        let mut files = FileSession::new(remote.ip());
        files.defer_commits = true;
        let http = HttpConn::new(self.http, now, OffsetDateTime::now_utc());
        HttpSession::new(http, FileAnswer { files })
    }

    /// Removes what uploads the stop's grace period cut short were writing.
    pub fn finish(&self) {
        self.server.finish();
    }

    /// Collects the commits and checks that ended and wakes their connections.
    pub fn handle_wake(&mut self, wakes: &mut Wakes) {
        while let Ok(Committed { key, outcome }) = self.commits.1.try_recv() {
            if self.committing.remove(&key) {
                self.committed.insert(key, outcome);
                wakes.wake(key);
            }
        }
        while let Ok(Verdict { key, ok }) = self.verdicts.1.try_recv() {
            if self.authenticating.remove(&key) {
                self.verified.insert(key, ok);
                wakes.wake(key);
            }
        }
    }

    /// Hands a finished upload or a change to a thread that waits on the disk for it.
    fn commit(&mut self, files: &mut FileSession, http: &mut HttpConn, key: ConnKey, now: Instant) {
        let Some(commit) = files.committing.take() else {
            return;
        };
        let (sender, waker) = (self.commits.0.clone(), self.waker.clone());
        let spawned = thread::Builder::new()
            .name("files-commit".into())
            .spawn(move || {
                let outcome = commit.run();
                let _ = sender.send(Committed { key, outcome });
                let _ = waker.wake();
            });
        match spawned {
            Ok(_) => {
                self.committing.insert(key);
            }
            Err(_) => {
                // No thread for it: an upload is dropped (its temporary file removed); a
                // removal or new folder is done, only not synced yet.
                files.committed(&self.server, http, now, WriteOutcome::Failed);
            }
        }
    }

    /// Hands the request's credentials to the password pool.
    fn authenticate(
        &mut self,
        files: &mut FileSession,
        http: &mut HttpConn,
        key: ConnKey,
        now: Instant,
    ) {
        let (sender, waker) = (self.verdicts.0.clone(), self.waker.clone());
        let report = move |ok| {
            let _ = sender.send(Verdict { key, ok });
            let _ = waker.wake();
        };
        if files.begin_authentication(&self.server, http, now, report) {
            self.authenticating.insert(key);
        }
    }
}

impl Answer for FileAnswer {
    type Service = FilesService;

    fn answer(
        &mut self,
        http: &mut HttpConn,
        service: &mut FilesService,
        key: ConnKey,
        now: Instant,
    ) {
        if let Some(outcome) = service.committed.remove(&key) {
            self.files.committed(&service.server, http, now, outcome);
        }
        if let Some(ok) = service.verified.remove(&key) {
            self.files
                .authenticated(&service.server, http, now, Some(ok));
        }
        self.files.drive(&service.server, http, now);
        // A check answered at once (a verified browser) may lead straight to a change.
        loop {
            if self.files.committing.is_some() {
                service.commit(&mut self.files, http, key, now);
            } else if self.files.authenticating.is_some() {
                service.authenticate(&mut self.files, http, key, now);
            } else {
                return;
            }
        }
    }

    fn is_broken(&self) -> bool {
        self.files.broken
    }

    fn body(&mut self) -> Option<&mut Sending> {
        self.files.sending.as_mut()
    }

    fn body_sent(
        &mut self,
        http: &mut HttpConn,
        service: &mut FilesService,
        now: Instant,
        done: bool,
    ) {
        if done {
            self.files.body_sent(&service.server, http, now);
        } else {
            let unsent = self.files.sending.as_ref().map_or(0, |s| s.remaining);
            self.files.body_cut(&service.server, unsent);
        }
    }

    fn closed(
        &mut self,
        http: &mut HttpConn,
        service: &mut FilesService,
        key: ConnKey,
        now: Instant,
    ) {
        // A download cut short still gets its log line, with the bytes that went out.
        if let Some(sending) = self.files.sending.as_ref() {
            let unsent = sending.remaining;
            self.files.body_cut(&service.server, unsent);
        }
        let _ = (http, now);
        service.committing.remove(&key);
        service.committed.remove(&key);
        service.authenticating.remove(&key);
        service.verified.remove(&key);
    }
}
