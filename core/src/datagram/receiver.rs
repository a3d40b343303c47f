//! The socket server's side of the datagram protocol: store each message once, acknowledge
//! every copy after it is stored.
//!
//! Theory of operation. A message with an id is in one of three states here:
//! - *unknown*: a datagram with it produces [`ReceiverEvent::Store`] and makes it *pending*;
//! - *pending* (the shell is storing it): copies produce no event; their senders are remembered
//!   and [`DatagramReceiver::handle_stored`] queues an ack to each and makes the id *recent*,
//!   while [`DatagramReceiver::handle_store_failed`] forgets it (no ack, so the sender
//!   retransmits and the next copy is stored afresh);
//! - *recent* (stored, within the last [`ReceiverConfig::dedup_window`] ids): a copy is acked
//!   again at once and not stored.
//!
//! A message without an id is stored and never acknowledged. Malformed datagrams are counted per
//! kind and reported as [`ReceiverEvent::Dropped`]. Only the inputs move these states; the shell
//! performs the storing and sends what `poll_transmit` gives.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use super::codec::{self, Datagram, DatagramError, MessageId};
use super::stats::ReceiverStats;
use crate::message::Message;

/// Settings of a [`DatagramReceiver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// How many stored ids are remembered to refuse copies.
    pub dedup_window: usize,
    /// How many stores may be under way at once; a new message beyond that is dropped unacked
    /// (its sender retransmits).
    pub max_pending: usize,
    /// How many acks may wait for `poll_transmit`; beyond that an ack is dropped (the sender
    /// retransmits and is acked then).
    pub max_queued_acks: usize,
    /// How many messages the shell stores with one append (and one sync); more wait for the
    /// next one.
    pub max_batch: usize,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            dedup_window: DEFAULT_DEDUP_WINDOW,
            max_pending: DEFAULT_MAX_PENDING,
            max_queued_acks: DEFAULT_MAX_QUEUED_ACKS,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

/// Names one store the shell performs, from [`ReceiverEvent::Store`] to its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreToken(u64);

/// What the shell must do or may log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverEvent {
    /// Store `message` durably, then call `handle_stored(token)` (or `handle_store_failed`).
    Store { token: StoreToken, message: Message },
    /// A datagram from `from` was not a message and was ignored.
    Dropped {
        from: SocketAddr,
        error: DatagramError,
    },
}

/// One ack to send: its bytes were appended to the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it: the address the acknowledged copy came from.
    pub destination: SocketAddr,
    /// How many bytes were appended.
    pub size: usize,
}

/// The receiving state machine of the datagram protocol; see the module documentation.
#[derive(Debug)]
pub struct DatagramReceiver {
    config: ReceiverConfig,
    next_token: u64,
    /// Stores under way, by token.
    pending: HashMap<StoreToken, Pending>,
    /// The token of each pending message that has an id.
    pending_ids: HashMap<MessageId, StoreToken>,
    /// Stored ids, for refusing copies; `recent_order` evicts the oldest first.
    recent: HashSet<MessageId>,
    recent_order: VecDeque<MessageId>,
    acks: VecDeque<(SocketAddr, MessageId)>,
    events: VecDeque<ReceiverEvent>,
    stats: ReceiverStats,
}

impl DatagramReceiver {
    /// Creates a receiver that knows no ids.
    pub fn new(config: ReceiverConfig) -> Self {
        DatagramReceiver {
            config,
            next_token: 0,
            pending: HashMap::new(),
            pending_ids: HashMap::new(),
            recent: HashSet::new(),
            recent_order: VecDeque::new(),
            acks: VecDeque::new(),
            events: VecDeque::new(),
            stats: ReceiverStats::default(),
        }
    }

    /// Takes a datagram that arrived from `from`. Depending on the message's state it produces a
    /// `Store` event, queues an ack, remembers `from` for a later ack, or is dropped (see the
    /// module documentation). `now` is part of the shared vocabulary; the receiver has no timers.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let _ = now;
        self.stats.received += 1;
        let (id, message) = match codec::decode(bytes) {
            Ok(Datagram::Message { id, message }) => (id, message),
            Ok(Datagram::Ack(_)) => return self.drop_datagram(from, DatagramError::UnexpectedAck),
            Err(error) => return self.drop_datagram(from, error),
        };
        let Some(id) = id else {
            self.start_store(None, message);
            return;
        };
        if self.recent.contains(&id) {
            self.stats.duplicates += 1;
            self.queue_ack(from, id);
        } else if let Some(token) = self.pending_ids.get(&id) {
            self.stats.duplicates += 1;
            // `pending_ids` and `pending` always hold the same tokens.
            if let Some(pending) = self.pending.get_mut(token) {
                if !pending.peers.contains(&from) && pending.peers.len() < MAX_PEERS_PER_MESSAGE {
                    pending.peers.push(from);
                }
            }
        } else {
            self.start_store(Some((id, from)), message);
        }
    }

    /// Reports that the store of `token` is durable: queues an ack to every peer that sent a
    /// copy and remembers the id so later copies are acked without storing. A token that is not
    /// pending (already reported) is ignored.
    pub fn handle_stored(&mut self, now: Instant, token: StoreToken) {
        let _ = now;
        let Some(pending) = self.pending.remove(&token) else {
            return;
        };
        let Some(id) = pending.id else {
            return;
        };
        self.pending_ids.remove(&id);
        for peer in pending.peers {
            self.queue_ack(peer, id.clone());
        }
        self.remember(id);
    }

    /// Reports that the store of `token` failed: nothing is acked and the message is forgotten,
    /// so the next copy a sender retransmits is stored afresh.
    pub fn handle_store_failed(&mut self, token: StoreToken) {
        if let Some(pending) = self.pending.remove(&token) {
            self.stats.store_failures += 1;
            if let Some(id) = pending.id {
                self.pending_ids.remove(&id);
            }
        }
    }

    /// The id of the message a pending store holds, if it has one: the shell records it beside
    /// the stored message so a restarted socket server still knows it (see
    /// [`DatagramReceiver::remember_stored`]).
    pub fn pending_id(&self, token: StoreToken) -> Option<&MessageId> {
        self.pending
            .get(&token)
            .and_then(|pending| pending.id.as_ref())
    }

    /// Seeds the dedup window with ids stored before this receiver existed (a restart), oldest
    /// first, so a sender retransmitting a message stored just before a crash gets its ack
    /// without the message being stored twice.
    pub fn remember_stored(&mut self, ids: impl IntoIterator<Item = MessageId>) {
        for id in ids {
            if !self.recent.contains(&id) {
                self.remember(id);
            }
        }
    }

    /// Appends the next ack to `out` and says where to send it, or `None` when none is queued.
    /// New acks appear after `handle_datagram` and `handle_stored`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<Transmit> {
        let (destination, id) = self.acks.pop_front()?;
        let start = out.len();
        codec::encode(&Datagram::Ack(id), out);
        Some(Transmit {
            destination,
            size: out.len() - start,
        })
    }

    /// The next thing to do or log, if any. New events appear after `handle_datagram`.
    pub fn poll_event(&mut self) -> Option<ReceiverEvent> {
        self.events.pop_front()
    }

    /// How many stores are under way.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// What the receiver has done so far.
    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }

    fn drop_datagram(&mut self, from: SocketAddr, error: DatagramError) {
        self.stats.dropped.count(&error);
        // A flood of garbage must not grow the queue: past the bound, drops are only counted.
        if self.events.len() < MAX_QUEUED_EVENTS {
            self.events
                .push_back(ReceiverEvent::Dropped { from, error });
        }
    }

    /// Starts storing `message`, remembering its id and sender when it has one.
    fn start_store(&mut self, origin: Option<(MessageId, SocketAddr)>, message: Message) {
        if self.pending.len() >= self.config.max_pending {
            self.stats.busy += 1;
            return;
        }
        let token = StoreToken(self.next_token);
        self.next_token += 1;
        let pending = match origin {
            Some((id, from)) => {
                self.pending_ids.insert(id.clone(), token);
                Pending {
                    id: Some(id),
                    peers: vec![from],
                }
            }
            None => Pending {
                id: None,
                peers: Vec::new(),
            },
        };
        self.pending.insert(token, pending);
        self.events
            .push_back(ReceiverEvent::Store { token, message });
        self.stats.stores += 1;
    }

    fn queue_ack(&mut self, destination: SocketAddr, id: MessageId) {
        if self.acks.len() >= self.config.max_queued_acks {
            self.stats.acks_dropped += 1;
            return;
        }
        self.acks.push_back((destination, id));
        self.stats.acks += 1;
    }

    fn remember(&mut self, id: MessageId) {
        if self.config.dedup_window == 0 {
            return;
        }
        while self.recent_order.len() >= self.config.dedup_window {
            if let Some(oldest) = self.recent_order.pop_front() {
                self.recent.remove(&oldest);
            }
        }
        self.recent.insert(id.clone());
        self.recent_order.push_back(id);
    }
}

/// A store under way.
#[derive(Debug)]
struct Pending {
    id: Option<MessageId>,
    /// Who sent a copy, to be acked once stored (at most [`MAX_PEERS_PER_MESSAGE`]).
    peers: Vec<SocketAddr>,
}

/// A sender retransmits for at most its ack timeout (2 s by default), so an id needs
/// remembering only that long after it is stored. 65,536 ids cover those 2 s up to about 32,000
/// messages a second, far beyond what web form posts reach, at a cost of a few MiB of ids.
pub const DEFAULT_DEDUP_WINDOW: usize = 65_536;

/// A store is one appended write and a sync, done one after another by the shell; more than a
/// thousand under way means the store has stalled, and refusing more bounds the records (up to
/// 64 KiB each) the shell holds in its queue meanwhile.
pub const DEFAULT_MAX_PENDING: usize = 1024;

/// Half of [`DEFAULT_MAX_PENDING`], so one full batch can be written (and synced) while the next
/// gathers behind it. It also bounds one append: at most 512 records (of up to 64 KiB each) in
/// one write buffer, and the first message of a batch waits for at most 511 others before its
/// ack.
pub const DEFAULT_MAX_BATCH: usize = 512;

/// An ack is a few dozen bytes and the shell drains them after every input; 4,096 absorb
/// a burst of acks for a full window of pending stores several times over.
pub const DEFAULT_MAX_QUEUED_ACKS: usize = 4096;

/// `Store` events are bounded by `max_pending`; `Dropped` ones only repeat what the counters
/// say, so a shell that drains after every datagram never sees more than one queued, and a
/// backlog of 1,024 is plenty for logging.
const MAX_QUEUED_EVENTS: usize = 1024;

/// Copies of one message normally come from one sender; a few more addresses allow for a web
/// app that moved sockets, while keeping a forged flood of copies from growing the list.
const MAX_PEERS_PER_MESSAGE: usize = 8;

#[cfg(test)]
mod tests;
