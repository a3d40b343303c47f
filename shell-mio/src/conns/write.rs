//! The write half of the connection driver: hands the session's output to the socket (the
//! bytes of `poll_transmit`, then shared lines with vectored writes, then a file body), reports
//! the progress to the session, and closes or half-closes when the session says so.

use std::io;
use std::net::Shutdown;
use std::time::Instant;

use ferry_shell::tcp_progress::bytes_acked;

use super::{Conn, ConnKey, Wakes, OUTPUT_HIGH_WATER};
use crate::session::{Services, Status};

impl Conn {
    /// Tells the session how many bytes the peer has acknowledged, while output is pending.
    pub(super) fn report_acked(&mut self, now: Instant) {
        if self.pending_output() == 0 && self.session.body().is_none() {
            return;
        }
        if let Some(acked) = bytes_acked(&self.stream) {
            self.session.handle_acked(now, acked);
        }
    }

    /// Reads only when the session wants input (or a handshake does) and the peer is not far
    /// behind on our output.
    pub(super) fn can_read(&self, services: &Services) -> bool {
        let wants = match &self.tls {
            Some(link) => {
                link.session.wants_read()
                    && (link.session.is_handshaking() || self.session.wants_read(services))
            }
            None => self.session.wants_read(services),
        };
        self.read_ready && wants && self.pending_output() < OUTPUT_HIGH_WATER
    }

    /// Output bytes not yet written: the outbox's and the session's shared lines.
    fn pending_output(&self) -> usize {
        self.outbox.pending() + self.session.pending_lines()
    }

    /// Hands the session's output to the socket (its bytes, then its shared lines), then a
    /// download body, and reports the progress. False once the connection is finished and can
    /// go.
    pub(super) fn write(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        plain: &mut Vec<u8>,
    ) -> io::Result<bool> {
        loop {
            self.take_output(services, wakes, key, now, plain);
            let before = self.outbox.pending();
            self.outbox.flush(&mut self.stream)?;
            let mut written = before - self.outbox.pending();
            // Over TLS the lines went into the encryption with the other output.
            if self.outbox.pending() == 0 {
                if let Some(lines) = self.session.lines() {
                    written += lines.flush(&mut self.stream, &mut self.outbox.ready)?;
                }
            }
            if self.tls.is_some() {
                let encrypted = loop {
                    let encrypted = self.encrypt_body(plain);
                    let before = self.outbox.pending();
                    self.outbox.flush(&mut self.stream)?;
                    written += before - self.outbox.pending();
                    // The socket took it all and can take more: no writable edge will come to
                    // ask for the next pieces, so encrypt them now.
                    let more = matches!(encrypted, Ok(false))
                        && self.outbox.pending() == 0
                        && self.outbox.ready
                        && self.session.body().is_some();
                    if !more {
                        break encrypted;
                    }
                };
                match encrypted {
                    Ok(true) => {
                        // All of it is encrypted into the outbox, in order before anything
                        // the next request answers.
                        self.session
                            .handle_written(services, wakes, key, now, written, true);
                        self.session.body_sent(services, key, now, true);
                        continue;
                    }
                    Ok(false) => {}
                    Err(error) => {
                        self.session.body_sent(services, key, now, false);
                        return Err(error);
                    }
                }
            } else if self.pending_output() == 0 && self.outbox.ready {
                if let Some(sending) = self.session.body() {
                    let owed = sending.remaining;
                    let sent = sending.send_to(&self.stream);
                    written += usize::try_from(owed - sending.remaining).unwrap_or(usize::MAX);
                    match sent {
                        Ok(true) => {
                            self.session
                                .handle_written(services, wakes, key, now, written, false);
                            self.session.body_sent(services, key, now, true);
                            // The next pipelined request may already be waiting.
                            continue;
                        }
                        Ok(false) => self.outbox.ready = false,
                        Err(error) => {
                            self.session.body_sent(services, key, now, false);
                            return Err(error);
                        }
                    }
                }
            }
            let pending = self.pending_output() > 0 || self.session.body().is_some();
            self.session
                .handle_written(services, wakes, key, now, written, pending);
            self.report_acked(now);
            if self
                .tls
                .as_ref()
                .is_some_and(|link| link.session.error().is_some())
            {
                // A failed TLS session: its alert goes out, then the connection closes.
                return Ok(self.outbox.pending() > 0);
            }
            return Ok(match self.session.status() {
                Status::Open => true,
                Status::Gone => false,
                Status::Closing => pending,
                Status::WriteClosed => {
                    if !pending && !self.write_shut {
                        self.write_shut = true;
                        self.stream.shutdown(Shutdown::Write)?;
                    }
                    true
                }
            });
        }
    }
}
