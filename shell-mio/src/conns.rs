//! The loop's connection table: every accepted TCP connection of every service, in slots whose
//! index is the connection's token, each with its socket, its unwritten output, its readiness
//! and the [`Session`] that runs over it.
//!
//! [`Conns::drive`] is the one step every connection takes, whatever the service: read what the
//! socket has and hand it to the session, let the session answer, write what the socket takes,
//! report the write, and close or half-close when the session says so. Sessions decide; this
//! module moves bytes.
//!
//! On a TLS port the core's [`TlsSession`] sits between the socket and the session, here and
//! nowhere else, so every service gets TLS from the same few lines: socket bytes go through
//! `receive` and `poll_plaintext` to the session, the session's output through `send` and
//! `poll_transmit` to the socket, and its end through `close` (a `close_notify`). A file body
//! cannot go by sendfile(2) then: it is read in pieces into the encryption, and only while the
//! connection's unwritten output is below its high-water mark, so memory stays bounded.

use std::io::{self, Read};
use std::net::Shutdown;
use std::time::Instant;

use ferry_shell::tcp_progress::bytes_acked;
use ferry_shell::tls::ServerTls;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::outbox::Outbox;
use crate::session::{ReadPolicy, Services, Session, Status};
use crate::timers::Timers;

mod tls;

use tls::TlsLink;

/// Which connection: its slot and the generation of the slot's occupant, so a deadline, a wake
/// or an answer meant for a closed connection never reaches the next one in that slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnKey {
    pub slot: usize,
    pub generation: u64,
}

/// Connections that must be driven again this turn: a service queued output for them or
/// settled something they wait on. Duplicates are harmless (a drive with nothing to do).
#[derive(Default)]
pub struct Wakes {
    keys: Vec<ConnKey>,
}

impl Wakes {
    pub fn wake(&mut self, key: ConnKey) {
        self.keys.push(key);
    }

    fn take(&mut self) -> Vec<ConnKey> {
        std::mem::take(&mut self.keys)
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What every step of the driver reaches besides the connection itself.
pub struct Cx<'a> {
    pub registry: &'a Registry,
    pub services: &'a mut Services,
    pub wakes: &'a mut Wakes,
}

/// One accepted connection.
pub struct Conn {
    stream: TcpStream,
    outbox: Outbox,
    /// Edge-triggered readiness: set by an event, cleared when the socket says WouldBlock.
    read_ready: bool,
    /// An event said the peer closed its side: its EOF waits behind any data.
    read_closed: bool,
    write_shut: bool,
    generation: u64,
    /// The deadline armed in the timer heap for this connection, if any.
    armed: Option<Instant>,
    session: Session,
    /// The TLS layer of a connection to a TLS port.
    tls: Option<Box<TlsLink>>,
}

/// Every open connection, the deadlines they asked for, and the state one turn of reading
/// shares between them.
pub struct Conns {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Open connections other than the socket server's peers (which a stop does not wait for).
    serving: usize,
    open: usize,
    next_generation: u64,
    timers: Timers,
    /// One read buffer for every connection, so an idle connection holds no buffer of its own.
    read_buf: Vec<u8>,
    /// One buffer for the plaintext of TLS connections, both ways, for the same reason.
    plain_buf: Vec<u8>,
    /// Bytes budgeted reads may still take this turn, from all such connections together.
    turn_budget: usize,
    /// Connections whose budgeted read was cut short; read again next turn.
    unfinished: Vec<ConnKey>,
}

impl Conns {
    pub fn new() -> Conns {
        Conns {
            slots: Vec::new(),
            free: Vec::new(),
            serving: 0,
            open: 0,
            next_generation: 0,
            timers: Timers::default(),
            read_buf: vec![0; READ_BUFFER],
            plain_buf: Vec::new(),
            turn_budget: TURN_READ_BUDGET,
            unfinished: Vec::new(),
        }
    }

    /// How many connections are open, peers included.
    pub fn len(&self) -> usize {
        self.open
    }

    /// Whether no connection that a stop waits for is open.
    pub fn is_idle(&self) -> bool {
        self.serving == 0
    }

    /// Takes an accepted stream in: registers it under its slot's token and asks `open` (given
    /// the new connection's key) for the session to run over it, over TLS when `tls` is given,
    /// then drives it once.
    pub fn add(
        &mut self,
        cx: &mut Cx,
        mut stream: TcpStream,
        tls: Option<&ServerTls>,
        now: Instant,
        open: impl FnOnce(&mut Services, ConnKey) -> Option<Session>,
    ) {
        // Answers go out in one write each; without this a write after a partial one would
        // wait for the peer's delayed ACK (Nagle's algorithm).
        let _ = stream.set_nodelay(true);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        // Both interests once, edge-triggered: the loop keeps its own ready flags and asks the
        // session whether to act, so no reregister call is ever needed.
        let token = Token(FIRST_CONNECTION + slot);
        if cx
            .registry
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            self.free.push(slot);
            return;
        }
        self.next_generation += 1;
        let key = ConnKey {
            slot,
            generation: self.next_generation,
        };
        let tls = match tls.map(|tls| tls.session(now)).transpose() {
            Ok(tls) => tls.map(|session| {
                Box::new(TlsLink {
                    session,
                    eof_delivered: false,
                })
            }),
            // A config rustls refuses was refused at start or reload already; never here.
            Err(_) => None,
        };
        let Some(session) = open(cx.services, key) else {
            let _ = cx.registry.deregister(&mut stream);
            self.free.push(slot);
            return;
        };
        if session.holds_a_stop() {
            self.serving += 1;
        }
        self.open += 1;
        self.slots[slot] = Some(Conn {
            stream,
            outbox: Outbox::new(true, RETAINED_OUTPUT),
            read_ready: true,
            read_closed: false,
            write_shut: false,
            generation: key.generation,
            armed: None,
            session,
            tls,
        });
        self.drive(cx, key, now);
    }

    /// Readiness reported for a connection's token: readable, writable, read side closed.
    pub fn ready(
        &mut self,
        cx: &mut Cx,
        token: Token,
        readiness: (bool, bool, bool),
        now: Instant,
    ) {
        let Some(slot) = token.0.checked_sub(FIRST_CONNECTION) else {
            return;
        };
        let Some(Some(conn)) = self.slots.get_mut(slot) else {
            return;
        };
        let (readable, writable, read_closed) = readiness;
        conn.read_ready |= readable;
        conn.read_closed |= read_closed;
        conn.outbox.ready |= writable;
        let key = ConnKey {
            slot,
            generation: conn.generation,
        };
        self.drive(cx, key, now);
    }

    /// The earliest connection deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Whether connections wait to read on at once, next turn.
    pub fn has_unfinished_reads(&self) -> bool {
        !self.unfinished.is_empty()
    }

    /// Starts a turn: a fresh read budget, and the reads cut short last turn go on.
    pub fn begin_turn(&mut self, cx: &mut Cx, now: Instant) {
        self.turn_budget = TURN_READ_BUDGET;
        for key in std::mem::take(&mut self.unfinished) {
            self.drive(cx, key, now);
        }
    }

    /// Fires the deadlines that have passed.
    pub fn handle_timeouts(&mut self, cx: &mut Cx, now: Instant) {
        while let Some((deadline, key)) = self.timers.pop_expired(now) {
            let Some(conn) = self.get_mut(key) else {
                continue;
            };
            if conn.armed != Some(deadline) {
                continue;
            }
            conn.armed = None;
            if let Some(link) = conn.tls.as_mut() {
                // First, so a handshake that ran out ends the connection before the session
                // could answer in the clear.
                link.session.handle_timeout(now);
            }
            // Bytes the peer took since the last write count before the deadline is judged.
            conn.report_acked(now);
            conn.session.handle_timeout(cx.services, cx.wakes, key, now);
            self.drive(cx, key, now);
        }
    }

    /// Drives every woken connection, then asks the services for more, until all is quiet.
    pub fn drive_woken(&mut self, cx: &mut Cx, now: Instant) {
        loop {
            cx.services.end_of_turn(cx.wakes, now);
            if cx.wakes.is_empty() {
                return;
            }
            for key in cx.wakes.take() {
                self.drive(cx, key, now);
            }
        }
    }

    /// Tells every session the process is stopping, and drives each once, so the ones that
    /// decide to close (an idle HTTP connection) go at once and the others finish what they
    /// are in. Sockets are left whole: a half-closed one would cut an upload in flight.
    pub fn begin_shutdown(&mut self, cx: &mut Cx, now: Instant) {
        let mut keys = Vec::new();
        for (slot, conn) in self.slots.iter_mut().enumerate() {
            let Some(conn) = conn else { continue };
            conn.session.handle_shutdown(cx.services, now);
            keys.push(ConnKey {
                slot,
                generation: conn.generation,
            });
        }
        for key in keys {
            self.drive(cx, key, now);
        }
    }

    fn get_mut(&mut self, key: ConnKey) -> Option<&mut Conn> {
        self.slots
            .get_mut(key.slot)
            .and_then(Option::as_mut)
            .filter(|conn| conn.generation == key.generation)
    }

    /// Runs one connection as far as its socket and its session allow.
    fn drive(&mut self, cx: &mut Cx, key: ConnKey, now: Instant) {
        let Some(conn) = self
            .slots
            .get_mut(key.slot)
            .and_then(Option::as_mut)
            .filter(|conn| conn.generation == key.generation)
        else {
            return;
        };
        let alive = loop {
            let mut cut_short = false;
            if conn.can_read(cx.services) {
                let len = match conn.session.read_policy() {
                    ReadPolicy::Drain => self.read_buf.len(),
                    ReadPolicy::Budgeted => self.turn_budget.min(self.read_buf.len()),
                };
                if len == 0 {
                    cut_short = true;
                } else {
                    match conn.stream.read(&mut self.read_buf[..len]) {
                        Ok(0) => {
                            conn.read_ready = false;
                            conn.receive_eof(cx, key, now, &mut self.plain_buf);
                        }
                        Ok(n) => {
                            // A short read emptied the socket buffer; the next edge says when
                            // there is more, so no read is spent on WouldBlock. An EOF that came
                            // with the data has no edge of its own: read on to it.
                            if n < len && !conn.read_closed {
                                conn.read_ready = false;
                            }
                            if conn.session.read_policy() == ReadPolicy::Budgeted {
                                self.turn_budget -= n;
                                // One read per turn: a flooding client gets its share, then
                                // everyone else has their turn before it is read again.
                                cut_short = conn.read_ready;
                            }
                            let bytes = &self.read_buf[..n];
                            conn.receive(cx, key, now, bytes, &mut self.plain_buf);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.read_ready = false,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break false,
                    }
                }
            }
            match conn.write(cx.services, cx.wakes, key, now, &mut self.plain_buf) {
                Ok(true) => {}
                Ok(false) | Err(_) => break false,
            }
            if cut_short {
                self.unfinished.push(key);
                break true;
            }
            if !conn.can_read(cx.services) {
                break true;
            }
        };
        if alive {
            if let Some(deadline) = conn.poll_timeout() {
                conn.armed = Some(self.timers.arm(key, deadline, conn.armed));
            }
        } else {
            self.remove(cx, key, now);
        }
    }

    fn remove(&mut self, cx: &mut Cx, key: ConnKey, now: Instant) {
        let Some(mut conn) = self.slots.get_mut(key.slot).and_then(Option::take) else {
            return;
        };
        let _ = cx.registry.deregister(&mut conn.stream);
        if conn.session.holds_a_stop() {
            self.serving -= 1;
        }
        self.open -= 1;
        self.free.push(key.slot);
        conn.session.closed(cx.services, cx.wakes, key, now);
    }
}

impl Conn {
    /// Tells the session how many bytes the peer has acknowledged, while output is pending.
    fn report_acked(&mut self, now: Instant) {
        if self.outbox.pending() == 0 && self.session.body().is_none() {
            return;
        }
        if let Some(acked) = bytes_acked(&self.stream) {
            self.session.handle_acked(now, acked);
        }
    }

    /// Reads only when the session wants input (or a handshake does) and the peer is not far
    /// behind on our output.
    fn can_read(&self, services: &Services) -> bool {
        let wants = match &self.tls {
            Some(link) => {
                link.session.wants_read()
                    && (link.session.is_handshaking() || self.session.wants_read(services))
            }
            None => self.session.wants_read(services),
        };
        self.read_ready && wants && self.outbox.pending() < OUTPUT_HIGH_WATER
    }

    /// Hands the session's output to the socket, then a download body, and reports the
    /// progress. False once the connection is finished and can go.
    fn write(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        plain: &mut Vec<u8>,
    ) -> io::Result<bool> {
        loop {
            self.take_output(services, wakes, key, now, plain);
            let before = self.outbox.pending();
            self.outbox.flush(&mut self.stream)?;
            let mut written = before - self.outbox.pending();
            if self.tls.is_some() {
                let encrypted = loop {
                    let encrypted = self.encrypt_body(plain);
                    let before = self.outbox.pending();
                    self.outbox.flush(&mut self.stream)?;
                    written += before - self.outbox.pending();
                    // The socket took it all and can take more: no writable edge will come to
                    // ask for the next pieces, so encrypt them now.
                    let more = matches!(encrypted, Ok(false))
                        && self.outbox.pending() == 0
                        && self.outbox.ready
                        && self.session.body().is_some();
                    if !more {
                        break encrypted;
                    }
                };
                match encrypted {
                    Ok(true) => {
                        // All of it is encrypted into the outbox, in order before anything
                        // the next request answers.
                        self.session
                            .handle_written(services, wakes, key, now, written, true);
                        self.session.body_sent(services, key, now, true);
                        continue;
                    }
                    Ok(false) => {}
                    Err(error) => {
                        self.session.body_sent(services, key, now, false);
                        return Err(error);
                    }
                }
            } else if self.outbox.pending() == 0 && self.outbox.ready {
                if let Some(sending) = self.session.body() {
                    let owed = sending.remaining;
                    let sent = sending.send_to(&self.stream);
                    written += usize::try_from(owed - sending.remaining).unwrap_or(usize::MAX);
                    match sent {
                        Ok(true) => {
                            self.session
                                .handle_written(services, wakes, key, now, written, false);
                            self.session.body_sent(services, key, now, true);
                            // The next pipelined request may already be waiting.
                            continue;
                        }
                        Ok(false) => self.outbox.ready = false,
                        Err(error) => {
                            self.session.body_sent(services, key, now, false);
                            return Err(error);
                        }
                    }
                }
            }
            let pending = self.outbox.pending() > 0 || self.session.body().is_some();
            self.session
                .handle_written(services, wakes, key, now, written, pending);
            self.report_acked(now);
            if self
                .tls
                .as_ref()
                .is_some_and(|link| link.session.error().is_some())
            {
                // A failed TLS session: its alert goes out, then the connection closes.
                return Ok(self.outbox.pending() > 0);
            }
            return Ok(match self.session.status() {
                Status::Open => true,
                Status::Gone => false,
                Status::Closing => pending,
                Status::WriteClosed => {
                    if !pending && !self.write_shut {
                        self.write_shut = true;
                        self.stream.shutdown(Shutdown::Write)?;
                    }
                    true
                }
            });
        }
    }
}

/// Tokens of connections start here; lower ones name the loop's other sources.
pub const FIRST_CONNECTION: usize = 64;
/// One read takes a pipelined burst, a whole form or a good piece of an upload.
const READ_BUFFER: usize = 64 * 1024;
/// Bytes budgeted reads take from all connections together per turn, before every connection
/// is written to. This is the chat's back-pressure: when the server cannot write copies as
/// fast as messages come in, it reads less and TCP slows the senders, so each turn adds at most
/// this much to a reading client's queue, far below the hub's limit.
const TURN_READ_BUDGET: usize = 64 * 1024;
/// Stop reading a connection whose peer has not taken this much of our output yet.
const OUTPUT_HIGH_WATER: usize = 256 * 1024;
/// Output buffers are released once written: most connections are idle keep-alives between
/// answers, and a kept buffer (an answer's size) was most of what each cost; taking a fresh one
/// per answer costs an allocation, far less than the write.
const RETAINED_OUTPUT: usize = 0;
