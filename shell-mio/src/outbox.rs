//! Bytes waiting to be written to one non-blocking socket, with that socket's write readiness:
//! the one write loop every connection of `ferry` uses (HTTP, chat, the forwarder, the socket
//! server's peers).

use std::io::{self, ErrorKind, Write};

/// What a connection still has to send.
#[derive(Debug)]
pub struct Outbox {
    bytes: Vec<u8>,
    written: usize,
    /// Buffers above this capacity are released once written.
    retain: usize,
    /// Edge-triggered write readiness: set by a writable event, cleared on WouldBlock.
    pub ready: bool,
}

impl Outbox {
    /// An empty outbox; `ready` says whether the socket can be written to before any event,
    /// `retain` how large a buffer it keeps once everything is written.
    pub fn new(ready: bool, retain: usize) -> Outbox {
        Outbox {
            bytes: Vec::new(),
            written: 0,
            retain,
            ready,
        }
    }

    /// Bytes not yet written.
    pub fn pending(&self) -> usize {
        self.bytes.len() - self.written
    }

    /// The buffer to append bytes to send.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Writes what the socket takes now; the rest waits for the next writable edge.
    pub fn flush(&mut self, stream: &mut impl Write) -> io::Result<()> {
        while self.ready && self.written < self.bytes.len() {
            match stream.write(&self.bytes[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.ready = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.written == self.bytes.len() {
            self.written = 0;
            self.bytes.clear();
            // An idle connection does not keep a burst's buffer.
            if self.bytes.capacity() > self.retain {
                self.bytes = Vec::new();
            }
        }
        Ok(())
    }
}
