use super::*;
use crate::datagram::codec::KINDS;
use crate::datagram::simulation::epoch;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn datagram(id: Option<&str>, text: &str) -> Vec<u8> {
    let id = id.map(|id| MessageId::new(id.into()).unwrap());
    let message = Message::new("ann".into(), text.into()).unwrap();
    let mut out = Vec::new();
    codec::encode(&Datagram::Message { id, message }, &mut out);
    out
}

fn acks(receiver: &mut DatagramReceiver) -> Vec<(SocketAddr, String)> {
    let mut sent = Vec::new();
    let mut out = Vec::new();
    while let Some(transmit) = receiver.poll_transmit(&mut out) {
        assert_eq!(transmit.size, out.len());
        let Ok(Datagram::Ack(id)) = codec::decode(&out) else {
            panic!("not an ack")
        };
        sent.push((transmit.destination, id.to_string()));
        out.clear();
    }
    sent
}

fn store_token(receiver: &mut DatagramReceiver) -> StoreToken {
    match receiver.poll_event() {
        Some(ReceiverEvent::Store { token, .. }) => token,
        other => panic!("expected a store, got {other:?}"),
    }
}

#[test]
fn stores_a_new_message_and_acks_once_stored() {
    let now = epoch();
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    receiver.handle_datagram(now, addr(1), &datagram(Some("w-1"), "hi"));
    let expected = Message::new("ann".into(), "hi".into()).unwrap();
    let token = match receiver.poll_event() {
        Some(ReceiverEvent::Store { token, message }) => {
            assert_eq!(message, expected);
            token
        }
        other => panic!("{other:?}"),
    };
    assert!(
        acks(&mut receiver).is_empty(),
        "no ack before the store is durable"
    );
    receiver.handle_stored(now, token);
    assert_eq!(acks(&mut receiver), [(addr(1), "w-1".to_string())]);
    assert_eq!(receiver.pending(), 0);
}

#[test]
fn copies_while_storing_are_acked_with_the_first() {
    let now = epoch();
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    let bytes = datagram(Some("w-1"), "hi");
    receiver.handle_datagram(now, addr(1), &bytes);
    let token = store_token(&mut receiver);
    receiver.handle_datagram(now, addr(1), &bytes);
    receiver.handle_datagram(now, addr(2), &bytes);
    assert_eq!(receiver.poll_event(), None);
    receiver.handle_stored(now, token);
    let expected = [(addr(1), "w-1".to_string()), (addr(2), "w-1".to_string())];
    assert_eq!(acks(&mut receiver), expected);
    assert_eq!(receiver.stats().duplicates, 2);
}

#[test]
fn copies_after_storing_are_acked_at_once_without_storing() {
    let now = epoch();
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    let bytes = datagram(Some("w-1"), "hi");
    receiver.handle_datagram(now, addr(1), &bytes);
    let token = store_token(&mut receiver);
    receiver.handle_stored(now, token);
    acks(&mut receiver);
    receiver.handle_datagram(now, addr(1), &bytes);
    assert_eq!(receiver.poll_event(), None);
    assert_eq!(acks(&mut receiver), [(addr(1), "w-1".to_string())]);
    assert_eq!(receiver.stats().stores, 1);
}

#[test]
fn a_failed_store_is_forgotten_and_retried_on_the_next_copy() {
    let now = epoch();
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    let bytes = datagram(Some("w-1"), "hi");
    receiver.handle_datagram(now, addr(1), &bytes);
    let token = store_token(&mut receiver);
    receiver.handle_store_failed(token);
    assert!(acks(&mut receiver).is_empty());
    receiver.handle_datagram(now, addr(1), &bytes);
    let again = store_token(&mut receiver);
    assert_ne!(again, token);
    receiver.handle_stored(now, token);
    assert!(acks(&mut receiver).is_empty(), "a stale token acks nothing");
    receiver.handle_stored(now, again);
    assert_eq!(acks(&mut receiver).len(), 1);
    assert_eq!(receiver.stats().store_failures, 1);
}

#[test]
fn messages_without_id_are_stored_every_time_and_never_acked() {
    let now = epoch();
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    for bytes in [
        datagram(None, "hi"),
        datagram(None, "hi"),
        b"username=a&message=b".to_vec(),
    ] {
        receiver.handle_datagram(now, addr(1), &bytes);
        let token = store_token(&mut receiver);
        receiver.handle_stored(now, token);
    }
    assert!(acks(&mut receiver).is_empty());
    assert_eq!(receiver.stats().stores, 3);
}

#[test]
fn drops_malformed_datagrams_and_counts_them_by_kind() {
    let now = epoch();
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    let inputs: [&[u8]; 4] = [b"", b"{", b"{", br#"{"ack":"w-1"}"#];
    for bytes in inputs {
        receiver.handle_datagram(now, addr(9), bytes);
    }
    let mut errors = Vec::new();
    while let Some(event) = receiver.poll_event() {
        let ReceiverEvent::Dropped { from, error } = event else {
            panic!("{event:?}")
        };
        assert_eq!(from, addr(9));
        errors.push(error);
    }
    let expected = [
        DatagramError::Empty,
        DatagramError::MalformedJson,
        DatagramError::MalformedJson,
        DatagramError::UnexpectedAck,
    ];
    assert_eq!(errors, expected);
    let dropped = receiver.stats().dropped;
    assert_eq!(dropped.get("empty"), 1);
    assert_eq!(dropped.get("malformed_json"), 2);
    assert_eq!(dropped.get("unexpected_ack"), 1);
    assert_eq!(dropped.get("no such kind"), 0);
    assert_eq!(dropped.total(), 4);
    assert_eq!(dropped.iter().count(), KINDS.len());
}

#[test]
fn a_flood_of_garbage_is_counted_without_growing_the_event_queue() {
    let now = epoch();
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    for _ in 0..MAX_QUEUED_EVENTS + 10 {
        receiver.handle_datagram(now, addr(9), b"{");
    }
    assert_eq!(receiver.events.len(), MAX_QUEUED_EVENTS);
    assert_eq!(
        receiver.stats().dropped.total(),
        MAX_QUEUED_EVENTS as u64 + 10
    );
}

#[test]
fn the_dedup_window_forgets_the_oldest_id() {
    let now = epoch();
    let config = ReceiverConfig {
        dedup_window: 2,
        ..Default::default()
    };
    let mut receiver = DatagramReceiver::new(config);
    for id in ["w-1", "w-2", "w-3"] {
        receiver.handle_datagram(now, addr(1), &datagram(Some(id), "hi"));
        let token = store_token(&mut receiver);
        receiver.handle_stored(now, token);
    }
    receiver.handle_datagram(now, addr(1), &datagram(Some("w-3"), "hi"));
    assert_eq!(receiver.poll_event(), None);
    receiver.handle_datagram(now, addr(1), &datagram(Some("w-1"), "hi"));
    assert!(matches!(
        receiver.poll_event(),
        Some(ReceiverEvent::Store { .. })
    ));
    assert_eq!(receiver.recent.len(), 2);
}

#[test]
fn a_full_batch_can_be_stored_while_the_next_one_gathers() {
    let config = ReceiverConfig::default();
    assert!(config.max_batch > 0 && config.max_batch * 2 <= config.max_pending);
}

#[test]
fn pending_stores_acks_and_peers_are_bounded() {
    let now = epoch();
    let config = ReceiverConfig {
        max_pending: 1,
        max_queued_acks: 1,
        ..Default::default()
    };
    let mut receiver = DatagramReceiver::new(config);
    let first = datagram(Some("w-1"), "hi");
    for port in 0..20 {
        receiver.handle_datagram(now, addr(port), &first);
    }
    let token = store_token(&mut receiver);
    receiver.handle_datagram(now, addr(1), &datagram(Some("w-2"), "hi"));
    assert_eq!(receiver.poll_event(), None);
    assert_eq!(receiver.stats().busy, 1);
    assert_eq!(
        receiver.pending.get(&token).map(|p| p.peers.len()),
        Some(MAX_PEERS_PER_MESSAGE)
    );
    receiver.handle_stored(now, token);
    assert_eq!(acks(&mut receiver).len(), 1);
    assert_eq!(
        receiver.stats().acks_dropped,
        MAX_PEERS_PER_MESSAGE as u64 - 1
    );
}

#[test]
fn ids_remembered_from_before_a_restart_are_acked_not_stored_again() {
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    let id = MessageId::new("web.1-7".to_string()).unwrap();
    receiver.remember_stored([id.clone()]);
    let from: SocketAddr = ([127, 0, 0, 1], 4000).into();
    let mut datagram = Vec::new();
    let message = Message::new("ann".into(), "hi".into()).unwrap();
    codec::encode(
        &Datagram::Message {
            id: Some(id.clone()),
            message,
        },
        &mut datagram,
    );
    receiver.handle_datagram(crate::testing::epoch(), from, &datagram);
    assert!(
        receiver.poll_event().is_none(),
        "a remembered id is not stored again"
    );
    let mut out = Vec::new();
    let transmit = receiver.poll_transmit(&mut out).expect("an ack");
    assert_eq!(transmit.destination, from);
    assert_eq!(codec::decode(&out), Ok(Datagram::Ack(id)));
}

#[test]
fn pending_id_names_the_stored_message() {
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    let id = MessageId::new("web.1-8".to_string()).unwrap();
    let mut datagram = Vec::new();
    let message = Message::new("ann".into(), "hi".into()).unwrap();
    codec::encode(
        &Datagram::Message {
            id: Some(id.clone()),
            message,
        },
        &mut datagram,
    );
    receiver.handle_datagram(
        crate::testing::epoch(),
        ([127, 0, 0, 1], 4000).into(),
        &datagram,
    );
    let Some(ReceiverEvent::Store { token, .. }) = receiver.poll_event() else {
        panic!("a store event")
    };
    assert_eq!(receiver.pending_id(token), Some(&id));
}
