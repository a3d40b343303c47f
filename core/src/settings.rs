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
///
/// Each connection holds a file descriptor, so the limit follows the process's fd limit less
/// what the server needs besides (`None`: the limit could not be read, assume the usual 1024).
/// A shell with a thread per connection is also held to [`MAX_CONNECTION_THREADS`].
pub fn connection_limit(fd_limit: Option<u64>, thread_per_connection: bool) -> usize {
    let fds = fd_limit.unwrap_or(DEFAULT_FD_LIMIT);
    let by_fds = usize::try_from(fds.saturating_sub(RESERVED_FDS))
        .unwrap_or(usize::MAX)
        .max(1);
    if thread_per_connection {
        by_fds.min(MAX_CONNECTION_THREADS)
    } else {
        by_fds.min(MAX_EVENT_LOOP_CONNECTIONS)
    }
}

/// Threads cost a stack each and scheduling time; 1,024 fit comfortably on a small machine.
pub const MAX_CONNECTION_THREADS: usize = 1024;
/// An event-loop connection costs about half a KiB idle, so even a million fit in memory; the
/// fd limit is what really binds.
pub const MAX_EVENT_LOOP_CONNECTIONS: usize = 1_000_000;
/// File descriptors kept for everything but connections: listeners, sockets, the store, stdio.
const RESERVED_FDS: u64 = 64;
/// The soft fd limit most Linux systems start processes with.
const DEFAULT_FD_LIMIT: u64 = 1024;
/// How long a stopping server lets in-flight requests and stores finish (the SPEC says a few
/// seconds).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limit_follows_the_fd_limit() {
        assert_eq!(connection_limit(Some(20_000), false), 19_936);
        assert_eq!(connection_limit(Some(20_000), true), MAX_CONNECTION_THREADS);
        assert_eq!(connection_limit(Some(100), true), 36);
        assert_eq!(connection_limit(None, false), 960);
        assert_eq!(connection_limit(Some(10), false), 1);
        assert_eq!(
            connection_limit(Some(u64::MAX), false),
            MAX_EVENT_LOOP_CONNECTIONS
        );
    }
}
