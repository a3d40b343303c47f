//! The chat server on the loop: every client's bytes go to the core's [`ChatHub`], and what the
//! hub hands out for a client waits here until that client's connection is driven. Who gets
//! which bytes, when a client is dropped and why are the hub's decisions; this module moves
//! bytes.
//!
//! A connection gets new bytes from the hub only after it wrote all the previous ones, so the
//! hub, not this module, holds a slow client's backlog and decides when it is too much. Reads
//! are budgeted per turn (see `ReadPolicy::Budgeted`), so a flooding client cannot starve the
//! rest and an overloaded server slows the senders instead of piling up copies.

use std::time::Instant;

use ferry_core::chat::{ChatConfig, ChatHub, ClientId, ClientMap};

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
    /// These are the client's last bytes: close after them.
    close: bool,
}

/// One chat client's connection.
pub struct ChatSession {
    client: ClientId,
    /// The hub handed bytes over that are not all written yet.
    in_flight: bool,
    /// The hub closed the client; its last bytes are handed over.
    closing: bool,
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
            closing: false,
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
    pub fn begin_shutdown(&mut self) {
        self.hub.shutdown();
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
                        close: false,
                    }
                });
                staged.bytes.extend_from_slice(&self.transmit);
                staged.close |= transmit.close.is_some();
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
        !self.closing
    }

    fn receive(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        _: ConnKey,
        now: Instant,
        bytes: &[u8],
    ) {
        service.hub.receive(now, self.client, bytes);
    }

    fn receive_eof(&mut self, service: &mut ChatService, _: &mut Wakes, _: ConnKey, _: Instant) {
        // The hub answers with the client's last transmit, which closes it.
        service.hub.receive_eof(self.client);
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
            self.closing |= staged.close;
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
        if self.in_flight && !pending && !self.closing {
            self.in_flight = false;
            service.hub.handle_drained(self.client);
        }
    }

    fn status(&self) -> Status {
        if self.closing {
            // The last bytes went out as far as the socket took them now; a client that does
            // not read them is not waited for.
            Status::Gone
        } else {
            Status::Open
        }
    }

    fn closed(&mut self, service: &mut ChatService, _: &mut Wakes, _: ConnKey, _: Instant) {
        if !self.closing {
            service.hub.disconnect(self.client);
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
