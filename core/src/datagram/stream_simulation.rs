//! Simulated-time tests of the stream transport (`--transport tcp`): a [`DatagramSender`] on
//! [`Link::Stream`] with its [`Reconnect`] machine and a [`LineFramer`] per connection, talking
//! to a [`DatagramReceiver`] over an in-memory stream that delivers bytes in order, in arbitrary
//! pieces, and breaks at random moments (losing what was still on the way, often mid-line);
//! connection attempts may be refused.
//!
//! Owns that harness and the end-to-end properties: every message ends in exactly one event,
//! a delivered message is stored exactly once, nothing is stored twice. Test code only: no
//! sockets and no sleeps.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::simulation::epoch;
use super::{
    push_line, DatagramReceiver, DatagramSender, LineFramer, Link, ReceiverConfig, ReceiverEvent,
    Reconnect, ReconnectConfig, SenderConfig, SenderEvent, StoreToken,
};
use crate::message::Message;

/// One run's schedule. Offsets and delays are in microseconds; lists are used in turn and
/// fall back to a working network once used up.
#[derive(Debug, Clone, Default)]
struct Schedule {
    /// (offset, tag) of each `send`.
    sends: Vec<(u64, u64)>,
    /// Offsets at which the connection up at that moment breaks.
    breaks: Vec<u64>,
    /// How each connection attempt ends: `Some(delay)` connects, `None` is refused at once.
    connects: Vec<Option<u64>>,
    /// Sizes of the pieces a write arrives in, and each piece's delay.
    pieces: Vec<(usize, u64)>,
    /// How each store ends: `Ok(delay)` stored, `Err(delay)` failed.
    stores: Vec<Result<u64, u64>>,
}

#[derive(Debug)]
enum Happening {
    Send(u64),
    /// Bytes of connection `connection` arrive at the server (`true`) or the web app.
    Arrive {
        connection: u64,
        to_server: bool,
        bytes: Vec<u8>,
    },
    Break,
    ConnectDone {
        attempt: u64,
        connected: bool,
    },
    StoreDone {
        token: StoreToken,
        tag: Option<u64>,
    },
}

/// Everything a run was told and did.
#[derive(Debug, Default)]
struct Record {
    sent_at: HashMap<u64, Instant>,
    events: Vec<(Instant, SenderEvent)>,
    stored: HashMap<u64, u32>,
    connections: u64,
    lines_sent: u64,
}

/// The world of one run: both ends, the stream between them and the clock's agenda.
struct World {
    start: Instant,
    schedule_connects: std::vec::IntoIter<Option<u64>>,
    pieces: std::vec::IntoIter<(usize, u64)>,
    stores: std::vec::IntoIter<Result<u64, u64>>,
    agenda: BTreeMap<(Instant, u64), Happening>,
    sequence: u64,
    sender: DatagramSender,
    reconnect: Reconnect,
    receiver: DatagramReceiver,
    /// The connection up now, if any, with the web app's framer for it.
    current: Option<(u64, LineFramer)>,
    /// The server's framer per open connection.
    server_framers: HashMap<u64, LineFramer>,
    /// The attempt under way.
    attempt: u64,
    /// Per connection and direction, when the last piece arrives, so pieces stay in order.
    last_arrival: HashMap<(u64, bool), Instant>,
    record: Record,
}

impl World {
    fn new(schedule: Schedule) -> World {
        let start = epoch();
        let config = SenderConfig {
            link: Link::Stream,
            ..SenderConfig::default()
        };
        let mut world = World {
            start,
            schedule_connects: schedule.connects.into_iter(),
            pieces: schedule.pieces.into_iter(),
            stores: schedule.stores.into_iter(),
            agenda: BTreeMap::new(),
            sequence: 0,
            sender: DatagramSender::new(config, start),
            reconnect: Reconnect::new(ReconnectConfig::default(), start),
            receiver: DatagramReceiver::new(ReceiverConfig::default()),
            current: None,
            server_framers: HashMap::new(),
            attempt: 0,
            last_arrival: HashMap::new(),
            record: Record::default(),
        };
        for &(offset, tag) in &schedule.sends {
            world.at(start + micros(offset), Happening::Send(tag));
        }
        for &offset in &schedule.breaks {
            world.at(start + micros(offset), Happening::Break);
        }
        world
    }

    fn at(&mut self, when: Instant, happening: Happening) {
        self.sequence += 1;
        self.agenda.insert((when, self.sequence), happening);
    }

    fn run(mut self) -> Record {
        let mut now = self.start;
        loop {
            let next = [
                self.agenda.keys().next().map(|key| key.0),
                self.sender.poll_timeout(),
                self.reconnect.poll_timeout(),
            ];
            // A connected, idle world with nothing scheduled is done; one still reconnecting
            // with nothing in flight is done too once nothing else is due.
            let Some(next) = next.into_iter().flatten().min() else {
                break;
            };
            if self.agenda.is_empty() && self.sender.in_flight() == 0 {
                break;
            }
            assert!(next >= now, "time went backwards");
            now = next;
            while let Some(entry) = self.agenda.first_entry().filter(|e| e.key().0 <= now) {
                let happening = entry.remove();
                self.happen(now, happening);
            }
            if self.sender.poll_timeout().is_some_and(|due| due <= now) {
                self.sender.handle_timeout(now);
            }
            if self.reconnect.poll_timeout().is_some_and(|due| due <= now) {
                let was_connecting = self.reconnect.is_connecting();
                if self.reconnect.handle_timeout(now) {
                    self.attempt += 1;
                    let outcome = self.schedule_connects.next().unwrap_or(Some(100));
                    let (delay, connected) = outcome.map_or((0, false), |delay| (delay, true));
                    let attempt = self.attempt;
                    self.at(
                        now + micros(delay),
                        Happening::ConnectDone { attempt, connected },
                    );
                } else if was_connecting && !self.reconnect.is_connecting() {
                    // The attempt timed out: the shell drops it.
                    self.attempt += 1;
                    self.sender.handle_disconnect(now);
                }
            }
            self.drain(now);
        }
        assert_eq!(self.sender.in_flight(), 0);
        self.record
    }

    fn happen(&mut self, now: Instant, happening: Happening) {
        match happening {
            Happening::Send(tag) => {
                if self.sender.send(now, message(tag), tag).is_ok() {
                    self.record.sent_at.insert(tag, now);
                }
            }
            Happening::Arrive {
                connection,
                to_server,
                bytes,
            } => self.arrive(now, connection, to_server, &bytes),
            Happening::Break => {
                if let Some((connection, _)) = self.current.take() {
                    // Whatever was still on the way in either direction is lost.
                    self.agenda.retain(|_, happening| match happening {
                        Happening::Arrive { connection: c, .. } => *c != connection,
                        _ => true,
                    });
                    self.server_framers.remove(&connection);
                    self.sender.handle_disconnect(now);
                    self.reconnect.handle_failure(now);
                }
            }
            Happening::ConnectDone { attempt, connected } => {
                if attempt != self.attempt || !self.reconnect.is_connecting() {
                    return;
                }
                if connected {
                    self.record.connections += 1;
                    let connection = self.record.connections;
                    self.current = Some((connection, LineFramer::new()));
                    self.server_framers.insert(connection, LineFramer::new());
                    self.reconnect.handle_connected(now);
                    self.sender.handle_reconnect(now);
                } else {
                    self.reconnect.handle_failure(now);
                }
            }
            Happening::StoreDone { token, tag } => match tag {
                Some(tag) => {
                    *self.record.stored.entry(tag).or_default() += 1;
                    self.receiver.handle_stored(now, token);
                }
                None => self.receiver.handle_store_failed(token),
            },
        }
    }

    fn arrive(&mut self, now: Instant, connection: u64, to_server: bool, bytes: &[u8]) {
        if to_server {
            let Some(framer) = self.server_framers.get_mut(&connection) else {
                return;
            };
            framer.receive(bytes);
            while let Ok(Some(line)) = framer.poll_line() {
                self.receiver.handle_datagram(now, peer(connection), line);
            }
        } else {
            let Some((current, framer)) = self.current.as_mut() else {
                return;
            };
            if *current != connection {
                return;
            }
            framer.receive(bytes);
            while let Ok(Some(line)) = framer.poll_line() {
                self.sender.handle_datagram(now, line);
            }
        }
    }

    /// Drains both machines' outputs after an input, as a shell does.
    fn drain(&mut self, now: Instant) {
        let mut out = Vec::new();
        while let Some(len) = self.sender.poll_transmit(&mut out) {
            let Some((connection, _)) = self.current else {
                panic!("the sender transmitted with no connection up");
            };
            let mut line = Vec::new();
            push_line(&out[..len], &mut line);
            out.clear();
            self.record.lines_sent += 1;
            self.write(now, connection, true, line);
        }
        while let Some(transmit) = self.receiver.poll_transmit(&mut out) {
            let connection = u64::from(transmit.destination.port() - FIRST_PORT);
            let mut line = Vec::new();
            push_line(&out[..transmit.size], &mut line);
            out.clear();
            // An ack for a connection that broke goes nowhere.
            if self.server_framers.contains_key(&connection) {
                self.write(now, connection, false, line);
            }
        }
        while let Some(event) = self.sender.poll_event() {
            self.record.events.push((now, event));
        }
        while let Some(event) = self.receiver.poll_event() {
            let ReceiverEvent::Store { token, message } = event else {
                panic!("the receiver dropped a line of the sender: {event:?}");
            };
            let tag = tag_of(&message);
            let (delay, tag) = match self.stores.next().unwrap_or(Ok(0)) {
                Ok(delay) => (delay, Some(tag)),
                Err(delay) => (delay, None),
            };
            self.at(now + micros(delay), Happening::StoreDone { token, tag });
        }
    }

    /// Sends `bytes` down the stream in the schedule's pieces, in order.
    fn write(&mut self, now: Instant, connection: u64, to_server: bool, bytes: Vec<u8>) {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let (size, delay) = self.pieces.next().unwrap_or((usize::MAX, 10));
            let (piece, after) = rest.split_at(size.clamp(1, rest.len()));
            rest = after;
            let last = self
                .last_arrival
                .entry((connection, to_server))
                .or_insert(now);
            let arrival = (now + micros(delay)).max(*last);
            *last = arrival;
            let happening = Happening::Arrive {
                connection,
                to_server,
                bytes: piece.to_vec(),
            };
            self.at(arrival, happening);
        }
    }
}

fn peer(connection: u64) -> SocketAddr {
    // Connections per run stay far below the ports above FIRST_PORT.
    let port = FIRST_PORT + u16::try_from(connection).expect("few connections per run");
    SocketAddr::from(([127, 0, 0, 1], port))
}

const FIRST_PORT: u16 = 40_000;

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

fn schedule() -> impl Strategy<Value = Schedule> {
    let delay = prop_oneof![4 => 0..200u64, 2 => 0..50_000u64, 1 => 0..1_500_000u64];
    let connect = prop_oneof![3 => delay.clone().prop_map(Some), 1 => Just(None)];
    let store = prop_oneof![
        5 => delay.clone().prop_map(Ok),
        1 => delay.clone().prop_map(Err),
    ];
    (
        proptest::collection::vec(0..3_000_000u64, 1..24),
        proptest::collection::vec(0..4_000_000u64, 0..8),
        proptest::collection::vec(connect, 0..12),
        proptest::collection::vec((1..80usize, delay), 0..300),
        proptest::collection::vec(store, 0..30),
    )
        .prop_map(|(sends, breaks, connects, pieces, stores)| Schedule {
            sends: sends
                .iter()
                .enumerate()
                .map(|(tag, &offset)| (offset, tag as u64))
                .collect(),
            breaks,
            connects,
            pieces,
            stores,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_breaking_stream_ends_every_message_once_and_never_stores_twice(
        schedule in schedule(),
    ) {
        let ack_timeout = SenderConfig::default().ack_timeout;
        let record = World::new(schedule).run();
        let mut ended: HashMap<u64, SenderEvent> = HashMap::new();
        for &(at, event) in &record.events {
            let (SenderEvent::Delivered { tag } | SenderEvent::Failed { tag }) = event;
            prop_assert!(ended.insert(tag, event).is_none(), "tag {} ended twice", tag);
            if let SenderEvent::Failed { .. } = event {
                prop_assert!(at >= record.sent_at[&tag] + ack_timeout, "tag {} failed early", tag);
            }
        }
        prop_assert_eq!(ended.len(), record.sent_at.len(), "every send ends in one event");
        for (tag, count) in &record.stored {
            prop_assert!(*count <= 1, "tag {} stored {} times", tag, count);
        }
        for (tag, event) in &ended {
            if let SenderEvent::Delivered { .. } = event {
                prop_assert_eq!(record.stored.get(tag), Some(&1), "delivered but not stored");
            }
        }
    }
}

fn fast_schedule() -> impl Strategy<Value = Schedule> {
    (
        proptest::collection::vec(0..3_000_000u64, 1..24),
        proptest::collection::vec(0..4_000_000u64, 0..8),
        proptest::collection::vec((1..80usize, 0..200u64), 0..300),
    )
        .prop_map(|(sends, breaks, pieces)| Schedule {
            sends: sends
                .iter()
                .enumerate()
                .map(|(tag, &offset)| (offset, tag as u64))
                .collect(),
            breaks,
            pieces,
            ..Schedule::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn breaks_alone_never_cost_a_message(schedule in fast_schedule()) {
        // Each break costs one first-delay wait (the backoff resets on every success), and
        // eight of them fit well within the ack timeout: every message must get through.
        let breaks = schedule.breaks.len();
        let record = World::new(schedule).run();
        for &(_, event) in &record.events {
            prop_assert!(
                matches!(event, SenderEvent::Delivered { .. }),
                "{:?} with {} breaks",
                event,
                breaks
            );
        }
        prop_assert!(record.stored.values().all(|&count| count == 1));
    }
}

#[test]
fn an_unbroken_stream_sends_each_message_once_and_delivers_all() {
    let schedule = Schedule {
        sends: (0..100).map(|tag| (tag * 7, tag)).collect(),
        // One byte at a time: lines arrive in the smallest pieces possible.
        pieces: vec![(1, 3); 100_000],
        ..Schedule::default()
    };
    let record = World::new(schedule).run();
    assert_eq!(record.connections, 1);
    assert_eq!(record.lines_sent, 100, "no resend on a stream that holds");
    let delivered = record
        .events
        .iter()
        .filter(|(_, event)| matches!(event, SenderEvent::Delivered { .. }));
    assert_eq!(delivered.count(), 100);
    assert!(record.stored.values().all(|&count| count == 1));
}

#[test]
fn a_break_mid_line_resends_on_the_next_connection_and_stores_once() {
    // The first connection carries half of the line, then breaks; the first reconnect is
    // refused; the second connection carries the message.
    let schedule = Schedule {
        sends: vec![(1_000, 1)],
        breaks: vec![1_050],
        connects: vec![Some(100), None, Some(100)],
        pieces: vec![(10, 10), (10, 200)],
        ..Schedule::default()
    };
    let record = World::new(schedule).run();
    assert_eq!(record.connections, 2);
    assert_eq!(record.lines_sent, 2);
    assert_eq!(record.stored.get(&1), Some(&1));
    assert!(matches!(
        record.events[..],
        [(_, SenderEvent::Delivered { tag: 1 })]
    ));
}

#[test]
fn a_lost_ack_is_answered_again_after_the_reconnect_without_a_second_store() {
    // The message arrives and is stored; the stream breaks before its ack gets back.
    let schedule = Schedule {
        sends: vec![(1_000, 1)],
        breaks: vec![1_500],
        pieces: vec![(usize::MAX, 10), (usize::MAX, 10_000)],
        ..Schedule::default()
    };
    let record = World::new(schedule).run();
    assert_eq!(record.connections, 2);
    assert_eq!(
        record.lines_sent, 2,
        "sent, then resent on the new connection"
    );
    assert_eq!(record.stored.get(&1), Some(&1));
    assert!(matches!(
        record.events[..],
        [(_, SenderEvent::Delivered { tag: 1 })]
    ));
}

#[test]
fn a_server_that_stays_down_fails_the_message_at_its_deadline() {
    let schedule = Schedule {
        sends: vec![(1_000, 1)],
        connects: vec![None; 10],
        ..Schedule::default()
    };
    let record = World::new(schedule).run();
    let [(at, SenderEvent::Failed { tag: 1 })] = record.events[..] else {
        panic!("{:?}", record.events);
    };
    assert_eq!(at - record.sent_at[&1], SenderConfig::default().ack_timeout);
    assert_eq!(record.lines_sent, 0);
}
