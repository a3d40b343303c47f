//! The datagram network of the simulation (`--transport udp`): each datagram, either way, is
//! delivered after a delay (different delays reorder them), dropped, or delivered twice, as the
//! run's faults say; once they are used up, every datagram arrives after 10 µs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{
    check_every_message_ends_once, micros, run, sends_at, Agenda, Ends, Network, StoreOutcome,
};
use crate::datagram::{Link, SenderConfig, SenderEvent};

/// What the network does with one datagram.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Delivered after this many microseconds (different delays reorder datagrams).
    Deliver(u64),
    Drop,
    /// Delivered twice, after each delay.
    Duplicate(u64, u64),
}

/// A network of datagrams with faults, used in turn.
struct Datagrams<I> {
    faults: I,
}

/// A datagram arriving at the receiver (`true`) or back at the sender.
struct Arrival {
    to_receiver: bool,
    bytes: Vec<u8>,
}

/// The address the receiver sees the sender's datagrams come from.
const SENDER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40_000);

impl<I: Iterator<Item = Fault>> Datagrams<I> {
    fn carry(
        &mut self,
        agenda: &mut Agenda<Arrival>,
        now: Instant,
        to_receiver: bool,
        bytes: Vec<u8>,
    ) {
        let delays = match self.faults.next().unwrap_or(Fault::Deliver(10)) {
            Fault::Deliver(delay) => vec![delay],
            Fault::Drop => vec![],
            Fault::Duplicate(first, second) => vec![first, second],
        };
        for delay in delays {
            let bytes = bytes.clone();
            agenda.at(now + micros(delay), Arrival { to_receiver, bytes });
        }
    }
}

impl<I: Iterator<Item = Fault>> Network for Datagrams<I> {
    type Event = Arrival;

    fn link(&self) -> Link {
        Link::Datagrams
    }

    fn happen(&mut self, ends: &mut Ends, _: &mut Agenda<Arrival>, now: Instant, event: Arrival) {
        if event.to_receiver {
            ends.receiver.handle_datagram(now, SENDER, &event.bytes);
        } else {
            ends.sender.handle_datagram(now, &event.bytes);
        }
    }

    fn carry_to_receiver(&mut self, agenda: &mut Agenda<Arrival>, now: Instant, bytes: Vec<u8>) {
        self.carry(agenda, now, true, bytes);
    }

    fn carry_to_sender(
        &mut self,
        agenda: &mut Agenda<Arrival>,
        now: Instant,
        destination: SocketAddr,
        bytes: Vec<u8>,
    ) {
        assert_eq!(destination, SENDER);
        self.carry(agenda, now, false, bytes);
    }
}

/// One run through a datagram network with these faults.
fn run_datagrams(
    config: SenderConfig,
    sends: &[(u64, u64)],
    faults: &[Fault],
    stores: &[StoreOutcome],
) -> super::Record {
    let network = Datagrams {
        faults: faults.iter().copied(),
    };
    run(network, super::epoch(), config, sends, stores).0
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
        let config = SenderConfig::default();
        let ack_timeout = config.ack_timeout;
        let record = run_datagrams(config, &sends_at(&sends), &faults, &stores);
        let checked = check_every_message_ends_once(&record, ack_timeout);
        prop_assert!(checked.is_ok(), "{:?}", checked);
    }
}

#[test]
fn a_perfect_network_delivers_everything_once() {
    let sends: Vec<(u64, u64)> = (0..100).map(|tag| (tag * 7, tag)).collect();
    let record = run_datagrams(SenderConfig::default(), &sends, &[], &[]);
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
    let record = run_datagrams(SenderConfig::default(), &[(0, 1)], &faults, &[]);
    assert_eq!(record.stored.get(&1), Some(&1));
    assert!(matches!(
        record.events[..],
        [(_, SenderEvent::Delivered { tag: 1 })]
    ));
    assert!(record.transmissions.len() >= 3);
}

#[test]
fn a_failed_store_is_retried_by_the_next_retransmission() {
    let record = run_datagrams(
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
    let record = run_datagrams(SenderConfig::default(), &[(0, 1)], &faults, &[]);
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
