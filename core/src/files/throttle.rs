//! Slowing down password guessing: [`Throttle`], a per-address table of failed attempts, and
//! [`VerifiedCache`], which spares a verified browser the cost of a hash on every request.
//!
//! # Theory of operation
//!
//! Every attempt with credentials asks [`Throttle::admit`] when it may be checked. An address
//! with no recent failure is checked at once; after `n` failures in a row its next check waits
//! until `250 ms × 2^(n-1)` (at most 10 s) after the last one ended, and attempts sent side by
//! side queue one such delay apart, so parallel connections guess no faster than one. At most
//! four attempts of one address wait at once; more are refused outright. A success forgets the
//! address; failures are forgotten 15 minutes after the last. IPv6 addresses count per /64, the
//! block one subscriber gets. The table holds at most 4,096 addresses: when full, the one
//! forgotten first is the one quiet longest. Time is passed in; nothing here reads a clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed attempts per address.
#[derive(Debug, Default)]
pub struct Throttle {
    records: HashMap<u128, Record>,
}

/// When an attempt may be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check it at this time (now, or later for an address that failed before).
    At(Instant),
    /// Too many attempts of this address wait already: answer without checking.
    Refused,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    next_allowed: Instant,
    last_failure: Instant,
    waiting: u32,
}

/// Digests of `Authorization` values verified lately, each until its expiry.
#[derive(Debug, Default)]
pub struct VerifiedCache {
    entries: HashMap<[u8; 32], Instant>,
}

impl Throttle {
    /// An attempt from `address` arrived at `now`: when it may be checked. Each admitted
    /// attempt must be followed by one [`Throttle::record`].
    pub fn admit(&mut self, address: IpAddr, now: Instant) -> Admission {
        let key = bucket(address);
        if !self.records.contains_key(&key) && !self.make_room(now) {
            return Admission::Refused;
        }
        let record = self.records.entry(key).or_insert(Record {
            failures: 0,
            next_allowed: now,
            last_failure: now,
            waiting: 0,
        });
        if record.waiting >= MAX_WAITING {
            return Admission::Refused;
        }
        record.waiting += 1;
        let start = record.next_allowed.max(now);
        if record.failures > 0 {
            record.next_allowed = start + delay(record.failures);
        }
        Admission::At(start)
    }

    /// The check of an admitted attempt from `address` ended at `now`, `ok` or not.
    pub fn record(&mut self, address: IpAddr, ok: bool, now: Instant) {
        let key = bucket(address);
        let Some(record) = self.records.get_mut(&key) else {
            return;
        };
        record.waiting = record.waiting.saturating_sub(1);
        if ok {
            record.failures = 0;
            record.next_allowed = now;
        } else {
            record.failures = record.failures.saturating_add(1);
            record.last_failure = now;
            record.next_allowed = record.next_allowed.max(now + delay(record.failures));
        }
        if record.failures == 0 && record.waiting == 0 {
            self.records.remove(&key);
        }
    }

    /// An admitted attempt from `address` was never checked (the server had no room for it):
    /// it no longer waits, and counts as neither a failure nor a success.
    pub fn abandon(&mut self, address: IpAddr) {
        let key = bucket(address);
        if let Some(record) = self.records.get_mut(&key) {
            record.waiting = record.waiting.saturating_sub(1);
            if record.failures == 0 && record.waiting == 0 {
                self.records.remove(&key);
            }
        }
    }

    /// How many addresses the table holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the table holds no address.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Frees a place for a new address: forgets old failures, then the address quiet longest
    /// among those with nothing waiting. False when every address has attempts waiting.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.records.len() < MAX_ADDRESSES {
            return true;
        }
        self.records.retain(|_, record| {
            record.waiting > 0 || now.saturating_duration_since(record.last_failure) < FORGET_AFTER
        });
        if self.records.len() < MAX_ADDRESSES {
            return true;
        }
        let quietest = self
            .records
            .iter()
            .filter(|(_, record)| record.waiting == 0)
            .min_by_key(|(_, record)| record.last_failure)
            .map(|(key, _)| *key);
        match quietest {
            Some(key) => {
                self.records.remove(&key);
                true
            }
            None => false,
        }
    }
}

impl VerifiedCache {
    /// Whether `digest` was verified and has not expired by `now`.
    pub fn holds(&mut self, digest: &[u8; 32], now: Instant) -> bool {
        match self.entries.get(digest) {
            Some(&expiry) if now < expiry => true,
            Some(_) => {
                self.entries.remove(digest);
                false
            }
            None => false,
        }
    }

    /// Remembers that `digest` was verified at `now`, for [`VERIFIED_FOR`]; never renewed by
    /// use, so a password taken out of the file stops working within that time of a restart.
    pub fn insert(&mut self, digest: [u8; 32], now: Instant) {
        if self.entries.len() >= MAX_VERIFIED && !self.entries.contains_key(&digest) {
            self.entries.retain(|_, expiry| now < *expiry);
            if self.entries.len() >= MAX_VERIFIED {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, expiry)| **expiry)
                    .map(|(key, _)| *key);
                if let Some(key) = oldest {
                    self.entries.remove(&key);
                }
            }
        }
        self.entries.insert(digest, now + VERIFIED_FOR);
    }

    /// How many digests are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no digest is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The wait after `failures` failures in a row: doubling from [`FIRST_DELAY`] up to
/// [`MAX_DELAY`].
pub fn delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

/// The table's key of an address: IPv4 as itself, IPv6 by its /64 (the chat's login guard keys
/// its tables the same way).
pub(crate) fn bucket(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) & !0xffff_ffff_ffff_ffff) | 1 << 32,
        },
    }
}

/// The wait after a first failure: a person who mistyped barely notices it.
pub const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest wait between two checks of one address: six guesses a minute, hopeless for a
/// dictionary attack, while a person who remembers the password gets in within seconds.
pub const MAX_DELAY: Duration = Duration::from_secs(10);
/// Failures older than this are forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Addresses the table holds: about 200 KB at most.
pub const MAX_ADDRESSES: usize = 4096;
/// Attempts of one address that may wait at once; a browser sends a few requests side by side.
pub const MAX_WAITING: u32 = 4;
/// How long a verified `Authorization` value is trusted without hashing it again: a browser
/// uploading a hundred files costs one verification, and a password removed from the file
/// stops working within this time of the server's restart.
pub const VERIFIED_FOR: Duration = Duration::from_secs(5 * 60);
/// Verified digests held: a few per user, for far more users than a file server has.
pub const MAX_VERIFIED: usize = 1024;

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn at(admission: Admission) -> Instant {
        match admission {
            Admission::At(when) => when,
            Admission::Refused => panic!("refused"),
        }
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        assert_eq!(delay(1), Duration::from_millis(250));
        assert_eq!(delay(2), Duration::from_millis(500));
        assert_eq!(delay(4), Duration::from_secs(2));
        assert_eq!(delay(7), MAX_DELAY);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn failures_slow_the_next_attempt_and_success_forgets_them() {
        let mut throttle = Throttle::default();
        let address = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let start = crate::testing::epoch();
        assert_eq!(at(throttle.admit(address, start)), start);
        throttle.record(address, false, start);
        let second = at(throttle.admit(address, start));
        assert_eq!(second, start + Duration::from_millis(250));
        throttle.record(address, false, second);
        let third = at(throttle.admit(address, second));
        assert_eq!(third, second + Duration::from_millis(500));
        throttle.record(address, true, third);
        assert!(throttle.is_empty(), "a success forgets the address");
        assert_eq!(at(throttle.admit(address, third)), third);
    }

    #[test]
    fn parallel_attempts_queue_one_delay_apart_and_a_fifth_is_refused() {
        let mut throttle = Throttle::default();
        let address = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let now = crate::testing::epoch();
        at(throttle.admit(address, now));
        throttle.record(address, false, now);
        let times: Vec<Instant> = (0..4).map(|_| at(throttle.admit(address, now))).collect();
        for pair in times.windows(2) {
            assert_eq!(pair[1] - pair[0], delay(1));
        }
        assert_eq!(throttle.admit(address, now), Admission::Refused);
        throttle.abandon(address);
        assert!(
            at(throttle.admit(address, now)) > now,
            "abandoning forgets no failure"
        );
        // Another address is not slowed by this one.
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
        assert_eq!(throttle.admit(other, now), Admission::At(now));
    }

    #[test]
    fn ipv6_counts_per_slash_64() {
        let mut throttle = Throttle::default();
        let now = crate::testing::epoch();
        let a = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1));
        let b = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0xffff, 1, 2, 3));
        at(throttle.admit(a, now));
        throttle.record(a, false, now);
        assert!(at(throttle.admit(b, now)) > now, "same /64, same record");
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 9).to_ipv6_mapped());
        let plain = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
        at(throttle.admit(mapped, now));
        throttle.record(mapped, false, now);
        assert!(
            at(throttle.admit(plain, now)) > now,
            "a mapped address is the IPv4 one"
        );
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut throttle = Throttle::default();
        let now = crate::testing::epoch();
        for n in 0..(MAX_ADDRESSES as u32 * 2) {
            let address = IpAddr::V4(Ipv4Addr::from(n));
            let when = now + Duration::from_millis(n.into());
            at(throttle.admit(address, when));
            throttle.record(address, false, when);
        }
        assert_eq!(throttle.len(), MAX_ADDRESSES);
        // The newest failures are kept, the quietest forgotten.
        let newest = IpAddr::V4(Ipv4Addr::from(MAX_ADDRESSES as u32 * 2 - 1));
        assert!(at(throttle.admit(newest, now)) > now);
        // Long after, old failures no longer count.
        let later = now + FORGET_AFTER + Duration::from_secs(60);
        let fresh = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(throttle.admit(fresh, later), Admission::At(later));
        assert!(throttle.len() < MAX_ADDRESSES);
    }

    #[test]
    fn verified_digests_expire_and_stay_bounded() {
        let mut cache = VerifiedCache::default();
        let now = crate::testing::epoch();
        cache.insert([1; 32], now);
        assert!(cache.holds(&[1; 32], now + VERIFIED_FOR - Duration::from_secs(1)));
        assert!(!cache.holds(&[1; 32], now + VERIFIED_FOR));
        assert!(!cache.holds(&[2; 32], now));
        for n in 0..(MAX_VERIFIED * 2) {
            let mut digest = [0u8; 32];
            digest[..8].copy_from_slice(&(n as u64).to_le_bytes());
            cache.insert(digest, now + Duration::from_millis(n as u64));
        }
        assert_eq!(cache.len(), MAX_VERIFIED);
    }
}
