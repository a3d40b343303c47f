//! TLS as one more sans-io machine: [`TlsSession`] sits between a connection's bytes and the
//! machine that speaks over it (`HttpConn`, the chat hub's client, a client machine), taking
//! ciphertext in and giving plaintext out, and the other way round. rustls does the protocol
//! and the cryptography; this module gives it ferry's vocabulary (`receive`, `poll_*`, `now`
//! passed in), bounds its buffers, and adds the one rule rustls leaves to its caller: a
//! handshake must finish within a deadline.
//!
//! What it never does: open sockets or files, read clocks, log. Configurations are built from
//! PEM bytes the shell read ([`server_config`], [`client_config`]).
//!
//! Two things rustls takes from outside, and how: wall-clock time (certificate validity on the
//! client, ticket ages on the server) comes from the [`WallClock`] the shell passes to the
//! config builders, pinned in tests; randomness (handshake randoms, ephemeral keys) comes from
//! the operating system through ring, the one input no caller can supply, since cryptographic
//! randomness must not be replayable.

mod config;
mod error;
mod session;

#[cfg(test)]
mod tests;

pub use config::{
    client_config, server_config, Alpn, TlsClientConfig, TlsConfigError, TlsServerConfig, WallClock,
};
pub use error::TlsError;
pub use session::TlsSession;

use std::time::Duration;

/// How long a peer may take to complete a TLS handshake: the HTTP header timeout's default, so
/// one rule bounds a silent or stalled client on every port, the chat's included (whose idle
/// timeout is minutes).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = crate::http::DEFAULT_HEADER_TIMEOUT;

/// The ALPN name of HTTP/1.1 (RFC 7301 §6), offered on every HTTP port.
pub const ALPN_HTTP11: &str = "http/1.1";

/// The start-up line of a port that speaks TLS, from its plain line: the scheme becomes the
/// secure one (`http://` → `https://`, `tcp://` → `tls://`), so each server's wording stays
/// where it is and the two cannot drift.
pub fn listening_line(plain: &str) -> String {
    for (insecure, secure) in [("http://", "https://"), ("tcp://", "tls://")] {
        if let Some(at) = plain.find(insecure) {
            return format!("{}{secure}{}", &plain[..at], &plain[at + insecure.len()..]);
        }
    }
    plain.to_string()
}
