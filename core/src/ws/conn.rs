//! [`WsConn`]: one WebSocket connection after the handshake, server side, as a sans-io machine.
//!
//! # Theory of operation
//!
//! Bytes go in with [`WsConn::receive`]; each frame's head is parsed once it is whole, and its
//! payload is unmasked and taken as it arrives, so a text message is checked for UTF-8 while
//! it is still coming (a bad byte fails the connection at once, not at the message's end) and a
//! message over the limit fails as soon as a head announces it. Whole messages come out as
//! [`WsEvent::Message`]; pings are answered with pongs; the application sends with
//! [`WsConn::send`] and ends with [`WsConn::close`].
//!
//! States:
//!
//! - `Open`: frames flow both ways.
//! - `CloseSent`: this side sent its close frame ([`WsConn::close`]); frames are still read,
//!   their messages dropped, until the peer's close frame (RFC 6455 §5.5.1) or the deadline.
//! - `Draining`: the closing handshake is over, or the peer broke a rule and was sent a close
//!   frame saying which (RFC 6455 §7.1.7). Nothing more is sent: the shell shuts the sending
//!   side once the output is written (the server closes the TCP connection first, §7.1.1) and
//!   reads and drops what still comes until EOF or the deadline, so closing never resets the
//!   connection under bytes the peer has not read.
//! - `Closed`: the shell closes the socket once the output is written.
//!
//! Only the peer's bytes, EOF, time and the application's `send` and `close` move it.

use std::collections::VecDeque;
use std::mem;
use std::time::Instant;

use super::close::is_valid_close_code;
use super::frame::{apply_mask, encode_frame, parse_header, FrameHeader, Opcode};
use super::{WsConfig, WsError};

/// Whether a message is text (UTF-8) or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Binary,
}

/// What happened on a WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// A whole message arrived (text is valid UTF-8).
    Message { kind: MessageKind, payload: Vec<u8> },
    /// The peer ended the connection: with a close frame (`code` is its status, if it gave
    /// one) or by closing TCP without one (`code` is `None`).
    PeerClosed { code: Option<u16> },
    /// The peer broke a rule; the close frame saying which is queued. For logging.
    Rejected(WsError),
}

/// The server side of one WebSocket connection.
#[derive(Debug)]
pub struct WsConn {
    config: WsConfig,
    state: State,
    /// Peer bytes not yet taken by a frame.
    input: Vec<u8>,
    /// The frame whose payload is arriving, and how much of it has.
    frame: Option<(FrameHeader, u64)>,
    /// The data message being received, over one frame or several.
    message: Option<Partial>,
    /// The payload of the control frame being received (at most 125 bytes).
    control: Vec<u8>,
    output: Vec<u8>,
    events: VecDeque<WsEvent>,
    peer_closed: bool,
    /// Whether binary messages are taken or fail the connection with 1003.
    accepts_binary: bool,
    /// Reading stopped after a message with input left (see [`WsConn::is_paused`]).
    paused: bool,
}

#[derive(Debug)]
struct Partial {
    kind: MessageKind,
    bytes: Vec<u8>,
    /// How far `bytes` is known to be UTF-8 (text only); what follows is at most an
    /// unfinished character.
    checked: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    CloseSent { until: Instant },
    Draining { until: Instant, discarded: usize },
    Closed,
}

impl WsConn {
    /// A connection whose handshake just completed; `leftover` are bytes the peer sent after
    /// its handshake request, the start of its first frames.
    pub fn new(config: WsConfig, accepts_binary: bool, now: Instant, leftover: &[u8]) -> Self {
        let mut conn = WsConn {
            config,
            state: State::Open,
            input: Vec::new(),
            frame: None,
            message: None,
            control: Vec::new(),
            output: Vec::new(),
            events: VecDeque::new(),
            peer_closed: false,
            accepts_binary,
            paused: false,
        };
        conn.receive(now, leftover);
        conn
    }

    /// Takes bytes read from the peer. An empty slice is an empty read, not EOF.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        self.paused = false;
        match &mut self.state {
            State::Closed => {}
            State::Draining { discarded, .. } => {
                *discarded += bytes.len();
                if *discarded > MAX_DRAIN_DISCARD {
                    self.state = State::Closed;
                }
            }
            _ if self.peer_closed => {}
            _ => {
                self.input.extend_from_slice(bytes);
                self.advance(now);
                if self.input.is_empty() && self.input.capacity() > 0 {
                    // An idle connection keeps no read buffer.
                    self.input = Vec::new();
                }
            }
        }
    }

    /// The peer closed its sending side.
    pub fn receive_eof(&mut self, now: Instant) {
        let _ = now;
        self.peer_closed = true;
        self.paused = false;
        self.input = Vec::new();
        if self.state == State::Open {
            self.events.push_back(WsEvent::PeerClosed { code: None });
        }
        self.state = State::Closed;
    }

    /// Handles the deadline returned by [`WsConn::poll_timeout`], if it has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|deadline| deadline <= now) {
            self.state = State::Closed;
        }
    }

    /// Sends one message, in one frame. Ignored once this side sent its close frame. The
    /// caller keeps messages within what the peer accepts; ferry's peers take any size.
    pub fn send(&mut self, kind: MessageKind, payload: &[u8]) {
        if self.state != State::Open {
            return;
        }
        let opcode = match kind {
            MessageKind::Text => Opcode::Text,
            MessageKind::Binary => Opcode::Binary,
        };
        encode_frame(opcode, true, None, payload, &mut self.output);
    }

    /// Starts the closing handshake: sends a close frame with `code` and `reason` (cut to fit
    /// 123 bytes at a character boundary) and waits until `deadline` at most for the peer's.
    /// Ignored unless open.
    pub fn close(&mut self, code: u16, reason: &str, deadline: Instant) {
        if self.state != State::Open {
            return;
        }
        self.queue_close(code, reason);
        self.state = State::CloseSent { until: deadline };
    }

    /// Appends the bytes to send to `out` and returns how many there were; `None` when nothing
    /// waits. Can change after every input.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let n = self.output.len();
        if n == 0 {
            return None;
        }
        if out.is_empty() {
            *out = mem::take(&mut self.output);
        } else {
            out.append(&mut self.output);
        }
        Some(n)
    }

    /// The closing handshake's deadline, if one runs. Changes after `close` and after input
    /// that ends the connection.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::CloseSent { until } | State::Draining { until, .. } => Some(until),
            State::Open | State::Closed => None,
        }
    }

    /// The next thing that happened. Can change after `receive`, `receive_eof`.
    pub fn poll_event(&mut self) -> Option<WsEvent> {
        self.events.pop_front()
    }

    /// Whether the shell should read from the peer now: not once it closed, and not while
    /// more than `max_output` bytes wait to be sent (a peer that does not read its pongs or
    /// echoes stops being read too).
    pub fn wants_read(&self) -> bool {
        match self.state {
            State::Closed => false,
            State::Draining { .. } => !self.peer_closed,
            State::Open | State::CloseSent { .. } => {
                !self.peer_closed && self.output.len() < self.config.max_output
            }
        }
    }

    /// Whether this side will send nothing more once the output is written: then the shell
    /// shuts the sending side and reads until [`WsConn::is_closed`].
    pub fn is_write_closed(&self) -> bool {
        matches!(self.state, State::Draining { .. } | State::Closed)
    }

    /// Whether the connection is over: close the socket once the output is written.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether frames wait unread behind a message just reported: drain
    /// [`WsConn::poll_event`], answer, then call `receive(now, &[])` to read on. Reading stops
    /// at each message so that what the application sends in answer leaves before whatever
    /// the next frames cause (RFC 6455 keeps the order of frames; Autobahn checks that an echo
    /// precedes the close a broken frame after it brings).
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Whether the application may still send (neither side has started to close).
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Reads as many frames as the input holds.
    fn advance(&mut self, now: Instant) {
        // The input leaves `self` while frames are cut from it, since each may touch the rest.
        let mut input = mem::take(&mut self.input);
        let mut used = 0;
        while matches!(self.state, State::Open | State::CloseSent { .. }) {
            let rest = &mut input[used..];
            let Some((header, read)) = self.frame else {
                let parsed = parse_header(rest).and_then(|parsed| match parsed {
                    Some((header, len)) => {
                        used += len;
                        self.start_frame(header).map(|()| true)
                    }
                    None => Ok(false),
                });
                match parsed {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(error) => return self.fail(now, error),
                }
            };
            let take = (header.len - read).min(rest.len() as u64) as usize;
            let chunk = &mut rest[..take];
            if let Some(key) = header.mask {
                apply_mask(key, read, chunk);
            }
            used += take;
            if let Err(error) = self.take_payload(header.opcode, chunk) {
                return self.fail(now, error);
            }
            let read = read + take as u64;
            if read < header.len {
                self.frame = Some((header, read));
                break;
            }
            self.frame = None;
            if let Err(error) = self.finish_frame(now, header) {
                return self.fail(now, error);
            }
            if matches!(self.events.back(), Some(WsEvent::Message { .. })) {
                // The application answers a message before later frames are read (see
                // `is_paused`), so an echo goes out before a close that a later frame causes.
                self.paused = used < input.len();
                break;
            }
        }
        if matches!(self.state, State::Open | State::CloseSent { .. }) {
            input.drain(..used.min(input.len()));
            self.input = input;
        }
    }

    /// Checks a new frame's head against the message in progress and the limits.
    fn start_frame(&mut self, header: FrameHeader) -> Result<(), WsError> {
        // RFC 6455 §5.1: a server must fail a connection whose client sends an unmasked frame.
        if header.mask.is_none() {
            return Err(WsError::Unmasked);
        }
        let kind = match header.opcode {
            Opcode::Text => Some(MessageKind::Text),
            Opcode::Binary => Some(MessageKind::Binary),
            Opcode::Continuation if self.message.is_none() => {
                return Err(WsError::UnexpectedContinuation)
            }
            _ => None,
        };
        if kind.is_some() && self.message.is_some() {
            return Err(WsError::UnfinishedMessage);
        }
        if kind == Some(MessageKind::Binary) && !self.accepts_binary {
            return Err(WsError::BinaryRefused);
        }
        if !header.opcode.is_control() {
            let so_far = self.message.as_ref().map_or(0, |m| m.bytes.len());
            if so_far as u64 + header.len > self.config.max_message as u64 {
                return Err(WsError::MessageTooBig);
            }
        }
        if let Some(kind) = kind {
            self.message = Some(Partial {
                kind,
                bytes: Vec::with_capacity((header.len as usize).min(INITIAL_MESSAGE_BUFFER)),
                checked: 0,
            });
        }
        self.control.clear();
        self.frame = Some((header, 0));
        Ok(())
    }

    /// Takes unmasked payload bytes of the current frame; text is checked as it comes.
    fn take_payload(&mut self, opcode: Opcode, chunk: &[u8]) -> Result<(), WsError> {
        if opcode.is_control() {
            self.control.extend_from_slice(chunk);
            return Ok(());
        }
        let Some(message) = self.message.as_mut() else {
            return Ok(());
        };
        message.bytes.extend_from_slice(chunk);
        if message.kind == MessageKind::Text {
            check_utf8(&message.bytes, &mut message.checked, false)?;
        }
        Ok(())
    }

    /// Acts on a frame whose payload is complete.
    fn finish_frame(&mut self, now: Instant, header: FrameHeader) -> Result<(), WsError> {
        match header.opcode {
            Opcode::Text | Opcode::Binary | Opcode::Continuation => {
                if !header.fin {
                    return Ok(());
                }
                let Some(mut message) = self.message.take() else {
                    return Ok(());
                };
                if message.kind == MessageKind::Text {
                    check_utf8(&message.bytes, &mut message.checked, true)?;
                }
                if self.state == State::Open {
                    self.events.push_back(WsEvent::Message {
                        kind: message.kind,
                        payload: message.bytes,
                    });
                }
            }
            Opcode::Ping => {
                if self.state == State::Open {
                    encode_frame(Opcode::Pong, true, None, &self.control, &mut self.output);
                }
            }
            Opcode::Pong => {}
            Opcode::Close => {
                let code = parse_close(&self.control)?;
                if self.state == State::Open {
                    // RFC 6455 §5.5.1: answer with a close frame, echoing the status code.
                    let mut payload = Vec::new();
                    if let Some(code) = code {
                        payload.extend_from_slice(&code.to_be_bytes());
                    }
                    encode_frame(Opcode::Close, true, None, &payload, &mut self.output);
                }
                self.events.push_back(WsEvent::PeerClosed { code });
                self.drain(now);
            }
        }
        Ok(())
    }

    /// Fails the connection (RFC 6455 §7.1.7): a close frame saying why, unless one was sent.
    fn fail(&mut self, now: Instant, error: WsError) {
        self.events.push_back(WsEvent::Rejected(error));
        if self.state == State::Open {
            self.queue_close(error.close_code(), &error.to_string());
        }
        self.drain(now);
    }

    fn drain(&mut self, now: Instant) {
        self.paused = false;
        self.input = Vec::new();
        self.message = None;
        self.frame = None;
        self.state = State::Draining {
            until: now + self.config.close_timeout,
            discarded: 0,
        };
    }

    fn queue_close(&mut self, code: u16, reason: &str) {
        let mut cut = reason.len().min(MAX_CLOSE_REASON);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(&reason.as_bytes()[..cut]);
        encode_frame(Opcode::Close, true, None, &payload, &mut self.output);
    }
}

/// The status code of a close frame's payload, checked (RFC 6455 §5.5.1, §7.4): none, or a
/// code a peer may send followed by a UTF-8 reason.
fn parse_close(payload: &[u8]) -> Result<Option<u16>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::BadCloseFrame),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !is_valid_close_code(code) {
                return Err(WsError::BadCloseFrame);
            }
            std::str::from_utf8(reason).map_err(|_| WsError::InvalidUtf8)?;
            Ok(Some(code))
        }
    }
}

/// Extends the UTF-8-checked prefix of `bytes` from `checked`. An unfinished character at the
/// end is fine until the message is `complete`; a byte no continuation can make valid fails at
/// once.
fn check_utf8(bytes: &[u8], checked: &mut usize, complete: bool) -> Result<(), WsError> {
    let rest = bytes.get(*checked..).unwrap_or_default();
    match std::str::from_utf8(rest) {
        Ok(_) => {
            *checked = bytes.len();
            Ok(())
        }
        Err(error) if error.error_len().is_none() && !complete => {
            *checked += error.valid_up_to();
            Ok(())
        }
        Err(_) => Err(WsError::InvalidUtf8),
    }
}

/// A close frame's reason fits in 123 bytes: 125 less the code.
const MAX_CLOSE_REASON: usize = 123;
/// A closing peer that keeps sending past this is cut off without waiting for the deadline.
const MAX_DRAIN_DISCARD: usize = 256 * 1024;
/// A message's buffer starts no larger than this, whatever its first frame announces: it
/// grows with the bytes that actually arrive.
const INITIAL_MESSAGE_BUFFER: usize = 64 * 1024;

#[cfg(test)]
mod tests;
