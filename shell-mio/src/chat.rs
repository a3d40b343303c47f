//! The chat server on the loop: every client's bytes go to the core's [`ChatHub`], and what the
//! hub hands out for a client waits here until that client's connection is driven. Who gets
//! which bytes, when a client is dropped and why are the hub's decisions; this module moves
//! bytes.
//!
//! A connection gets new bytes from the hub only after it wrote all the previous ones, so the
//! hub, not this module, holds a slow client's backlog and decides when it is too much. Reads
//! are budgeted per turn (see `ReadPolicy::Budgeted`), so a flooding client cannot starve the
//! rest and an overloaded server slows the senders instead of piling up copies.
//!
//! A client the hub disconnected is ended as its [`Close`] says: its last bytes are written,
//! the sending side shut, what it still sends read and dropped until it closes, all until the
//! close's deadline at most.

use std::time::Instant;

use ferry_core::chat::{ChatConfig, ChatHub, ClientId, ClientMap, Close};

use crate::conns::{ConnKey, Wakes};
use crate::session::{Protocol, ReadPolicy, Status};

/// The room: the hub and what it handed out for each client.
pub struct ChatService {
    hub: ChatHub,
    clients: ClientMap<ConnKey>,
    staged: ClientMap<Staged>,
    /// Where the hub writes a transmit before it moves to its client's stage.
    transmit: Vec<u8>,
    /// Emptied stage buffers, reused so a delivery allocates nothing.
    spare: Vec<Vec<u8>>,
}

/// Bytes the hub handed out for one client, not yet taken by its connection.
struct Staged {
    bytes: Vec<u8>,
    /// These are the client's last bytes: end the connection after them.
    close: Option<Close>,
}

/// One chat client's connection.
pub struct ChatSession {
    client: ClientId,
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
    pub fn new(config: ChatConfig) -> ChatService {
        ChatService {
            hub: ChatHub::new(config),
            clients: ClientMap::default(),
            staged: ClientMap::default(),
            transmit: Vec::new(),
            spare: Vec::new(),
        }
    }

    pub fn open(&mut self, key: ConnKey, now: Instant) -> ChatSession {
        let client = self.hub.connect(now);
        self.clients.insert(client, key);
        ChatSession {
            client,
            in_flight: false,
            closing: None,
            peer_closed: false,
            expired: false,
        }
    }

    /// The hub's next deadline (idle clients).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.hub.poll_timeout()
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

    /// Moves every transmit the hub has to its client's stage and wakes the connection.
    pub fn end_of_turn(&mut self, wakes: &mut Wakes) {
        while let Some(transmit) = self.hub.poll_transmit(&mut self.transmit) {
            if let Some(&key) = self.clients.get(&transmit.client) {
                let spare = &mut self.spare;
                let staged = self.staged.entry(transmit.client).or_insert_with(|| {
                    wakes.wake(key);
                    Staged {
                        bytes: spare.pop().unwrap_or_default(),
                        close: None,
                    }
                });
                staged.bytes.extend_from_slice(&self.transmit);
                staged.close = staged.close.or(transmit.close);
            }
            self.transmit.clear();
        }
        while self.hub.poll_event().is_some() {}
    }

    fn recycle(&mut self, mut bytes: Vec<u8>) {
        if self.spare.len() < MAX_SPARE_BUFFERS && bytes.capacity() <= MAX_SPARE_CAPACITY {
            bytes.clear();
            self.spare.push(bytes);
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
        out: &mut Vec<u8>,
    ) {
        if let Some(mut staged) = service.staged.remove(&self.client) {
            out.append(&mut staged.bytes);
            service.recycle(staged.bytes);
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
        _: Instant,
        _written: usize,
        pending: bool,
    ) {
        if self.in_flight && !pending && self.closing.is_none() {
            self.in_flight = false;
            service.hub.handle_drained(self.client);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
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
            service.recycle(staged.bytes);
        }
    }
}

/// Stage buffers kept for reuse; a turn rarely hands out to more clients than this at once
/// without their connections taking the bytes in between.
const MAX_SPARE_BUFFERS: usize = 64;
/// A larger stage buffer (a long backlog) is freed rather than kept.
const MAX_SPARE_CAPACITY: usize = 64 * 1024;
