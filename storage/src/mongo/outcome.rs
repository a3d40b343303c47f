//! What an insert's answer means for the batch, and when to try the server again: pure
//! functions and a small state machine over time values, tested without a server.
//!
//! Owns the rule that a duplicate `_id` counts as "already stored" (the message was inserted by
//! an earlier try whose ack was lost) and the retry backoff while the server is unreachable.
//! Never talks to a server and never reads a clock.

use std::time::{Duration, Instant};

/// One document the server refused, as its write error reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    /// Position of the document in the batch.
    pub index: usize,
    /// The server's error code.
    pub code: i32,
    /// The server's message.
    pub message: String,
}

/// Whether an unordered insert whose answer listed `failures` (and, when the write concern
/// could not be met, `concern_error`) stored the whole batch.
///
/// Duplicate-key failures are documents already stored, so they count as stored; any other
/// failure, or an unmet write concern (the inserts may not survive a failover), fails the batch
/// with the first cause. A retry of the batch then recognises what did land.
pub fn batch_outcome(failures: &[WriteFailure], concern_error: Option<&str>) -> Result<(), String> {
    if let Some(failure) = failures.iter().find(|f| !is_duplicate_key(f.code)) {
        return Err(format!(
            "document {} refused (code {}): {}",
            failure.index, failure.code, failure.message
        ));
    }
    match concern_error {
        Some(detail) => Err(format!("write concern not met: {detail}")),
        None => Ok(()),
    }
}

/// A driver error's text cut to one readable line: the driver's description of what went wrong
/// (`text` is the error kind's `Display`), without the topology dump that follows a server
/// selection timeout, but with the cause it names for the first server (connection refused,
/// say).
pub fn short_error(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let Some((head, topology)) = first.split_once(TOPOLOGY_MARK) else {
        return first.to_string();
    };
    let cause = topology
        .split_once(SERVER_ERROR_MARK)
        .and_then(|(_, rest)| rest.split(", labels").next())
        .filter(|cause| !cause.is_empty());
    match cause {
        Some(cause) => format!("{}: {cause}", head.trim_end_matches('.')),
        None => head.trim_end_matches('.').to_string(),
    }
}

/// Whether a server error code says the key is already taken.
pub fn is_duplicate_key(code: i32) -> bool {
    DUPLICATE_KEY_CODES.contains(&code)
}

/// When the next try at an unreachable server is due: no wait at first, then doubling from
/// [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`] after each failure in a row, none after a success.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    /// The wait after the latest failure; zero while the server answers.
    wait: Duration,
    /// No try before this moment.
    next_try: Option<Instant>,
}

impl Backoff {
    /// Whether a try may go to the server at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        self.next_try.is_none_or(|due| now >= due)
    }

    /// The time left before the next try, zero when one may go now.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.next_try
            .map_or(Duration::ZERO, |due| due.saturating_duration_since(now))
    }

    /// A try that ended at `now` failed: wait longer before the next.
    pub fn handle_failure(&mut self, now: Instant) {
        self.wait = if self.wait.is_zero() {
            FIRST_BACKOFF
        } else {
            (self.wait * 2).min(MAX_BACKOFF)
        };
        self.next_try = Some(now + self.wait);
    }

    /// A try succeeded: the next may go at once.
    pub fn handle_success(&mut self) {
        self.wait = Duration::ZERO;
        self.next_try = None;
    }

    /// Whether the latest try failed.
    pub fn is_failing(&self) -> bool {
        !self.wait.is_zero()
    }

    /// How long to wait at `now` before the next try of a batch that must be settled by
    /// `deadline`: zero when a try may go now, `None` when the next try would start after the
    /// deadline (the batch fails, unacknowledged, and its senders send it again).
    pub fn wait_within(&self, now: Instant, deadline: Instant) -> Option<Duration> {
        match self.next_try {
            Some(due) if due >= deadline => None,
            _ if now >= deadline => None,
            _ => Some(self.remaining(now)),
        }
    }
}

/// Codes of "duplicate key": 11000 from inserts, 11001 from older servers' updates, 12582
/// from older servers' legacy inserts.
const DUPLICATE_KEY_CODES: [i32; 3] = [11000, 11001, 12582];

/// Where the driver's server selection error starts listing the servers it saw.
const TOPOLOGY_MARK: &str = " Topology: ";

/// Where, in that list, a server's error is given.
const SERVER_ERROR_MARK: &str = "Error: Kind: ";

/// How long one batch is retried before it fails: with the server selection timeout (500 ms) of
/// a try against a server that is down, the last try ends about 1 s after the first began,
/// inside the web app's default 2 s ack timeout, so an acknowledgement still arrives in time
/// and a message the web app gave up on is not being inserted much later.
pub const RETRY_WINDOW: Duration = Duration::from_millis(1000);

/// The wait after a first failure: short, so a server restarting quickly is back within a
/// retransmission or two of the web app's sender.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// The longest wait: well under the web app's default ack timeout (2 s), so a message submitted
/// just as the server comes back still gets at least one try before the web app gives up.
pub const MAX_BACKOFF: Duration = Duration::from_millis(800);

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(index: usize, code: i32) -> WriteFailure {
        WriteFailure {
            index,
            code,
            message: format!("code {code}"),
        }
    }

    #[test]
    fn classifies_insert_answers() {
        let cases: &[(&[WriteFailure], Option<&str>, bool)] = &[
            (&[], None, true),
            (&[failure(0, 11000)], None, true),
            (&[failure(0, 11000), failure(3, 11000)], None, true),
            (&[failure(1, 11001), failure(2, 12582)], None, true),
            (&[failure(0, 11000), failure(1, 2)], None, false),
            (&[failure(4, 10334)], None, false),
            (&[], Some("waiting for replication timed out"), false),
            (&[failure(0, 11000)], Some("not majority"), false),
        ];
        for (failures, concern, stored) in cases {
            let outcome = batch_outcome(failures, *concern);
            assert_eq!(outcome.is_ok(), *stored, "{failures:?} {concern:?}");
        }
    }

    #[test]
    fn a_refusal_names_the_document_and_code() {
        let error = batch_outcome(&[failure(0, 11000), failure(5, 10334)], None).unwrap_err();
        assert!(error.contains("document 5"), "{error}");
        assert!(error.contains("10334"), "{error}");
    }

    #[test]
    fn retries_within_the_window_only() {
        let start = Instant::now();
        let deadline = start + RETRY_WINDOW;
        let mut backoff = Backoff::default();
        assert_eq!(backoff.wait_within(start, deadline), Some(Duration::ZERO));
        backoff.handle_failure(start);
        assert_eq!(backoff.wait_within(start, deadline), Some(FIRST_BACKOFF));
        // A try that failed late: the next one would start past the deadline.
        let late = deadline - FIRST_BACKOFF / 2;
        backoff.handle_success();
        backoff.handle_failure(late);
        assert_eq!(backoff.wait_within(late, deadline), None);
        // At or past the deadline nothing more is tried.
        backoff.handle_success();
        assert_eq!(backoff.wait_within(deadline, deadline), None);
    }

    #[test]
    fn shortens_driver_errors_to_their_cause() {
        let selection = "Server selection timeout: No available servers. Topology: { Type: \
            Unknown, Servers: [ { Address: 127.0.0.1:1, Type: Unknown, Error: Kind: I/O error: \
            Connection refused (os error 111), labels: {\"RetryableError\"}, source: None } ] }";
        assert_eq!(
            short_error(selection),
            "Server selection timeout: No available servers: I/O error: Connection refused (os \
             error 111)"
        );
        let empty = "Server selection timeout: No available servers. Topology: { Servers: [] }";
        assert_eq!(
            short_error(empty),
            "Server selection timeout: No available servers"
        );
        let plain = "An invalid argument was provided: bad port\nmore";
        assert_eq!(
            short_error(plain),
            "An invalid argument was provided: bad port"
        );
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets_on_success() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        assert!(backoff.ready(start));
        assert!(!backoff.is_failing());
        let mut waits = Vec::new();
        let mut now = start;
        for _ in 0..8 {
            backoff.handle_failure(now);
            let wait = backoff.remaining(now);
            waits.push(wait);
            assert!(!backoff.ready(now));
            assert!(!backoff.ready(now + wait - Duration::from_millis(1)));
            now += wait;
            assert!(backoff.ready(now));
        }
        assert_eq!(waits[0], FIRST_BACKOFF);
        assert_eq!(waits[1], FIRST_BACKOFF * 2);
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);
        assert!(waits.windows(2).all(|w| w[1] >= w[0]));
        backoff.handle_success();
        assert!(backoff.ready(now));
        assert!(!backoff.is_failing());
        backoff.handle_failure(now);
        assert_eq!(backoff.remaining(now), FIRST_BACKOFF);
    }
}
