//! [`Failover`]: which chat server the terminal client connects to next when its connection
//! is lost, and when it stops trying (issue 17). Pure policy: it never connects; the shell
//! connects where [`FailoverAction::Connect`] says and reports how that went.
//!
//! # Theory of operation
//!
//! - `Connected`: the client talks to `current`. A lost connection starts an outage (or goes on
//!   with the one not yet over, when the name was not confirmed again since) and moves to
//!   `Waiting` for the next server in the list, round robin, at once.
//! - `Waiting`: at `due`, [`Failover::handle_timeout`] asks for a connection attempt and moves
//!   to `Connecting`.
//! - `Connecting`: the shell tries. Success goes back to `Connected`; the outage stays open until
//!   [`Failover::handle_rejoined`] says the name is confirmed on the new server, so a server that
//!   accepts and drops at once cannot reset the count. Failure waits a backoff (250 ms, doubling
//!   up to 2 s) and tries the next server, unless the outage has lasted [`MAX_OUTAGE`] or every
//!   server was tried [`MAX_ROUNDS`] times: then `GaveUp`, for good.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The reconnection policy of one client over its list of servers.
#[derive(Debug, Clone)]
pub struct Failover {
    /// The servers as the user named them, for the lines printed; never empty.
    servers: Vec<String>,
    current: usize,
    state: Link,
    /// The outage not yet over: since when, and how many attempts failed.
    outage: Option<Outage>,
    actions: VecDeque<FailoverAction>,
}

/// What the shell does for the failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailoverAction {
    /// Connect to `servers[server]`, giving up on this attempt after `timeout`.
    Connect { server: usize, timeout: Duration },
    /// No server answered in time: the session is over.
    GiveUp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    Connected,
    Waiting { target: usize, due: Instant },
    Connecting { target: usize },
    GaveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outage {
    since: Instant,
    failed_attempts: u32,
}

impl Failover {
    /// Connected to `servers[current]` (an empty list stands for one unnamed server).
    pub fn new(servers: Vec<String>, current: usize) -> Self {
        let servers = if servers.is_empty() {
            vec!["the server".to_string()]
        } else {
            servers
        };
        Failover {
            current: current.min(servers.len() - 1),
            servers,
            state: Link::Connected,
            outage: None,
            actions: VecDeque::new(),
        }
    }

    /// The connection to the current server was lost: the next server is tried at once.
    pub fn handle_lost(&mut self, now: Instant) {
        if self.state != Link::Connected {
            return;
        }
        self.outage.get_or_insert(Outage {
            since: now,
            failed_attempts: 0,
        });
        self.state = Link::Waiting {
            target: self.next_after(self.current),
            due: now,
        };
    }

    /// The attempt asked for by [`FailoverAction::Connect`] connected.
    pub fn handle_connected(&mut self) {
        if let Link::Connecting { target } = self.state {
            self.current = target;
            self.state = Link::Connected;
        }
    }

    /// The attempt asked for by [`FailoverAction::Connect`] failed: the next server is tried
    /// after a backoff, or the failover gives up.
    pub fn handle_connect_failed(&mut self, now: Instant) {
        let Link::Connecting { target } = self.state else {
            return;
        };
        let Some(outage) = self.outage.as_mut() else {
            return;
        };
        outage.failed_attempts += 1;
        let attempts_allowed = MAX_ROUNDS.saturating_mul(self.servers.len() as u32);
        if outage.failed_attempts >= attempts_allowed || now >= outage.since + MAX_OUTAGE {
            self.state = Link::GaveUp;
            self.actions.push_back(FailoverAction::GiveUp);
            return;
        }
        let due = now + backoff(outage.failed_attempts);
        self.state = Link::Waiting {
            target: self.next_after(target),
            due,
        };
    }

    /// The name is confirmed on the server reached: the outage is over, and the next loss
    /// starts counting afresh.
    pub fn handle_rejoined(&mut self) {
        if self.state == Link::Connected {
            self.outage = None;
        }
    }

    /// Asks for the next attempt once its backoff has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Link::Waiting { target, due } = self.state else {
            return;
        };
        if now < due {
            return;
        }
        let left = self
            .outage
            .map_or(MAX_OUTAGE, |outage| {
                (outage.since + MAX_OUTAGE).saturating_duration_since(now)
            })
            .max(MIN_CONNECT_TIMEOUT);
        self.state = Link::Connecting { target };
        self.actions.push_back(FailoverAction::Connect {
            server: target,
            timeout: left.min(MAX_CONNECT_TIMEOUT),
        });
    }

    /// When the next attempt is due; changes after `handle_lost` and `handle_connect_failed`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            Link::Waiting { due, .. } => Some(due),
            _ => None,
        }
    }

    /// What the shell should do next; drain after every input.
    pub fn poll_action(&mut self) -> Option<FailoverAction> {
        self.actions.pop_front()
    }

    /// True while the client has a connection to send on.
    pub fn is_connected(&self) -> bool {
        self.state == Link::Connected
    }

    /// The server the client talks to, or talked to last.
    pub fn current(&self) -> &str {
        &self.servers[self.current]
    }

    /// The server the next or the running attempt goes to.
    pub fn target(&self) -> Option<&str> {
        match self.state {
            Link::Waiting { target, .. } | Link::Connecting { target } => {
                Some(&self.servers[target])
            }
            Link::Connected | Link::GaveUp => None,
        }
    }

    /// How many servers the client knows.
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    fn next_after(&self, index: usize) -> usize {
        (index + 1) % self.servers.len()
    }
}

/// The wait before the attempt after `failed_attempts` failures: 250 ms, doubling, at most 2 s.
fn backoff(failed_attempts: u32) -> Duration {
    let doublings = failed_attempts.saturating_sub(1).min(8);
    (FIRST_BACKOFF * (1 << doublings)).min(MAX_BACKOFF)
}

/// The first wait between attempts: long enough not to spin on a refused port, short enough
/// that a server restarting on the spot is caught quickly.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Every server is tried at most this many times in one outage.
pub const MAX_ROUNDS: u32 = 8;
/// An outage longer than this ends the session: the user is told rather than left waiting.
pub const MAX_OUTAGE: Duration = Duration::from_secs(30);
/// One attempt waits at most this long for a server that does not answer (a host that is
/// gone drops the packets instead of refusing).
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The last attempt of an outage still gets this long, so it is not cut to nothing.
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(names: &[&str]) -> Failover {
        Failover::new(names.iter().map(|name| name.to_string()).collect(), 0)
    }

    /// Runs the failover to its next action, jumping the clock to its deadline.
    fn next_action(failover: &mut Failover, now: &mut Instant) -> FailoverAction {
        if let Some(due) = failover.poll_timeout() {
            *now = (*now).max(due);
        }
        failover.handle_timeout(*now);
        failover.poll_action().expect("an action")
    }

    fn connect(server: usize) -> FailoverAction {
        FailoverAction::Connect {
            server,
            timeout: MAX_CONNECT_TIMEOUT,
        }
    }

    #[test]
    fn a_lost_connection_goes_to_the_next_server_at_once() {
        let start = crate::testing::epoch();
        let mut now = start;
        let mut failover = servers(&["a:1", "b:2", "c:3"]);
        failover.handle_lost(now);
        assert_eq!(failover.target(), Some("b:2"));
        assert_eq!(next_action(&mut failover, &mut now), connect(1));
        assert_eq!(now, start);
        failover.handle_connected();
        assert!(failover.is_connected());
        assert_eq!(failover.current(), "b:2");
        failover.handle_rejoined();
        failover.handle_lost(now);
        assert_eq!(next_action(&mut failover, &mut now), connect(2));
        failover.handle_connected();
        failover.handle_lost(now);
        assert_eq!(next_action(&mut failover, &mut now), connect(0));
    }

    #[test]
    fn failed_attempts_go_round_robin_with_a_doubling_backoff() {
        let start = crate::testing::epoch();
        let mut now = start;
        let mut failover = servers(&["a:1", "b:2"]);
        failover.handle_lost(now);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let FailoverAction::Connect { server, .. } = next_action(&mut failover, &mut now)
            else {
                panic!("gave up too early");
            };
            seen.push((server, now - start));
            failover.handle_connect_failed(now);
        }
        let ms = Duration::from_millis;
        assert_eq!(
            seen,
            [
                (1, ms(0)),
                (0, ms(250)),
                (1, ms(750)),
                (0, ms(1750)),
                (1, ms(3750)),
                (0, ms(5750)),
            ]
        );
    }

    #[test]
    fn gives_up_after_eight_rounds() {
        let mut now = crate::testing::epoch();
        let mut failover = servers(&["a:1", "b:2"]);
        failover.handle_lost(now);
        for _ in 0..(MAX_ROUNDS * 2 - 1) {
            assert!(matches!(
                next_action(&mut failover, &mut now),
                FailoverAction::Connect { .. }
            ));
            failover.handle_connect_failed(now);
        }
        assert!(matches!(
            next_action(&mut failover, &mut now),
            FailoverAction::Connect { .. }
        ));
        failover.handle_connect_failed(now);
        assert_eq!(failover.poll_action(), Some(FailoverAction::GiveUp));
        assert_eq!(failover.poll_timeout(), None);
        failover.handle_lost(now);
        assert_eq!(failover.poll_timeout(), None);
    }

    #[test]
    fn gives_up_after_thirty_seconds_and_cuts_the_last_attempts_timeout() {
        let start = crate::testing::epoch();
        let mut now = start;
        let mut failover = servers(&["a:1", "b:2", "c:3", "d:4", "e:5"]);
        failover.handle_lost(now);
        assert_eq!(next_action(&mut failover, &mut now), connect(1));
        // A host that drops packets: each attempt runs into its timeout.
        now += MAX_CONNECT_TIMEOUT;
        failover.handle_connect_failed(now);
        assert_eq!(next_action(&mut failover, &mut now), connect(2));
        now += MAX_CONNECT_TIMEOUT;
        failover.handle_connect_failed(now);
        let FailoverAction::Connect { timeout, .. } = next_action(&mut failover, &mut now) else {
            panic!("gave up too early");
        };
        assert_eq!(now - start, Duration::from_millis(20_750));
        assert_eq!(timeout, Duration::from_millis(9_250));
        now += timeout;
        failover.handle_connect_failed(now);
        assert_eq!(failover.poll_action(), Some(FailoverAction::GiveUp));
    }

    #[test]
    fn the_outage_lasts_until_the_name_is_confirmed_again() {
        let mut now = crate::testing::epoch();
        let mut failover = servers(&["a:1"]);
        failover.handle_lost(now);
        for _ in 0..MAX_ROUNDS - 1 {
            next_action(&mut failover, &mut now);
            // Accepted, then dropped before the name was confirmed.
            failover.handle_connected();
            failover.handle_lost(now);
            next_action(&mut failover, &mut now);
            failover.handle_connect_failed(now);
        }
        next_action(&mut failover, &mut now);
        failover.handle_connect_failed(now);
        assert_eq!(failover.poll_action(), Some(FailoverAction::GiveUp));

        let mut failover = servers(&["a:1"]);
        for _ in 0..MAX_ROUNDS * 3 {
            failover.handle_lost(now);
            next_action(&mut failover, &mut now);
            failover.handle_connected();
            failover.handle_rejoined();
        }
        assert!(failover.is_connected());
    }
}
