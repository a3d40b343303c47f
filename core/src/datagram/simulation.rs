//! Simulated-time tests of a [`DatagramSender`] and a [`DatagramReceiver`] talking through an
//! in-memory network that drops, duplicates, delays and reorders datagrams in both directions.
//!
//! Owns the small harness for that (a clock that jumps to the next thing due, the network, a
//! store that takes time and may fail) and the end-to-end properties of the protocol. Test code
//! only: no sockets and no sleeps; a whole run takes microseconds of real time.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{
    DatagramReceiver, DatagramSender, ReceiverConfig, ReceiverEvent, SenderConfig, SenderEvent,
    StoreToken,
};
use crate::message::Message;

/// The base of every simulated time in the datagram tests (see [`crate::testing::epoch`]).
pub(super) fn epoch() -> Instant {
    crate::testing::epoch()
}

/// What the network does with one datagram.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Delivered after this many microseconds (different delays reorder datagrams).
    Deliver(u64),
    Drop,
    /// Delivered twice, after each delay.
    Duplicate(u64, u64),
}

/// How one store ends, after this many microseconds.
#[derive(Debug, Clone, Copy)]
enum StoreOutcome {
    Stored(u64),
    Failed(u64),
}

/// Everything a run was told and did, for the properties to inspect.
#[derive(Debug, Default)]
struct Record {
    sent_at: HashMap<u64, Instant>,
    events: Vec<(Instant, SenderEvent)>,
    /// Successful stores per tag.
    stored: HashMap<u64, u32>,
    /// When each datagram left the sender.
    transmissions: Vec<Instant>,
}

/// Runs `sends` (offset in µs, tag) through the faulty network until nothing is left to happen.
/// Faults and store outcomes are used in turn; once used up, the network and store work.
fn run(
    config: SenderConfig,
    sends: &[(u64, u64)],
    faults: &[Fault],
    stores: &[StoreOutcome],
) -> Record {
    let start = epoch();
    let sender_addr = SocketAddr::from(([127, 0, 0, 1], 40_000));
    let mut sender = DatagramSender::new(config, start);
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    let mut faults = faults.iter().copied();
    let mut store_outcomes = stores.iter().copied();

    let mut pending_sends: BTreeMap<(Instant, u64), u64> = BTreeMap::new();
    for (index, &(offset, tag)) in sends.iter().enumerate() {
        pending_sends.insert((start + micros(offset), index as u64), tag);
    }
    // In flight on the network: (arrival, sequence) -> (to the receiver?, bytes).
    let mut network: BTreeMap<(Instant, u64), (bool, Vec<u8>)> = BTreeMap::new();
    let mut stores_due: BTreeMap<(Instant, u64), (StoreToken, Option<u64>)> = BTreeMap::new();
    let mut sequence = 0u64;
    let mut record = Record::default();

    let mut now = start;
    loop {
        let next = [
            pending_sends.keys().next().map(|key| key.0),
            network.keys().next().map(|key| key.0),
            stores_due.keys().next().map(|key| key.0),
            sender.poll_timeout(),
        ];
        let Some(next) = next.into_iter().flatten().min() else {
            break;
        };
        assert!(next >= now, "time went backwards");
        now = next;

        while let Some(entry) = pending_sends
            .first_entry()
            .filter(|entry| entry.key().0 <= now)
        {
            let tag = entry.remove();
            if sender.send(now, message(tag), tag).is_ok() {
                record.sent_at.insert(tag, now);
            }
        }
        while let Some(entry) = network.first_entry().filter(|entry| entry.key().0 <= now) {
            let (to_receiver, bytes) = entry.remove();
            if to_receiver {
                receiver.handle_datagram(now, sender_addr, &bytes);
            } else {
                sender.handle_datagram(now, &bytes);
            }
        }
        while let Some(entry) = stores_due
            .first_entry()
            .filter(|entry| entry.key().0 <= now)
        {
            match entry.remove() {
                (token, Some(tag)) => {
                    *record.stored.entry(tag).or_default() += 1;
                    receiver.handle_stored(now, token);
                }
                (token, None) => receiver.handle_store_failed(token),
            }
        }
        if sender
            .poll_timeout()
            .is_some_and(|deadline| deadline <= now)
        {
            sender.handle_timeout(now);
        }

        let mut out = Vec::new();
        while let Some(len) = sender.poll_transmit(&mut out) {
            assert_eq!(len, out.len());
            record.transmissions.push(now);
            let bytes = std::mem::take(&mut out);
            transmit(&mut network, &mut sequence, &mut faults, now, true, bytes);
        }
        while let Some(transmit_info) = receiver.poll_transmit(&mut out) {
            assert_eq!(transmit_info.destination, sender_addr);
            let bytes = std::mem::take(&mut out);
            transmit(&mut network, &mut sequence, &mut faults, now, false, bytes);
        }
        while let Some(event) = sender.poll_event() {
            record.events.push((now, event));
        }
        while let Some(event) = receiver.poll_event() {
            let ReceiverEvent::Store { token, message } = event else {
                panic!("the receiver dropped a datagram of the sender: {event:?}");
            };
            let tag = tag_of(&message);
            sequence += 1;
            match store_outcomes.next().unwrap_or(StoreOutcome::Stored(0)) {
                StoreOutcome::Stored(delay) => {
                    stores_due.insert((now + micros(delay), sequence), (token, Some(tag)))
                }
                StoreOutcome::Failed(delay) => {
                    stores_due.insert((now + micros(delay), sequence), (token, None))
                }
            };
        }
    }
    assert_eq!(sender.in_flight(), 0);
    assert_eq!(receiver.pending(), 0);
    record
}

fn transmit(
    network: &mut BTreeMap<(Instant, u64), (bool, Vec<u8>)>,
    sequence: &mut u64,
    faults: &mut impl Iterator<Item = Fault>,
    now: Instant,
    to_receiver: bool,
    bytes: Vec<u8>,
) {
    let delays = match faults.next().unwrap_or(Fault::Deliver(10)) {
        Fault::Deliver(delay) => vec![delay],
        Fault::Drop => vec![],
        Fault::Duplicate(first, second) => vec![first, second],
    };
    for delay in delays {
        *sequence += 1;
        network.insert(
            (now + micros(delay), *sequence),
            (to_receiver, bytes.clone()),
        );
    }
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

fn fault() -> impl Strategy<Value = Fault> {
    // Mostly short delays (loopback), some long enough to cross the ack deadline.
    let delay = prop_oneof![4 => 0..200u64, 4 => 0..50_000u64, 1 => 0..3_000_000u64];
    prop_oneof![
        3 => delay.clone().prop_map(Fault::Deliver),
        2 => Just(Fault::Drop),
        1 => (delay.clone(), delay).prop_map(|(first, second)| Fault::Duplicate(first, second)),
    ]
}

fn store_outcome() -> impl Strategy<Value = StoreOutcome> {
    let delay = prop_oneof![0..2_000u64, 0..100_000u64, 0..2_500_000u64];
    prop_oneof![
        4 => delay.clone().prop_map(StoreOutcome::Stored),
        1 => delay.prop_map(StoreOutcome::Failed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_ends_once_and_is_never_stored_twice(
        sends in proptest::collection::vec(0..3_000_000u64, 1..24),
        faults in proptest::collection::vec(fault(), 0..200),
        stores in proptest::collection::vec(store_outcome(), 0..30),
    ) {
        let sends: Vec<(u64, u64)> =
            sends.iter().enumerate().map(|(tag, &offset)| (offset, tag as u64)).collect();
        let config = SenderConfig::default();
        let ack_timeout = config.ack_timeout;
        let record = run(config, &sends, &faults, &stores);

        let mut ended: HashMap<u64, SenderEvent> = HashMap::new();
        for &(at, event) in &record.events {
            let (SenderEvent::Delivered { tag } | SenderEvent::Failed { tag }) = event;
            prop_assert!(ended.insert(tag, event).is_none(), "tag {} ended twice", tag);
            let sent_at = record.sent_at[&tag];
            if let SenderEvent::Failed { .. } = event {
                prop_assert!(at >= sent_at + ack_timeout, "tag {} failed early", tag);
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

#[test]
fn a_perfect_network_delivers_everything_once() {
    let sends: Vec<(u64, u64)> = (0..100).map(|tag| (tag * 7, tag)).collect();
    let record = run(SenderConfig::default(), &sends, &[], &[]);
    assert_eq!(
        record.transmissions.len(),
        100,
        "no retransmission on a fast network"
    );
    let delivered = record
        .events
        .iter()
        .filter(|(_, event)| matches!(event, SenderEvent::Delivered { .. }));
    assert_eq!(delivered.count(), 100);
    assert!(record.stored.values().all(|&count| count == 1));
}

#[test]
fn lost_datagrams_and_acks_are_retransmitted_and_stored_once() {
    // Message lost, then ack lost, then both copies arrive out of order.
    let faults = [
        Fault::Drop,
        Fault::Deliver(10),
        Fault::Drop,
        Fault::Duplicate(5_000, 1),
    ];
    let record = run(SenderConfig::default(), &[(0, 1)], &faults, &[]);
    assert_eq!(record.stored.get(&1), Some(&1));
    assert!(matches!(
        record.events[..],
        [(_, SenderEvent::Delivered { tag: 1 })]
    ));
    assert!(record.transmissions.len() >= 3);
}

#[test]
fn a_failed_store_is_retried_by_the_next_retransmission() {
    let record = run(
        SenderConfig::default(),
        &[(0, 1)],
        &[],
        &[StoreOutcome::Failed(100)],
    );
    assert_eq!(record.stored.get(&1), Some(&1));
    assert!(matches!(
        record.events[..],
        [(_, SenderEvent::Delivered { tag: 1 })]
    ));
}

#[test]
fn a_dead_receiver_fails_the_message_at_the_deadline() {
    let faults = [Fault::Drop; 16];
    let record = run(SenderConfig::default(), &[(0, 1)], &faults, &[]);
    let [(at, SenderEvent::Failed { tag: 1 })] = record.events[..] else {
        panic!("{:?}", record.events);
    };
    let start = record.sent_at[&1];
    assert_eq!(at - start, Duration::from_secs(2));
    let offsets: Vec<u128> = record
        .transmissions
        .iter()
        .map(|at| (*at - start).as_millis())
        .collect();
    assert_eq!(offsets, [0, 20, 60, 140, 300, 620, 1120, 1620]);
}
