//! When the web app (re)connects its stream to the socket server (`--transport tcp`): at once
//! at start, then after each failure with a delay that doubles up to a cap, and never while an
//! attempt is under way or a connection is up.
//!
//! Theory of operation. [`Reconnect`] is in one of three states:
//! - *waiting* until a time (at creation that time is `now`): [`Reconnect::poll_timeout`]
//!   returns it, and [`Reconnect::handle_timeout`] at or after it moves to *connecting* and
//!   returns `true`, telling the shell to start one connection attempt;
//! - *connecting*, with a deadline of [`ReconnectConfig::connect_timeout`]: the shell reports
//!   [`Reconnect::handle_connected`] (then *connected*, delay reset) or
//!   [`Reconnect::handle_failure`] (then *waiting* for the current delay, which doubles); the
//!   deadline passing first counts as a failure and `handle_timeout` tells the shell, through
//!   [`Reconnect::is_connecting`] turning false, to drop the attempt;
//! - *connected*: no timer; a broken connection is a `handle_failure`.
//!
//! The machine never opens a socket; it only says when the shell should.

use std::time::{Duration, Instant};

/// Settings of a [`Reconnect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectConfig {
    /// The wait after the first failure; it doubles with each further failure.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// How long one attempt may take before it counts as failed.
    pub connect_timeout: Duration,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig {
            first_delay: DEFAULT_FIRST_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// The reconnect machine of the web app's stream; see the module documentation.
#[derive(Debug)]
pub struct Reconnect {
    config: ReconnectConfig,
    state: State,
    /// The wait after the next failure.
    delay: Duration,
    failures: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting { until: Instant },
    Connecting { deadline: Instant },
    Connected,
}

impl Reconnect {
    /// Creates the machine with its first attempt due at `now`.
    pub fn new(config: ReconnectConfig, now: Instant) -> Self {
        Reconnect {
            config,
            state: State::Waiting { until: now },
            delay: config.first_delay,
            failures: 0,
        }
    }

    /// Advances time to `now`. Returns `true` when the shell must start a connection attempt
    /// now (and report how it ends). An attempt whose deadline has passed counts as failed:
    /// afterwards [`Reconnect::is_connecting`] is false and the shell drops the attempt.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.state {
            State::Waiting { until } if now >= until => {
                self.state = State::Connecting {
                    deadline: now + self.config.connect_timeout,
                };
                true
            }
            State::Connecting { deadline } if now >= deadline => {
                self.handle_failure(now);
                false
            }
            _ => false,
        }
    }

    /// The attempt succeeded: no more attempts until a failure, and the next failure waits
    /// only [`ReconnectConfig::first_delay`].
    pub fn handle_connected(&mut self, now: Instant) {
        let _ = now;
        self.state = State::Connected;
        self.delay = self.config.first_delay;
    }

    /// The attempt failed or the connection broke: the next attempt is due after the current
    /// delay, and the delay after that doubles (up to [`ReconnectConfig::max_delay`]).
    pub fn handle_failure(&mut self, now: Instant) {
        self.state = State::Waiting {
            until: now + self.delay,
        };
        self.delay = (self.delay * 2).min(self.config.max_delay);
        self.failures += 1;
    }

    /// When `handle_timeout` next has work: the next attempt, or the current attempt's
    /// deadline; `None` while connected. Changes after every input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { until } => Some(until),
            State::Connecting { deadline } => Some(deadline),
            State::Connected => None,
        }
    }

    /// Whether an attempt is under way.
    pub fn is_connecting(&self) -> bool {
        matches!(self.state, State::Connecting { .. })
    }

    /// Whether the connection is up.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// How many attempts failed or connections broke so far.
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

/// A socket server restarting on the same machine is back within tens of milliseconds; 50 ms
/// finds it soon after without spinning on refused connections meanwhile.
pub const DEFAULT_FIRST_DELAY: Duration = Duration::from_millis(50);

/// Doubling from 50 ms reaches 1.6 s after six failures; capping at 2 s (the default ack
/// timeout) means a socket server that comes back is found within one ack timeout, while one
/// that stays down costs a refused connection every two seconds.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(2);

/// A connection within a data centre opens in well under a millisecond and a refused one fails
/// at once; an attempt still pending after a second goes to a host that is gone (its packets
/// vanish), and waiting longer only delays the next try.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagram::simulation::epoch;

    /// Fails every attempt as soon as it starts; returns the start offsets in ms.
    fn attempts_while_refused(
        reconnect: &mut Reconnect,
        start: Instant,
        count: usize,
    ) -> Vec<u128> {
        let mut offsets = Vec::new();
        while offsets.len() < count {
            let now = reconnect.poll_timeout().expect("waiting has a timer");
            if reconnect.handle_timeout(now) {
                offsets.push((now - start).as_millis());
                reconnect.handle_failure(now);
            }
        }
        offsets
    }

    #[test]
    fn first_attempt_is_at_once_then_the_delay_doubles_to_the_cap() {
        let start = epoch();
        let mut reconnect = Reconnect::new(ReconnectConfig::default(), start);
        assert_eq!(reconnect.poll_timeout(), Some(start));
        let offsets = attempts_while_refused(&mut reconnect, start, 9);
        assert_eq!(
            offsets,
            [0, 50, 150, 350, 750, 1550, 3150, 5150, 7150],
            "50, 100, 200, 400, 800, 1600, then 2000 ms apart"
        );
        assert_eq!(reconnect.failures(), 9);
    }

    #[test]
    fn a_success_resets_the_delay_and_stops_the_timer() {
        let start = epoch();
        let mut reconnect = Reconnect::new(ReconnectConfig::default(), start);
        attempts_while_refused(&mut reconnect, start, 5);
        let now = reconnect.poll_timeout().unwrap();
        assert!(reconnect.handle_timeout(now));
        assert!(reconnect.is_connecting());
        reconnect.handle_connected(now);
        assert!(reconnect.is_connected());
        assert_eq!(reconnect.poll_timeout(), None);
        assert!(!reconnect.handle_timeout(now + Duration::from_secs(60)));
        reconnect.handle_failure(now);
        assert_eq!(reconnect.poll_timeout(), Some(now + DEFAULT_FIRST_DELAY));
    }

    #[test]
    fn an_attempt_past_its_deadline_fails() {
        let start = epoch();
        let mut reconnect = Reconnect::new(ReconnectConfig::default(), start);
        assert!(reconnect.handle_timeout(start));
        let deadline = start + DEFAULT_CONNECT_TIMEOUT;
        assert_eq!(reconnect.poll_timeout(), Some(deadline));
        assert!(!reconnect.handle_timeout(deadline - Duration::from_millis(1)));
        assert!(reconnect.is_connecting());
        assert!(!reconnect.handle_timeout(deadline));
        assert!(!reconnect.is_connecting());
        assert_eq!(
            reconnect.poll_timeout(),
            Some(deadline + DEFAULT_FIRST_DELAY)
        );
    }

    #[test]
    fn an_early_timeout_starts_nothing() {
        let start = epoch();
        let mut reconnect = Reconnect::new(ReconnectConfig::default(), start);
        reconnect.handle_timeout(start);
        reconnect.handle_failure(start);
        assert!(!reconnect.handle_timeout(start + Duration::from_millis(49)));
        assert!(reconnect.handle_timeout(start + Duration::from_millis(50)));
    }
}
