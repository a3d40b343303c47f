//! Counters the datagram machines keep about their work, for the shells' logs and for tests.
//!
//! Owns only the counter types; the sender and receiver decide what to count.

use super::codec::{DatagramError, KINDS};

/// Counters of what the sender has done, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Messages accepted by `send`.
    pub sent: u64,
    /// Transmissions after the first one, over all messages.
    pub retransmits: u64,
    /// Messages that ended with [`SenderEvent::Delivered`](super::SenderEvent::Delivered).
    pub delivered: u64,
    /// Messages that ended with [`SenderEvent::Failed`](super::SenderEvent::Failed).
    pub failed: u64,
    /// Acks whose id is not in flight (a copy of an ack, or one after the deadline).
    pub unknown_acks: u64,
    /// Datagrams that were not an ack at all (malformed, or a message).
    pub ignored_datagrams: u64,
}

/// Counters of what the receiver has done, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Datagrams taken by `handle_datagram`.
    pub received: u64,
    /// `Store` events produced.
    pub stores: u64,
    /// Stores reported failed.
    pub store_failures: u64,
    /// Copies of a pending or recent message, not stored again.
    pub duplicates: u64,
    /// Acks queued for sending.
    pub acks: u64,
    /// Acks not queued because the queue was full.
    pub acks_dropped: u64,
    /// New messages dropped because `max_pending` stores were under way.
    pub busy: u64,
    /// Malformed or unexpected datagrams, by [`DatagramError::kind`].
    pub dropped: DropCounts,
}

/// Dropped datagrams counted per [`DatagramError::kind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    counts: [u64; KINDS.len()],
}

impl DropCounts {
    /// Counts one drop of `error`.
    pub(crate) fn count(&mut self, error: &DatagramError) {
        self.counts[error.kind_index()] += 1;
    }

    /// How many drops of `kind` (one of the [`DatagramError::kind`] names) were counted.
    pub fn get(&self, kind: &str) -> u64 {
        KINDS
            .iter()
            .position(|&known| known == kind)
            .map_or(0, |index| self.counts[index])
    }

    /// All drops, whatever their kind.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Every kind with its count, in a fixed order, zero counts included.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        KINDS.iter().copied().zip(self.counts.iter().copied())
    }
}
