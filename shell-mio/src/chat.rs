//! `ferry chat` on its own mio event loop: one thread accepts, reads and writes for every client
//! and drives the core's [`ChatHub`]. Who gets which bytes, when a client is dropped and why are
//! the hub's decisions; this module moves bytes and keeps the sockets.
//!
//! Each turn: wait for readiness or the hub's deadline; read what is ready (a bounded amount per
//! client and in all per turn, so a flooding client cannot starve the rest and an overloaded
//! server slows the senders instead of piling up copies) and feed it to the hub; write
//! what sockets take; fire the hub's timeout; then hand every transmit the hub has to its
//! connection. A connection gets new bytes from the hub only after it wrote all the previous
//! ones, so the hub, not this loop, holds a slow client's backlog and decides when it is too much.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use ferry_cli::ChatOptions;
use ferry_core::chat::{self, ChatHub, ClientId, ClientMap};
use ferry_core::settings;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::outbox::Outbox;

/// Runs the chat server until SIGINT or SIGTERM.
pub fn run(options: &ChatOptions) -> Result<(), String> {
    let listener = ferry_shell::bind_tcp("chat server", &options.bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("chat server: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("chat server: {e}"))?;
    let max_connections = settings::connection_limit(ferry_shell::raise_fd_limit(), false);
    let mut server = ChatServer::new(
        TcpListener::from_std(listener),
        ChatHub::new(options.chat_config()),
        max_connections,
    )
    .map_err(|e| format!("cannot start the event loop: {e}"))?;
    println!("{}", chat::listening_line(address));
    server.run().map_err(|e| format!("event loop failed: {e}"))
}

struct ChatServer {
    poll: Poll,
    signals: Signals,
    listener: TcpListener,
    accept_ready: bool,
    accept_paused_until: Option<Instant>,
    max_connections: usize,
    hub: ChatHub,
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
    by_client: ClientMap<usize>,
    /// Slots whose read was cut short to give others a turn; read again next turn.
    unfinished_reads: Vec<usize>,
    /// Bytes this turn may still read, from all clients together.
    read_budget: usize,
    /// What the hub hands over, before it moves to a connection's own buffer.
    transmit: Vec<u8>,
    /// One read buffer for every connection, so an idle client holds no buffer of its own.
    read_buf: Vec<u8>,
}

struct Connection {
    stream: TcpStream,
    client: ClientId,
    outbox: Outbox,
    /// Edge-triggered readiness: set by an event, cleared when the socket says WouldBlock.
    read_ready: bool,
    /// The hub handed bytes over that are not all written yet.
    in_flight: bool,
}

impl ChatServer {
    fn new(mut listener: TcpListener, hub: ChatHub, max_connections: usize) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(ChatServer {
            poll,
            signals,
            listener,
            accept_ready: true,
            accept_paused_until: None,
            max_connections,
            hub,
            slots: Vec::new(),
            free: Vec::new(),
            by_client: ClientMap::default(),
            unfinished_reads: Vec::new(),
            read_budget: TURN_READ_BUDGET,
            transmit: Vec::new(),
            read_buf: vec![0; READ_BUFFER],
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        loop {
            let now = Instant::now();
            let timeout = if self.unfinished_reads.is_empty() {
                [self.hub.poll_timeout(), self.accept_paused_until]
                    .into_iter()
                    .flatten()
                    .min()
                    .map(|deadline| deadline.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            self.read_budget = TURN_READ_BUDGET;
            for slot in std::mem::take(&mut self.unfinished_reads) {
                self.drive(slot, now);
            }
            for event in events.iter() {
                match event.token() {
                    SIGNALS => {
                        if self.signals.pending().count() > 0 {
                            self.hub.shutdown(now);
                            self.dispatch(now);
                            return Ok(());
                        }
                    }
                    LISTENER => {
                        self.accept_ready = true;
                        self.accept(now);
                    }
                    token => {
                        let slot = token.0 - FIRST_CONNECTION;
                        let Some(Some(conn)) = self.slots.get_mut(slot) else {
                            continue;
                        };
                        // Errors and hang-ups show up as work: the next read or write reports them.
                        conn.read_ready |=
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        conn.outbox.ready |=
                            event.is_writable() || event.is_write_closed() || event.is_error();
                        self.drive(slot, now);
                    }
                }
            }
            if self
                .hub
                .poll_timeout()
                .is_some_and(|deadline| deadline <= now)
            {
                self.hub.handle_timeout(now);
            }
            if self.accept_ready {
                self.accept(now);
            }
            self.dispatch(now);
        }
    }

    fn accept(&mut self, now: Instant) {
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        self.accept_paused_until = None;
        while self.accept_ready && self.by_client.len() < self.max_connections {
            match self.listener.accept() {
                Ok((stream, _)) => self.add(stream, now),
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

    fn add(&mut self, mut stream: TcpStream, now: Instant) {
        // Each chat line should leave at once, not wait for the peer's delayed ACK.
        let _ = stream.set_nodelay(true);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        // Registered once for both directions: edge-triggered readiness is kept in the flags.
        let token = Token(FIRST_CONNECTION + slot);
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut stream, token, interest)
            .is_err()
        {
            self.free.push(slot);
            return;
        }
        let client = self.hub.connect(now);
        self.by_client.insert(client, slot);
        self.slots[slot] = Some(Connection {
            stream,
            client,
            outbox: Outbox::new(true, RETAINED_OUTPUT),
            read_ready: true,
            in_flight: false,
        });
        self.drive(slot, now);
    }

    /// Writes what the connection holds, then reads a bounded amount and feeds it to the hub.
    fn drive(&mut self, slot: usize, now: Instant) {
        let Some(Some(conn)) = self.slots.get_mut(slot) else {
            return;
        };
        if conn.outbox.flush(&mut conn.stream).is_err() {
            self.lost(slot, now);
            return;
        }
        if conn.in_flight && conn.outbox.pending() == 0 {
            conn.in_flight = false;
            self.hub.handle_drained(now, conn.client);
        }
        let mut reads = 0;
        while conn.read_ready {
            if reads == READS_PER_TURN || self.read_budget == 0 {
                self.unfinished_reads.push(slot);
                return;
            }
            reads += 1;
            let len = self.read_budget.min(self.read_buf.len());
            match conn.stream.read(&mut self.read_buf[..len]) {
                Ok(0) => {
                    conn.read_ready = false;
                    // The hub answers with the client's last transmit, which closes it.
                    self.hub.receive_eof(now, conn.client);
                    return;
                }
                Ok(n) => {
                    // A short read emptied the socket buffer; the next edge says when there is
                    // more, so no read is spent on WouldBlock.
                    if n < len {
                        conn.read_ready = false;
                    }
                    self.read_budget -= n;
                    self.hub.receive(now, conn.client, &self.read_buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.read_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.lost(slot, now);
                    return;
                }
            }
        }
    }

    /// Hands every transmit the hub has to its connection and writes it.
    fn dispatch(&mut self, now: Instant) {
        while let Some(transmit) = self.hub.poll_transmit(&mut self.transmit) {
            let Some(&slot) = self.by_client.get(&transmit.client) else {
                self.transmit.clear();
                continue;
            };
            let Some(Some(conn)) = self.slots.get_mut(slot) else {
                self.transmit.clear();
                continue;
            };
            conn.outbox.take_from(&mut self.transmit);
            let flushed = conn.outbox.flush(&mut conn.stream);
            if transmit.close.is_some() {
                // The last bytes went out as far as the socket took them now; a client that
                // does not read them is not waited for.
                self.remove(slot);
                continue;
            }
            conn.in_flight = true;
            match flushed {
                Err(_) => self.lost(slot, now),
                Ok(()) if conn.outbox.pending() == 0 => {
                    conn.in_flight = false;
                    self.hub.handle_drained(now, conn.client);
                }
                Ok(()) => {}
            }
        }
        while self.hub.poll_event().is_some() {}
    }

    /// The socket failed: the hub forgets the client, the slot is freed.
    fn lost(&mut self, slot: usize, now: Instant) {
        if let Some(Some(conn)) = self.slots.get(slot) {
            self.hub.disconnect(now, conn.client);
        }
        self.remove(slot);
    }

    fn remove(&mut self, slot: usize) {
        if let Some(mut conn) = self.slots.get_mut(slot).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.by_client.remove(&conn.client);
            self.free.push(slot);
            self.accept_ready = true;
        }
    }
}

const SIGNALS: Token = Token(0);
const LISTENER: Token = Token(1);
/// Tokens of connections start here; lower ones name the loop's other sources.
const FIRST_CONNECTION: usize = 16;
/// Readiness events taken per wait; more simply wait for the next turn.
const EVENTS_PER_WAIT: usize = 1024;
/// One read holds some 700 ordinary chat lines; shared by all connections.
const READ_BUFFER: usize = 64 * 1024;
/// Reads per client per turn: a client flooding the room gets 64 KiB in, then everyone else has
/// their turn (and their writes) before it is read again.
const READS_PER_TURN: usize = 1;
/// Bytes read from all clients together per turn, before every client is written to. This is
/// the server's back-pressure: when it cannot write copies as fast as messages come in, it
/// reads less and TCP slows the senders, so each turn adds at most this much to a reading
/// client's queue, far below the hub's limit, and only a client that stops reading overflows.
const TURN_READ_BUDGET: usize = 64 * 1024;
/// Output buffers above this are released once written.
const RETAINED_OUTPUT: usize = 64 * 1024;
/// How long accepting pauses after the process ran out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
const ENFILE: i32 = 23;
const EMFILE: i32 = 24;
