//! Waiting on a blocking socket with poll(2), for the thread-per-connection shell: until the
//! socket can be read or written, the core's next deadline passes, or — for a read — the server
//! is asked to stop, so a thread blocked between requests wakes for the stop without anybody
//! half-closing its socket (which would cut an upload's body in flight).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// Why [`wait_readable`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The socket has bytes, EOF or an error to read.
    Socket,
    /// The stop descriptor became readable.
    Stop,
    /// The wait passed.
    Timeout,
}

/// Waits until `socket` can be read, `stop` (if given) is readable, or `wait` passes (`None`:
/// no limit).
pub fn wait_readable(
    socket: &impl AsRawFd,
    stop: Option<BorrowedFd>,
    wait: Option<Duration>,
) -> io::Result<Woken> {
    let mut fds = [
        pollfd(socket.as_raw_fd(), libc::POLLIN),
        pollfd(stop.map_or(-1, |fd| fd.as_raw_fd()), libc::POLLIN),
    ];
    if poll(&mut fds, wait)? == 0 {
        return Ok(Woken::Timeout);
    }
    if fds[0].revents != 0 {
        return Ok(Woken::Socket);
    }
    Ok(if fds[1].revents != 0 {
        Woken::Stop
    } else {
        Woken::Timeout
    })
}

/// Waits until `socket` can take bytes, or `wait` passes (`None`: no limit).
pub fn wait_writable(socket: &impl AsRawFd, wait: Option<Duration>) -> io::Result<()> {
    poll(&mut [pollfd(socket.as_raw_fd(), libc::POLLOUT)], wait).map(|_| ())
}

fn pollfd(fd: libc::c_int, events: libc::c_short) -> libc::pollfd {
    // A negative descriptor is skipped by poll(2).
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// poll(2) on `fds`; how many are ready (0 on timeout or a signal).
fn poll(fds: &mut [libc::pollfd], wait: Option<Duration>) -> io::Result<usize> {
    // Rounded up, so a deadline less than a millisecond away is not a busy loop.
    let timeout_ms = wait.map_or(-1, |wait| {
        i32::try_from(wait.as_millis() + 1).unwrap_or(i32::MAX)
    });
    // SAFETY: pollfds we own, their count, and descriptors the callers keep open during the call.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if ready < 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(error);
    }
    Ok(usize::try_from(ready).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn wakes_for_the_socket_the_stop_or_the_time() {
        let (mut peer, socket) = UnixStream::pair().unwrap();
        let (mut stopper, stop) = UnixStream::pair().unwrap();
        let short = Some(Duration::from_millis(1));
        assert_eq!(
            wait_readable(&socket, Some(stop.as_fd()), short).unwrap(),
            Woken::Timeout
        );
        stopper.write_all(b"!").unwrap();
        assert_eq!(
            wait_readable(&socket, Some(stop.as_fd()), None).unwrap(),
            Woken::Stop
        );
        // A stop already handled is no longer watched.
        assert_eq!(wait_readable(&socket, None, short).unwrap(), Woken::Timeout);
        peer.write_all(b"x").unwrap();
        assert_eq!(
            wait_readable(&socket, Some(stop.as_fd()), None).unwrap(),
            Woken::Socket
        );
        wait_writable(&socket, None).unwrap();
    }
}
