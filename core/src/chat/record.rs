//! [`SaidMessage`]: one message of the room's history as the store keeps it (issue 14), so the
//! history survives a restart. The hub hands each new one out and takes the kept ones back at
//! start; how they are written is the store's.

/// A message said in the room, with when the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaidMessage {
    pub username: String,
    pub message: String,
    /// UTC, RFC 3339 (`2026-12-05T17:20:00Z`); `None` for a hub given no wall clock.
    pub time: Option<String>,
}
