//! Flood control (issue 14): [`TokenBucket`], a rate with a burst, and [`Flood`], the pair of
//! buckets each chat connection carries.
//!
//! A bucket is kept as the generic cell rate algorithm's single "theoretical arrival time":
//! taking a token moves it one interval later, and a take is allowed while it stays within
//! `burst` intervals of now. That is a token bucket holding `burst` tokens and refilling one
//! per interval, in one `Instant` and no arithmetic on fractions. Time is passed in.
//!
//! [`Flood`] counts every object a client sends against its message bucket; an object over the
//! rate is refused with an error line, and each refusal takes from a second, slower bucket of
//! strikes: a client that keeps sending past its refusals runs that dry and is disconnected,
//! while one that merely typed too fast once is only told.

use std::time::{Duration, Instant};

/// A rate of `burst` at once, then one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub interval: Duration,
}

/// Tokens at a [`Rate`], taken one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    rate: Rate,
    /// When the bucket is full again, if it is not now.
    full_at: Option<Instant>,
}

/// Whether a client's object may be acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodVerdict {
    /// Within the rate.
    Allowed,
    /// Over the rate: refuse it with an error line.
    Refused,
    /// Over the rate, again and again: disconnect the client.
    Disconnect,
}

/// One connection's flood control: its messages, and its refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    messages: Option<TokenBucket>,
    strikes: TokenBucket,
}

impl Rate {
    /// `burst` at once, then `per_second` a second; `None` when `per_second` is 0 (no limit).
    pub fn per_second(burst: u32, per_second: u32) -> Option<Rate> {
        (per_second > 0).then(|| Rate {
            burst: burst.max(1),
            interval: Duration::from_secs(1) / per_second,
        })
    }
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate) -> TokenBucket {
        TokenBucket {
            rate,
            full_at: None,
        }
    }

    /// Takes a token at `now`: false (and nothing taken) when the bucket is empty.
    pub fn take(&mut self, now: Instant) -> bool {
        let start = self.full_at.map_or(now, |full_at| full_at.max(now));
        let after = start + self.rate.interval;
        if after.saturating_duration_since(now) > self.rate.interval * self.rate.burst {
            return false;
        }
        self.full_at = Some(after);
        true
    }

    /// Whether the bucket has refilled completely by `now`, so forgetting it loses nothing.
    pub fn is_full(&self, now: Instant) -> bool {
        self.full_at.is_none_or(|full_at| full_at <= now)
    }
}

impl Flood {
    /// Flood control at `rate` (`None`: none).
    pub fn new(rate: Option<Rate>) -> Flood {
        Flood {
            messages: rate.map(TokenBucket::new),
            strikes: TokenBucket::new(STRIKES),
        }
    }

    /// An object arrived at `now`.
    pub fn check(&mut self, now: Instant) -> FloodVerdict {
        let Some(messages) = &mut self.messages else {
            return FloodVerdict::Allowed;
        };
        if messages.take(now) {
            FloodVerdict::Allowed
        } else if self.strikes.take(now) {
            FloodVerdict::Refused
        } else {
            FloodVerdict::Disconnect
        }
    }
}

/// Refusals a client may run into: 20 at once (a paste of a long text, say, is told off line by
/// line and survives), then one a second; only a client that keeps sending blind past them is
/// disconnected.
const STRIKES: Rate = Rate {
    burst: 20,
    interval: Duration::from_secs(1),
};

/// The default: a burst of 10 messages, then 5 a second. Far above what anyone types,
/// well below what a script drowning the room sends.
pub const DEFAULT_BURST: u32 = 10;
/// See [`DEFAULT_BURST`].
pub const DEFAULT_PER_SECOND: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn default_rate() -> Rate {
        Rate::per_second(DEFAULT_BURST, DEFAULT_PER_SECOND).unwrap()
    }

    #[test]
    fn a_burst_of_ten_then_five_a_second() {
        let start = crate::testing::epoch();
        let mut bucket = TokenBucket::new(default_rate());
        assert!((0..10).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(!bucket.take(start + Duration::from_millis(199)));
        assert!(bucket.take(start + Duration::from_millis(200)));
        assert!(!bucket.take(start + Duration::from_millis(200)));
        let later = start + Duration::from_secs(1) + Duration::from_millis(200);
        assert!((0..5).all(|_| bucket.take(later)));
        assert!(!bucket.take(later));
        assert!(bucket.is_full(start + Duration::from_secs(10)));
    }

    #[test]
    fn refusals_then_a_disconnect() {
        let start = crate::testing::epoch();
        let mut flood = Flood::new(Some(default_rate()));
        let verdicts: Vec<FloodVerdict> = (0..31).map(|_| flood.check(start)).collect();
        assert!(verdicts[..10].iter().all(|v| *v == FloodVerdict::Allowed));
        assert!(verdicts[10..30].iter().all(|v| *v == FloodVerdict::Refused));
        assert_eq!(verdicts[30], FloodVerdict::Disconnect);
        let mut unlimited = Flood::new(Rate::per_second(10, 0));
        assert!((0..10_000).all(|_| unlimited.check(start) == FloodVerdict::Allowed));
    }

    proptest! {
        #[test]
        fn never_more_than_the_burst_plus_the_rate_allows(
            burst in 1u32..20,
            per_second in 1u32..50,
            gaps in prop::collection::vec(0u64..400, 1..300),
        ) {
            let rate = Rate::per_second(burst, per_second).unwrap();
            let start = crate::testing::epoch();
            let mut bucket = TokenBucket::new(rate);
            let mut now = start;
            let mut taken = 0u128;
            for gap in gaps {
                now += Duration::from_millis(gap);
                taken += u128::from(bucket.take(now));
                let allowed = u128::from(burst)
                    + (now - start).as_nanos() / rate.interval.as_nanos();
                prop_assert!(taken <= allowed, "{taken} > {allowed}");
            }
        }
    }
}
