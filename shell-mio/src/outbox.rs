//! What waits to be written to one non-blocking socket: [`Outbox`], bytes with that socket's
//! write readiness, the one write loop every connection of `ferry` uses (HTTP, chat, the
//! forwarder, the socket server's peers); and [`LineOutbox`], the chat's shared lines, written
//! straight from the room's one copy of each with vectored writes.

use std::io::{self, ErrorKind, IoSlice, Write};

use ferry_core::chat::{line, Line};

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

/// Shared chat lines waiting to be written to one socket, in order. Written with `writev(2)`
/// straight from the lines, so a client's share of the room costs no copy, and everything it
/// was handed leaves in one system call (a few for a long backlog).
#[derive(Debug, Default)]
pub struct LineOutbox {
    lines: Vec<Line>,
    /// Lines at the front of `lines` already written whole.
    done: usize,
    /// Bytes of `lines[done]` already written.
    offset: usize,
    /// Bytes not yet written.
    pending: usize,
}

impl LineOutbox {
    /// Queues `lines` after those waiting; `lines` is left empty (holding the outbox's old
    /// buffer when it had nothing waiting, so buffers circulate instead of being made anew).
    pub fn append(&mut self, lines: &mut Vec<Line>) {
        self.pending += line::total_len(lines);
        if self.lines.is_empty() {
            std::mem::swap(&mut self.lines, lines);
        } else {
            self.lines.append(lines);
        }
    }

    /// Bytes not yet written.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Writes what the socket takes now while `ready`; clears `ready` at `WouldBlock`.
    /// Returns how many bytes were written.
    pub fn flush(&mut self, stream: &mut impl Write, ready: &mut bool) -> io::Result<usize> {
        let mut written = 0;
        while *ready && self.pending > 0 {
            let mut slices = [IoSlice::new(&[]); LINES_PER_WRITE];
            let mut count = 0;
            for (slot, line) in slices.iter_mut().zip(&self.lines[self.done..]) {
                *slot = IoSlice::new(line);
                count += 1;
            }
            if let Some(first) = self.lines.get(self.done) {
                slices[0] = IoSlice::new(first.get(self.offset..).unwrap_or_default());
            }
            match stream.write_vectored(&slices[..count]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.advance(n);
                    written += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => *ready = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.pending == 0 {
            self.reset();
        }
        Ok(written)
    }

    /// Appends every byte not yet written to `out` (TLS encrypts a copy anyway) and empties.
    pub fn take_bytes(&mut self, out: &mut Vec<u8>) {
        if let Some(first) = self.lines.get(self.done) {
            out.extend_from_slice(first.get(self.offset..).unwrap_or_default());
            line::copy_into(&self.lines[self.done + 1..], out);
        }
        self.reset();
    }

    /// Counts `n` more bytes written.
    fn advance(&mut self, mut n: usize) {
        self.pending -= n;
        while n > 0 {
            let Some(line) = self.lines.get(self.done) else {
                return;
            };
            let left = line.len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.done += 1;
            self.offset = 0;
        }
    }

    fn reset(&mut self) {
        self.pending = 0;
        self.done = 0;
        self.offset = 0;
        self.lines.clear();
        // An idle client keeps no more than a small buffer of line handles.
        if self.lines.capacity() > RETAINED_LINES {
            self.lines = Vec::new();
        }
    }
}

/// Lines given to one `writev(2)`: far below `IOV_MAX` (1024), and past the point where more
/// per call saves anything (64 ordinary lines are some 6 KiB).
const LINES_PER_WRITE: usize = 64;
/// Line handles an idle client's outbox keeps for the next batch (16 bytes each).
const RETAINED_LINES: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `limit` bytes per call, then would block once.
    struct Trickle {
        taken: Vec<u8>,
        limit: usize,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.limit - n);
                self.taken.extend_from_slice(&buf[..take]);
                n += take;
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_whole_and_in_order_whatever_the_socket_takes() {
        let lines: Vec<Line> = (0..200)
            .map(|n| Line::new(format!("line {n}\n").as_bytes()))
            .collect();
        let expected: Vec<u8> = lines.iter().flat_map(|l| l.to_vec()).collect();
        for limit in [1, 7, 100, 100_000] {
            let mut outbox = LineOutbox::default();
            let mut batch = lines[..150].to_vec();
            outbox.append(&mut batch);
            outbox.append(&mut lines[150..].to_vec());
            let mut socket = Trickle {
                taken: Vec::new(),
                limit,
                calls: 0,
            };
            let mut written = 0;
            while outbox.pending() > 0 {
                let mut ready = true;
                written += outbox.flush(&mut socket, &mut ready).unwrap();
            }
            assert_eq!(socket.taken, expected, "{limit}");
            assert_eq!(written, expected.len());
        }
    }

    #[test]
    fn the_rest_can_be_taken_as_bytes() {
        let mut outbox = LineOutbox::default();
        outbox.append(&mut vec![Line::new(b"abc\n"), Line::new(b"de\n")]);
        let mut socket = Trickle {
            taken: Vec::new(),
            limit: 2,
            calls: 0,
        };
        outbox.flush(&mut socket, &mut true).unwrap();
        let mut rest = Vec::new();
        outbox.take_bytes(&mut rest);
        assert_eq!([socket.taken, rest].concat(), b"abc\nde\n");
        assert_eq!(outbox.pending(), 0);
    }
}
