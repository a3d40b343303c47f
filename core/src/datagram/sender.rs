//! The web app's side of the datagram protocol: send each message until the socket server
//! acknowledges it or the ack deadline passes.
//!
//! Theory of operation. [`DatagramSender::send`] gives a message an id, encodes it once and
//! queues its first transmission. From then on the message is *in flight* and has two times: the
//! next retransmission (after [`SenderConfig::first_retransmit`], doubling each time up to
//! [`SenderConfig::max_retransmit_interval`]) and its ack deadline (sent time plus
//! [`SenderConfig::ack_timeout`]). An ack with its id ends it with [`SenderEvent::Delivered`];
//! reaching the deadline first ends it with [`SenderEvent::Failed`], and no retransmission is
//! made at or after the deadline. Either way the message leaves the in-flight table, so each
//! `send` ends in exactly one event. Only the inputs (`send`, `handle_datagram`,
//! `handle_timeout`, and on a stream `handle_disconnect` / `handle_reconnect`) move a message;
//! the machine never reads a clock or touches a socket: the shell sends what `poll_transmit`
//! gives to the forward address it was configured with.
//!
//! Over a stream ([`Link::Stream`], `--transport tcp`) nothing is lost while the connection is
//! up, so there are no retransmission timers, only the ack deadline. The link starts down:
//! messages sent meanwhile wait in flight, transmitted by nobody. When the shell reports a new
//! connection ([`DatagramSender::handle_reconnect`]) every message in flight is queued again, in
//! the order it was sent, since the old connection may have lost any of them; the receiver
//! stores an id it already has only once and acknowledges it again. A message whose ack does not
//! come before its deadline still fails, connection or not.
//!
//! A failed message may have been stored all the same (its ack may be what was lost). The
//! sender remembers the last failed messages ([`DatagramSender::retry_of`]), so the web app can
//! offer to send one again; [`DatagramSender::send_again`] then reuses its id when the content is
//! the same, and the receiver's dedup stores it once either way. Only ids this sender gave and
//! saw fail are reused, so no client can make a message pass for another one's copy.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::codec::{self, Datagram, MessageId, MAX_DATAGRAM_SIZE, MAX_ID_LEN};
use super::stats::SenderStats;
use crate::message::Message;

/// Settings of a [`DatagramSender`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// How long after `send` a message without an ack counts as failed (`--ack-timeout`).
    pub ack_timeout: Duration,
    /// The wait before the first retransmission.
    pub first_retransmit: Duration,
    /// The longest wait between two retransmissions; the wait doubles until it reaches this.
    pub max_retransmit_interval: Duration,
    /// How many messages may be in flight at once; `send` answers [`SendError::Busy`] beyond.
    pub max_in_flight: usize,
    /// Start of every id, unique per process start (the shell chooses it); ids are
    /// `<id_prefix>-<counter>`. Characters other than printable ASCII become `_`, and it is cut
    /// to leave room for the counter within [`MAX_ID_LEN`].
    pub id_prefix: String,
    /// What carries the messages: lossy datagrams or a reliable stream.
    pub link: Link,
}

/// What carries the sender's messages, which decides when it sends one again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Link {
    /// Datagrams (`--transport udp`), which may be lost: retransmit on a timer.
    #[default]
    Datagrams,
    /// One stream at a time (`--transport tcp`), which loses nothing while it is up: send again
    /// only on a new connection.
    Stream,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            first_retransmit: DEFAULT_FIRST_RETRANSMIT,
            max_retransmit_interval: DEFAULT_MAX_RETRANSMIT_INTERVAL,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            id_prefix: "web".to_string(),
            link: Link::Datagrams,
        }
    }
}

/// An [`SenderConfig::id_prefix`] unique per process start: `process_id` and `start_nanos`
/// (wall-clock nanoseconds at start) tell apart a web app restarted with the same process id and
/// web apps on several machines sharing one socket server.
pub fn id_prefix(process_id: u32, start_nanos: u128) -> String {
    format!("{start_nanos:x}.{process_id:x}")
}

/// Why [`DatagramSender::send`] did not take a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The message's datagram would exceed [`MAX_DATAGRAM_SIZE`]; the web app answers 413.
    TooLarge,
    /// [`SenderConfig::max_in_flight`] messages already await their ack (or the poll of their
    /// event); the web app answers 503.
    Busy,
}

/// How a sent message ended. Every successful `send` produces exactly one, with its `tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderEvent {
    /// The socket server acknowledged that it stored the message.
    Delivered { tag: u64 },
    /// The ack deadline passed without an ack; the message may or may not have been stored.
    Failed { tag: u64 },
}

/// A message that failed, as [`DatagramSender::retry_of`] gives it back: its id and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub id: MessageId,
    pub message: Message,
}

/// The sending state machine of the datagram protocol; see the module documentation.
#[derive(Debug)]
pub struct DatagramSender {
    config: SenderConfig,
    /// `<prefix>-`, fixed at creation.
    id_start: String,
    next_counter: u64,
    /// Messages awaiting their ack, by the counter in their id.
    in_flight: HashMap<u64, InFlight>,
    /// One entry `(wake, counter)` per in-flight message, ordered so the earliest is first.
    timers: BTreeSet<(Instant, u64)>,
    /// Counters of messages to transmit; each at most once (see `InFlight::queued`).
    transmits: VecDeque<u64>,
    events: VecDeque<SenderEvent>,
    /// The last messages that failed, oldest first: (tag, counter, encoded datagram), bounded
    /// by [`MAX_REMEMBERED_FAILURES`] and [`MAX_REMEMBERED_BYTES`].
    failed: VecDeque<(u64, u64, Vec<u8>)>,
    failed_bytes: usize,
    /// Whether transmissions can go anywhere: always for datagrams; for a stream, between
    /// `handle_reconnect` and `handle_disconnect`.
    link_up: bool,
    stats: SenderStats,
}

impl DatagramSender {
    /// Creates a sender with nothing in flight. `now` is the time of creation; the sender keeps
    /// no timer until the first `send`.
    pub fn new(config: SenderConfig, now: Instant) -> Self {
        let _ = now;
        let mut id_start: String = config
            .id_prefix
            .chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '_' })
            .take(MAX_PREFIX_LEN)
            .collect();
        id_start.push('-');
        DatagramSender {
            id_start,
            next_counter: 1,
            in_flight: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            failed: VecDeque::new(),
            failed_bytes: 0,
            link_up: config.link == Link::Datagrams,
            config,
            stats: SenderStats::default(),
        }
    }

    /// Sends `message`: gives it the next id, queues its first transmission and arms its
    /// timers. `tag` is the caller's handle for it and comes back in the one [`SenderEvent`]
    /// that ends it. Afterwards call `poll_transmit`, `poll_timeout` and `poll_event`.
    pub fn send(
        &mut self,
        now: Instant,
        message: Message,
        tag: u64,
    ) -> Result<MessageId, SendError> {
        // Ended messages whose event is not yet polled count too, so the event queue shares
        // the bound even with a shell that is slow to drain it.
        if self.in_flight.len() + self.events.len() >= self.config.max_in_flight {
            return Err(SendError::Busy);
        }
        let counter = self.next_counter;
        let id = self.send_as(now, message, counter, tag)?;
        // Wrapping after 2^64 sends cannot meet a message still in flight.
        self.next_counter = counter.wrapping_add(1);
        Ok(id)
    }

    /// Sends `message` again under `id`, the id of a message this sender saw fail (see
    /// [`DatagramSender::retry_of`]), if its content is the same: a copy of it that was stored
    /// after all is then stored once. Any other id, or changed content, gets a new id as
    /// [`DatagramSender::send`] gives.
    pub fn send_again(
        &mut self,
        now: Instant,
        message: Message,
        id: &MessageId,
        tag: u64,
    ) -> Result<MessageId, SendError> {
        let known = self.counter_of(id).and_then(|counter| {
            let index = self.failed.iter().position(|entry| entry.1 == counter)?;
            let datagram = Datagram::Message {
                id: Some(id.clone()),
                message: message.clone(),
            };
            let mut bytes = Vec::new();
            codec::encode(&datagram, &mut bytes);
            (self.failed[index].2 == bytes).then_some((index, counter))
        });
        let Some((index, counter)) = known else {
            return self.send(now, message, tag);
        };
        if self.in_flight.len() + self.events.len() >= self.config.max_in_flight {
            return Err(SendError::Busy);
        }
        if let Some((_, _, bytes)) = self.failed.remove(index) {
            self.failed_bytes -= bytes.len();
        }
        self.send_as(now, message, counter, tag)
    }

    /// The id and content of the message `tag` named, if it failed recently (the last
    /// [`MAX_REMEMBERED_FAILURES`] failures are kept), so it can be offered to send again.
    pub fn retry_of(&self, tag: u64) -> Option<Retry> {
        let (_, _, bytes) = self.failed.iter().rev().find(|entry| entry.0 == tag)?;
        match codec::decode(bytes) {
            Ok(Datagram::Message {
                id: Some(id),
                message,
            }) => Some(Retry { id, message }),
            _ => None,
        }
    }

    /// Puts `message` in flight under the id of `counter`.
    fn send_as(
        &mut self,
        now: Instant,
        message: Message,
        counter: u64,
        tag: u64,
    ) -> Result<MessageId, SendError> {
        // The prefix is printable ASCII and at most MAX_PREFIX_LEN characters, and a u64 has at
        // most 20 digits, so the id always satisfies the MessageId rules.
        let id = MessageId::new(format!("{}{counter}", self.id_start)).map_err(|_| {
            debug_assert!(false, "sender built an invalid id");
            SendError::TooLarge
        })?;
        let datagram = Datagram::Message {
            id: Some(id.clone()),
            message,
        };
        if codec::encoded_len(&datagram) > MAX_DATAGRAM_SIZE {
            return Err(SendError::TooLarge);
        }
        let mut bytes = Vec::new();
        codec::encode(&datagram, &mut bytes);

        let deadline = now + self.config.ack_timeout;
        let interval = self.config.first_retransmit;
        let wake = match self.config.link {
            Link::Datagrams => (now + interval).min(deadline),
            Link::Stream => deadline,
        };
        self.in_flight.insert(
            counter,
            InFlight {
                tag,
                bytes,
                deadline,
                interval,
                wake,
                queued: self.link_up,
                sent_once: false,
            },
        );
        self.timers.insert((wake, counter));
        if self.link_up {
            self.transmits.push_back(counter);
        }
        self.stats.sent += 1;
        Ok(id)
    }

    /// Takes a datagram that arrived from the socket server. An ack of a message in flight ends
    /// it with [`SenderEvent::Delivered`]; anything else is counted in [`SenderStats`] and
    /// otherwise ignored.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) {
        let _ = now;
        let id = match codec::decode(bytes) {
            Ok(Datagram::Ack(id)) => id,
            _ => {
                self.stats.ignored_datagrams += 1;
                return;
            }
        };
        let Some(counter) = self.counter_of(&id) else {
            self.stats.unknown_acks += 1;
            return;
        };
        let Some(entry) = self.in_flight.remove(&counter) else {
            self.stats.unknown_acks += 1;
            return;
        };
        self.timers.remove(&(entry.wake, counter));
        self.events
            .push_back(SenderEvent::Delivered { tag: entry.tag });
        self.stats.delivered += 1;
    }

    /// Advances time to `now`: queues the retransmissions that are due and fails the messages
    /// whose deadline has come. Call it when `now` reaches [`DatagramSender::poll_timeout`];
    /// calling it earlier does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(wake, counter)) = self.timers.first() {
            if wake > now {
                break;
            }
            self.timers.remove(&(wake, counter));
            // Every timer entry belongs to an in-flight message: both are removed together.
            let Some(entry) = self.in_flight.get_mut(&counter) else {
                debug_assert!(false, "timer without a message in flight");
                continue;
            };
            if now >= entry.deadline {
                let tag = entry.tag;
                if let Some(entry) = self.in_flight.remove(&counter) {
                    self.remember_failure(tag, counter, entry.bytes);
                }
                self.events.push_back(SenderEvent::Failed { tag });
                self.stats.failed += 1;
                continue;
            }
            // A stream message wakes only at its deadline, so this is a datagram's retransmit.
            if !entry.queued {
                entry.queued = true;
                self.transmits.push_back(counter);
            }
            self.stats.retransmits += 1;
            entry.interval = (entry.interval * 2).min(self.config.max_retransmit_interval);
            entry.wake = (now + entry.interval).min(entry.deadline);
            self.timers.insert((entry.wake, counter));
        }
    }

    /// Reports that the stream to the socket server is gone (EOF, an error, a failed attempt).
    /// Transmissions not yet taken by `poll_transmit` are dropped, and none are made until
    /// `handle_reconnect`; messages stay in flight until their ack or deadline. Only for
    /// [`Link::Stream`]; a datagram sender ignores it.
    pub fn handle_disconnect(&mut self, now: Instant) {
        let _ = now;
        if self.config.link == Link::Datagrams {
            return;
        }
        self.link_up = false;
        for counter in self.transmits.drain(..) {
            if let Some(entry) = self.in_flight.get_mut(&counter) {
                entry.queued = false;
            }
        }
    }

    /// Reports a new connection to the socket server: every message in flight is queued again,
    /// oldest first, because the previous connection may have lost any of them (bytes the shell
    /// had not written, or that the socket server had not read when it went away). Copies of a
    /// message the receiver already stored are acknowledged without storing them twice.
    pub fn handle_reconnect(&mut self, now: Instant) {
        let _ = now;
        self.link_up = true;
        let mut resend: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, entry)| !entry.queued)
            .map(|(&counter, _)| counter)
            .collect();
        // Counters grow with each send (wrapping only after 2^64 sends), so this is send order.
        resend.sort_unstable();
        for counter in resend {
            if let Some(entry) = self.in_flight.get_mut(&counter) {
                entry.queued = true;
                self.transmits.push_back(counter);
                // A resend over a new connection only counts when the message went out before.
                if entry.sent_once {
                    self.stats.retransmits += 1;
                }
            }
        }
    }

    /// Appends the bytes of the next datagram to send to `out` and returns its length, or
    /// `None` when nothing is waiting. Its destination is the socket server's address, which
    /// only the shell knows; over a stream, the shell frames it as one line. New transmissions
    /// appear after `send`, `handle_timeout` and `handle_reconnect`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        while let Some(counter) = self.transmits.pop_front() {
            // A message acked or failed while queued has left the table: skip it.
            if let Some(entry) = self.in_flight.get_mut(&counter) {
                entry.queued = false;
                entry.sent_once = true;
                out.extend_from_slice(&entry.bytes);
                return Some(entry.bytes.len());
            }
        }
        None
    }

    /// The next time `handle_timeout` has work, or `None` when nothing is in flight. Changes
    /// after `send`, `handle_datagram` and `handle_timeout`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(wake, _)| wake)
    }

    /// The next message that ended, if any. New events appear after `handle_datagram` and
    /// `handle_timeout`.
    pub fn poll_event(&mut self) -> Option<SenderEvent> {
        self.events.pop_front()
    }

    /// How many messages await their ack.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// What the sender has done so far.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    fn remember_failure(&mut self, tag: u64, counter: u64, bytes: Vec<u8>) {
        self.failed_bytes += bytes.len();
        self.failed.push_back((tag, counter, bytes));
        while self.failed.len() > MAX_REMEMBERED_FAILURES
            || self.failed_bytes > MAX_REMEMBERED_BYTES
        {
            match self.failed.pop_front() {
                Some((_, _, bytes)) => self.failed_bytes -= bytes.len(),
                None => break,
            }
        }
    }

    /// The counter in `id` if it is exactly an id this sender gives (`<prefix>-<counter>`).
    fn counter_of(&self, id: &MessageId) -> Option<u64> {
        let digits = id.as_str().strip_prefix(&self.id_start)?;
        let counter: u64 = digits.parse().ok()?;
        // `parse` also takes `+7` and `007`; an id of ours is written exactly one way.
        (counter.to_string() == digits).then_some(counter)
    }
}

/// A message awaiting its ack.
#[derive(Debug)]
struct InFlight {
    tag: u64,
    /// The encoded datagram, sent again as it is on each retransmission.
    bytes: Vec<u8>,
    deadline: Instant,
    /// The wait before the next retransmission after the one now scheduled.
    interval: Duration,
    /// When `handle_timeout` next looks at it: the next retransmission, or the deadline.
    wake: Instant,
    /// Whether its counter is in `transmits`, so a slow shell never queues it twice.
    queued: bool,
    /// Whether `poll_transmit` has handed it out at least once.
    sent_once: bool,
}

/// `--ack-timeout` default from the SPEC: long enough for a busy store to sync a write,
/// short enough that a user waiting on the web form is told to retry within a few seconds.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// On loopback a datagram and its ack take tens of microseconds, and storing a record (one
/// appended write and an fsync) takes about a millisecond on an SSD, so an ack missing after 20 ms
/// almost surely means a lost datagram. A copy sent too early costs only a duplicate, which the
/// receiver folds into the store already under way.
pub const DEFAULT_FIRST_RETRANSMIT: Duration = Duration::from_millis(20);

/// Doubling from 20 ms reaches 320 ms after four retransmissions; capping at 500 ms keeps the
/// last tries before the 2 s deadline frequent (eight transmissions in all with the defaults)
/// without flooding a socket server that is briefly stalled.
pub const DEFAULT_MAX_RETRANSMIT_INTERVAL: Duration = Duration::from_millis(500);

/// Each message in flight holds its encoded datagram (at most 64 KiB, the web form's body
/// limit), so 1,024 bound the sender to about 64 MiB even under a flood, while far exceeding
/// the concurrent form posts a web app of this size sees.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// Failed messages remembered for a second try. A failure is answered 503 at once, and a user
/// who tries again does so within minutes, while a few hundred others fail at the most (a store
/// down for that long fails every message, and none of them needs more than one chance).
pub const MAX_REMEMBERED_FAILURES: usize = 256;
/// And the bytes they may hold together: a few of the largest messages, or hundreds of usual
/// ones, so a flood of failing large posts cannot grow the web app.
pub const MAX_REMEMBERED_BYTES: usize = 4 * 1024 * 1024;

/// Room left in an id for `-` and a u64 counter (up to 20 digits).
const MAX_PREFIX_LEN: usize = MAX_ID_LEN - 21;

#[cfg(test)]
mod tests;
