//! Deadlines of many connections, for one `poll` timeout.
//!
//! The core says when each connection next needs `handle_timeout`; this heap only remembers
//! them. An entry is pushed only when a connection's deadline moves earlier than the one already
//! armed: a deadline that moves later (every keep-alive request pushes the idle deadline back) is
//! found when the old entry fires and re-armed then, so the heap stays near one entry per
//! connection instead of one per request.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::conns::ConnKey;

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, ConnKey)>>,
}

impl Timers {
    /// Arms `deadline` for `key` unless `armed` (what is already in the heap for it) fires no
    /// later; returns what is armed afterwards.
    pub fn arm(&mut self, key: ConnKey, deadline: Instant, armed: Option<Instant>) -> Instant {
        match armed {
            Some(existing) if existing <= deadline => existing,
            _ => {
                self.heap.push(Reverse((deadline, key)));
                deadline
            }
        }
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// Removes and returns one entry whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(Instant, ConnKey)> {
        match self.heap.peek() {
            Some(Reverse((deadline, _))) if *deadline <= now => {
                self.heap.pop().map(|Reverse(entry)| entry)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_earlier_deadlines_are_pushed() {
        let mut timers = Timers::default();
        let key = ConnKey {
            slot: 1,
            generation: 1,
        };
        let t0 = Instant::now();
        let armed = timers.arm(key, t0 + Duration::from_secs(10), None);
        let armed = timers.arm(key, t0 + Duration::from_secs(20), Some(armed));
        assert_eq!(armed, t0 + Duration::from_secs(10));
        assert_eq!(timers.heap.len(), 1);
        let armed = timers.arm(key, t0 + Duration::from_secs(5), Some(armed));
        assert_eq!(armed, t0 + Duration::from_secs(5));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(5)));
        assert!(timers.pop_expired(t0).is_none());
        assert_eq!(
            timers.pop_expired(t0 + Duration::from_secs(5)).map(|e| e.1),
            Some(key)
        );
    }
}
