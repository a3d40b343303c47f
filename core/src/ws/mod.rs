//! WebSocket (RFC 6455), server side, as sans-io pieces.
//!
//! - [`handshake`]: whether a request asks for a WebSocket, and the `101` that accepts it
//!   (sent through `HttpConn::upgrade`).
//! - [`frame`]: the frame head parser and the frame writer.
//! - [`WsConn`]: one connection after the handshake: frames in, messages out; messages in,
//!   frames out; ping, pong and the closing handshake.
//!
//! No extension and no subprotocol is offered, so every RSV bit is an error. What the messages
//! mean is the application's (the chat, see `chat::web`).

pub mod frame;
pub mod handshake;

mod close;
mod conn;

use std::fmt;
use std::time::Duration;

pub use close::{is_valid_close_code, CloseCode};
pub use conn::{MessageKind, WsConn, WsEvent};
pub use handshake::{accept, accept_key, HandshakeError};

/// Limits and timeouts of a WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsConfig {
    /// The longest message accepted, in bytes, all its fragments together; a longer one fails
    /// the connection with 1009 as soon as a frame head announces it.
    pub max_message: usize,
    /// How long a closing connection waits for the peer's close frame and then its FIN.
    pub close_timeout: Duration,
    /// Output bytes beyond which no more input is read: a peer that sends pings (or, on an
    /// echo, messages) without reading the answers cannot make the server buffer without bound.
    pub max_output: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message: crate::chat::MAX_LINE,
            close_timeout: CLOSE_TIMEOUT,
            max_output: MAX_OUTPUT,
        }
    }
}

/// Something the peer sent that fails the connection (RFC 6455 §7.1.7). The connection sends
/// a close frame with [`WsError::close_code`] and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsError {
    /// An RSV bit set: no extension was negotiated.
    ReservedBits,
    /// An opcode RFC 6455 reserves.
    ReservedOpcode,
    /// A control frame fragmented or longer than 125 bytes.
    BadControlFrame,
    /// A 64-bit length with its top bit set.
    BadLength,
    /// A frame from the client without a mask (RFC 6455 §5.1).
    Unmasked,
    /// A continuation frame with no message to continue.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished.
    UnfinishedMessage,
    /// A close frame with a one-byte payload or a code that may not be sent.
    BadCloseFrame,
    /// A text message, or a close reason, that is not UTF-8.
    InvalidUtf8,
    /// A message longer than the limit.
    MessageTooBig,
    /// The application takes no binary messages (the chat speaks text).
    BinaryRefused,
}

impl WsError {
    /// The close code that tells the peer why (RFC 6455 §7.4.1).
    pub fn close_code(self) -> u16 {
        match self {
            WsError::InvalidUtf8 => CloseCode::INVALID_DATA,
            WsError::MessageTooBig => CloseCode::TOO_BIG,
            WsError::BinaryRefused => CloseCode::UNSUPPORTED_DATA,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for WsError {
    /// The reason sent in the close frame (at most 123 bytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WsError::ReservedBits => "reserved bits set",
            WsError::ReservedOpcode => "reserved opcode",
            WsError::BadControlFrame => "control frames are single and at most 125 bytes",
            WsError::BadLength => "frame length out of range",
            WsError::Unmasked => "client frames must be masked",
            WsError::UnexpectedContinuation => "continuation without a message",
            WsError::UnfinishedMessage => "new message before the last one ended",
            WsError::BadCloseFrame => "malformed close frame",
            WsError::InvalidUtf8 => "text is not UTF-8",
            WsError::MessageTooBig => "message longer than 16 KiB",
            WsError::BinaryRefused => "only text messages are taken",
        })
    }
}

/// 5 s for a closing handshake: one round trip on any link, with room for a busy peer.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// 1 MiB of unsent output before reading stops: a chat message is some hundred bytes, and an
/// echo of the largest conformance message is written long before its last frame arrives.
pub const MAX_OUTPUT: usize = 1024 * 1024;
