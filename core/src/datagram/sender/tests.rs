//! Unit tests of the datagram sender, in simulated time.

use super::*;
use crate::datagram::simulation::epoch;

fn message(text: &str) -> Message {
    Message::new("ann".into(), text.into()).unwrap()
}

fn drain(sender: &mut DatagramSender) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    loop {
        let mut out = Vec::new();
        match sender.poll_transmit(&mut out) {
            Some(len) => {
                assert_eq!(len, out.len());
                sent.push(out);
            }
            None => return sent,
        }
    }
}

fn ack(id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode(&Datagram::Ack(MessageId::new(id.into()).unwrap()), &mut out);
    out
}

#[test]
fn numbers_ids_after_the_prefix() {
    let now = epoch();
    let config = SenderConfig {
        id_prefix: "p42".into(),
        ..SenderConfig::default()
    };
    let mut sender = DatagramSender::new(config, now);
    assert_eq!(sender.send(now, message("a"), 0).unwrap().as_str(), "p42-1");
    assert_eq!(sender.send(now, message("b"), 0).unwrap().as_str(), "p42-2");
    let sent = drain(&mut sender);
    assert_eq!(sent.len(), 2);
    let first = codec::decode(&sent[0]).unwrap();
    let expected = MessageId::new("p42-1".into()).unwrap();
    assert_eq!(
        first,
        Datagram::Message {
            id: Some(expected),
            message: message("a")
        }
    );
}

#[test]
fn cleans_an_unusable_prefix() {
    let now = epoch();
    let config = SenderConfig {
        id_prefix: format!("é{}", "x".repeat(100)),
        ..Default::default()
    };
    let mut sender = DatagramSender::new(config, now);
    let id = sender.send(now, message("a"), 0).unwrap();
    assert!(id.as_str().starts_with("_xx"));
    let mut counter_max = DatagramSender::new(SenderConfig::default(), now);
    counter_max.id_start = format!("{}-", "x".repeat(MAX_PREFIX_LEN));
    counter_max.next_counter = u64::MAX;
    assert_eq!(
        counter_max
            .send(now, message("a"), 0)
            .unwrap()
            .as_str()
            .len(),
        MAX_ID_LEN
    );
}

#[test]
fn retransmits_with_backoff_until_the_deadline() {
    let start = epoch();
    let mut sender = DatagramSender::new(SenderConfig::default(), start);
    sender.send(start, message("hi"), 7).unwrap();
    let mut sent_at = Vec::new();
    let mut now = start;
    loop {
        for _ in drain(&mut sender) {
            sent_at.push((now - start).as_millis());
        }
        assert_eq!(sender.poll_event(), None);
        let Some(deadline) = sender.poll_timeout() else {
            break;
        };
        now = deadline;
        sender.handle_timeout(now);
        if let Some(event) = sender.poll_event() {
            assert_eq!(event, SenderEvent::Failed { tag: 7 });
            assert_eq!(now - start, DEFAULT_ACK_TIMEOUT);
            break;
        }
    }
    assert_eq!(sent_at, [0, 20, 60, 140, 300, 620, 1120, 1620]);
    assert_eq!(sender.poll_timeout(), None);
    assert!(drain(&mut sender).is_empty());
    assert_eq!(sender.stats().retransmits, 7);
}

#[test]
fn an_ack_delivers_once_and_stops_retransmitting() {
    let now = epoch();
    let mut sender = DatagramSender::new(SenderConfig::default(), now);
    let id = sender.send(now, message("hi"), 3).unwrap();
    drain(&mut sender);
    sender.handle_datagram(now, &ack(id.as_str()));
    assert_eq!(sender.poll_event(), Some(SenderEvent::Delivered { tag: 3 }));
    assert_eq!(sender.poll_timeout(), None);
    sender.handle_datagram(now, &ack(id.as_str()));
    assert_eq!(sender.poll_event(), None);
    assert_eq!(sender.stats().unknown_acks, 1);
    sender.handle_timeout(now + Duration::from_secs(10));
    assert_eq!(sender.poll_event(), None);
}

#[test]
fn an_ack_while_a_retransmit_is_queued_cancels_it() {
    let now = epoch();
    let mut sender = DatagramSender::new(SenderConfig::default(), now);
    let id = sender.send(now, message("hi"), 1).unwrap();
    sender.handle_datagram(now, &ack(id.as_str()));
    assert!(drain(&mut sender).is_empty());
}

#[test]
fn a_slow_shell_never_gets_the_same_message_queued_twice() {
    let start = epoch();
    let mut sender = DatagramSender::new(SenderConfig::default(), start);
    sender.send(start, message("hi"), 1).unwrap();
    sender.handle_timeout(start + Duration::from_millis(20));
    sender.handle_timeout(start + Duration::from_millis(60));
    assert_eq!(drain(&mut sender).len(), 1);
}

#[test]
fn ignores_foreign_acks_and_other_datagrams() {
    let now = epoch();
    let config = SenderConfig {
        id_prefix: "p".into(),
        ..Default::default()
    };
    let mut sender = DatagramSender::new(config, now);
    sender.send(now, message("hi"), 1).unwrap();
    for id in ["q-1", "p-01", "p-+1", "p-2", "p-1x", "p1"] {
        sender.handle_datagram(now, &ack(id));
    }
    sender.handle_datagram(now, b"username=a&message=b");
    sender.handle_datagram(now, b"\xff");
    assert_eq!(sender.poll_event(), None);
    assert_eq!(sender.in_flight(), 1);
    assert_eq!(sender.stats().unknown_acks, 6);
    assert_eq!(sender.stats().ignored_datagrams, 2);
}

#[test]
fn refuses_when_full_and_when_too_large() {
    let now = epoch();
    let config = SenderConfig {
        max_in_flight: 1,
        ..Default::default()
    };
    let mut sender = DatagramSender::new(config, now);
    let huge = message(&"x".repeat(MAX_DATAGRAM_SIZE));
    assert_eq!(sender.send(now, huge, 1), Err(SendError::TooLarge));
    let id = sender.send(now, message("a"), 2).unwrap();
    assert_eq!(id.as_str(), "web-1");
    assert_eq!(sender.send(now, message("b"), 3), Err(SendError::Busy));
    sender.handle_datagram(now, &ack("web-1"));
    assert_eq!(
        sender.send(now, message("b"), 3),
        Err(SendError::Busy),
        "event not polled"
    );
    assert_eq!(sender.poll_event(), Some(SenderEvent::Delivered { tag: 2 }));
    assert_eq!(sender.send(now, message("b"), 3).unwrap().as_str(), "web-2");
}

#[test]
fn poll_timeout_is_the_earliest_of_many() {
    let start = epoch();
    let mut sender = DatagramSender::new(SenderConfig::default(), start);
    for index in 0..1000u64 {
        let now = start + Duration::from_millis(index % 17);
        sender.send(now, message("m"), index).unwrap();
    }
    assert_eq!(
        sender.poll_timeout(),
        Some(start + DEFAULT_FIRST_RETRANSMIT)
    );
}

fn stream_config() -> SenderConfig {
    SenderConfig {
        link: Link::Stream,
        ..SenderConfig::default()
    }
}

#[test]
fn a_stream_sender_waits_for_a_connection_then_sends_once() {
    let start = epoch();
    let mut sender = DatagramSender::new(stream_config(), start);
    sender.send(start, message("early"), 1).unwrap();
    assert!(drain(&mut sender).is_empty(), "no connection yet");
    assert_eq!(sender.poll_timeout(), Some(start + DEFAULT_ACK_TIMEOUT));
    let connected = start + Duration::from_millis(30);
    sender.handle_reconnect(connected);
    assert_eq!(drain(&mut sender).len(), 1);
    sender.send(connected, message("later"), 2).unwrap();
    assert_eq!(drain(&mut sender).len(), 1);
    // No retransmission timer: the only wake-up is the first deadline.
    assert_eq!(sender.poll_timeout(), Some(start + DEFAULT_ACK_TIMEOUT));
    sender.handle_timeout(start + Duration::from_millis(1999));
    assert!(drain(&mut sender).is_empty());
    assert_eq!(sender.stats().retransmits, 0);
}

#[test]
fn a_reconnect_resends_everything_in_flight_in_send_order() {
    let start = epoch();
    let config = SenderConfig {
        id_prefix: "s".into(),
        ..stream_config()
    };
    let mut sender = DatagramSender::new(config, start);
    sender.handle_reconnect(start);
    for tag in 1..=12 {
        sender
            .send(start, message(&format!("m{tag}")), tag)
            .unwrap();
    }
    assert_eq!(drain(&mut sender).len(), 12);
    sender.handle_datagram(start, &ack("s-3"));
    assert_eq!(sender.poll_event(), Some(SenderEvent::Delivered { tag: 3 }));
    let broken = start + Duration::from_millis(5);
    sender.handle_disconnect(broken);
    sender.send(broken, message("m13"), 13).unwrap();
    assert!(drain(&mut sender).is_empty(), "nothing goes out while down");
    sender.handle_reconnect(start + Duration::from_millis(100));
    let ids: Vec<String> = drain(&mut sender)
        .iter()
        .map(|bytes| match codec::decode(bytes) {
            Ok(Datagram::Message { id: Some(id), .. }) => id.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<String> = (1..=13)
        .filter(|&counter| counter != 3)
        .map(|counter| format!("s-{counter}"))
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(
        sender.stats().retransmits,
        11,
        "m13 went out for the first time"
    );
}

#[test]
fn a_disconnect_drops_transmissions_not_yet_taken() {
    let start = epoch();
    let mut sender = DatagramSender::new(stream_config(), start);
    sender.handle_reconnect(start);
    sender.send(start, message("a"), 1).unwrap();
    sender.handle_disconnect(start);
    assert!(drain(&mut sender).is_empty());
    sender.handle_reconnect(start);
    sender.handle_reconnect(start);
    assert_eq!(
        drain(&mut sender).len(),
        1,
        "queued once however many reconnects"
    );
}

#[test]
fn a_stream_message_fails_at_its_deadline_even_while_connected() {
    let start = epoch();
    let mut sender = DatagramSender::new(stream_config(), start);
    sender.handle_reconnect(start);
    sender.send(start, message("a"), 1).unwrap();
    drain(&mut sender);
    sender.handle_timeout(start + DEFAULT_ACK_TIMEOUT);
    assert_eq!(sender.poll_event(), Some(SenderEvent::Failed { tag: 1 }));
    assert_eq!(sender.poll_timeout(), None);
    sender.handle_reconnect(start + DEFAULT_ACK_TIMEOUT);
    assert!(
        drain(&mut sender).is_empty(),
        "a failed message is never resent"
    );
}

#[test]
fn a_datagram_sender_ignores_disconnects() {
    let start = epoch();
    let mut sender = DatagramSender::new(SenderConfig::default(), start);
    sender.handle_disconnect(start);
    sender.send(start, message("a"), 1).unwrap();
    assert_eq!(drain(&mut sender).len(), 1);
}

#[test]
fn id_prefixes_tell_process_starts_apart() {
    assert_eq!(id_prefix(0x2a, 0xff), "ff.2a");
    assert_ne!(id_prefix(1, 2), id_prefix(1, 3));
    assert_ne!(id_prefix(1, 2), id_prefix(2, 2));
}

/// Lets `message` fail: sent, never acknowledged, past its deadline.
fn fail(sender: &mut DatagramSender, now: Instant, message: Message, tag: u64) -> MessageId {
    let id = sender.send(now, message, tag).unwrap();
    drain(sender);
    let deadline = now + DEFAULT_ACK_TIMEOUT;
    sender.handle_timeout(deadline);
    drain(sender);
    assert_eq!(sender.poll_event(), Some(SenderEvent::Failed { tag }));
    id
}

#[test]
fn a_failed_message_can_be_sent_again_under_its_id() {
    let now = epoch();
    let mut sender = DatagramSender::new(SenderConfig::default(), now);
    let id = fail(&mut sender, now, message("maybe stored"), 7);
    let retry = sender.retry_of(7).expect("the failure is remembered");
    assert_eq!(retry.id, id);
    assert_eq!(retry.message, message("maybe stored"));
    let later = now + Duration::from_secs(10);
    let again = sender
        .send_again(later, retry.message, &retry.id, 8)
        .unwrap();
    assert_eq!(
        again, id,
        "the same content keeps its id, so the receiver stores it once"
    );
    let sent = drain(&mut sender);
    assert_eq!(
        codec::decode(&sent[0]).unwrap(),
        Datagram::Message {
            id: Some(id.clone()),
            message: message("maybe stored")
        }
    );
    sender.handle_datagram(later, &ack(id.as_str()));
    assert_eq!(sender.poll_event(), Some(SenderEvent::Delivered { tag: 8 }));
    assert_eq!(sender.retry_of(7), None, "a retry is used once");
}

#[test]
fn changed_content_or_a_foreign_id_gets_a_new_id() {
    let now = epoch();
    let config = SenderConfig {
        id_prefix: "p".into(),
        ..SenderConfig::default()
    };
    let mut sender = DatagramSender::new(config, now);
    let id = fail(&mut sender, now, message("first words"), 1);
    let changed = sender
        .send_again(now, message("other words"), &id, 2)
        .unwrap();
    assert_ne!(changed, id);
    // An id this sender never gave, or gave but never saw fail, is not reused either: a
    // client cannot make its message pass for someone else's copy.
    let foreign = MessageId::new("p-99".into()).unwrap();
    assert_ne!(
        sender.send_again(now, message("x"), &foreign, 3).unwrap(),
        foreign
    );
    let in_flight = sender.send(now, message("y"), 4).unwrap();
    assert_ne!(
        sender.send_again(now, message("y"), &in_flight, 5).unwrap(),
        in_flight
    );
    // The failure with its original content is still there for the right retry.
    assert_eq!(
        sender
            .send_again(now, message("first words"), &id, 6)
            .unwrap(),
        id
    );
}

#[test]
fn only_the_last_failures_are_remembered() {
    let now = epoch();
    let mut sender = DatagramSender::new(SenderConfig::default(), now);
    for tag in 0..(MAX_REMEMBERED_FAILURES as u64 + 10) {
        fail(&mut sender, now, message("lost"), tag);
    }
    assert_eq!(sender.retry_of(0), None);
    assert!(sender
        .retry_of(MAX_REMEMBERED_FAILURES as u64 + 9)
        .is_some());
    assert!(sender.failed.len() <= MAX_REMEMBERED_FAILURES);
    assert!(sender.failed_bytes <= MAX_REMEMBERED_BYTES);
}
