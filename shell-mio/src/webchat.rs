//! The chat's web port on the loop (`--web`): each connection's core `WebChatConn` answers the
//! page and the handshake itself; once it is a WebSocket this module connects it to the same
//! [`ChatService`] hub as the TCP clients and carries values both ways: the conn's input to the
//! hub, the hub's lines and closes to the conn. Framing, limits, close codes and what the page
//! is are the core's; a browser client differs from a TCP one only in the bytes its conn makes
//! of the lines (a copy per client, framed, where a TCP client writes the shared lines).

use std::net::SocketAddr;
use std::time::Instant;

use ferry_core::chat::{ClientId, Peer, WebChatConn, WebChatEvent};
use time::OffsetDateTime;

use crate::chat::ChatService;
use crate::conns::{ConnKey, Wakes};
use crate::session::{Protocol, ReadPolicy, Status};

/// One connection of the chat's web port.
pub struct WebChatSession {
    conn: WebChatConn,
    /// Where the browser connects from, for the hub's rules on logins and addresses.
    peer: Peer,
    /// The hub's client, once the WebSocket is open and until it is gone or the hub closed it.
    client: Option<ClientId>,
    /// The hub handed lines that are not all written yet.
    in_flight: bool,
}

impl ChatService {
    /// A new connection on the web port.
    pub fn open_web(&mut self, remote: SocketAddr, now: Instant) -> WebChatSession {
        WebChatSession {
            conn: WebChatConn::new(self.web, now, OffsetDateTime::now_utc()),
            peer: self.peer(remote),
            client: None,
            in_flight: false,
        }
    }
}

impl WebChatSession {
    /// Carries what the conn asked for to the hub.
    fn pump(&mut self, service: &mut ChatService, key: ConnKey, now: Instant) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                WebChatEvent::Opened => {
                    let client = service.hub.connect_from(now, self.peer);
                    service.clients.insert(client, key);
                    self.client = Some(client);
                }
                WebChatEvent::Input(bytes) => {
                    if let Some(client) = self.client {
                        service.hub.receive(now, client, &bytes);
                    }
                }
                WebChatEvent::Gone => self.leave(service, now),
            }
        }
    }

    /// The client left (or the connection ended): the hub forgets it, without a last line.
    fn leave(&mut self, service: &mut ChatService, now: Instant) {
        if let Some(client) = self.client.take() {
            service.hub.disconnect(now, client);
            service.forget(client);
        }
    }
}

impl Protocol for WebChatSession {
    type Service = ChatService;

    fn read_policy(&self) -> ReadPolicy {
        ReadPolicy::Budgeted
    }

    fn wants_read(&self, _: &ChatService) -> bool {
        self.conn.wants_read()
    }

    fn receive(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        key: ConnKey,
        now: Instant,
        bytes: &[u8],
    ) {
        self.conn.receive(now, bytes);
        self.pump(service, key, now);
    }

    fn receive_eof(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        key: ConnKey,
        now: Instant,
    ) {
        self.conn.receive_eof(now);
        self.pump(service, key, now);
    }

    fn handle_timeout(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        key: ConnKey,
        now: Instant,
    ) {
        self.conn.handle_timeout(now);
        self.pump(service, key, now);
    }

    fn poll_transmit(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        key: ConnKey,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        self.pump(service, key, now);
        if let Some(client) = self.client {
            if let Some(staged) = service.staged.remove(&client) {
                self.conn.send_lines(&staged.lines);
                self.in_flight = true;
                if let Some(close) = staged.close {
                    // The hub has forgotten the client already.
                    self.conn.close(close.reason, close.deadline);
                    self.client = None;
                    service.forget(client);
                }
                service.recycle(staged.lines);
            }
        }
        self.conn.poll_transmit(out);
    }

    fn handle_written(
        &mut self,
        service: &mut ChatService,
        _: &mut Wakes,
        _: ConnKey,
        now: Instant,
        written: usize,
        pending: bool,
    ) {
        self.conn.handle_written(now, written, pending);
        if self.in_flight && !pending {
            self.in_flight = false;
            if let Some(client) = self.client {
                service.hub.handle_drained(now, client);
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    fn status(&self) -> Status {
        if self.conn.is_write_timed_out() {
            Status::Gone
        } else if self.conn.is_closed() {
            Status::Closing
        } else if self.conn.is_write_closed() {
            Status::WriteClosed
        } else {
            Status::Open
        }
    }

    fn closed(&mut self, service: &mut ChatService, _: &mut Wakes, _: ConnKey, now: Instant) {
        self.leave(service, now);
    }

    fn handle_shutdown(&mut self, _: &mut ChatService, now: Instant) {
        // A WebSocket hears the stop from the hub, with the TCP clients.
        self.conn.handle_shutdown(now);
    }
}
