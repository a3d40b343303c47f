//! A blocking TLS stream over the core's [`TlsSession`]: `Read` and `Write` of plaintext over a
//! socket of ciphertext, for ferry-std's connection threads and both clients.
//!
//! The handshake runs first, in [`TlsStream::handshake`], bounded by the session's own
//! deadline through the socket's timeouts; afterwards the caller's socket timeouts (from its
//! core machine's deadlines) bound each read and write as they did without TLS.
//!
//! A TLS connection has one sequence of records each way, so two threads (the chat's reader and
//! writer) cannot each own a half. Clones ([`TlsStream::try_clone`]) share one session behind a
//! lock held only to decrypt and encrypt, never across a socket call. Writing to the socket has
//! a lock of its own, taken before the session's: records are moved out of the session and
//! written under it, so they leave in the order they were made. A writer blocked on a peer that
//! does not read therefore never stops this side's reader from decrypting what the peer sends;
//! if both sides held one lock across their writes, two peers writing to each other at once
//! would each wait for the other to read, for ever.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferry_core::tls::{TlsError, TlsSession};

/// A connected socket a [`TlsStream`] can run over, shared by reference between clones.
pub trait Socket: Send + Sync + 'static {
    fn read_socket(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_socket(&self, buf: &[u8]) -> io::Result<usize>;
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

/// Plaintext over TLS over `S`; see the module documentation.
pub struct TlsStream<S: Socket> {
    socket: Arc<S>,
    shared: Arc<Mutex<Shared>>,
    outgoing: Arc<Mutex<Outgoing>>,
    read_buf: Vec<u8>,
}

/// The session and what it decrypted; locked only for in-memory work.
struct Shared {
    tls: TlsSession,
    /// Decrypted bytes not yet read, from `consumed` on.
    plaintext: Vec<u8>,
    consumed: usize,
}

/// Records taken from the session and not yet written, from `written` on; locked across socket
/// writes, before [`Shared`] when both are needed.
#[derive(Default)]
struct Outgoing {
    cipher: Vec<u8>,
    written: usize,
}

impl<S: Socket> TlsStream<S> {
    /// Runs the handshake of `session` (server or client) over `socket` until it completes,
    /// fails, or passes the session's deadline; leaves the socket without timeouts.
    pub fn handshake(socket: S, session: TlsSession) -> io::Result<TlsStream<S>> {
        let mut stream = TlsStream {
            socket: Arc::new(socket),
            shared: Arc::new(Mutex::new(Shared {
                tls: session,
                plaintext: Vec::new(),
                consumed: 0,
            })),
            outgoing: Arc::default(),
            read_buf: vec![0; READ_BUFFER],
        };
        let result = stream.drive_handshake();
        stream.socket.set_read_timeout(None)?;
        stream.socket.set_write_timeout(None)?;
        result.map(|()| stream)
    }

    /// Another handle on the same connection, for another thread (see the module
    /// documentation: one thread reads, any may write).
    pub fn try_clone(&self) -> io::Result<TlsStream<S>> {
        Ok(TlsStream {
            socket: self.socket.clone(),
            shared: self.shared.clone(),
            outgoing: self.outgoing.clone(),
            read_buf: vec![0; READ_BUFFER],
        })
    }

    /// Whether decrypted bytes wait to be read.
    pub fn has_buffered_input(&self) -> bool {
        let shared = self.lock();
        shared.plaintext.len() > shared.consumed
    }

    /// The socket underneath, for its timeouts.
    pub fn get_ref(&self) -> &S {
        &self.socket
    }

    /// `Write`: our `close_notify` goes out (best effort), then the socket's sending side is
    /// shut. `Read` and `Both` shut the socket only, to wake a blocked reader.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how == Shutdown::Write {
            let mut outgoing = lock(&self.outgoing);
            self.lock().tls.close();
            let _ = self.send_records(&mut outgoing);
        }
        self.socket.shutdown(how)
    }

    /// The application protocol agreed in the handshake, if any.
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.lock().tls.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// Moves the session's records into `outgoing` and writes them: the caller holds the
    /// outgoing lock, so records leave in the order the session made them.
    fn send_records(&self, outgoing: &mut Outgoing) -> io::Result<()> {
        self.lock().tls.poll_transmit(&mut outgoing.cipher);
        outgoing.flush(&*self.socket)
    }

    fn drive_handshake(&mut self) -> io::Result<()> {
        loop {
            let mut outgoing = lock(&self.outgoing);
            let mut shared = lock(&self.shared);
            shared.tls.poll_transmit(&mut outgoing.cipher);
            let deadline = shared.tls.poll_timeout();
            let remaining = |now: Instant| {
                deadline.map(|deadline| {
                    // std refuses a zero timeout.
                    deadline
                        .saturating_duration_since(now)
                        .max(Duration::from_millis(1))
                })
            };
            self.socket.set_write_timeout(remaining(Instant::now()))?;
            outgoing
                .flush(&*self.socket)
                .map_err(|e| timed_out(e, &mut shared))?;
            if let Some(error) = shared.tls.error() {
                return Err(io_error(error));
            }
            if !shared.tls.is_handshaking() {
                return Ok(());
            }
            self.socket.set_read_timeout(remaining(Instant::now()))?;
            let read = self.socket.read_socket(&mut self.read_buf);
            let now = Instant::now();
            match read {
                Ok(0) => shared.tls.receive_eof(now),
                Ok(n) => shared.tls.receive(now, &self.read_buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => shared.tls.handle_timeout(now),
                Err(e) => return Err(e),
            }
            let shared = &mut *shared;
            shared.tls.poll_plaintext(&mut shared.plaintext);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: Socket> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut shared = self.lock();
                let available = shared.plaintext.len() - shared.consumed;
                if available > 0 {
                    let len = available.min(buf.len());
                    let start = shared.consumed;
                    buf[..len].copy_from_slice(&shared.plaintext[start..start + len]);
                    shared.consumed += len;
                    if shared.consumed == shared.plaintext.len() {
                        shared.plaintext.clear();
                        shared.consumed = 0;
                    }
                    return Ok(len);
                }
                if let Some(error) = shared.tls.error() {
                    return Err(io_error(error));
                }
                if shared.tls.is_peer_closed() || buf.is_empty() {
                    return Ok(0);
                }
            }
            // Outside the lock: another thread may write meanwhile.
            let n = self.socket.read_socket(&mut self.read_buf)?;
            let now = Instant::now();
            let must_answer = {
                let mut shared = self.lock();
                let shared = &mut *shared;
                if n == 0 {
                    shared.tls.receive_eof(now);
                } else {
                    shared.tls.receive(now, &self.read_buf[..n]);
                }
                shared.tls.poll_plaintext(&mut shared.plaintext);
                shared.tls.wants_transmit()
            };
            // An alert, or a handshake message the peer asked for (rare): only then does the
            // reader wait for a writer's turn.
            if must_answer {
                self.send_records(&mut lock(&self.outgoing))?;
            }
        }
    }
}

impl<S: Socket> Write for TlsStream<S> {
    /// Encrypts all of `buf` and writes what the socket takes before its write timeout. Bytes
    /// encrypted but not yet written go out first on the next `write` or `flush`; an error
    /// before `buf` was taken means none of it was.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut outgoing = lock(&self.outgoing);
        outgoing.flush(&*self.socket)?;
        {
            let mut shared = self.lock();
            if let Some(error) = shared.tls.error() {
                return Err(io_error(error));
            }
            shared.tls.send(buf);
            shared.tls.poll_transmit(&mut outgoing.cipher);
        }
        match outgoing.flush(&*self.socket) {
            Err(e) if !is_timeout(&e) => Err(e),
            // Taken: what the socket did not take yet leaves with the next call.
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_records(&mut lock(&self.outgoing))
    }
}

impl Outgoing {
    /// Writes the records not yet written; each socket write is bounded by its timeout.
    fn flush(&mut self, socket: &impl Socket) -> io::Result<()> {
        while self.written < self.cipher.len() {
            match socket.write_socket(&self.cipher[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.cipher.clear();
        self.written = 0;
        // A burst's buffer is not kept by an idle connection.
        if self.cipher.capacity() > RETAINED_CIPHER {
            self.cipher = Vec::new();
        }
        Ok(())
    }
}

impl Socket for TcpStream {
    fn read_socket(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn write_socket(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }
}

impl Socket for UnixStream {
    fn read_socket(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn write_socket(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_write_timeout(self, timeout)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        UnixStream::shutdown(self, how)
    }
}

/// A TLS failure as the I/O error the caller sees, with the core's one-line text.
fn io_error(error: &TlsError) -> io::Error {
    let kind = match error {
        TlsError::HandshakeTimeout => io::ErrorKind::TimedOut,
        TlsError::HandshakeTruncated => io::ErrorKind::UnexpectedEof,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, error.to_string())
}

/// A write in the handshake that timed out: the handshake's deadline passed.
fn timed_out(error: io::Error, shared: &mut Shared) -> io::Error {
    if is_timeout(&error) {
        shared.tls.handle_timeout(Instant::now());
        if let Some(tls_error) = shared.tls.error() {
            return io_error(tls_error);
        }
    }
    error
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One socket read: a few full records.
const READ_BUFFER: usize = 32 * 1024;
/// Record buffers above this are released once written.
const RETAINED_CIPHER: usize = 64 * 1024;
