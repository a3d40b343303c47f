//! The stream network of the simulation (`--transport tcp`): the sender's [`Reconnect`]
//! machine and a [`LineFramer`] per connection end, over an in-memory stream that delivers
//! bytes in order, in arbitrary pieces, and breaks at random moments (losing what was still on
//! the way, often mid-line); connection attempts may be refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use proptest::prelude::*;

use super::{
    check_every_message_ends_once, micros, run, sends_at, Agenda, Ends, Network, Record,
    StoreOutcome,
};
use crate::datagram::{
    push_line, LineFramer, Link, Reconnect, ReconnectConfig, SenderConfig, SenderEvent,
};

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
    /// How each store ends.
    stores: Vec<StoreOutcome>,
}

#[derive(Debug)]
enum StreamEvent {
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
}

/// The stream between the web app and the socket server.
struct Stream {
    /// Offsets of the breaks.
    breaks: Vec<u64>,
    connects: std::vec::IntoIter<Option<u64>>,
    pieces: std::vec::IntoIter<(usize, u64)>,
    reconnect: Reconnect,
    /// The connection up now, if any, with the web app's framer for it.
    current: Option<(u64, LineFramer)>,
    /// The server's framer per open connection.
    server_framers: HashMap<u64, LineFramer>,
    /// The attempt under way.
    attempt: u64,
    /// Connections made so far.
    connections: u64,
    /// Per connection and direction, when the last piece arrives, so pieces stay in order.
    last_arrival: HashMap<(u64, bool), Instant>,
}

/// Runs `schedule`; the record, and how many connections were made.
fn run_stream(schedule: Schedule) -> (Record, u64) {
    let start = super::epoch();
    let stream = Stream {
        breaks: schedule.breaks,
        connects: schedule.connects.into_iter(),
        pieces: schedule.pieces.into_iter(),
        reconnect: Reconnect::new(ReconnectConfig::default(), start),
        current: None,
        server_framers: HashMap::new(),
        attempt: 0,
        connections: 0,
        last_arrival: HashMap::new(),
    };
    let config = SenderConfig::default();
    let (record, stream) = run(stream, start, config, &schedule.sends, &schedule.stores);
    (record, stream.connections)
}

impl Network for Stream {
    type Event = StreamEvent;

    fn link(&self) -> Link {
        Link::Stream
    }

    fn start(&mut self, agenda: &mut Agenda<StreamEvent>, start: Instant) {
        for &offset in &self.breaks {
            agenda.at(start + micros(offset), StreamEvent::Break);
        }
    }

    fn happen(
        &mut self,
        ends: &mut Ends,
        agenda: &mut Agenda<StreamEvent>,
        now: Instant,
        event: StreamEvent,
    ) {
        let stream = self;
        match event {
            StreamEvent::Arrive {
                connection,
                to_server,
                bytes,
            } => stream.arrive(ends, now, connection, to_server, &bytes),
            StreamEvent::Break => {
                if let Some((connection, _)) = stream.current.take() {
                    // Whatever was still on the way in either direction is lost.
                    agenda.retain_network(|event| match event {
                        StreamEvent::Arrive { connection: c, .. } => *c != connection,
                        _ => true,
                    });
                    stream.server_framers.remove(&connection);
                    ends.sender.handle_disconnect(now);
                    stream.reconnect.handle_failure(now);
                }
            }
            StreamEvent::ConnectDone { attempt, connected } => {
                if attempt != stream.attempt || !stream.reconnect.is_connecting() {
                    return;
                }
                if connected {
                    stream.connections += 1;
                    let connection = stream.connections;
                    stream.current = Some((connection, LineFramer::new()));
                    stream.server_framers.insert(connection, LineFramer::new());
                    stream.reconnect.handle_connected(now);
                    ends.sender.handle_reconnect(now);
                } else {
                    stream.reconnect.handle_failure(now);
                }
            }
        }
    }

    fn carry_to_receiver(
        &mut self,
        agenda: &mut Agenda<StreamEvent>,
        now: Instant,
        bytes: Vec<u8>,
    ) {
        let Some((connection, _)) = self.current else {
            panic!("the sender transmitted with no connection up");
        };
        let mut line = Vec::new();
        push_line(&bytes, &mut line);
        self.write(agenda, now, connection, true, line);
    }

    fn carry_to_sender(
        &mut self,
        agenda: &mut Agenda<StreamEvent>,
        now: Instant,
        destination: SocketAddr,
        bytes: Vec<u8>,
    ) {
        let connection = u64::from(destination.port() - FIRST_PORT);
        let mut line = Vec::new();
        push_line(&bytes, &mut line);
        // An ack for a connection that broke goes nowhere.
        if self.server_framers.contains_key(&connection) {
            self.write(agenda, now, connection, false, line);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.reconnect.poll_timeout()
    }

    fn handle_timeout(&mut self, ends: &mut Ends, agenda: &mut Agenda<StreamEvent>, now: Instant) {
        let stream = self;
        if stream.reconnect.poll_timeout().is_none_or(|due| due > now) {
            return;
        }
        let was_connecting = stream.reconnect.is_connecting();
        if stream.reconnect.handle_timeout(now) {
            stream.attempt += 1;
            let outcome = stream.connects.next().unwrap_or(Some(100));
            let (delay, connected) = outcome.map_or((0, false), |delay| (delay, true));
            let attempt = stream.attempt;
            agenda.at(
                now + micros(delay),
                StreamEvent::ConnectDone { attempt, connected },
            );
        } else if was_connecting && !stream.reconnect.is_connecting() {
            // The attempt timed out: the shell drops it.
            stream.attempt += 1;
            ends.sender.handle_disconnect(now);
        }
    }
}

impl Stream {
    fn arrive(
        &mut self,
        ends: &mut Ends,
        now: Instant,
        connection: u64,
        to_server: bool,
        bytes: &[u8],
    ) {
        if to_server {
            let Some(framer) = self.server_framers.get_mut(&connection) else {
                return;
            };
            framer.receive(bytes);
            while let Ok(Some(line)) = framer.poll_line() {
                ends.receiver.handle_datagram(now, peer(connection), line);
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
                ends.sender.handle_datagram(now, line);
            }
        }
    }

    /// Sends `bytes` down the stream in the schedule's pieces, in order.
    fn write(
        &mut self,
        agenda: &mut Agenda<StreamEvent>,
        now: Instant,
        connection: u64,
        to_server: bool,
        bytes: Vec<u8>,
    ) {
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
            let event = StreamEvent::Arrive {
                connection,
                to_server,
                bytes: piece.to_vec(),
            };
            agenda.at(arrival, event);
        }
    }
}

fn peer(connection: u64) -> SocketAddr {
    // Connections per run stay far below the ports above FIRST_PORT.
    let port = FIRST_PORT + u16::try_from(connection).expect("few connections per run");
    SocketAddr::from(([127, 0, 0, 1], port))
}

const FIRST_PORT: u16 = 40_000;

fn schedule() -> impl Strategy<Value = Schedule> {
    let delay = prop_oneof![4 => 0..200u64, 2 => 0..50_000u64, 1 => 0..1_500_000u64];
    let connect = prop_oneof![3 => delay.clone().prop_map(Some), 1 => Just(None)];
    let store = prop_oneof![
        5 => delay.clone().prop_map(StoreOutcome::Stored),
        1 => delay.clone().prop_map(StoreOutcome::Failed),
    ];
    (
        proptest::collection::vec(0..3_000_000u64, 1..24),
        proptest::collection::vec(0..4_000_000u64, 0..8),
        proptest::collection::vec(connect, 0..12),
        proptest::collection::vec((1..80usize, delay), 0..300),
        proptest::collection::vec(store, 0..30),
    )
        .prop_map(|(sends, breaks, connects, pieces, stores)| Schedule {
            sends: sends_at(&sends),
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
        let (record, _) = run_stream(schedule);
        let checked = check_every_message_ends_once(&record, ack_timeout);
        prop_assert!(checked.is_ok(), "{:?}", checked);
    }
}

fn fast_schedule() -> impl Strategy<Value = Schedule> {
    (
        proptest::collection::vec(0..3_000_000u64, 1..24),
        proptest::collection::vec(0..4_000_000u64, 0..8),
        proptest::collection::vec((1..80usize, 0..200u64), 0..300),
    )
        .prop_map(|(sends, breaks, pieces)| Schedule {
            sends: sends_at(&sends),
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
        let (record, _) = run_stream(schedule);
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
    let (record, connections) = run_stream(schedule);
    assert_eq!(connections, 1);
    assert_eq!(
        record.transmissions.len(),
        100,
        "no resend on a stream that holds"
    );
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
    let (record, connections) = run_stream(schedule);
    assert_eq!(connections, 2);
    assert_eq!(record.transmissions.len(), 2);
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
    let (record, connections) = run_stream(schedule);
    assert_eq!(connections, 2);
    assert_eq!(
        record.transmissions.len(),
        2,
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
    let (record, _) = run_stream(schedule);
    let [(at, SenderEvent::Failed { tag: 1 })] = record.events[..] else {
        panic!("{:?}", record.events);
    };
    assert_eq!(at - record.sent_at[&1], SenderConfig::default().ack_timeout);
    assert_eq!(record.transmissions.len(), 0);
}
