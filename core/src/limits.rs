//! What every server of ferry holds itself to, whatever it serves: how many connections at
//! once (decided from the process's descriptor limit) and how long a stop may take, so both
//! shells bound themselves identically.

/// How many connections a server serves at once. A connection beyond it is answered at once
/// with a refusal and closed ([`crate::http::encode_server_full`],
/// [`crate::chat::wire::encode_server_full`]), in both shells.
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
