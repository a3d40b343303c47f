//! What the kernel knows about a TCP peer's reading: how many bytes it has acknowledged, which
//! the core's write timeout counts as progress when the socket buffer is too full for any write
//! to show it (see `write_watch` in `ferry-core`).
//!
//! Both shells ask the same way, for every HTTP connection with output pending.

use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

/// The running count of bytes the peer acknowledged on `socket` (`tcpi_bytes_acked`, Linux
/// 4.1), or `None` when the kernel does not tell.
pub fn bytes_acked(socket: &impl AsRawFd) -> Option<u64> {
    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: a descriptor the caller keeps open, and room for one tcp_info of the size passed.
    let done = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if done < 0 {
        return None;
    }
    // An older kernel fills less of the struct; the field must be among what it filled.
    let end = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + std::mem::size_of::<u64>();
    if (len as usize) < end {
        return None;
    }
    // SAFETY: getsockopt succeeded on a zeroed struct, so every field holds a valid integer.
    let info = unsafe { info.assume_init() };
    Some(info.tcpi_bytes_acked)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use super::*;

    #[test]
    fn counts_what_the_peer_acknowledged() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let before = bytes_acked(&server).expect("Linux tells");
        server.write_all(&[7u8; 1000]).unwrap();
        let mut got = [0u8; 1000];
        client.read_exact(&mut got).unwrap();
        // The peer read it all, so its acknowledgement comes; loopback is quick but not instant.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while bytes_acked(&server).unwrap() < before + 1000 {
            assert!(std::time::Instant::now() < deadline, "never acknowledged");
            std::thread::yield_now();
        }
    }
}
