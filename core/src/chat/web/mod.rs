//! The chat from a browser (`ferry chat --web ADDR`): [`WebChatConn`], one connection of the
//! chat's web port, from its first HTTP request to its WebSocket's end.
//!
//! Owns what the port answers (the page, its script and stylesheet, the health check, the
//! WebSocket handshake at `/ws`, the optional echo endpoint at `/echo`) and how a WebSocket
//! speaks the chat: each text message is one JSON object for the room, and each line the room
//! sends is one text message. The room itself stays [`super::ChatHub`]'s: this machine tells the
//! shell when to connect a client to the hub, what to hand it and when it left, and takes the
//! hub's lines and closes back, so a browser and a terminal client are the same to the room.
//!
//! # Theory of operation
//!
//! The connection starts as an [`HttpConn`] answered here. A valid handshake at `/ws` upgrades
//! it: the `101` is queued, the bytes after the request go to a [`WsConn`], and
//! [`WebChatEvent::Opened`] tells the shell to connect a hub client. From then on each text
//! message comes out as [`WebChatEvent::Input`] (the object and a newline, as the hub reads a
//! TCP client's line), the hub's lines go in through [`WebChatConn::send_lines`], and a
//! disconnect the hub decides through [`WebChatConn::close`]. When the browser closes, fails
//! the protocol, or drops TCP, [`WebChatEvent::Gone`] tells the shell to disconnect the hub
//! client. At `/echo` the WebSocket echoes every message itself and never reaches the hub.

mod page;

use std::collections::VecDeque;
use std::mem;
use std::net::SocketAddr;
use std::time::Instant;

use time::OffsetDateTime;

use super::{CloseReason, Line};
use crate::http::{health_response, is_health_check, HttpConfig, HttpConn, HttpEvent, Request};
use crate::ws::{self, CloseCode, MessageKind, WsConfig, WsConn, WsEvent};

/// Settings of the chat's web port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebChatConfig {
    pub http: HttpConfig,
    /// The chat's WebSockets: messages up to the chat's line limit.
    pub ws: WsConfig,
    /// Serve `/echo`, a WebSocket that echoes every message, with these limits (for
    /// conformance tests); `None` answers 404 there.
    pub echo: Option<WsConfig>,
}

impl WebChatConfig {
    /// The limits of the echo endpoint when it is served: messages as large as the conformance
    /// suite sends (16 MiB), written out while they arrive.
    pub fn echo_limits() -> WsConfig {
        WsConfig {
            max_message: ECHO_MAX_MESSAGE,
            max_output: ECHO_MAX_MESSAGE + ws::MAX_OUTPUT,
            ..WsConfig::default()
        }
    }
}

/// What a web chat connection asks of the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebChatEvent {
    /// The WebSocket is open: connect a client to the hub for this connection.
    Opened,
    /// Bytes from this client for the hub (`ChatHub::receive`).
    Input(Vec<u8>),
    /// The client is gone: disconnect it from the hub (`ChatHub::disconnect`).
    Gone,
}

/// One connection of the chat's web port.
#[derive(Debug)]
pub struct WebChatConn {
    config: WebChatConfig,
    phase: Phase,
    /// Bytes the HTTP phase left when it handed over (the `101`).
    output: Vec<u8>,
    events: VecDeque<WebChatEvent>,
    /// `Gone` was reported (or the hub closed the client): nothing more goes to the hub.
    gone: bool,
}

#[derive(Debug)]
enum Phase {
    // Boxed: the connection is HTTP only until its handshake, a WebSocket for hours.
    Http(Box<HttpConn>),
    Chat(WsConn),
    Echo(WsConn),
}

impl WebChatConn {
    /// A connection accepted at `now`; `wall` is the wall-clock time then (`Date` headers).
    pub fn new(config: WebChatConfig, now: Instant, wall: OffsetDateTime) -> Self {
        WebChatConn {
            config,
            phase: Phase::Http(Box::new(HttpConn::new(config.http, now, wall))),
            output: Vec::new(),
            events: VecDeque::new(),
            gone: false,
        }
    }

    /// Takes bytes read from the peer. An empty slice is an empty read, not EOF.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        match &mut self.phase {
            Phase::Http(http) => http.receive(now, bytes),
            Phase::Chat(ws) | Phase::Echo(ws) => ws.receive(now, bytes),
        }
        self.advance(now);
    }

    /// The peer closed its sending side.
    pub fn receive_eof(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Http(http) => http.receive_eof(now),
            Phase::Chat(ws) | Phase::Echo(ws) => ws.receive_eof(now),
        }
        self.advance(now);
    }

    /// Handles the deadline from [`WebChatConn::poll_timeout`], if it has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Http(http) => http.handle_timeout(now),
            Phase::Chat(ws) | Phase::Echo(ws) => ws.handle_timeout(now),
        }
        self.advance(now);
    }

    /// Reports one write attempt (see [`HttpConn::handle_written`]); after the handshake the
    /// hub judges slow readers, so it only matters before.
    pub fn handle_written(&mut self, now: Instant, written: usize, pending: bool) {
        if let Phase::Http(http) = &mut self.phase {
            http.handle_written(now, written, pending);
        }
    }

    /// The server is stopping: an HTTP connection finishes its request; a chat WebSocket
    /// hears it from the hub ([`WebChatConn::close`]); an echo closes with 1001.
    pub fn handle_shutdown(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Http(http) => http.handle_shutdown(now),
            Phase::Echo(ws) => ws.close(
                CloseCode::GOING_AWAY,
                "the server is shutting down",
                now + self.config.ws.close_timeout,
            ),
            Phase::Chat(_) => {}
        }
    }

    /// Sends lines from the hub, one text message each (without its newline).
    pub fn send_lines(&mut self, lines: &[Line]) {
        if let Phase::Chat(ws) = &mut self.phase {
            for line in lines {
                let text = line.strip_suffix(b"\n").unwrap_or(line);
                ws.send(MessageKind::Text, text);
            }
        }
    }

    /// The hub disconnected this client: sends a close frame saying why, and waits for the
    /// browser's until `deadline`. Send the hub's last lines first.
    pub fn close(&mut self, reason: CloseReason, deadline: Instant) {
        self.gone = true;
        if let Phase::Chat(ws) = &mut self.phase {
            let code = match reason {
                CloseReason::PeerClosed => CloseCode::NORMAL,
                CloseReason::Shutdown => CloseCode::GOING_AWAY,
                CloseReason::TooSlow | CloseReason::Idle | CloseReason::Flooding => {
                    CloseCode::POLICY
                }
            };
            ws.close(code, &reason.to_string(), deadline);
        }
    }

    /// Appends the bytes to send to `out` and returns how many; `None` when nothing waits.
    /// Can change after every input.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let handed = self.output.len();
        if handed > 0 {
            out.append(&mut self.output);
        }
        let more = match &mut self.phase {
            Phase::Http(http) => http.poll_transmit(out),
            Phase::Chat(ws) | Phase::Echo(ws) => ws.poll_transmit(out),
        };
        match (handed, more) {
            (0, more) => more,
            (handed, more) => Some(handed + more.unwrap_or(0)),
        }
    }

    /// The next deadline, if any. Can change after every input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Http(http) => http.poll_timeout(),
            Phase::Chat(ws) | Phase::Echo(ws) => ws.poll_timeout(),
        }
    }

    /// What the shell should do for the hub. Can change after every input.
    pub fn poll_event(&mut self) -> Option<WebChatEvent> {
        self.events.pop_front()
    }

    /// Whether the shell should read from the peer now.
    pub fn wants_read(&self) -> bool {
        match &self.phase {
            Phase::Http(http) => http.wants_read(),
            Phase::Chat(ws) | Phase::Echo(ws) => ws.wants_read(),
        }
    }

    /// Whether nothing follows the output handed over: shut the sending side once it is
    /// written, and keep reading until [`WebChatConn::is_closed`].
    pub fn is_write_closed(&self) -> bool {
        match &self.phase {
            Phase::Http(http) => http.is_write_closed(),
            Phase::Chat(ws) | Phase::Echo(ws) => ws.is_write_closed(),
        }
    }

    /// Whether the connection is over: close the socket once the output is written.
    pub fn is_closed(&self) -> bool {
        match &self.phase {
            Phase::Http(http) => http.is_closed(),
            Phase::Chat(ws) | Phase::Echo(ws) => ws.is_closed(),
        }
    }

    /// Whether the peer took no output for the write timeout (HTTP phase): close at once.
    pub fn is_write_timed_out(&self) -> bool {
        match &self.phase {
            Phase::Http(http) => http.is_write_timed_out(),
            Phase::Chat(_) | Phase::Echo(_) => false,
        }
    }

    /// Answers requests and turns WebSocket events into the shell's, until quiet.
    fn advance(&mut self, now: Instant) {
        while let Phase::Http(http) = &mut self.phase {
            let Some(event) = http.poll_event() else {
                break;
            };
            if let HttpEvent::Request(request) = event {
                if let Some(phase) = self.answer(now, &request) {
                    self.phase = phase;
                }
            }
        }
        loop {
            let ws = match &mut self.phase {
                Phase::Http(_) => return,
                Phase::Echo(ws) => {
                    while let Some(event) = ws.poll_event() {
                        if let WsEvent::Message { kind, payload } = event {
                            ws.send(kind, &payload);
                        }
                    }
                    ws
                }
                Phase::Chat(ws) => {
                    while let Some(event) = ws.poll_event() {
                        match event {
                            WsEvent::Message { payload, .. } if !self.gone => {
                                let mut input = payload;
                                // The hub reads a line; a browser's JSON never holds a raw
                                // newline.
                                input.push(b'\n');
                                self.events.push_back(WebChatEvent::Input(input));
                            }
                            WsEvent::Message { .. } => {}
                            WsEvent::PeerClosed { .. } | WsEvent::Rejected(_) => {
                                if !mem::replace(&mut self.gone, true) {
                                    self.events.push_back(WebChatEvent::Gone);
                                }
                            }
                        }
                    }
                    ws
                }
            };
            if !ws.is_paused() {
                return;
            }
            ws.receive(now, &[]);
        }
    }

    /// Answers one request; returns the WebSocket phase when it upgraded the connection.
    fn answer(&mut self, now: Instant, request: &Request) -> Option<Phase> {
        let Phase::Http(http) = &mut self.phase else {
            return None;
        };
        let head = &request.head;
        let path = head.target.split(['?', '#']).next().unwrap_or("");
        let upgrade = match path {
            page::WS_PATH => Some(self.config.ws),
            page::ECHO_PATH => self.config.echo,
            _ => None,
        };
        let response = match upgrade {
            Some(limits) => match ws::accept(head) {
                Ok(switching) => {
                    // The request event leaves a request pending.
                    let leftover = http.upgrade(now, switching).unwrap_or_default();
                    while http.poll_transmit(&mut self.output).is_some() {}
                    let chat = path == page::WS_PATH;
                    let ws = WsConn::new(limits, !chat, now, &leftover);
                    if chat {
                        self.events.push_back(WebChatEvent::Opened);
                        return Some(Phase::Chat(ws));
                    }
                    return Some(Phase::Echo(ws));
                }
                Err(error) => error.response(),
            },
            None if is_health_check(&head.method, &head.target) => health_response(),
            None => page::respond(&head.method, path),
        };
        // A request event always leaves a request pending.
        let _ = http.respond(now, response);
        None
    }
}

/// The line `ferry chat --web` prints once the web port listens.
pub fn listening_line(address: SocketAddr) -> String {
    format!("chat web page listening on http://{address}")
}

/// The largest message the echo endpoint takes: the conformance suite's largest is 16 MiB.
const ECHO_MAX_MESSAGE: usize = 16 * 1024 * 1024;

#[cfg(test)]
mod tests;
