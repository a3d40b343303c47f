//! From command-line options to the configuration of each machine, and the lines a server
//! prints when it starts, so both shells configure and announce themselves identically.

use std::net::SocketAddr;

use crate::cli::{Transport, WebOptions};
use crate::datagram::SenderConfig;
use crate::http::HttpConfig;

/// The HTTP connection settings of the web app.
pub fn http_config(options: &WebOptions) -> HttpConfig {
    HttpConfig {
        max_body: options.max_body,
        header_timeout: options.header_timeout,
        // A body that stalls is treated like a head that stalls.
        body_timeout: options.header_timeout,
        idle_timeout: options.idle_timeout,
        ..HttpConfig::default()
    }
}

/// The datagram sender settings of the web app. `process_id` and `start_nanos` (wall-clock
/// nanoseconds at start) make message ids unique across restarts and across web apps sharing
/// one socket server.
pub fn sender_config(options: &WebOptions, process_id: u32, start_nanos: u128) -> SenderConfig {
    SenderConfig {
        ack_timeout: options.ack_timeout,
        id_prefix: format!("{start_nanos:x}.{process_id:x}"),
        ..SenderConfig::default()
    }
}

/// Refuses a transport this version does not carry.
pub fn check_transport(transport: Transport) -> Result<(), String> {
    match transport {
        Transport::Udp => Ok(()),
        Transport::Tcp => Err("--transport tcp is not available in this version; use udp".into()),
    }
}

/// The line the web app prints once it listens.
pub fn web_listening(address: SocketAddr) -> String {
    format!("web app listening on http://{address}")
}

/// The line the socket server prints once it listens.
pub fn socket_listening(address: SocketAddr) -> String {
    format!("socket server listening on udp://{address}")
}

/// The line the web app prints to say where it forwards messages.
pub fn forwarding_to(address: SocketAddr) -> String {
    format!("web app forwarding messages to udp://{address}")
}

/// How many HTTP connections a server serves at once; further ones wait in the listen backlog.
/// 1024 threads or connections fit comfortably in memory and under the default fd limit.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long a stopping server lets in-flight requests and stores finish (the SPEC says a few
/// seconds).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
