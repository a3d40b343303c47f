//! `ferry-std chat` on std threads: the core's [`ChatHub`] behind one mutex, a reader thread per
//! client (the [`Listener`]'s connection thread) with a writer thread beside it, and a timer
//! thread for the hub's idle deadlines.
//!
//! Whoever feeds the hub (a reader with bytes, a writer that finished, the timer) hands every
//! transmit the hub then has to the addressed client's outbox and wakes its writer. A transmit
//! is shared lines (the room's one copy of each); the writer copies them into one buffer
//! outside the lock and writes them at once. A writer writes outside the lock, so a client that
//! stops reading blocks only its own writer; the hub
//! gives that client no more until its writer reports the last batch written, and disconnects
//! it once its backlog is too large. Which bytes go where and when to close are the hub's
//! decisions; this module moves bytes.
//!
//! A client the hub disconnected is ended as its [`Close`] says: the writer writes the last
//! bytes and shuts the sending side, the reader reads (the hub ignores it now) until the client
//! closes, and the timer thread shuts the socket at the close's deadline, which ends a write or
//! a read still blocked.
//!
//! Account work (hashing, verifying, storing) and the history the hub hands out go to the
//! shared [`ChatBackend`] on every dispatch; its password threads report back by taking the
//! room's lock and feeding the hub, as a reader does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{Shutdown as SocketShutdown, TcpStream};

use ferry_shell::stream::Stream;
use ferry_shell::tls::ServerTls;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferry_cli::ChatOptions;
use ferry_core::chat::{self, ChatHub, ClientId, ClientMap, Close, Line, Peer};
use ferry_core::limits::{self, SHUTDOWN_GRACE};
use ferry_shell::chat_accounts::{ChatBackend, Report};
use ferry_shell::chat_cluster::Wake;
use time::OffsetDateTime;

use crate::accept::{Listener, StopConnections};
use crate::signal::Shutdown;

mod web;

/// Runs the chat server until SIGINT or SIGTERM.
pub fn run(options: &ChatOptions) -> Result<(), String> {
    let shutdown = Shutdown::on_signals().map_err(|e| format!("cannot watch signals: {e}"))?;
    let listener = ferry_shell::bind_tcp("chat server", &options.bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("chat server: {e}"))?;
    let tls = ServerTls::for_port(
        "chat server",
        options.tls.files().as_ref(),
        ferry_core::tls::Alpn::None,
        ferry_core::tls::DEFAULT_HANDSHAKE_TIMEOUT,
    )?;
    crate::signal::reload_on_sighup(tls.iter().cloned().collect())
        .map_err(|e| format!("cannot watch signals: {e}"))?;
    let secure = tls.is_some();
    let (backend, restored) = ChatBackend::open(options)?;
    let mut hub = ChatHub::new(options.chat_config());
    hub.set_accounts(restored.accounts);
    hub.restore_history(restored.history);
    hub.set_clock(Instant::now(), OffsetDateTime::now_utc());
    let room = Arc::new_cyclic(|room: &Weak<Room>| Room {
        state: Mutex::new(State {
            hub,
            backend,
            report: reporter(room.clone()),
            outboxes: ClientMap::default(),
            transmit: Vec::new(),
            closing: BinaryHeap::new(),
            closing_outboxes: ClientMap::default(),
            timer_wakes_at: None,
        }),
        deadline_moved: Condvar::new(),
    });
    {
        let mut state = room.lock();
        let state = &mut *state;
        let wake = cluster_waker(Arc::downgrade(&room));
        state.backend.join_cluster(options, &mut state.hub, wake)?;
    }
    let limit = limits::connection_limit(ferry_shell::raise_fd_limit(), true);
    spawn("chat-timer", {
        let room = room.clone();
        move || timer_loop(&room)
    })?;
    // A TLS port refuses without a word: the error line would need a handshake.
    let refuse = move |out: &mut Vec<u8>| {
        if !secure {
            chat::wire::encode_server_full(limit, out)
        }
    };
    let listener = Listener::start(listener, shutdown.clone(), limit, refuse, {
        let room = room.clone();
        move |tcp: TcpStream| {
            // Each chat line should leave at once, not wait for the peer's delayed ACK.
            let _ = tcp.set_nodelay(true);
            let Ok(remote) = tcp.peer_addr() else {
                return;
            };
            let peer = Peer {
                address: remote.ip(),
                secure,
            };
            if let Ok(stream) = Stream::accept(tcp, tls.as_ref()) {
                serve_client(stream, peer, &room)
            }
        }
    })
    .map_err(|e| format!("cannot start: {e}"))?;
    let web = match &options.web {
        Some(address) => Some(web::start(options, address, &room, &shutdown, limit)?),
        None => None,
    };
    println!(
        "{}",
        crate::conn::secure_if(secure, chat::listening_line(address))
    );
    println!("{}", chat::capacity_line(limit));
    if let Some((_, line)) = &web {
        println!("{line}");
    }
    if let Some(url) = options.cluster_shown() {
        println!("{}", chat::cluster::cluster_line(&url));
    }
    shutdown.wait();
    // Everyone is told and closed; each connection ends by its close's deadline, within the
    // grace, and its sockets are left to the hub's close rather than half-closed from here.
    {
        let mut state = room.lock();
        state.hub.shutdown(Instant::now());
        room.dispatch(&mut state);
    }
    listener.stop(SHUTDOWN_GRACE, StopConnections::Notify);
    if let Some((web, _)) = web {
        web.stop(SHUTDOWN_GRACE, StopConnections::Notify);
    }
    let mut state = room.lock();
    let state = &mut *state;
    state
        .backend
        .serve(&mut state.hub, Instant::now(), &state.report);
    state.backend.finish();
    Ok(())
}

/// How the password pool reports an outcome: straight to the hub, under the room's lock.
fn reporter(room: Weak<Room>) -> Report {
    Arc::new(move |client, outcome| {
        if let Some(room) = room.upgrade() {
            let mut state = room.lock();
            state.hub.handle_account(Instant::now(), client, outcome);
            room.dispatch(&mut state);
        }
    })
}

/// How the cluster's threads report: the room dispatches at once, under its lock, which serves
/// the backend and so the cluster.
fn cluster_waker(room: Weak<Room>) -> Wake {
    Arc::new(move || {
        if let Some(room) = room.upgrade() {
            let mut state = room.lock();
            room.dispatch(&mut state);
        }
    })
}

/// The hub and the clients' outboxes, shared by every thread.
struct Room {
    state: Mutex<State>,
    /// Signalled when the earliest deadline moves earlier than the one the timer thread sleeps
    /// until (a client connects or is closed, a client's write waits for its time, a batch of
    /// announcements is due), so it looks at the new one.
    deadline_moved: Condvar,
}

struct State {
    hub: ChatHub,
    /// Hashing, accounts and history, off the room's lock.
    backend: ChatBackend,
    report: Report,
    outboxes: ClientMap<Arc<Outbox>>,
    transmit: Vec<Line>,
    /// Deadlines of closed clients' last bytes, earliest first, and whose outbox each is (weak:
    /// a connection that ended before its deadline is not kept open).
    closing: BinaryHeap<Reverse<(Instant, ClientId)>>,
    closing_outboxes: ClientMap<Weak<Outbox>>,
    /// When the timer thread wakes next on its own (`None`: not before it is signalled).
    timer_wakes_at: Option<Instant>,
}

/// What waits to be written to one client, and the wake-up of its writer.
struct Outbox {
    state: Mutex<OutboxState>,
    ready: Condvar,
    /// A handle on the connection for closing it from another thread.
    stream: Stream,
}

#[derive(Default)]
struct OutboxState {
    lines: Vec<Line>,
    /// Write `bytes`, then close: these are the client's last.
    close: bool,
    /// Why the hub closed the client, when it did (a WebSocket says so in its close frame).
    why: Option<Close>,
    /// A WebSocket's reader left output in its conn (a pong, a close frame) for the writer.
    kick: bool,
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`State::dispatch`], waking the timer thread when the earliest deadline moved before
    /// the one it sleeps until.
    fn dispatch(&self, state: &mut State) {
        state.dispatch();
        let earlier = match (state.next_deadline(), state.timer_wakes_at) {
            (Some(next), Some(wakes_at)) => next < wakes_at,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier {
            // The timer thread sets this again when it next goes to sleep.
            state.timer_wakes_at = state.next_deadline();
            self.deadline_moved.notify_one();
        }
    }
}

impl State {
    /// Hands the hub's account work and said messages to the backend, every transmit to its
    /// outbox; drops the hub's events.
    fn dispatch(&mut self) {
        self.backend
            .serve(&mut self.hub, Instant::now(), &self.report);
        while let Some(transmit) = self.hub.poll_transmit(Instant::now(), &mut self.transmit) {
            let Some(close) = transmit.close else {
                match self.outboxes.get(&transmit.client) {
                    Some(outbox) => outbox.put(&mut self.transmit, false),
                    None => self.transmit.clear(),
                }
                continue;
            };
            match self.outboxes.remove(&transmit.client) {
                Some(outbox) => {
                    outbox.lock().why = Some(close);
                    outbox.put(&mut self.transmit, true);
                    self.linger(transmit.client, &outbox, close);
                }
                None => self.transmit.clear(),
            }
        }
        while self.hub.poll_event().is_some() {}
    }

    /// Remembers that `outbox`'s socket is shut at `close`'s deadline, if still open then.
    fn linger(&mut self, client: ClientId, outbox: &Arc<Outbox>, close: Close) {
        self.closing.push(Reverse((close.deadline, client)));
        self.closing_outboxes.insert(client, Arc::downgrade(outbox));
    }

    /// Shuts the sockets whose close deadline passed by `now`: a writer or a reader still
    /// blocked on them returns.
    fn end_lingering(&mut self, now: Instant) {
        while let Some(&Reverse((deadline, client))) = self.closing.peek() {
            if deadline > now {
                return;
            }
            self.closing.pop();
            let outbox = self.closing_outboxes.remove(&client);
            if let Some(outbox) = outbox.and_then(|outbox| outbox.upgrade()) {
                let _ = outbox.stream.shutdown(SocketShutdown::Both);
            }
        }
    }

    /// The earliest deadline: the hub's (idle clients), a closed client's or the cluster's.
    fn next_deadline(&self) -> Option<Instant> {
        let closing = self.closing.peek().map(|Reverse((deadline, _))| *deadline);
        let cluster = self.backend.poll_timeout();
        self.hub
            .poll_timeout()
            .into_iter()
            .chain(closing)
            .chain(cluster)
            .min()
    }

    /// The shell lost `client`: the hub forgets it without a last line, and its writer is told
    /// to close, since no transmit will. Dispatch after.
    fn disconnect(&mut self, client: ClientId) {
        self.hub.disconnect(Instant::now(), client);
        if let Some(outbox) = self.outboxes.remove(&client) {
            outbox.put(&mut Vec::new(), true);
        }
    }
}

impl Outbox {
    fn put(&self, lines: &mut Vec<Line>, close: bool) {
        let mut state = self.lock();
        if state.lines.is_empty() {
            std::mem::swap(&mut state.lines, lines);
        } else {
            state.lines.append(lines);
        }
        // A writer stuck on a client that does not read is ended by the close's deadline.
        state.close |= close;
        self.ready.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One client's whole connection, on the listener's thread: registers it with the hub, starts
/// its writer, reads until the connection ends, then waits for the writer's last bytes.
fn serve_client(stream: Stream, peer: Peer, room: &Arc<Room>) {
    let Ok((client, writer)) = start_client(&stream, peer, room) else {
        return;
    };
    read_loop(stream, client, room);
    let _ = writer.join();
}

/// Registers a client with the hub and starts its writer thread.
fn start_client(
    stream: &Stream,
    peer: Peer,
    room: &Arc<Room>,
) -> io::Result<(ClientId, JoinHandle<()>)> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    // Over TLS the reader and the writer share one session (see TlsStream): records leave in
    // the order they were made, whichever thread made them.
    let writer_stream = stream.try_clone()?;
    let outbox = Arc::new(Outbox {
        state: Mutex::new(OutboxState::default()),
        ready: Condvar::new(),
        stream: stream.try_clone()?,
    });
    let client = {
        let mut state = room.lock();
        let client = state.hub.connect_from(Instant::now(), peer);
        state.outboxes.insert(client, outbox.clone());
        room.dispatch(&mut state);
        client
    };
    let writer = {
        let room = room.clone();
        move || write_loop(client, writer_stream, &outbox, &room)
    };
    match spawn_small("chat-writer", writer) {
        Ok(writer) => Ok((client, writer)),
        Err(error) => {
            let mut state = room.lock();
            state.disconnect(client);
            room.dispatch(&mut state);
            Err(error)
        }
    }
}

/// Feeds what the client sends to the hub until EOF or an error; once the hub closed the
/// client, it ignores what comes, and reading on lets the client close first.
fn read_loop(mut stream: Stream, client: ClientId, room: &Room) {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let read = stream.read(&mut buf);
        let mut state = room.lock();
        match read {
            Ok(0) => state.hub.receive_eof(Instant::now(), client),
            Ok(n) => state.hub.receive(Instant::now(), client, &buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A reset, or the socket was shut at a close's deadline; the client is gone.
            Err(_) => state.disconnect(client),
        }
        room.dispatch(&mut state);
        if !matches!(read, Ok(1..)) {
            return;
        }
    }
}

/// Writes what the hub hands this client, reporting each batch written, until it is closed:
/// then writes the last bytes and shuts the sending side (the timer ends a write still blocked
/// at the close's deadline).
fn write_loop(client: ClientId, mut stream: Stream, outbox: &Outbox, room: &Room) {
    let mut lines = Vec::new();
    let mut batch = Vec::new();
    loop {
        let close = {
            let mut state = outbox.lock();
            while state.lines.is_empty() && !state.close {
                state = outbox.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            std::mem::swap(&mut lines, &mut state.lines);
            state.close
        };
        // One write for everything handed out: a write costs the same few microseconds of the
        // kernel's time whether it carries one line or fifty.
        chat::line::copy_into(&lines, &mut batch);
        lines.clear();
        let written = stream.write_all(&batch);
        batch.clear();
        if batch.capacity() > MAX_KEPT_BATCH {
            batch = Vec::new();
        }
        if close {
            if written.is_ok() {
                let _ = stream.shutdown(SocketShutdown::Write);
            }
            return;
        }
        let mut state = room.lock();
        match written {
            Ok(()) => state.hub.handle_drained(Instant::now(), client),
            Err(_) => {
                state.hub.disconnect(Instant::now(), client);
                state.outboxes.remove(&client);
                // Ends the reader too.
                let _ = stream.shutdown(SocketShutdown::Both);
            }
        }
        room.dispatch(&mut state);
        if written.is_err() {
            return;
        }
    }
}

/// Fires the hub's deadlines (idle clients, clients' write times, batches of announcements) and
/// closed clients' deadlines.
fn timer_loop(room: &Room) {
    let mut state = room.lock();
    loop {
        let now = Instant::now();
        match state.next_deadline() {
            Some(deadline) if deadline <= now => {
                if state
                    .hub
                    .poll_timeout()
                    .is_some_and(|deadline| deadline <= now)
                {
                    state.hub.handle_timeout(now);
                    state.dispatch();
                }
                if state
                    .backend
                    .poll_timeout()
                    .is_some_and(|deadline| deadline <= now)
                {
                    // Serving the backend fires the cluster's due timers.
                    state.dispatch();
                }
                state.end_lingering(now);
            }
            Some(deadline) => {
                state.timer_wakes_at = Some(deadline);
                state = room
                    .deadline_moved
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            None => {
                state.timer_wakes_at = None;
                state = room
                    .deadline_moved
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), String> {
    thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map(|_| ())
        .map_err(|e| format!("cannot start a thread: {e}"))
}

fn spawn_small(name: &str, work: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.into())
        .stack_size(CLIENT_STACK)
        .spawn(work)
}

/// A writer keeps a buffer this large between batches; a larger one (a long backlog) is freed.
const MAX_KEPT_BATCH: usize = 16 * 1024;
/// Bytes read per call: many chat lines, or one long one.
const READ_BUFFER: usize = 16 * 1024;
/// Client threads only move bytes; 128 KiB of stack is plenty.
const CLIENT_STACK: usize = 128 * 1024;
/// A write that makes no progress for this long means the client stopped reading; its writer
/// gives up (the hub has usually disconnected such a client long before).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
