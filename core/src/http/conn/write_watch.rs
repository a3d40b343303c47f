//! [`WriteWatch`]: whether the peer is still taking the bytes a connection has to send.
//!
//! The shell reports each write attempt (bytes written, whether output is still pending) through
//! [`HttpConn::handle_written`](super::HttpConn::handle_written) and, where the OS tells, how
//! many bytes the peer has acknowledged so far through
//! [`HttpConn::handle_acked`](super::HttpConn::handle_acked). Output that stays pending with no
//! progress for the write timeout means the peer stopped reading (a slow-read attack, or a
//! client that vanished without a FIN): the connection gives up on it, so neither the socket nor
//! the unwritten bytes are held forever. The watch never looks at the bytes themselves.
//!
//! # The rule
//!
//! Progress is the peer taking bytes: a write the socket accepted, or an acknowledgement count
//! that grew. Writes alone are not enough: a socket buffer of megabytes takes a large piece at
//! once and becomes writable again only after a third of it drained, which for a client reading
//! 100 KB/s is more than ten seconds of steady reading that no write shows. Acknowledgements
//! show it.
//!
//! The write timeout runs from the last progress, never from the start. A client that reads in
//! bursts (`curl --limit-rate`: it takes megabytes the kernel buffered at once, then sleeps long
//! enough to keep its average) may pause longer: what it took buys it the time reading that
//! much at [`SLOW_READER_RATE`] would last, up to [`MAX_PAUSE`]. The first
//! [`UNREAD_ALLOWANCE`] bytes of a response buy nothing, since the client's kernel takes that
//! much into its receive buffer whether or not the client reads at all.

use std::time::{Duration, Instant};

/// When the pending output last made progress, if any output is pending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct WriteWatch {
    /// Set while output is pending: the moment of the last progress, or of the first report
    /// that output was pending.
    stalled_since: Option<Instant>,
    /// While output is pending: until when the bytes the peer took may keep it busy reading.
    busy_until: Option<Instant>,
    /// Bytes the peer acknowledged since output became pending.
    taken: u64,
    /// The last acknowledgement count reported, if any.
    acked: Option<u64>,
    /// The deadline passed: the peer is given up on.
    timed_out: bool,
}

impl WriteWatch {
    /// Records one write attempt at `now`: `written` bytes went out and `pending` says whether
    /// bytes are still waiting for the socket.
    pub(super) fn record(&mut self, now: Instant, written: usize, pending: bool) {
        if !pending {
            self.stalled_since = None;
            self.busy_until = None;
            self.taken = 0;
            return;
        }
        if written > 0 || self.stalled_since.is_none() {
            self.stalled_since = Some(now);
        }
    }

    /// Records the peer's running count of acknowledged bytes at `now`.
    pub(super) fn record_acked(&mut self, now: Instant, acked: u64) {
        let previous = self.acked.replace(acked);
        let Some(stalled_since) = self.stalled_since.as_mut() else {
            return;
        };
        // A count that went backwards is a new baseline, not progress.
        let Some(grown) = previous.and_then(|previous| acked.checked_sub(previous)) else {
            return;
        };
        if grown == 0 {
            return;
        }
        *stalled_since = now;
        let paid = self.taken.saturating_sub(UNREAD_ALLOWANCE);
        self.taken = self.taken.saturating_add(grown);
        let earned = self.taken.saturating_sub(UNREAD_ALLOWANCE) - paid;
        if earned > 0 {
            let from = self.busy_until.map_or(now, |busy| busy.max(now));
            let busy = from + reading_time(earned).min(MAX_PAUSE);
            self.busy_until = Some(busy.min(now + MAX_PAUSE));
        }
    }

    /// The moment the pending output counts as abandoned, if output is pending.
    pub(super) fn deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.timed_out {
            return None;
        }
        let stalled = self.stalled_since? + timeout;
        Some(self.busy_until.map_or(stalled, |busy| busy.max(stalled)))
    }

    /// Gives up at `now` if the deadline passed; returns whether it did (now or before).
    pub(super) fn expire(&mut self, now: Instant, timeout: Duration) -> bool {
        if self
            .deadline(timeout)
            .is_some_and(|deadline| now >= deadline)
        {
            self.timed_out = true;
            self.stalled_since = None;
            self.busy_until = None;
        }
        self.timed_out
    }

    /// Whether the peer was given up on.
    pub(super) fn is_timed_out(&self) -> bool {
        self.timed_out
    }
}

/// How long reading `bytes` takes at [`SLOW_READER_RATE`].
fn reading_time(bytes: u64) -> Duration {
    Duration::from_millis(bytes.saturating_mul(1000) / SLOW_READER_RATE)
}

/// 4 KiB/s, a 32 kbit/s line: slower than any client that means to finish a download, so what a
/// client took always buys it at least the time it needs to read it.
pub const SLOW_READER_RATE: u64 = 4 * 1024;
/// 2 minutes, the longest pause bought: `curl --limit-rate` reads at most 100 of its buffers
/// (one second's worth each) before it sleeps, so it pauses up to 100 s; a client that took
/// a lot and then stopped for good is let go this much later than one that never read.
pub const MAX_PAUSE: Duration = Duration::from_secs(120);
/// 512 KiB a client's kernel may take without its application reading a byte: four times the
/// receive buffer Linux starts a connection with (128 KiB; it grows only as the application
/// reads), eight times Windows'.
pub const UNREAD_ALLOWANCE: u64 = 512 * 1024;

#[cfg(test)]
mod tests {
    use super::super::{HttpConfig, Response};
    use super::*;
    use crate::testing::{epoch, ConnHarness};

    const TIMEOUT: Duration = Duration::from_secs(10);
    const SECOND: Duration = Duration::from_secs(1);

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

    #[test]
    fn acknowledgements_are_progress_when_no_write_is() {
        // A steady 100 KB/s reader behind a 4 MB socket buffer: writes stall for 13 s at a time.
        let t0 = epoch();
        let mut watch = WriteWatch::default();
        watch.record(t0, 4_000_000, true);
        watch.record_acked(t0, 0);
        for second in 1..=30u32 {
            let now = t0 + SECOND * second;
            watch.record_acked(now, u64::from(second) * 100_000);
            assert!(!watch.expire(now, TIMEOUT), "dropped at {second} s");
        }
    }

    #[test]
    fn a_count_that_stands_still_or_goes_back_is_no_progress() {
        let t0 = epoch();
        let mut watch = WriteWatch::default();
        watch.record(t0, 0, true);
        watch.record_acked(t0, 5000);
        watch.record_acked(t0 + SECOND * 5, 5000);
        watch.record_acked(t0 + SECOND * 6, 10);
        assert_eq!(watch.deadline(TIMEOUT), Some(t0 + TIMEOUT));
        // Without a baseline the first count is only that.
        let mut fresh = WriteWatch::default();
        fresh.record(t0, 0, true);
        fresh.record_acked(t0 + SECOND, 1 << 30);
        assert_eq!(fresh.deadline(TIMEOUT), Some(t0 + TIMEOUT));
    }

    #[test]
    fn a_client_that_never_reads_is_let_go_at_the_timeout() {
        // Its kernel takes a receive buffer's worth; that buys no pause.
        let t0 = epoch();
        let mut watch = WriteWatch::default();
        watch.record(t0, 4_000_000, true);
        watch.record_acked(t0, 0);
        watch.record_acked(t0 + Duration::from_millis(1), UNREAD_ALLOWANCE);
        assert_eq!(
            watch.deadline(TIMEOUT),
            Some(t0 + Duration::from_millis(1) + TIMEOUT)
        );
    }

    #[test]
    fn a_burst_buys_the_time_to_read_it_at_the_slow_rate_up_to_the_cap() {
        let t0 = epoch();
        let mut watch = WriteWatch::default();
        watch.record(t0, 1, true);
        watch.record_acked(t0, 0);
        let burst = UNREAD_ALLOWANCE + 40 * SLOW_READER_RATE;
        watch.record_acked(t0, burst);
        assert_eq!(watch.deadline(TIMEOUT), Some(t0 + SECOND * 40));
        // More buys more, from where the last purchase ends, never past the cap from now.
        watch.record_acked(t0 + SECOND, burst + 20 * SLOW_READER_RATE);
        assert_eq!(watch.deadline(TIMEOUT), Some(t0 + SECOND * 60));
        watch.record_acked(t0 + SECOND * 2, u64::MAX / 2);
        assert_eq!(watch.deadline(TIMEOUT), Some(t0 + SECOND * 2 + MAX_PAUSE));
        // The purchase ends with the response: the next one starts from nothing.
        watch.record(t0 + SECOND * 3, 0, false);
        watch.record(t0 + SECOND * 3, 0, true);
        assert_eq!(watch.deadline(TIMEOUT), Some(t0 + SECOND * 3 + TIMEOUT));
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

    #[test]
    fn acknowledgements_keep_a_connection_whose_writes_stall() {
        let mut h = ConnHarness::new(HttpConfig {
            idle_timeout: Duration::from_secs(600),
            ..config()
        });
        h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(200));
        h.conn.handle_written(h.now, 4_000_000, true);
        h.conn.handle_acked(h.now, 0);
        for step in 1..=10u64 {
            // The shell reports the count when the deadline comes, then fires it.
            let deadline = h.conn.poll_timeout().expect("output is pending");
            h.now = deadline;
            h.conn.handle_acked(h.now, step * 1000);
            h.conn.handle_timeout(h.now);
            assert!(!h.conn.is_write_timed_out(), "dropped at step {step}");
        }
        h.jump_to_deadline();
        assert!(h.conn.is_write_timed_out());
    }
}
