//! [`ClientId`], how a chat server names a client, and [`ClientMap`], the map it keeps per
//! client, with the cheap hash it is keyed by.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Names one client of a hub; never reused within a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub(super) u64);

/// A map keyed by [`ClientId`], hashed by [`ClientIdHasher`].
pub type ClientMap<V> = HashMap<ClientId, V, BuildHasherDefault<ClientIdHasher>>;

/// Hashes a [`ClientId`] with one multiplication.
///
/// A hub looks a client up several times per copy it delivers, and with the default SipHash
/// those lookups were a third of the chat server's instructions. Ids are handed out by the hub
/// in sequence, never chosen by a peer, so the collision flooding SipHash guards against cannot
/// happen here; usernames, which peers do choose, keep the default hasher.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientIdHasher(u64);

impl Hasher for ClientIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the odd constant is 2^64 divided by the golden ratio, which spreads
        // sequential ids over both the low bits (the bucket) and the high bits (the tag).
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
