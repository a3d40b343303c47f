//! Slowing down guessing and account spam: [`LoginGuard`] for failed logins (per name and per
//! address) and [`RegisterLimit`] for new accounts (per address).
//!
//! # Theory of operation
//!
//! Every login (and every password change, which proves the old password) asks
//! [`LoginGuard::admit`] when it may be verified. After `n` failures in a row a name or an
//! address waits `250 ms × 2^(n-1)` after the last one before its next check, and attempts sent
//! side by side queue one such delay apart, so parallel connections guess no faster than one.
//! The two tables differ in their ceilings:
//!
//! - an address doubles up to 30 s, and after [`ADDRESS_LOCKOUT_FAILURES`] failures it is
//!   locked out for [`LOCKOUT`]: its attempts are refused unchecked until then;
//! - a name doubles up to 4 s only and is never locked: someone guessing ann's password from
//!   many addresses slows each guess, but cannot keep ann out for longer than that.
//!
//! At most [`MAX_IN_FLIGHT`] logins of one address wait or run at once, so opening many
//! connections does not guess faster before the first failures come back. A success forgets
//! the name and the address; failures are forgotten [`FORGET_AFTER`] after
//! the last, so no lockout is permanent. Both tables are bounded: when full, the entry quiet
//! longest goes. Registrations take a token per address from a [`TokenBucket`]. Time is passed
//! in; nothing here reads a clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::chat::flood::{Rate, TokenBucket};
use crate::files::throttle::bucket;

/// Failed logins per name and per address.
#[derive(Debug, Default)]
pub struct LoginGuard {
    names: FailureTable<String>,
    addresses: FailureTable<u128>,
    /// Logins admitted and not yet recorded, per address.
    in_flight: HashMap<u128, u32>,
}

/// When a login may be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Verify it at this time (now, or later after failures).
    At(Instant),
    /// The address is locked out, or would wait too long: answer without verifying.
    Refused,
    /// Too many logins of this address are under way: answer without verifying.
    Busy,
}

/// New accounts per address.
#[derive(Debug, Default)]
pub struct RegisterLimit {
    addresses: HashMap<u128, TokenBucket>,
}

#[derive(Debug)]
struct FailureTable<K> {
    records: HashMap<K, Record>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    next_allowed: Instant,
    last_failure: Instant,
}

impl LoginGuard {
    /// A login for the account `key` from `address` arrived at `now`.
    pub fn admit(&mut self, now: Instant, address: IpAddr, key: &str) -> Admission {
        let address = bucket(address);
        let in_flight = self.in_flight.get(&address).copied().unwrap_or(0);
        if in_flight >= MAX_IN_FLIGHT {
            return Admission::Busy;
        }
        let start = self
            .names
            .next_allowed(key)
            .max(self.addresses.next_allowed(&address))
            .map_or(now, |at| at.max(now));
        if start.saturating_duration_since(now) > MAX_WAIT {
            return Admission::Refused;
        }
        self.names.space(key, start, NAME_MAX_DELAY);
        self.addresses.space(&address, start, ADDRESS_MAX_DELAY);
        // A table full of addresses with logins under way stops counting new ones rather than
        // refusing them; the delays still apply.
        if self.in_flight.len() < MAX_ENTRIES || in_flight > 0 {
            *self.in_flight.entry(address).or_insert(0) += 1;
        }
        Admission::At(start)
    }

    /// An admitted login from `address` was never verified (the server had no room for it):
    /// it counts as neither a failure nor a success.
    pub fn abandon(&mut self, address: IpAddr) {
        self.land(bucket(address));
    }

    /// One login of `address` is no longer under way.
    fn land(&mut self, address: u128) {
        if let Some(count) = self.in_flight.get_mut(&address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.in_flight.remove(&address);
            }
        }
    }

    /// The verification of a login for `key` from `address` ended at `now`, `ok` or not.
    pub fn record(&mut self, now: Instant, address: IpAddr, key: &str, ok: bool) {
        let address = bucket(address);
        self.land(address);
        if ok {
            self.names.forget(key);
            self.addresses.forget(&address);
            return;
        }
        self.names.fail(key.to_owned(), now, NAME_MAX_DELAY, None);
        self.addresses.fail(
            address,
            now,
            ADDRESS_MAX_DELAY,
            Some(ADDRESS_LOCKOUT_FAILURES),
        );
    }
}

impl RegisterLimit {
    /// Whether `address` may register an account at `now`; takes its token if so.
    pub fn allow(&mut self, now: Instant, address: IpAddr) -> bool {
        if self.addresses.len() >= MAX_ENTRIES {
            self.addresses.retain(|_, bucket| !bucket.is_full(now));
            if self.addresses.len() >= MAX_ENTRIES {
                return false;
            }
        }
        self.addresses
            .entry(bucket(address))
            .or_insert_with(|| TokenBucket::new(REGISTRATIONS))
            .take(now)
    }
}

impl<K: Hash + Eq + Clone> FailureTable<K> {
    fn next_allowed<Q>(&self, key: &Q) -> Option<Instant>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.records.get(key).map(|record| record.next_allowed)
    }

    /// An attempt starts at `start`: the next of this key waits a delay after it.
    fn space<Q>(&mut self, key: &Q, start: Instant, max_delay: Duration)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(record) = self.records.get_mut(key) {
            if record.failures > 0 {
                record.next_allowed = record
                    .next_allowed
                    .max(start + delay(record.failures, max_delay));
            }
        }
    }

    fn forget<Q>(&mut self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.records.remove(key);
    }

    fn fail(&mut self, key: K, now: Instant, max_delay: Duration, lockout_after: Option<u32>) {
        if !self.records.contains_key(&key) {
            self.make_room(now);
        }
        let record = self.records.entry(key).or_insert(Record {
            failures: 0,
            next_allowed: now,
            last_failure: now,
        });
        if now.saturating_duration_since(record.last_failure) >= FORGET_AFTER {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        let wait = match lockout_after {
            Some(limit) if record.failures >= limit => LOCKOUT,
            _ => delay(record.failures, max_delay),
        };
        record.next_allowed = record.next_allowed.max(now + wait);
    }

    /// Forgets old failures, then, if still full, the key quiet longest.
    fn make_room(&mut self, now: Instant) {
        if self.records.len() < MAX_ENTRIES {
            return;
        }
        self.records.retain(|_, record| {
            now.saturating_duration_since(record.last_failure) < FORGET_AFTER
                || record.next_allowed > now
        });
        if self.records.len() < MAX_ENTRIES {
            return;
        }
        let quietest = self
            .records
            .iter()
            .min_by_key(|(_, record)| record.last_failure)
            .map(|(key, _)| key.clone());
        if let Some(key) = quietest {
            self.records.remove(&key);
        }
    }
}

impl<K> Default for FailureTable<K> {
    fn default() -> Self {
        FailureTable {
            records: HashMap::new(),
        }
    }
}

/// The wait after `failures` failures in a row: doubling from [`FIRST_DELAY`] up to `max`.
fn delay(failures: u32, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(max)
}

/// A person who mistyped barely notices the first delay.
pub const FIRST_DELAY: Duration = Duration::from_millis(250);
/// A name's delay stops doubling here: enough to make guessing one account from a botnet slow,
/// short enough that its owner always gets in.
pub const NAME_MAX_DELAY: Duration = Duration::from_secs(4);
/// An address's delay stops doubling here: two guesses a minute.
pub const ADDRESS_MAX_DELAY: Duration = Duration::from_secs(30);
/// Failures in a row after which an address is locked out for [`LOCKOUT`].
pub const ADDRESS_LOCKOUT_FAILURES: u32 = 10;
/// How long a locked-out address waits: long enough to end a dictionary attack, short enough
/// that a person who forgot a password can try again the same day.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// A login that would wait longer than this is refused at once, instead of holding a
/// connection and a place in the queue of hashes.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// Logins of one address under way at once: a household behind one address logs in side by
/// side, a script opening a hundred connections gets no more than this many guesses in flight.
pub const MAX_IN_FLIGHT: u32 = 8;
/// Entries in each table: some 200 KB at most.
const MAX_ENTRIES: usize = 4096;
/// Ten accounts from one address at once (a family or an office behind one address), then one
/// a minute.
const REGISTRATIONS: Rate = Rate {
    burst: 10,
    interval: Duration::from_secs(60),
};

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

    fn at(admission: Admission) -> Instant {
        match admission {
            Admission::At(when) => when,
            Admission::Refused | Admission::Busy => panic!("refused"),
        }
    }

    #[test]
    fn failures_slow_the_name_and_the_address() {
        let start = crate::testing::epoch();
        let mut guard = LoginGuard::default();
        assert_eq!(at(guard.admit(start, ADDRESS, "ann")), start);
        guard.record(start, ADDRESS, "ann", false);
        let next = at(guard.admit(start, ADDRESS, "ann"));
        assert_eq!(next, start + FIRST_DELAY);
        guard.record(next, ADDRESS, "ann", false);
        // Another address guessing the same name waits too, as does the address for another.
        assert_eq!(at(guard.admit(next, OTHER, "ann")), next + FIRST_DELAY * 2);
        assert!(at(guard.admit(next, ADDRESS, "bob")) >= next + FIRST_DELAY * 2);
    }

    #[test]
    fn a_name_is_slowed_but_never_locked_out() {
        let start = crate::testing::epoch();
        let mut guard = LoginGuard::default();
        let mut now = start;
        for index in 0..100u8 {
            let attacker = IpAddr::V4(Ipv4Addr::new(10, 0, index, 1));
            now = at(guard.admit(now, attacker, "ann"));
            guard.record(now, attacker, "ann", false);
        }
        let owner = at(guard.admit(now, ADDRESS, "ann"));
        assert!(owner <= now + NAME_MAX_DELAY, "{:?}", owner - now);
        guard.record(owner, ADDRESS, "ann", true);
        assert_eq!(at(guard.admit(owner, ADDRESS, "ann")), owner);
    }

    #[test]
    fn an_address_is_locked_out_for_a_while_then_forgiven() {
        let start = crate::testing::epoch();
        let mut guard = LoginGuard::default();
        let mut now = start;
        for index in 0..ADDRESS_LOCKOUT_FAILURES {
            match guard.admit(now, ADDRESS, &format!("user{index}")) {
                Admission::At(when) => now = when,
                Admission::Refused | Admission::Busy => break,
            }
            guard.record(now, ADDRESS, &format!("user{index}"), false);
        }
        assert_eq!(guard.admit(now, ADDRESS, "zed"), Admission::Refused);
        let later = now + LOCKOUT;
        assert_eq!(at(guard.admit(later, ADDRESS, "zed")), later);
    }

    #[test]
    fn an_address_has_a_few_logins_under_way_at_once() {
        let start = crate::testing::epoch();
        let mut guard = LoginGuard::default();
        for _ in 0..MAX_IN_FLIGHT {
            at(guard.admit(start, ADDRESS, "ann"));
        }
        assert_eq!(guard.admit(start, ADDRESS, "ann"), Admission::Busy);
        assert!(matches!(guard.admit(start, OTHER, "bob"), Admission::At(_)));
        guard.abandon(ADDRESS);
        assert!(matches!(
            guard.admit(start, ADDRESS, "ann"),
            Admission::At(_)
        ));
    }

    #[test]
    fn registrations_are_limited_per_address() {
        let start = crate::testing::epoch();
        let mut limit = RegisterLimit::default();
        assert!((0..10).all(|_| limit.allow(start, ADDRESS)));
        assert!(!limit.allow(start, ADDRESS));
        assert!(limit.allow(start, OTHER));
        assert!(limit.allow(start + Duration::from_secs(60), ADDRESS));
    }
}
