//! A connection beyond the connection limit: it is sent its service's refusal (bytes the core
//! writes: a 503 on HTTP ports, an error line on the chat port), its sending side is shut, and
//! what the client sends meanwhile is read and dropped until it closes or a short linger ends,
//! so the close is an orderly one rather than a reset that could destroy the refusal before the
//! client reads it (RFC 9112 §9.6).

use std::time::Instant;

use ferry_core::http::{encode_server_full, LINGER_TIMEOUT};
use time::OffsetDateTime;

use crate::conns::{ConnKey, Wakes};
use crate::session::{Protocol, ServiceKind, Status};

/// What refused connections share: the limit they were refused at.
pub struct Refusals {
    pub limit: usize,
}

/// One refused connection.
pub struct RefusedSession {
    /// The refusal, until it is handed over.
    refusal: Option<Vec<u8>>,
    linger_until: Instant,
    finished: bool,
}

impl Refusals {
    /// The session refusing a connection of `kind`.
    pub fn open(&self, kind: ServiceKind, now: Instant) -> RefusedSession {
        let mut refusal = Vec::new();
        match kind {
            ServiceKind::Web | ServiceKind::Files | ServiceKind::WebChat => {
                encode_server_full(OffsetDateTime::now_utc(), &mut refusal)
            }
            ServiceKind::Chat => {
                ferry_core::chat::wire::encode_server_full(self.limit, &mut refusal)
            }
            // A web app's stream beyond the socket server's limit is closed without a word, as
            // the socket server's own limit does.
            ServiceKind::Peer => {}
        }
        RefusedSession {
            refusal: Some(refusal),
            linger_until: now + LINGER_TIMEOUT,
            finished: false,
        }
    }
}

impl Protocol for RefusedSession {
    type Service = Refusals;

    fn wants_read(&self, _: &Refusals) -> bool {
        !self.finished
    }

    fn receive(&mut self, _: &mut Refusals, _: &mut Wakes, _: ConnKey, _: Instant, _: &[u8]) {}

    fn receive_eof(&mut self, _: &mut Refusals, _: &mut Wakes, _: ConnKey, _: Instant) {
        self.finished = true;
    }

    fn handle_timeout(&mut self, _: &mut Refusals, _: &mut Wakes, _: ConnKey, now: Instant) {
        self.finished |= now >= self.linger_until;
    }

    fn poll_transmit(
        &mut self,
        _: &mut Refusals,
        _: &mut Wakes,
        _: ConnKey,
        _: Instant,
        out: &mut Vec<u8>,
    ) {
        if let Some(mut refusal) = self.refusal.take() {
            out.append(&mut refusal);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.linger_until)
    }

    fn status(&self) -> Status {
        if self.finished {
            Status::Gone
        } else {
            Status::WriteClosed
        }
    }

    fn holds_a_stop(&self) -> bool {
        false
    }
}
