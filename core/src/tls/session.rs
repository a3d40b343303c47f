//! One TLS connection, server or client, as a byte-in/byte-out machine.
//!
//! Theory of operation. A session starts in the handshake, with a deadline. Ciphertext from the
//! peer goes in with [`TlsSession::receive`]; what it decrypts to comes out of
//! [`TlsSession::poll_plaintext`], for the machine running over the connection. Plaintext from
//! that machine goes in with [`TlsSession::send`]; records (and handshake messages, alerts)
//! come out of [`TlsSession::poll_transmit`]. Plaintext sent during the handshake waits inside
//! rustls and leaves once the handshake is done.
//!
//! It ends one of three ways:
//! - the peer closes: a `close_notify`, or the connection's end after the handshake, makes
//!   [`TlsSession::is_peer_closed`] true, for the shell to report as the inner machine's EOF
//!   (every ferry protocol frames its own messages, so a cut stream is never mistaken for a
//!   whole one);
//! - we close: [`TlsSession::close`] queues a `close_notify` after everything sent so far;
//! - it fails: a malformed record, a failed handshake, the peer's fatal alert, the handshake
//!   deadline. The error stays ([`TlsSession::error`]), input is ignored from then on, and
//!   `poll_transmit` still hands out the alert rustls queued, after which the shell closes.
//!
//! Buffers: what `receive` decrypts is moved out of rustls at once, so rustls's own limit on
//! unread plaintext is never reached; the shell bounds this session's plaintext by draining
//! `poll_plaintext` after each `receive` of at most one read. On the way out rustls's limit is
//! off: the shell's output buffer, drained into the socket, is the bound.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, ServerConnection};

use super::{TlsClientConfig, TlsConfigError, TlsError, TlsServerConfig};

/// One TLS connection's state; see the module documentation.
pub struct TlsSession {
    conn: Connection,
    /// Decrypted bytes not yet handed out.
    plaintext: Vec<u8>,
    /// When the handshake must be done by; `None` once it is.
    deadline: Option<Instant>,
    error: Option<TlsError>,
    peer_closed: bool,
    close_requested: bool,
    close_sent: bool,
}

impl TlsSession {
    /// The server side of a connection accepted at `now`, whose handshake must finish within
    /// `handshake_timeout`.
    pub fn server(
        config: &TlsServerConfig,
        now: Instant,
        handshake_timeout: Duration,
    ) -> Result<TlsSession, TlsConfigError> {
        let conn = ServerConnection::new(config.inner.clone())
            .map_err(|e| TlsConfigError::Other(e.to_string()))?;
        Ok(TlsSession::new(conn.into(), now, handshake_timeout))
    }

    /// The client side of a connection to `server_name` (a DNS name or an IP address, checked
    /// against the server's certificate), opened at `now`. Its first handshake message is
    /// ready in `poll_transmit` at once.
    pub fn client(
        config: &TlsClientConfig,
        server_name: &str,
        now: Instant,
        handshake_timeout: Duration,
    ) -> Result<TlsSession, TlsConfigError> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| TlsConfigError::BadServerName(server_name.to_string()))?;
        let conn = ClientConnection::new(config.inner.clone(), name)
            .map_err(|e| TlsConfigError::Other(e.to_string()))?;
        Ok(TlsSession::new(conn.into(), now, handshake_timeout))
    }

    fn new(mut conn: Connection, now: Instant, handshake_timeout: Duration) -> TlsSession {
        conn.set_buffer_limit(None);
        TlsSession {
            conn,
            plaintext: Vec::new(),
            deadline: Some(now + handshake_timeout),
            error: None,
            peer_closed: false,
            close_requested: false,
            close_sent: false,
        }
    }

    /// Ciphertext from the peer (any amount, any split). Afterwards drain `poll_plaintext` and
    /// `poll_transmit` (a handshake answer, an alert), and look at `error`/`is_peer_closed`.
    pub fn receive(&mut self, _now: Instant, mut bytes: &[u8]) {
        if self.error.is_some() || self.peer_closed {
            return;
        }
        // rustls takes at most a few records per read_tls; an empty read would mean EOF to it.
        while !bytes.is_empty() {
            match self.conn.read_tls(&mut bytes) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => {
                    // Only when its buffer is full, which processing after every read prevents.
                    self.fail(TlsError::Other(error.to_string()));
                    return;
                }
            }
            let processed = self.conn.process_new_packets();
            self.take_plaintext();
            if let Err(error) = processed {
                self.fail(TlsError::from_rustls(error));
                return;
            }
            self.after_progress();
            if self.peer_closed {
                // Nothing may follow a close_notify (RFC 8446 §6.1); the rest is ignored.
                return;
            }
        }
    }

    /// The connection ended (the peer's FIN). In the handshake that is a failure; after it,
    /// the peer is closed, `close_notify` or not.
    pub fn receive_eof(&mut self, _now: Instant) {
        if self.error.is_some() {
            return;
        }
        if self.conn.is_handshaking() {
            self.fail(TlsError::HandshakeTruncated);
        } else {
            self.peer_closed = true;
        }
    }

    /// The deadline from `poll_timeout` passed: a handshake still going fails.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|deadline| deadline <= now) && self.error.is_none() {
            self.fail(TlsError::HandshakeTimeout);
        }
    }

    /// Plaintext to send to the peer, encrypted into records for `poll_transmit` (held until
    /// the handshake is done). Ignored once closed or failed: nothing may follow a close.
    pub fn send(&mut self, plaintext: &[u8]) {
        if self.error.is_some() || self.close_requested || plaintext.is_empty() {
            return;
        }
        // With the buffer limit off the writer takes everything; an error is rustls refusing
        // to send at all, which only a closed connection does.
        if let Err(error) = self.conn.writer().write_all(plaintext) {
            self.fail(TlsError::Other(error.to_string()));
        }
    }

    /// Ends our side: a `close_notify` follows what was sent so far (once the handshake is
    /// done, if it is not yet). Further `send`s are ignored; the peer may still send.
    pub fn close(&mut self) {
        self.close_requested = true;
        self.after_progress();
    }

    /// Appends the plaintext received since the last call to `out`; `Some(len)` when there was
    /// any. Changes after `receive`.
    pub fn poll_plaintext(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        if self.plaintext.is_empty() {
            return None;
        }
        let len = self.plaintext.len();
        if out.is_empty() {
            std::mem::swap(out, &mut self.plaintext);
        } else {
            out.append(&mut self.plaintext);
        }
        Some(len)
    }

    /// Appends the bytes to write to the peer to `out`; `Some(len)` when there were any.
    /// Changes after every input.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let before = out.len();
        while self.conn.wants_write() {
            // Writing into a Vec cannot fail; 0 means rustls has nothing more.
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        (out.len() > before).then(|| out.len() - before)
    }

    /// Whether `poll_transmit` would give bytes: lets a shell that writes under a lock of its
    /// own take that lock only when there is something to write.
    pub fn wants_transmit(&self) -> bool {
        self.conn.wants_write()
    }

    /// When `handle_timeout` is due: the handshake's deadline, while it runs. Changes after
    /// `receive` (the handshake ends) and after a failure.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline.filter(|_| self.error.is_none())
    }

    /// Whether the handshake is still going.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether the session takes more input: not failed, and the peer has not closed.
    pub fn wants_read(&self) -> bool {
        self.error.is_none() && !self.peer_closed
    }

    /// The peer has closed (after the handshake): the inner machine's input ended.
    pub fn is_peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The session failed; what `poll_transmit` still gives is the last of it.
    pub fn error(&self) -> Option<&TlsError> {
        self.error.as_ref()
    }

    /// Whether our `close_notify` is queued (or sent).
    pub fn is_close_sent(&self) -> bool {
        self.close_sent
    }

    /// The application protocol agreed in the handshake, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Moves what rustls decrypted into our buffer, and notes a `close_notify` or an unclean
    /// end rustls saw.
    fn take_plaintext(&mut self) {
        let mut reader = self.conn.reader();
        loop {
            match reader.fill_buf() {
                // Empty only after the peer's close_notify, once everything before it is read.
                Ok([]) => {
                    self.peer_closed = true;
                    return;
                }
                Ok(chunk) => {
                    let len = chunk.len();
                    self.plaintext.extend_from_slice(chunk);
                    reader.consume(len);
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.peer_closed = true;
                    return;
                }
            }
        }
    }

    /// After the handshake may have finished: its deadline goes, and a close asked for during
    /// it is sent now.
    fn after_progress(&mut self) {
        if self.conn.is_handshaking() || self.error.is_some() {
            return;
        }
        self.deadline = None;
        if self.close_requested && !self.close_sent {
            self.conn.send_close_notify();
            self.close_sent = true;
        }
    }

    fn fail(&mut self, error: TlsError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
        self.deadline = None;
    }
}
