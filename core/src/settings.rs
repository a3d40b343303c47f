//! The lines a server prints when it starts and the limits both shells hold it to, so both
//! shells announce and bound themselves identically.

use std::net::SocketAddr;

use crate::datagram::Transport;

/// The line the web app prints once it listens.
pub fn web_listening(address: SocketAddr) -> String {
    format!("web app listening on http://{address}")
}

/// The line the socket server prints once it listens for datagrams.
pub fn socket_listening(address: SocketAddr) -> String {
    format!("socket server listening on udp://{address}")
}

/// The line the socket server prints once it listens for web apps' streams
/// (`--transport tcp`).
pub fn socket_listening_tcp(address: SocketAddr) -> String {
    format!("socket server listening on tcp://{address}")
}

/// The line the web app prints to say where it forwards messages, over `transport`.
pub fn forwarding_to(address: SocketAddr, transport: Transport) -> String {
    format!(
        "web app forwarding messages to {}://{address}",
        transport.name()
    )
}

/// How many connections a server serves at once. `ferry-std` answers a connection beyond it at
/// once with a refusal and closes it ([`crate::http::encode_server_full`],
/// [`crate::chat::wire::encode_server_full`]); `ferry` still leaves it in the listen backlog.
///
/// Each connection holds file descriptors, so the limit follows the process's fd limit less
/// what the server needs besides (`None`: the limit could not be read, assume the usual 1024),
/// and the server never runs out of descriptors by its own accepting. A shell with a thread per
/// connection holds up to [`FDS_PER_THREADED_CONNECTION`] each and is also held to
/// [`MAX_CONNECTION_THREADS`].
pub fn connection_limit(fd_limit: Option<u64>, thread_per_connection: bool) -> usize {
    let fds = fd_limit
        .unwrap_or(DEFAULT_FD_LIMIT)
        .saturating_sub(RESERVED_FDS);
    let per_connection = if thread_per_connection {
        FDS_PER_THREADED_CONNECTION
    } else {
        1
    };
    let by_fds = usize::try_from(fds / per_connection)
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
/// `ferry-std` clones a connection's socket: a handle to wake it at shutdown (every service),
/// and a writer thread's, which also closes it (chat, the socket server's streams). Three covers
/// both.
const FDS_PER_THREADED_CONNECTION: u64 = 3;
/// File descriptors kept for everything but connections: listeners, sockets, the store, stdio.
const RESERVED_FDS: u64 = 64;
/// The soft fd limit most Linux systems start processes with.
const DEFAULT_FD_LIMIT: u64 = 1024;
/// How many web apps' streams a socket server holds at once (`--transport tcp`); further ones
/// are closed as soon as they are accepted. Each web app process keeps one connection, so this
/// is the number of web apps sharing one socket server, and 256 is far more than a deployment of
/// this size runs, while bounding the threads or buffers a flood of connections could cost.
pub const MAX_STREAM_PEERS: usize = 256;
/// How long a write on a stream between the web app and the socket server may block before the
/// connection counts as broken (`ferry-std`, whose writes block). A peer that takes no bytes for
/// a second is stalled or gone; the web app's messages are resent on its next connection, and
/// the socket server's acks are answered again when those copies arrive.
pub const STREAM_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a stopping server lets in-flight requests and stores finish (the SPEC says a few
/// seconds).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transport_sets_the_printed_lines() {
        let address = SocketAddr::from(([127, 0, 0, 1], 5000));
        assert_eq!(
            socket_listening_tcp(address),
            "socket server listening on tcp://127.0.0.1:5000"
        );
        assert_eq!(
            forwarding_to(address, Transport::Tcp),
            "web app forwarding messages to tcp://127.0.0.1:5000"
        );
        assert_eq!(
            forwarding_to(address, Transport::Udp),
            "web app forwarding messages to udp://127.0.0.1:5000"
        );
    }

    #[test]
    fn connection_limit_follows_the_fd_limit() {
        assert_eq!(connection_limit(Some(20_000), false), 19_936);
        assert_eq!(connection_limit(Some(20_000), true), MAX_CONNECTION_THREADS);
        assert_eq!(connection_limit(Some(100), true), 12);
        assert_eq!(connection_limit(Some(3000), true), 978);
        assert_eq!(connection_limit(None, false), 960);
        assert_eq!(connection_limit(Some(10), false), 1);
        assert_eq!(
            connection_limit(Some(u64::MAX), false),
            MAX_EVENT_LOOP_CONNECTIONS
        );
    }
}
