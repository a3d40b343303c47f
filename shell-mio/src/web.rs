//! The web app on the event loop: accepting, driving each connection's `HttpConn`, and the
//! `DatagramSender` that forwards messages to the socket server. What to answer, when to close
//! and when a message counts as stored are the core's decisions; this module moves bytes.

use std::io::{self, Read};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use ferry_core::app::{AppAction, ForwardOutcome, MessageApp};
use ferry_core::datagram::SenderEvent;
use ferry_core::http::{HttpConfig, HttpConn, HttpEvent};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use time::OffsetDateTime;

use crate::forward::Forward;
use crate::outbox::Outbox;
use crate::timers::{TimerKey, Timers};

/// Tokens of connections start here; lower ones name the loop's other sources.
pub const FIRST_CONNECTION: usize = 16;

/// The web app: its listener, its connections and its forwarder.
pub struct Web {
    listener: Option<TcpListener>,
    listener_token: Token,
    accept_ready: bool,
    accept_paused_until: Option<Instant>,
    /// Beyond this many open connections, new ones wait in the listen backlog.
    max_connections: usize,
    app: MessageApp,
    http: HttpConfig,
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
    open: usize,
    next_generation: u64,
    timers: Timers,
    forward: Forward,
    /// One read buffer for every connection, so an idle connection holds no buffer of its own.
    read_buf: Vec<u8>,
}

struct Connection {
    stream: TcpStream,
    http: HttpConn,
    outbox: Outbox,
    /// Edge-triggered readiness: set by an event, cleared when the socket says WouldBlock.
    read_ready: bool,
    write_shut: bool,
    generation: u64,
    armed: Option<Instant>,
}

impl Web {
    pub fn new(
        listener: TcpListener,
        listener_token: Token,
        app: MessageApp,
        http: HttpConfig,
        forward: Forward,
        max_connections: usize,
    ) -> Web {
        Web {
            listener: Some(listener),
            listener_token,
            accept_ready: true,
            accept_paused_until: None,
            max_connections,
            app,
            http,
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            next_generation: 0,
            timers: Timers::default(),
            forward,
            read_buf: vec![0; READ_BUFFER],
        }
    }

    pub fn register(&mut self, registry: &Registry, forward_token: Token) -> io::Result<()> {
        if let Some(listener) = self.listener.as_mut() {
            registry.register(listener, self.listener_token, Interest::READABLE)?;
        }
        self.forward.register(registry, forward_token)
    }

    /// The earliest moment the loop must wake up for the web app.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.timers.next(),
            self.forward.next_deadline(),
            self.accept_paused_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Accepts every waiting connection, up to the connection limit.
    pub fn accept(&mut self, registry: &Registry, now: Instant) {
        self.accept_ready = true;
        self.accept_pending(registry, now);
    }

    fn accept_pending(&mut self, registry: &Registry, now: Instant) {
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        self.accept_paused_until = None;
        while self.accept_ready && self.open < self.max_connections {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((stream, _)) => self.add_connection(registry, stream, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.accept_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(EMFILE | ENFILE)) => {
                    // Out of file descriptors: retry shortly instead of spinning on the error.
                    self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    return;
                }
                // The peer gave up before we accepted (ECONNABORTED): take the next one.
                Err(_) => {}
            }
        }
    }

    fn add_connection(&mut self, registry: &Registry, mut stream: TcpStream, now: Instant) {
        // Responses go out in one write each; without this a response after a partial write
        // would wait for the peer's delayed ACK (Nagle's algorithm).
        let _ = stream.set_nodelay(true);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        // Both interests are registered once: with edge-triggered readiness the loop keeps its
        // own ready flags and asks the core (`wants_read`, pending output) whether to act, so no
        // reregister call is ever needed.
        let token = Token(FIRST_CONNECTION + slot);
        if registry
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            self.free.push(slot);
            return;
        }
        self.next_generation += 1;
        self.slots[slot] = Some(Connection {
            stream,
            http: HttpConn::new(self.http, now, OffsetDateTime::now_utc()),
            outbox: Outbox::new(true, RETAINED_OUTPUT),
            read_ready: true,
            write_shut: false,
            generation: self.next_generation,
            armed: None,
        });
        self.open += 1;
        self.drive(slot, now);
    }

    /// Readiness reported for a connection token.
    pub fn connection_event(&mut self, token: Token, readable: bool, writable: bool, now: Instant) {
        let slot = token.0 - FIRST_CONNECTION;
        let Some(Some(conn)) = self.slots.get_mut(slot) else {
            return;
        };
        conn.read_ready |= readable;
        conn.outbox.ready |= writable;
        self.drive(slot, now);
    }

    /// Fires expired connection deadlines and the sender's timers.
    pub fn handle_timeouts(&mut self, registry: &Registry, now: Instant) {
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
        if self
            .forward
            .next_deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            self.forward.handle_timeout(now);
            self.after_sender_input(now);
        }
        // Also resumes accepting once connections closed below the limit.
        if self.accept_ready {
            self.accept_pending(registry, now);
        }
    }

    /// Readiness of the forwarder's socket or stream: acknowledgements from the socket server,
    /// a connection attempt that ended, room to write.
    pub fn forward_event(&mut self, now: Instant, readable: bool, writable: bool) {
        self.forward.handle_ready(now, readable, writable);
        self.after_sender_input(now);
    }

    /// Stops accepting and half-closes every connection's read side: idle ones see EOF and
    /// close, ones with a request in flight answer it (with `Connection: close`) first.
    pub fn begin_shutdown(&mut self, registry: &Registry) {
        if let Some(mut listener) = self.listener.take() {
            let _ = registry.deregister(&mut listener);
        }
        for conn in self.slots.iter_mut().flatten() {
            let _ = conn.stream.shutdown(Shutdown::Read);
            conn.read_ready = true;
        }
    }

    /// Whether nothing is left to finish.
    pub fn is_idle(&self) -> bool {
        self.open == 0 && self.forward.is_idle()
    }

    /// Sends what the sender queued and answers the connections whose message is settled.
    fn after_sender_input(&mut self, now: Instant) {
        self.forward.flush(now);
        while let Some(event) = self.forward.sender.poll_event() {
            let (tag, outcome) = match event {
                SenderEvent::Delivered { tag } => (tag, ForwardOutcome::Stored),
                SenderEvent::Failed { tag } => (tag, ForwardOutcome::NotAcknowledged),
            };
            let Some(key) = self.forward.waiting.remove(&tag) else {
                continue;
            };
            let Some(Some(conn)) = self.slots.get_mut(key.slot) else {
                continue;
            };
            if conn.generation != key.generation {
                continue;
            }
            let response = self.app.forwarded(outcome);
            // The connection waits on this message, so a request is pending.
            let _ = conn.http.respond(now, response);
            self.drive(key.slot, now);
        }
    }

    /// Runs one connection as far as its socket and the core allow.
    fn drive(&mut self, slot: usize, now: Instant) {
        let Some(Some(conn)) = self.slots.get_mut(slot) else {
            return;
        };
        let key = TimerKey {
            slot,
            generation: conn.generation,
        };
        let mut forwarded = false;
        let alive = loop {
            if conn.can_read() {
                match conn.stream.read(&mut self.read_buf) {
                    Ok(0) => {
                        conn.read_ready = false;
                        conn.http.receive_eof(now);
                    }
                    Ok(n) => {
                        // A short read emptied the socket buffer; the next edge says when
                        // there is more, so no read is spent on WouldBlock.
                        if n < self.read_buf.len() {
                            conn.read_ready = false;
                        }
                        conn.http.receive(now, &self.read_buf[..n]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.read_ready = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break false,
                }
            }
            while let Some(event) = conn.http.poll_event() {
                let HttpEvent::Request(request) = event else {
                    continue;
                };
                let response = match self.app.handle(&request) {
                    AppAction::Respond(response) => response,
                    AppAction::Forward(message) => {
                        self.forward.next_tag += 1;
                        let tag = self.forward.next_tag;
                        match self.forward.sender.send(now, message, tag) {
                            Ok(_) => {
                                self.forward.waiting.insert(tag, key);
                                forwarded = true;
                                continue;
                            }
                            Err(error) => self.app.forwarded(error.into()),
                        }
                    }
                };
                // A request event always leaves a request pending.
                let _ = conn.http.respond(now, response);
            }
            conn.http.poll_transmit(conn.outbox.buffer());
            let before = conn.outbox.pending();
            if conn.outbox.flush(&mut conn.stream).is_err() {
                break false;
            }
            let pending = conn.outbox.pending();
            // The core times out a peer that stops taking output (a slow read).
            conn.http.handle_written(now, before - pending, pending > 0);
            if conn.http.is_write_timed_out() {
                break false;
            }
            if pending == 0 && !finish_output(&conn.http, &conn.stream, &mut conn.write_shut) {
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
            self.slots[slot] = None;
            self.free.push(slot);
            self.open -= 1;
        }
        if forwarded {
            self.forward.flush(now);
        }
    }
}

impl Connection {
    /// Reads only when the core wants input and the peer is not far behind on our output.
    fn can_read(&self) -> bool {
        self.read_ready && self.http.wants_read() && self.outbox.pending() < OUTPUT_HIGH_WATER
    }
}

/// Once every byte the core handed over is written: whether the connection lives on. Shuts the
/// sending side when the core says no more bytes follow; false once the core closed it (or the
/// shutdown failed), and the socket can go.
pub(crate) fn finish_output(http: &HttpConn, stream: &TcpStream, write_shut: &mut bool) -> bool {
    if http.is_closed() {
        return false;
    }
    if http.is_write_closed() && !*write_shut {
        *write_shut = true;
        if stream.shutdown(Shutdown::Write).is_err() {
            return false;
        }
    }
    true
}

/// One read takes a pipelined burst or a whole form; shared by all connections.
const READ_BUFFER: usize = 64 * 1024;
/// Stop reading a connection whose peer has not taken this much of our output yet.
const OUTPUT_HIGH_WATER: usize = 256 * 1024;
/// Output buffers above this are released once written: an idle connection keeps little.
const RETAINED_OUTPUT: usize = 16 * 1024;
/// How long accepting pauses after the process ran out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
const ENFILE: i32 = 23;
const EMFILE: i32 = 24;
