//! The TLS layer of a connection on a TLS port: between the socket and the session, the same
//! for every service. Socket bytes go through the core's `TlsSession` (`receive`,
//! `poll_plaintext`) to the session; the session's output (its bytes and its shared lines,
//! copied) through `send` and `poll_transmit` to the outbox, with a `close_notify` once the session has said its last; a file body is
//! read in pieces into the encryption while the outbox is below its high-water mark, since
//! sendfile(2) cannot encrypt. The driver in `conns.rs` calls these for every connection and
//! they fall back to the plain path without TLS.

use std::io;
use std::time::Instant;

use ferry_core::tls::TlsSession;

use super::{Conn, ConnKey, Cx, Wakes, OUTPUT_HIGH_WATER};
use crate::session::{Services, Status};

/// A connection's TLS session and what the driver told the session about it.
pub(super) struct TlsLink {
    pub(super) session: TlsSession,
    /// The peer's end has been reported to the session.
    pub(super) eof_delivered: bool,
}

impl Conn {
    /// Bytes from the socket: to the session, or through TLS to it.
    pub(super) fn receive(
        &mut self,
        cx: &mut Cx,
        key: ConnKey,
        now: Instant,
        bytes: &[u8],
        plain: &mut Vec<u8>,
    ) {
        match self.tls.as_mut() {
            None => self.session.receive(cx.services, cx.wakes, key, now, bytes),
            Some(link) => {
                link.session.receive(now, bytes);
                self.deliver(cx, key, now, plain);
            }
        }
    }

    /// The socket's end: to the session, or through TLS (which may fail a handshake instead).
    pub(super) fn receive_eof(
        &mut self,
        cx: &mut Cx,
        key: ConnKey,
        now: Instant,
        plain: &mut Vec<u8>,
    ) {
        match self.tls.as_mut() {
            None => self.session.receive_eof(cx.services, cx.wakes, key, now),
            Some(link) => {
                link.session.receive_eof(now);
                self.deliver(cx, key, now, plain);
            }
        }
    }

    /// Hands what TLS decrypted to the session, and the peer's close once.
    pub(super) fn deliver(&mut self, cx: &mut Cx, key: ConnKey, now: Instant, plain: &mut Vec<u8>) {
        let Some(link) = self.tls.as_mut() else {
            return;
        };
        plain.clear();
        if link.session.poll_plaintext(plain).is_some() {
            self.session.receive(cx.services, cx.wakes, key, now, plain);
            plain.clear();
        }
        if link.session.is_peer_closed() && !link.eof_delivered {
            link.eof_delivered = true;
            self.session.receive_eof(cx.services, cx.wakes, key, now);
        }
    }

    /// The earliest of the session's and the handshake's deadlines.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let tls = self
            .tls
            .as_ref()
            .and_then(|link| link.session.poll_timeout());
        [self.session.poll_timeout(), tls]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the session's output into the outbox: as it is, or encrypted, with a
    /// `close_notify` once the session has said its last.
    pub(super) fn take_output(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        plain: &mut Vec<u8>,
    ) {
        let Some(link) = self.tls.as_mut() else {
            self.session
                .poll_transmit(services, wakes, key, now, self.outbox.buffer());
            return;
        };
        plain.clear();
        self.session.poll_transmit(services, wakes, key, now, plain);
        if let Some(lines) = self.session.lines() {
            lines.take_bytes(plain);
        }
        link.session.send(plain);
        plain.clear();
        if self.session.status() != Status::Open && self.session.body().is_none() {
            link.session.close();
        }
        link.session.poll_transmit(self.outbox.buffer());
    }

    /// Encrypts pieces of the file body while the outbox is below its high-water mark; returns
    /// whether the body is all handed to TLS.
    pub(super) fn encrypt_body(&mut self, plain: &mut Vec<u8>) -> io::Result<bool> {
        let (Some(link), Some(sending)) = (self.tls.as_mut(), self.session.body()) else {
            return Ok(false);
        };
        while sending.remaining > 0 && self.outbox.pending() < OUTPUT_HIGH_WATER {
            plain.clear();
            sending.read_piece(plain, BODY_PIECE)?;
            link.session.send(plain);
            link.session.poll_transmit(self.outbox.buffer());
        }
        plain.clear();
        Ok(sending.remaining == 0)
    }
}

/// A file body over TLS is read this much at a time: four full TLS records.
const BODY_PIECE: usize = 64 * 1024;
