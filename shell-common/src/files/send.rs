//! Sending a download body: [`Sending::send_to`] moves what the socket takes with sendfile(2),
//! straight from the page cache; [`Sending::send_blocking`] drives that to the end from a thread
//! that may block, reporting progress to the connection so its write timeout applies.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Instant;

use ferry_core::http::HttpConn;

use super::Sending;
use crate::tcp_progress::bytes_acked;
use crate::wait::wait_writable;

impl Sending {
    /// Sends what `socket` takes of the owed bytes with sendfile(2), so they go from the page
    /// cache to the socket without passing through this process. `Ok(true)` once all is sent;
    /// `Ok(false)` when a non-blocking socket is full (wait until it is writable, call again).
    pub fn send_to(&mut self, socket: &impl AsRawFd) -> io::Result<bool> {
        while self.remaining > 0 {
            let mut offset = libc::off_t::try_from(self.offset)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            let count = usize::try_from(self.remaining.min(SENDFILE_PIECE)).unwrap_or(usize::MAX);
            // SAFETY: both descriptors stay open for the call (we borrow the socket and own the
            // file), and `offset` is a valid, exclusively borrowed off_t.
            let sent = unsafe {
                libc::sendfile(
                    socket.as_raw_fd(),
                    self.file.as_raw_fd(),
                    &mut offset,
                    count,
                )
            };
            if sent < 0 {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::WouldBlock => return Ok(false),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(error),
                }
            }
            if sent == 0 {
                // The file shrank while it was being sent; the promised length cannot be kept.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            // Positive and at most `count` here.
            let sent = sent as u64;
            self.offset += sent;
            self.remaining -= sent;
        }
        Ok(true)
    }

    /// Sends the whole body from a thread that may block, as long as the peer keeps taking
    /// bytes: the socket is made non-blocking for the send, every call and what the peer
    /// acknowledged are reported to `conn`, and between calls the thread waits with poll(2) no
    /// longer than the core's next deadline.
    /// `Ok(false)` when the core gave up on a peer that took nothing for its write timeout.
    pub fn send_blocking(&mut self, socket: &TcpStream, conn: &mut HttpConn) -> io::Result<bool> {
        socket.set_nonblocking(true)?;
        let sent = self.send_until_done(socket, conn);
        socket.set_nonblocking(false)?;
        sent
    }

    fn send_until_done(&mut self, socket: &TcpStream, conn: &mut HttpConn) -> io::Result<bool> {
        loop {
            let owed = self.remaining;
            let done = self.send_to(socket)?;
            let now = Instant::now();
            let written = usize::try_from(owed - self.remaining).unwrap_or(usize::MAX);
            conn.handle_written(now, written, !done);
            if done {
                return Ok(true);
            }
            if let Some(acked) = bytes_acked(socket) {
                conn.handle_acked(now, acked);
            }
            conn.handle_timeout(now);
            if conn.is_write_timed_out() {
                return Ok(false);
            }
            let wait = conn
                .poll_timeout()
                .map(|deadline| deadline.saturating_duration_since(now));
            wait_writable(socket, wait)?;
        }
    }
}

/// Bytes asked of one sendfile call: enough to fill any socket buffer, few enough that one
/// connection does not hold an event loop long.
const SENDFILE_PIECE: u64 = 1024 * 1024;
