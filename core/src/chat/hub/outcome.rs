//! What [`super::ChatHub`] hands the shell: the bytes of a [`Transmit`] and, when those are a
//! client's last, how to end its connection ([`Close`]); and what happened in the room
//! ([`ChatEvent`]), for logging and tests.

use std::fmt;
use std::time::Instant;

use super::super::{ChatError, ClientId};

/// What [`super::ChatHub::poll_transmit`] appended to the caller's buffer, and for whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Whose bytes they are.
    pub client: ClientId,
    /// Set when these are the client's last bytes; says how to end the connection. The hub has
    /// already forgotten the client.
    pub close: Option<Close>,
}

/// How to end a connection whose last bytes were just handed out.
///
/// Write the bytes (after any still unwritten), then shut the sending side, then read and drop
/// whatever the client still sends until it closes its side, and close. Closing earlier, with
/// input unread, would reset the connection, and a reset can destroy the last bytes in the
/// client's buffers before it reads them. Whatever is not done by `deadline` is given up: close
/// at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    /// Why the hub disconnected the client.
    pub reason: CloseReason,
    /// When to stop waiting for the client to take its last bytes and close its side.
    pub deadline: Instant,
}

/// Why the hub disconnected a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed its side of the connection.
    PeerClosed,
    /// More than `max_queue` bytes waited for the client: it reads too slowly or not at all.
    TooSlow,
    /// The client sent nothing for `idle_timeout`.
    Idle,
    /// The client kept sending faster than the flood limit after being refused.
    Flooding,
    /// The server is stopping.
    Shutdown,
}

/// What happened in the room; for logging and tests, the shells may ignore them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A client claimed a username.
    Joined { client: ClientId, username: String },
    /// A client that had a username is gone.
    Left { client: ClientId, username: String },
    /// A client sent something invalid; it was told so with an error line.
    Refused { client: ClientId, error: ChatError },
    /// The hub disconnected a client.
    Closed {
        client: ClientId,
        reason: CloseReason,
    },
}

impl fmt::Display for CloseReason {
    /// The text of the last error line a disconnected client is sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::PeerClosed => "you closed the connection",
            CloseReason::TooSlow => "disconnected: you fell too far behind reading messages",
            CloseReason::Idle => "disconnected: nothing received for too long",
            CloseReason::Flooding => "disconnected: too many messages too fast",
            CloseReason::Shutdown => "the server is shutting down",
        })
    }
}
