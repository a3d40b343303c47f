//! The chat server on the loop: every client's bytes go to the core's [`ChatHub`], and the lines
//! the hub hands out for a client wait here until that client's connection is driven. Who gets
//! which lines, when a client is dropped and why are the hub's decisions; this module moves
//! them.
//!
//! The hub hands out shared [`Line`]s: the room's one copy of each. They are handed to the
//! connection as they are and written with one vectored write per client per turn (everything
//! the hub gathered for it), never copied per client except into a TLS session's encryption.
//! A connection gets new lines from the hub only after it wrote all the previous ones, so the
//! hub, not this module, holds a slow client's backlog and decides when it is too much. Reads
//! are budgeted per turn (see `ReadPolicy::Budgeted`), so a flooding client cannot starve the
//! rest and an overloaded server slows the senders instead of piling up copies.
//!
//! A client the hub disconnected is ended as its [`Close`] says: its last bytes are written,
//! the sending side shut, what it still sends read and dropped until it closes, all until the
//! close's deadline at most.
//!
//! Account work (hashing, verifying, storing) and the history the hub hands out go to the
//! shared [`ChatBackend`] at the end of every turn; its password threads report over a channel
//! and wake the loop through its one waker, and the outcomes reach the hub on the loop.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Instant;

use ferry_cli::ChatOptions;
use ferry_core::chat::{
    AccountOutcome, ChatConfig, ChatHub, ClientId, ClientMap, Close, Line, Peer, WebChatConfig,
};
use ferry_shell::chat_accounts::{ChatBackend, Report, Restored};
use ferry_shell::chat_cluster::Wake;
use mio::Waker;
use time::OffsetDateTime;

use crate::conns::{ConnKey, Wakes};
use crate::outbox::LineOutbox;
use crate::session::{Protocol, ReadPolicy, Status};

/// The room: the hub and what it handed out for each client.
pub struct ChatService {
    pub(crate) hub: ChatHub,
    /// Hashing, accounts and history, off the loop.
    backend: ChatBackend,
    /// How the password pool reports: over `outcomes`, then a wake of the loop.
    report: Report,
    outcomes: Receiver<(ClientId, AccountOutcome)>,
    /// The port speaks TLS (the web port too: both take the same certificate).
    secure: bool,
    pub(crate) clients: ClientMap<ConnKey>,
    pub(crate) staged: ClientMap<Staged>,
    /// The web port's settings (`--web`), for its connections.
    pub(crate) web: WebChatConfig,
    /// Where the hub puts a transmit's lines before they move to their client's stage.
    transmit: Vec<Line>,
    /// Emptied stage buffers, reused so a delivery allocates nothing.
    spare: Vec<Vec<Line>>,
    /// Transmits taken from the hub this turn.
    handed: usize,
    /// The turn's share was taken before the hub ran out: take more next turn, at once.
    more: bool,
}

/// Lines the hub handed out for one client, not yet taken by its connection.
pub(crate) struct Staged {
    pub(crate) lines: Vec<Line>,
    /// These are the client's last bytes: end the connection after them.
    pub(crate) close: Option<Close>,
}

/// One chat client's connection.
pub struct ChatSession {
    client: ClientId,
    /// Lines taken from the stage, not yet all written.
    output: LineOutbox,
    /// The hub handed bytes over that are not all written yet.
    in_flight: bool,
    /// The hub closed the client and its last bytes are handed over: until when to linger.
    closing: Option<Instant>,
    /// The client closed its sending side.
    peer_closed: bool,
    /// The linger ended: close now, whatever is unwritten.
    expired: bool,
}

impl ChatService {
    pub fn new(
        config: ChatConfig,
        web: WebChatConfig,
        backend: ChatBackend,
        restored: Restored,
        secure: bool,
        waker: Arc<Waker>,
    ) -> ChatService {
        let mut hub = ChatHub::new(config);
        hub.set_accounts(restored.accounts);
        hub.restore_history(restored.history);
        hub.set_clock(Instant::now(), OffsetDateTime::now_utc());
        let (sender, outcomes) = mpsc::channel();
        let report: Report = Arc::new(move |client, outcome| {
            let _ = sender.send((client, outcome));
            let _ = waker.wake();
        });
        ChatService {
            hub,
            backend,
            report,
            outcomes,
            secure,
            clients: ClientMap::default(),
            staged: ClientMap::default(),
            web,
            transmit: Vec::new(),
            spare: Vec::new(),
            handed: 0,
            more: false,
        }
    }

    /// What the hub is told about a client from `remote` on either of the chat's ports.
    pub(crate) fn peer(&self, remote: SocketAddr) -> Peer {
        Peer {
            address: remote.ip(),
            secure: self.secure,
        }
    }

    pub fn open(&mut self, key: ConnKey, remote: SocketAddr, now: Instant) -> ChatSession {
        let client = self.hub.connect_from(now, self.peer(remote));
        self.clients.insert(client, key);
        ChatSession {
            client,
            output: LineOutbox::default(),
            in_flight: false,
            closing: None,
            peer_closed: false,
            expired: false,
        }
    }

    /// With `--cluster`: the room is shared with the other nodes; the cluster's threads wake
    /// the loop, whose end of turn then serves the backend.
    pub fn join_cluster(&mut self, options: &ChatOptions, waker: Arc<Waker>) -> Result<(), String> {
        let wake: Wake = Arc::new(move || {
            let _ = waker.wake();
        });
        self.backend.join_cluster(options, &mut self.hub, wake)
    }

    /// The hub's next deadline (idle clients), or the cluster's.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let cluster = self.backend.poll_timeout();
        self.hub.poll_timeout().into_iter().chain(cluster).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|deadline| deadline <= now) {
            self.hub.handle_timeout(now);
        }
    }

    /// Says goodbye to every client: each gets its last line and is closed.
    pub fn begin_shutdown(&mut self, now: Instant) {
        self.hub.shutdown(now);
    }

    /// Writes the history still queued for the store; once the loop is done.
    pub fn finish(&mut self) {
        self.backend
            .serve(&mut self.hub, Instant::now(), &self.report);
        self.backend.finish();
    }

    /// The password pool finished some work: its outcomes go to the hub.
    pub fn handle_wake(&mut self, now: Instant) {
        while let Ok((client, outcome)) = self.outcomes.try_recv() {
            self.hub.handle_account(now, client, outcome);
        }
    }

    /// A new turn of the loop: a new share of transmits.
    pub fn begin_turn(&mut self) {
        self.handed = 0;
        self.more = false;
    }

    /// Whether the hub may have transmits beyond this turn's share: the loop should turn
    /// again at once.
    pub fn has_more(&self) -> bool {
        self.more
    }

    /// Moves the transmits the hub has by `now` to their clients' stages and wakes the
    /// connections, up to [`TRANSMITS_PER_TURN`] per turn: a large room's fan-out is spread
    /// over several turns, with input read in between, so a message said meanwhile waits for
    /// one turn, not for ten thousand writes (and the hub hands the room's regulars theirs
    /// first).
    pub fn end_of_turn(&mut self, wakes: &mut Wakes, now: Instant) {
        self.backend.serve(&mut self.hub, now, &self.report);
        while self.handed < TRANSMITS_PER_TURN {
            let Some(transmit) = self.hub.poll_transmit(now, &mut self.transmit) else {
                break;
            };
            self.handed += 1;
            if let Some(&key) = self.clients.get(&transmit.client) {
                let spare = &mut self.spare;
                let staged = self.staged.entry(transmit.client).or_insert_with(|| {
                    wakes.wake(key);
                    Staged {
                        lines: spare.pop().unwrap_or_default(),
                        close: None,
                    }
                });
                staged.lines.append(&mut self.transmit);
                staged.close = staged.close.or(transmit.close);
            }
            self.transmit.clear();
        }
        self.more = self.handed >= TRANSMITS_PER_TURN;
        while self.hub.poll_event().is_some() {}
    }

    /// A client the hub no longer knows: nothing more is staged or woken for it.
    pub(crate) fn forget(&mut self, client: ClientId) {
        self.clients.remove(&client);
        if let Some(staged) = self.staged.remove(&client) {
            self.recycle(staged.lines);
        }
    }

    pub(crate) fn recycle(&mut self, mut lines: Vec<Line>) {
        if self.spare.len() < MAX_SPARE_BUFFERS && lines.capacity() <= MAX_SPARE_CAPACITY {
            lines.clear();
            self.spare.push(lines);
        }
    }
}

impl Protocol for ChatSession {
    type Service = ChatService;

    fn read_policy(&self) -> ReadPolicy {
        ReadPolicy::Budgeted
    }

    fn wants_read(&self, _: &ChatService) -> bool {
        // A closing client is still read, so that its close is not a reset.
        !self.peer_closed
    }

    fn receive(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        _: ConnKey,
        now: Instant,
        bytes: &[u8],
    ) {
        if self.closing.is_none() {
            service.hub.receive(now, self.client, bytes);
        }
    }

    fn receive_eof(&mut self, service: &mut ChatService, _: &mut Wakes, _: ConnKey, now: Instant) {
        self.peer_closed = true;
        if self.closing.is_none() {
            // The hub answers with the client's last transmit, which closes it.
            service.hub.receive_eof(now, self.client);
        }
    }

    fn handle_timeout(&mut self, _: &mut ChatService, _: &mut Wakes, _: ConnKey, now: Instant) {
        self.expired |= self.closing.is_some_and(|deadline| deadline <= now);
    }

    fn poll_transmit(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        _: ConnKey,
        _: Instant,
        _: &mut Vec<u8>,
    ) {
        if let Some(mut staged) = service.staged.remove(&self.client) {
            self.output.append(&mut staged.lines);
            service.recycle(staged.lines);
            self.in_flight = true;
            if let Some(close) = staged.close {
                self.closing = Some(close.deadline);
            }
        }
    }

    fn handle_written(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        _: ConnKey,
        now: Instant,
        _written: usize,
        pending: bool,
    ) {
        if self.in_flight && !pending && self.closing.is_none() {
            self.in_flight = false;
            service.hub.handle_drained(now, self.client);
        }
    }

    fn lines(&mut self) -> Option<&mut LineOutbox> {
        Some(&mut self.output)
    }

    fn pending_lines(&self) -> usize {
        self.output.pending()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        // The hub's deadlines (idle clients, write times, batches) are the service's.
        self.closing
    }

    fn status(&self) -> Status {
        match self.closing {
            None => Status::Open,
            Some(_) if self.expired => Status::Gone,
            // Nothing more comes from the client: close once the last bytes are written.
            Some(_) if self.peer_closed => Status::Closing,
            // Shut the sending side once they are, and read until the client closes too.
            Some(_) => Status::WriteClosed,
        }
    }

    fn closed(&mut self, service: &mut ChatService, _: &mut Wakes, _: ConnKey, now: Instant) {
        if self.closing.is_none() {
            service.hub.disconnect(now, self.client);
        }
        service.clients.remove(&self.client);
        if let Some(staged) = service.staged.remove(&self.client) {
            service.recycle(staged.lines);
        }
    }
}

/// Clients written to per turn of the loop at most: a turn then takes a few milliseconds of
/// writes at most (a write to a socket costs the kernel some microseconds), and a room of up to
/// this many clients is written in one turn.
const TRANSMITS_PER_TURN: usize = 1024;
/// Stage buffers kept for reuse; a turn rarely hands out to more clients than this at once
/// without their connections taking the bytes in between.
const MAX_SPARE_BUFFERS: usize = 64;
/// A larger stage buffer (a long backlog) is freed rather than kept.
const MAX_SPARE_CAPACITY: usize = 1024;
