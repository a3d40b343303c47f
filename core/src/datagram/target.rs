//! Which address the web app sends to when `--forward` names the socket server by host name, and
//! when the shell should look that name up again.
//!
//! Theory of operation. A name can stand for several addresses (`localhost` is often `::1` and
//! `127.0.0.1`), and for other addresses over time (a container restarted by Compose). The web
//! app sends to one address, [`ForwardTarget::current`]. When that address fails (a stream that
//! cannot connect or broke, a datagram refused, a message never acknowledged) the shell reports
//! [`ForwardTarget::handle_failure`] and the next address becomes current; once every address
//! has failed in a row, the name is due to be looked up again. It is also looked up every
//! [`REFRESH_INTERVAL`] while all is well, and never more often than [`MIN_RESOLVE_INTERVAL`].
//! [`ForwardTarget::poll_resolve`] says when a lookup is due; the shell does it (it may block, so
//! off the hot path) and reports the answer with [`ForwardTarget::handle_resolved`].
//!
//! A target given as an address rather than a name is never looked up again. The machine never
//! resolves, opens or sends anything itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::stats::SenderStats;

/// The address the web app forwards to, among those its name stands for.
#[derive(Debug, Clone)]
pub struct ForwardTarget {
    addresses: Vec<SocketAddr>,
    current: usize,
    /// Whether the target is a name that can be looked up again.
    named: bool,
    /// Failures in a row since the last success or lookup.
    failures: usize,
    /// When the last lookup was asked for.
    resolved_at: Instant,
    /// The sender's counts of delivered and failed messages at the last look.
    seen: (u64, u64),
    /// A lookup was asked for by [`ForwardTarget::poll_resolve`] and not answered yet.
    resolving: bool,
}

impl ForwardTarget {
    /// A target with the `addresses` the name stood for at `now` (in the resolver's order), or
    /// one address given as such (`named` false). An empty list waits for the first lookup.
    pub fn new(now: Instant, addresses: Vec<SocketAddr>, named: bool) -> Self {
        ForwardTarget {
            addresses,
            current: 0,
            named,
            failures: 0,
            resolved_at: now,
            resolving: false,
            seen: (0, 0),
        }
    }

    /// The address to send to now; `None` only while a name resolved to nothing.
    pub fn current(&self) -> Option<SocketAddr> {
        self.addresses.get(self.current).copied()
    }

    /// The current address failed at `now`: the next one becomes current. Returns whether the
    /// current address changed (the shell then reconnects or re-aims its socket).
    pub fn handle_failure(&mut self) -> bool {
        self.failures += 1;
        if self.addresses.len() < 2 {
            return false;
        }
        self.current = (self.current + 1) % self.addresses.len();
        true
    }

    /// The current address worked (connected, or a message was acknowledged).
    pub fn handle_success(&mut self) {
        self.failures = 0;
    }

    /// Reads the sender's counters after its events: a message acknowledged since the last look
    /// is a success of the current address; messages that only failed (their ack deadline
    /// passed) are a failure of it. Returns whether the current address changed.
    pub fn handle_sender_stats(&mut self, stats: &SenderStats) -> bool {
        let (delivered, failed) = self.seen;
        self.seen = (stats.delivered, stats.failed);
        if stats.delivered > delivered {
            self.handle_success();
            false
        } else if stats.failed > failed {
            self.handle_failure()
        } else {
            false
        }
    }

    /// Whether the shell should look the name up now. True at most once per lookup: the
    /// machine counts the lookup as under way until [`ForwardTarget::handle_resolved`].
    ///
    /// Changes after `handle_failure`, `handle_resolved` and as time passes.
    pub fn poll_resolve(&mut self, now: Instant) -> bool {
        if !self.named || self.resolving {
            return false;
        }
        let since = now.saturating_duration_since(self.resolved_at);
        let due = since >= REFRESH_INTERVAL || (self.all_failed() && since >= MIN_RESOLVE_INTERVAL);
        if due {
            self.resolving = true;
            self.resolved_at = now;
        }
        due
    }

    /// The answer of a lookup: the name's addresses now, or an empty list when it failed (the
    /// old addresses are kept: a resolver that is down is no reason to stop sending). Keeps the
    /// current address when it is still among them. Returns whether the current address changed.
    pub fn handle_resolved(&mut self, now: Instant, addresses: Vec<SocketAddr>) -> bool {
        self.resolving = false;
        self.resolved_at = now;
        if addresses.is_empty() {
            return false;
        }
        let before = self.current();
        self.current = before
            .and_then(|address| addresses.iter().position(|a| *a == address))
            .unwrap_or(0);
        self.addresses = addresses;
        self.failures = 0;
        self.current() != before
    }

    /// When [`ForwardTarget::poll_resolve`] may next say yes, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.named || self.resolving {
            return None;
        }
        let wait = if self.all_failed() {
            MIN_RESOLVE_INTERVAL
        } else {
            REFRESH_INTERVAL
        };
        Some(self.resolved_at + wait)
    }

    /// Every known address failed in a row since the last lookup, or none is known.
    fn all_failed(&self) -> bool {
        self.addresses.is_empty() || self.failures >= self.addresses.len()
    }
}

/// How often a name is looked up while its address works: a socket server moved to another
/// address (a restarted container) is found within this time even without a failure.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The least time between two lookups, so a socket server that is down for a while does not
/// turn every retransmission into a query to the resolver.
pub const MIN_RESOLVE_INTERVAL: Duration = Duration::from_secs(1);

/// The address the web app of `ferry serve` forwards to, given the one its socket server bound.
///
/// An unspecified IP (`0.0.0.0`, `::`) accepts on every interface but is no destination, so it
/// becomes the loopback address of the same family; the port is kept, which also covers a
/// port the system picked for `--socket HOST:0`. Any other address is returned unchanged.
pub fn forward_target(socket_bound: SocketAddr) -> SocketAddr {
    match socket_bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), socket_bound.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), socket_bound.port())
        }
        _ => socket_bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::epoch;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_given_as_such_is_never_looked_up_again() {
        let start = epoch();
        let mut target = ForwardTarget::new(start, vec![addr("127.0.0.1:5000")], false);
        assert!(!target.handle_failure());
        assert_eq!(target.current(), Some(addr("127.0.0.1:5000")));
        assert!(!target.poll_resolve(start + REFRESH_INTERVAL * 10));
        assert_eq!(target.poll_timeout(), None);
    }

    #[test]
    fn a_failure_moves_to_the_next_address_and_wraps() {
        let start = epoch();
        let (v6, v4) = (addr("[::1]:5000"), addr("127.0.0.1:5000"));
        let mut target = ForwardTarget::new(start, vec![v6, v4], true);
        assert_eq!(target.current(), Some(v6));
        assert!(target.handle_failure());
        assert_eq!(target.current(), Some(v4));
        target.handle_success();
        assert!(target.handle_failure());
        assert_eq!(target.current(), Some(v6));
    }

    #[test]
    fn looks_up_again_once_every_address_failed_but_not_too_often() {
        let start = epoch();
        let mut target = ForwardTarget::new(start, vec![addr("10.0.0.1:5000")], true);
        assert!(!target.poll_resolve(start));
        target.handle_failure();
        // Failed at once after a lookup: wait the minimum interval.
        assert!(!target.poll_resolve(start + MIN_RESOLVE_INTERVAL / 2));
        assert_eq!(target.poll_timeout(), Some(start + MIN_RESOLVE_INTERVAL));
        let later = start + MIN_RESOLVE_INTERVAL;
        assert!(target.poll_resolve(later));
        // Under way: not asked for twice, no timer.
        assert!(!target.poll_resolve(later));
        assert_eq!(target.poll_timeout(), None);
        let moved = addr("10.0.0.2:5000");
        assert!(target.handle_resolved(later, vec![moved]));
        assert_eq!(target.current(), Some(moved));
        assert!(!target.poll_resolve(later + MIN_RESOLVE_INTERVAL));
    }

    #[test]
    fn one_failure_among_several_addresses_does_not_look_up() {
        let start = epoch();
        let list = vec![addr("[::1]:5000"), addr("127.0.0.1:5000")];
        let mut target = ForwardTarget::new(start, list, true);
        target.handle_failure();
        assert!(!target.poll_resolve(start + MIN_RESOLVE_INTERVAL * 2));
        target.handle_failure();
        assert!(target.poll_resolve(start + MIN_RESOLVE_INTERVAL * 2));
    }

    #[test]
    fn refreshes_periodically_while_all_is_well() {
        let start = epoch();
        let mut target = ForwardTarget::new(start, vec![addr("10.0.0.1:5000")], true);
        assert_eq!(target.poll_timeout(), Some(start + REFRESH_INTERVAL));
        assert!(!target.poll_resolve(start + REFRESH_INTERVAL - Duration::from_millis(1)));
        assert!(target.poll_resolve(start + REFRESH_INTERVAL));
    }

    #[test]
    fn a_failed_lookup_keeps_the_old_addresses() {
        let start = epoch();
        let old = addr("10.0.0.1:5000");
        let mut target = ForwardTarget::new(start, vec![old], true);
        target.handle_failure();
        assert!(target.poll_resolve(start + MIN_RESOLVE_INTERVAL));
        assert!(!target.handle_resolved(start + MIN_RESOLVE_INTERVAL, Vec::new()));
        assert_eq!(target.current(), Some(old));
    }

    #[test]
    fn a_lookup_keeps_the_current_address_when_still_listed() {
        let start = epoch();
        let (a, b, c) = (addr("10.0.0.1:1"), addr("10.0.0.2:1"), addr("10.0.0.3:1"));
        let mut target = ForwardTarget::new(start, vec![a, b], true);
        target.handle_failure();
        assert_eq!(target.current(), Some(b));
        assert!(target.poll_resolve(start + REFRESH_INTERVAL));
        assert!(!target.handle_resolved(start + REFRESH_INTERVAL, vec![c, b]));
        assert_eq!(target.current(), Some(b));
    }

    #[test]
    fn unacknowledged_messages_fail_the_address_and_acks_clear_it() {
        let start = epoch();
        let (v6, v4) = (addr("[::1]:5000"), addr("127.0.0.1:5000"));
        let mut target = ForwardTarget::new(start, vec![v6, v4], true);
        let mut stats = SenderStats::default();
        assert!(!target.handle_sender_stats(&stats));
        stats.failed = 2;
        assert!(target.handle_sender_stats(&stats));
        assert_eq!(target.current(), Some(v4));
        // Nothing new: no change.
        assert!(!target.handle_sender_stats(&stats));
        stats.delivered = 1;
        stats.failed = 3;
        assert!(!target.handle_sender_stats(&stats));
        assert_eq!(target.current(), Some(v4));
    }

    #[test]
    fn a_name_that_resolved_to_nothing_waits_for_a_lookup() {
        let start = epoch();
        let mut target = ForwardTarget::new(start, Vec::new(), true);
        assert_eq!(target.current(), None);
        assert!(target.poll_resolve(start + MIN_RESOLVE_INTERVAL));
        let found = addr("10.0.0.9:5000");
        assert!(target.handle_resolved(start + MIN_RESOLVE_INTERVAL, vec![found]));
        assert_eq!(target.current(), Some(found));
    }

    #[test]
    fn forward_target_turns_unspecified_addresses_into_loopback() {
        let cases = [
            ("0.0.0.0:5000", "127.0.0.1:5000"),
            ("0.0.0.0:40123", "127.0.0.1:40123"),
            ("[::]:5000", "[::1]:5000"),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("192.168.1.20:5000", "192.168.1.20:5000"),
            ("[2001:db8::7]:5000", "[2001:db8::7]:5000"),
            ("[::1]:5000", "[::1]:5000"),
        ];
        for (bound, expected) in cases {
            assert_eq!(forward_target(addr(bound)), addr(expected), "{bound}");
        }
    }
}
