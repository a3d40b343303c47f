//! `ferry files` on its own mio event loop: accepting, driving each connection's `HttpConn` and
//! [`FileSession`], and sending download bodies with sendfile(2), so file bytes go from the page
//! cache to the socket without passing through this process. Finished uploads are committed
//! (fsync, rename, fsync) on a thread of their own, so syncing a large file never stalls the
//! other connections. What to answer, which bytes to send and when to close are the core's
//! decisions; this module moves bytes.

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferry_cli::FilesOptions;
use ferry_core::files::{self, UploadOutcome};
use ferry_core::http::{HttpConfig, HttpConn};
use ferry_core::settings::{self, SHUTDOWN_GRACE};
use ferry_shell::files::{FileServer, FileSession};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use time::OffsetDateTime;

use crate::outbox::Outbox;
use crate::timers::{TimerKey, Timers};
use crate::web::finish_output;

/// Runs the file server until SIGINT or SIGTERM (then finishes in-flight requests, bounded).
pub fn run(options: &FilesOptions) -> Result<(), String> {
    let server = FileServer::open(options)?;
    let listener = ferry_shell::bind_tcp("file server", &options.bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("file server: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("file server: {e}"))?;
    let max_connections = settings::connection_limit(ferry_shell::raise_fd_limit(), false);
    let mut files_loop = FilesLoop::new(
        TcpListener::from_std(listener),
        server,
        options.http_config(),
        max_connections,
    )
    .map_err(|e| format!("cannot start the event loop: {e}"))?;
    println!("{}", files::listening(address));
    files_loop
        .run()
        .map_err(|e| format!("event loop failed: {e}"))
}

struct FilesLoop {
    poll: Poll,
    signals: Signals,
    listener: Option<TcpListener>,
    accept_ready: bool,
    accept_paused_until: Option<Instant>,
    max_connections: usize,
    server: FileServer,
    http: HttpConfig,
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
    open: usize,
    next_generation: u64,
    timers: Timers,
    /// One read buffer for every connection, so an idle connection holds no buffer of its own.
    read_buf: Vec<u8>,
    /// Commit threads report here and wake the loop.
    commits: (Sender<Committed>, Receiver<Committed>),
    waker: Arc<Waker>,
}

/// How a commit thread's upload ended, for the connection in `key`.
struct Committed {
    key: TimerKey,
    outcome: UploadOutcome,
}

struct Connection {
    stream: TcpStream,
    http: HttpConn,
    session: FileSession,
    outbox: Outbox,
    /// Edge-triggered readiness: set by an event, cleared when the socket says WouldBlock.
    read_ready: bool,
    write_shut: bool,
    generation: u64,
    armed: Option<Instant>,
}

impl FilesLoop {
    fn new(
        mut listener: TcpListener,
        server: FileServer,
        http: HttpConfig,
        max_connections: usize,
    ) -> io::Result<FilesLoop> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), COMMITS)?);
        Ok(FilesLoop {
            poll,
            signals,
            listener: Some(listener),
            accept_ready: true,
            accept_paused_until: None,
            max_connections,
            server,
            http,
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            next_generation: 0,
            timers: Timers::default(),
            read_buf: vec![0; READ_BUFFER],
            commits: mpsc::channel(),
            waker,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        let mut stop_by: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let deadline = [self.timers.next(), self.accept_paused_until, stop_by]
                .into_iter()
                .flatten()
                .min();
            let timeout = deadline.map(|d| d.saturating_duration_since(now));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    SIGNALS => {
                        if self.signals.pending().count() > 0 && stop_by.is_none() {
                            stop_by = Some(now + SHUTDOWN_GRACE);
                            self.begin_shutdown();
                        }
                    }
                    LISTENER => {
                        self.accept_ready = true;
                        self.accept(now);
                    }
                    COMMITS => self.finish_commits(now),
                    token => {
                        let slot = token.0 - FIRST_CONNECTION;
                        let Some(Some(conn)) = self.slots.get_mut(slot) else {
                            continue;
                        };
                        conn.read_ready |=
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        conn.outbox.ready |=
                            event.is_writable() || event.is_write_closed() || event.is_error();
                        self.drive(slot, now);
                    }
                }
            }
            while let Some((deadline, key)) = self.timers.pop_expired(now) {
                let Some(Some(conn)) = self.slots.get_mut(key.slot) else {
                    continue;
                };
                if conn.generation != key.generation || conn.armed != Some(deadline) {
                    continue;
                }
                conn.armed = None;
                conn.http.handle_timeout(now);
                self.drive(key.slot, now);
            }
            if self.accept_ready {
                self.accept(now);
            }
            if let Some(stop_by) = stop_by {
                if self.open == 0 || now >= stop_by {
                    return Ok(());
                }
            }
        }
    }

    /// Accepts every waiting connection, up to the connection limit.
    fn accept(&mut self, now: Instant) {
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        self.accept_paused_until = None;
        while self.accept_ready && self.open < self.max_connections {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((stream, address)) => self.add_connection(stream, address.ip(), now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.accept_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(ENFILE | EMFILE)) => {
                    // Out of file descriptors: retry shortly instead of spinning on the error.
                    self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    return;
                }
                // The peer gave up before we accepted (ECONNABORTED): take the next one.
                Err(_) => {}
            }
        }
    }

    fn add_connection(&mut self, mut stream: TcpStream, remote: std::net::IpAddr, now: Instant) {
        let _ = stream.set_nodelay(true);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        // Both interests once, edge-triggered: the loop keeps its own ready flags.
        let token = Token(FIRST_CONNECTION + slot);
        if registry(&self.poll)
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            self.free.push(slot);
            return;
        }
        self.next_generation += 1;
        let mut session = FileSession::new(remote);
        session.defer_commits = true;
        self.slots[slot] = Some(Connection {
            stream,
            http: HttpConn::new(self.http, now, OffsetDateTime::now_utc()),
            session,
            outbox: Outbox::new(true, RETAINED_OUTPUT),
            read_ready: true,
            write_shut: false,
            generation: self.next_generation,
            armed: None,
        });
        self.open += 1;
        self.drive(slot, now);
    }

    /// Answers the uploads whose commit threads have finished.
    fn finish_commits(&mut self, now: Instant) {
        while let Ok(Committed { key, outcome }) = self.commits.1.try_recv() {
            let Some(Some(conn)) = self.slots.get_mut(key.slot) else {
                continue;
            };
            if conn.generation != key.generation {
                continue;
            }
            conn.session
                .committed(&self.server, &mut conn.http, now, outcome);
            self.drive(key.slot, now);
        }
    }

    /// Stops accepting and half-closes every connection's read side: idle ones see EOF and
    /// close, busy ones finish their request first.
    fn begin_shutdown(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        for conn in self.slots.iter_mut().flatten() {
            let _ = conn.stream.shutdown(Shutdown::Read);
            conn.read_ready = true;
        }
        let slots: Vec<usize> = (0..self.slots.len()).collect();
        let now = Instant::now();
        for slot in slots {
            self.drive(slot, now);
        }
    }

    /// Runs one connection as far as its socket, its files and the core allow.
    fn drive(&mut self, slot: usize, now: Instant) {
        let Some(Some(conn)) = self.slots.get_mut(slot) else {
            return;
        };
        let key = TimerKey {
            slot,
            generation: conn.generation,
        };
        let alive = loop {
            if conn.can_read() {
                match conn.stream.read(&mut self.read_buf) {
                    Ok(0) => {
                        conn.read_ready = false;
                        conn.http.receive_eof(now);
                    }
                    Ok(n) => conn.http.receive(now, &self.read_buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.read_ready = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break false,
                }
            }
            conn.session.drive(&self.server, &mut conn.http, now);
            if let Some(upload) = conn.session.committing.take() {
                let (sender, waker) = (self.commits.0.clone(), self.waker.clone());
                let spawned = thread::Builder::new()
                    .name("files-commit".into())
                    .spawn(move || {
                        let outcome = upload.commit();
                        let _ = sender.send(Committed { key, outcome });
                        let _ = waker.wake();
                    });
                if spawned.is_err() {
                    // No thread for it: the upload is dropped (its temporary file removed).
                    let failed = UploadOutcome::Failed;
                    conn.session
                        .committed(&self.server, &mut conn.http, now, failed);
                }
            }
            conn.http.poll_transmit(conn.outbox.buffer());
            let before = conn.outbox.pending();
            if conn.outbox.flush(&mut conn.stream).is_err() || conn.session.broken {
                break false;
            }
            let mut written = before - conn.outbox.pending();
            if conn.outbox.pending() == 0 && conn.outbox.ready {
                if let Some(sending) = conn.session.sending.as_mut() {
                    let owed = sending.remaining;
                    let sent = sending.send_to(&conn.stream);
                    written += usize::try_from(owed - sending.remaining).unwrap_or(usize::MAX);
                    match sent {
                        Ok(true) => {
                            conn.http.handle_written(now, written, false);
                            conn.session
                                .body_sent(&self.server, &mut conn.http, now, true);
                            continue;
                        }
                        Ok(false) => conn.outbox.ready = false,
                        Err(_) => {
                            conn.session
                                .body_sent(&self.server, &mut conn.http, now, false);
                            break false;
                        }
                    }
                }
            }
            // The core times out a peer that stops taking output, a download body included.
            let pending = conn.outbox.pending() > 0 || conn.session.sending.is_some();
            conn.http.handle_written(now, written, pending);
            if conn.http.is_write_timed_out() {
                if conn.session.sending.is_some() {
                    conn.session
                        .body_sent(&self.server, &mut conn.http, now, false);
                }
                break false;
            }
            if conn.outbox.pending() == 0
                && conn.session.sending.is_none()
                && !finish_output(&conn.http, &conn.stream, &mut conn.write_shut)
            {
                break false;
            }
            if !conn.can_read() {
                break true;
            }
        };
        if alive {
            if let Some(deadline) = conn.http.poll_timeout() {
                conn.armed = Some(self.timers.arm(key, deadline, conn.armed));
            }
        } else {
            if let Some(mut conn) = self.slots[slot].take() {
                let _ = self.poll.registry().deregister(&mut conn.stream);
            }
            self.free.push(slot);
            self.open -= 1;
        }
    }
}

impl Connection {
    /// Reads only when the core wants input and the peer is not far behind on our output.
    fn can_read(&self) -> bool {
        self.read_ready && self.http.wants_read() && self.outbox.pending() < OUTPUT_HIGH_WATER
    }
}

fn registry(poll: &Poll) -> &Registry {
    poll.registry()
}

const SIGNALS: Token = Token(0);
const LISTENER: Token = Token(1);
const COMMITS: Token = Token(2);
/// Tokens of connections start here.
const FIRST_CONNECTION: usize = 16;
/// Readiness events taken per wait; more wait for the next turn.
const EVENTS_PER_WAIT: usize = 1024;
/// One read takes a head or a good piece of an upload; shared by all connections.
const READ_BUFFER: usize = 64 * 1024;
/// Stop reading a connection whose peer has not taken this much of our output yet.
const OUTPUT_HIGH_WATER: usize = 256 * 1024;
/// Output buffers above this are released once written.
const RETAINED_OUTPUT: usize = 16 * 1024;
/// How long accepting pauses after the process ran out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
const ENFILE: i32 = 23;
const EMFILE: i32 = 24;
