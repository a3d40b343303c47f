//! [`WriteWatch`]: whether the peer is still taking the bytes a connection has to send.
//!
//! The shell reports each write attempt (bytes written, whether output is still pending) through
//! [`HttpConn::handle_written`](super::HttpConn::handle_written). Output that stays pending with
//! no byte written for the write timeout means the peer stopped reading (a slow-read attack, or a
//! client that vanished without a FIN): the connection gives up on it, so neither the socket nor
//! the unwritten bytes are held forever. The watch never looks at the bytes themselves.

use std::time::{Duration, Instant};

/// When the pending output last made progress, if any output is pending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct WriteWatch {
    /// Set while output is pending: the moment of the last write that made progress, or of the
    /// first report that output was pending.
    stalled_since: Option<Instant>,
    /// The deadline passed: the peer is given up on.
    timed_out: bool,
}

impl WriteWatch {
    /// Records one write attempt at `now`: `written` bytes went out and `pending` says whether
    /// bytes are still waiting for the socket.
    pub(super) fn record(&mut self, now: Instant, written: usize, pending: bool) {
        self.stalled_since = match (pending, self.stalled_since) {
            (false, _) => None,
            // No progress since the last report: the clock keeps running.
            (true, Some(since)) if written == 0 => Some(since),
            (true, _) => Some(now),
        };
    }

    /// The moment the pending output counts as abandoned, if output is pending.
    pub(super) fn deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.timed_out {
            return None;
        }
        self.stalled_since.map(|since| since + timeout)
    }

    /// Gives up at `now` if the deadline passed; returns whether it did (now or before).
    pub(super) fn expire(&mut self, now: Instant, timeout: Duration) -> bool {
        if self
            .deadline(timeout)
            .is_some_and(|deadline| now >= deadline)
        {
            self.timed_out = true;
            self.stalled_since = None;
        }
        self.timed_out
    }

    /// Whether the peer was given up on.
    pub(super) fn is_timed_out(&self) -> bool {
        self.timed_out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HttpConfig, Response};
    use super::*;
    use crate::testing::{epoch, ConnHarness};

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[test]
    fn only_progress_restarts_the_clock() {
        let t0 = epoch();
        let mut watch = WriteWatch::default();
        assert_eq!(watch.deadline(TIMEOUT), None);
        watch.record(t0, 100, true);
        assert_eq!(watch.deadline(TIMEOUT), Some(t0 + TIMEOUT));
        watch.record(t0 + Duration::from_secs(5), 0, true);
        assert_eq!(watch.deadline(TIMEOUT), Some(t0 + TIMEOUT));
        let t1 = t0 + Duration::from_secs(6);
        watch.record(t1, 1, true);
        assert_eq!(watch.deadline(TIMEOUT), Some(t1 + TIMEOUT));
        watch.record(t1, 0, false);
        assert_eq!(watch.deadline(TIMEOUT), None);
        assert!(!watch.expire(t1 + TIMEOUT * 2, TIMEOUT));
    }

    #[test]
    fn expires_only_at_the_deadline() {
        let t0 = epoch();
        let mut watch = WriteWatch::default();
        watch.record(t0, 0, true);
        assert!(!watch.expire(t0 + TIMEOUT - Duration::from_millis(1), TIMEOUT));
        assert!(watch.expire(t0 + TIMEOUT, TIMEOUT));
        assert!(watch.is_timed_out());
        assert_eq!(watch.deadline(TIMEOUT), None);
    }

    fn config() -> HttpConfig {
        HttpConfig {
            write_timeout: TIMEOUT,
            ..HttpConfig::default()
        }
    }

    #[test]
    fn a_peer_that_stops_reading_is_abandoned_at_the_write_timeout() {
        let mut h = ConnHarness::new(config());
        h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        // Waiting for the application has no deadline of its own; pending output adds one.
        h.conn.handle_written(h.now, 0, true);
        assert_eq!(h.conn.poll_timeout(), Some(h.now + TIMEOUT));
        h.advance(TIMEOUT - Duration::from_millis(1));
        assert!(!h.conn.is_write_timed_out());
        h.advance(Duration::from_millis(1));
        assert!(h.conn.is_write_timed_out());
        assert!(h.conn.is_closed());
        assert!(!h.conn.wants_read());
        assert_eq!(h.conn.poll_timeout(), None);
        // Nothing is sent to a peer that does not read, and responding is refused.
        assert!(h.conn.respond(h.now, Response::new(200)).is_err());
    }

    #[test]
    fn the_write_deadline_comes_before_the_idle_deadline() {
        let mut h = ConnHarness::new(config());
        h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(200));
        let idle = h.conn.poll_timeout();
        h.conn.handle_written(h.now, 10, true);
        assert_eq!(h.conn.poll_timeout(), Some(h.now + TIMEOUT));
        assert!(Some(h.now + TIMEOUT) < idle);
        // Written out: the idle deadline is back.
        h.conn.handle_written(h.now, 10, false);
        assert_eq!(h.conn.poll_timeout(), idle);
    }

    #[test]
    fn a_slow_reader_that_keeps_taking_bytes_is_kept() {
        let mut h = ConnHarness::new(HttpConfig {
            idle_timeout: Duration::from_secs(60),
            ..config()
        });
        h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(200));
        for _ in 0..5 {
            h.conn.handle_written(h.now, 1, true);
            h.advance(TIMEOUT - Duration::from_secs(1));
            assert!(!h.conn.is_write_timed_out());
        }
        assert!(!h.conn.is_closed());
    }
}
