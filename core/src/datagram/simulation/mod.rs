//! Simulated-time tests of the whole message path: a [`DatagramSender`] and a
//! [`DatagramReceiver`] talking through an in-memory network, with a store that takes time and
//! may fail. One harness, two networks: [`datagrams`] drops, duplicates, delays and reorders
//! datagrams (`--transport udp`); [`stream`] carries lines in order in arbitrary pieces over a
//! connection that breaks and reconnects (`--transport tcp`).
//!
//! The harness owns the clock (it jumps to the next thing due), the agenda of what happens
//! when, the store, the record of a run and the property every run must keep: each message ends
//! in exactly one event, a delivered message is stored exactly once, nothing is stored twice.
//! A network only says how bytes travel. Test code only: no sockets and no sleeps; a run takes
//! microseconds of real time.

mod datagrams;
mod stream;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{
    DatagramReceiver, DatagramSender, Link, ReceiverConfig, ReceiverEvent, SenderConfig,
    SenderEvent, StoreToken,
};
use crate::message::Message;

/// The base of every simulated time in the datagram tests (see [`crate::testing::epoch`]).
pub(super) fn epoch() -> Instant {
    crate::testing::epoch()
}

/// How one network carries bytes between the two machines.
trait Network {
    /// What the network schedules on the agenda (an arrival, a break).
    type Event;

    /// The sender's link setting for this network.
    fn link(&self) -> Link;
    /// The run starts at `start`: the network puts what it plans on the agenda.
    fn start(&mut self, agenda: &mut Agenda<Self::Event>, start: Instant) {
        let _ = (agenda, start);
    }
    /// A network event falls due.
    fn happen(
        &mut self,
        ends: &mut Ends,
        agenda: &mut Agenda<Self::Event>,
        now: Instant,
        event: Self::Event,
    );
    /// The sender handed over one datagram to carry to the receiver.
    fn carry_to_receiver(&mut self, agenda: &mut Agenda<Self::Event>, now: Instant, bytes: Vec<u8>);
    /// The receiver handed over an ack for `destination`.
    fn carry_to_sender(
        &mut self,
        agenda: &mut Agenda<Self::Event>,
        now: Instant,
        destination: SocketAddr,
        bytes: Vec<u8>,
    );
    /// The network's own next deadline (a reconnect), if any.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// That deadline passed.
    fn handle_timeout(&mut self, ends: &mut Ends, agenda: &mut Agenda<Self::Event>, now: Instant) {
        let _ = (ends, agenda, now);
    }
}

/// The two machines and what a run records of them.
struct Ends {
    sender: DatagramSender,
    receiver: DatagramReceiver,
    record: Record,
}

/// What happens when, in the order it was scheduled for equal times.
struct Agenda<E> {
    entries: BTreeMap<(Instant, u64), Happening<E>>,
    sequence: u64,
}

enum Happening<E> {
    Send(u64),
    StoreDone { token: StoreToken, tag: Option<u64> },
    Network(E),
}

/// Everything a run was told and did, for the properties to inspect.
#[derive(Debug, Default)]
struct Record {
    sent_at: HashMap<u64, Instant>,
    events: Vec<(Instant, SenderEvent)>,
    /// Successful stores per tag.
    stored: HashMap<u64, u32>,
    /// When each datagram (or line) left the sender.
    transmissions: Vec<Instant>,
}

/// How one store ends, after this many microseconds.
#[derive(Debug, Clone, Copy)]
enum StoreOutcome {
    Stored(u64),
    Failed(u64),
}

impl<E> Agenda<E> {
    fn at(&mut self, when: Instant, event: E) {
        self.schedule(when, Happening::Network(event));
    }

    fn schedule(&mut self, when: Instant, happening: Happening<E>) {
        self.sequence += 1;
        self.entries.insert((when, self.sequence), happening);
    }

    fn next_time(&self) -> Option<Instant> {
        self.entries.keys().next().map(|key| key.0)
    }

    /// Drops the network events `keep` says no to (what was on the way on a broken stream).
    fn retain_network(&mut self, mut keep: impl FnMut(&E) -> bool) {
        self.entries.retain(|_, happening| match happening {
            Happening::Network(event) => keep(event),
            _ => true,
        });
    }
}

/// Runs `sends` (offset in µs, tag) from `start` (an [`epoch`], which the network's own
/// machines start from too) through `network` until nothing is left to happen; store
/// outcomes are used in turn, then every store succeeds at once. Returns the record and the
/// network, for tests that look at its counts.
fn run<N: Network>(
    mut network: N,
    start: Instant,
    config: SenderConfig,
    sends: &[(u64, u64)],
    stores: &[StoreOutcome],
) -> (Record, N) {
    let config = SenderConfig {
        link: network.link(),
        ..config
    };
    let mut ends = Ends {
        sender: DatagramSender::new(config, start),
        receiver: DatagramReceiver::new(ReceiverConfig::default()),
        record: Record::default(),
    };
    let mut agenda = Agenda {
        entries: BTreeMap::new(),
        sequence: 0,
    };
    for &(offset, tag) in sends {
        agenda.schedule(start + micros(offset), Happening::Send(tag));
    }
    network.start(&mut agenda, start);
    let mut stores = stores.iter().copied();
    let mut now = start;
    loop {
        let next = [
            agenda.next_time(),
            ends.sender.poll_timeout(),
            network.poll_timeout(),
        ];
        let Some(next) = next.into_iter().flatten().min() else {
            break;
        };
        // A network that keeps reconnecting has deadlines forever; with nothing left to carry
        // or settle, the run is over.
        if agenda.entries.is_empty() && ends.sender.in_flight() == 0 {
            break;
        }
        assert!(next >= now, "time went backwards");
        now = next;
        while let Some(entry) = agenda.entries.first_entry().filter(|e| e.key().0 <= now) {
            match entry.remove() {
                Happening::Send(tag) => {
                    if ends.sender.send(now, message(tag), tag).is_ok() {
                        ends.record.sent_at.insert(tag, now);
                    }
                }
                Happening::StoreDone { token, tag } => match tag {
                    Some(tag) => {
                        *ends.record.stored.entry(tag).or_default() += 1;
                        ends.receiver.handle_stored(now, token);
                    }
                    None => ends.receiver.handle_store_failed(token),
                },
                Happening::Network(event) => network.happen(&mut ends, &mut agenda, now, event),
            }
        }
        if ends.sender.poll_timeout().is_some_and(|due| due <= now) {
            ends.sender.handle_timeout(now);
        }
        if network.poll_timeout().is_some_and(|due| due <= now) {
            network.handle_timeout(&mut ends, &mut agenda, now);
        }
        // Drain both machines' outputs, as a shell does after every input.
        let mut out = Vec::new();
        while let Some(len) = ends.sender.poll_transmit(&mut out) {
            assert_eq!(len, out.len());
            ends.record.transmissions.push(now);
            network.carry_to_receiver(&mut agenda, now, std::mem::take(&mut out));
        }
        while let Some(transmit) = ends.receiver.poll_transmit(&mut out) {
            assert_eq!(transmit.size, out.len());
            let bytes = std::mem::take(&mut out);
            network.carry_to_sender(&mut agenda, now, transmit.destination, bytes);
        }
        while let Some(event) = ends.sender.poll_event() {
            ends.record.events.push((now, event));
        }
        while let Some(event) = ends.receiver.poll_event() {
            let ReceiverEvent::Store { token, message } = event else {
                panic!("the receiver dropped what the sender sent: {event:?}");
            };
            let tag = tag_of(&message);
            let (delay, tag) = match stores.next().unwrap_or(StoreOutcome::Stored(0)) {
                StoreOutcome::Stored(delay) => (delay, Some(tag)),
                StoreOutcome::Failed(delay) => (delay, None),
            };
            agenda.schedule(now + micros(delay), Happening::StoreDone { token, tag });
        }
    }
    assert_eq!(ends.sender.in_flight(), 0);
    assert_eq!(ends.receiver.pending(), 0);
    (ends.record, network)
}

/// The property every run keeps, whatever the network did: each message ends in exactly one
/// event (a failure not before the ack timeout), a delivered message is stored exactly once,
/// and nothing is stored twice. The text of the first broken rule, if any.
fn check_every_message_ends_once(record: &Record, ack_timeout: Duration) -> Result<(), String> {
    let mut ended: HashMap<u64, SenderEvent> = HashMap::new();
    for &(at, event) in &record.events {
        let (SenderEvent::Delivered { tag } | SenderEvent::Failed { tag }) = event;
        if ended.insert(tag, event).is_some() {
            return Err(format!("tag {tag} ended twice"));
        }
        if matches!(event, SenderEvent::Failed { .. }) && at < record.sent_at[&tag] + ack_timeout {
            return Err(format!("tag {tag} failed early"));
        }
    }
    if ended.len() != record.sent_at.len() {
        return Err(format!(
            "{} sends but {} ended",
            record.sent_at.len(),
            ended.len()
        ));
    }
    if let Some((tag, count)) = record.stored.iter().find(|(_, count)| **count > 1) {
        return Err(format!("tag {tag} stored {count} times"));
    }
    for (tag, event) in &ended {
        if matches!(event, SenderEvent::Delivered { .. }) && record.stored.get(tag) != Some(&1) {
            return Err(format!("tag {tag} delivered but not stored"));
        }
    }
    Ok(())
}

/// Tags numbered from 0, each sent at its offset (µs).
fn sends_at(offsets: &[u64]) -> Vec<(u64, u64)> {
    offsets
        .iter()
        .enumerate()
        .map(|(tag, &offset)| (offset, tag as u64))
        .collect()
}

fn micros(count: u64) -> Duration {
    Duration::from_micros(count)
}

fn message(tag: u64) -> Message {
    Message {
        username: "sim".into(),
        message: format!("message {tag}"),
    }
}

fn tag_of(message: &Message) -> u64 {
    let tag = message
        .message
        .strip_prefix("message ")
        .and_then(|tag| tag.parse().ok());
    tag.expect("the simulation only sends its own messages")
}
