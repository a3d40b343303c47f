//! The cluster machine driven with simulated time: no Redis, no sleeps.

use std::time::{Duration, Instant};

use super::wire::{self, ClusterEvent, EventKind};
use super::*;

mod claims;

const ME: NodeId = NodeId(1);
const OTHER: NodeId = NodeId(2);

fn said(username: &str, message: &str) -> RoomEvent {
    RoomEvent::Said(SaidMessage {
        username: username.to_owned(),
        message: message.to_owned(),
        time: None,
    })
}

fn commands(node: &mut ClusterNode) -> Vec<ClusterCommand> {
    std::iter::from_fn(|| node.poll_command()).collect()
}

fn deliveries(node: &mut ClusterNode) -> Vec<Delivery> {
    std::iter::from_fn(|| node.poll_delivery()).collect()
}

fn attempt_of(commands: &[ClusterCommand]) -> u64 {
    commands
        .iter()
        .find_map(|command| match command {
            ClusterCommand::Connect { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .expect("a connect")
}

/// A node that connected and synced an empty history.
fn synced(now: Instant) -> ClusterNode {
    let mut node = ClusterNode::new(ClusterConfig::new(ME), now);
    let attempt = attempt_of(&commands(&mut node));
    node.handle_report(
        now,
        ClusterReport::Synced {
            attempt,
            history: vec![],
        },
    );
    assert_eq!(deliveries(&mut node), vec![Delivery::History(vec![])]);
    commands(&mut node);
    node
}

fn receive(node: &mut ClusterNode, now: Instant, event: ClusterEvent) {
    let mut payload = Vec::new();
    wire::encode(&event, &mut payload);
    let attempt = 1;
    node.handle_report(now, ClusterReport::Received { attempt, payload });
}

fn room(node: NodeId, seq: u64, event: RoomEvent) -> ClusterEvent {
    ClusterEvent {
        node,
        seq,
        kind: EventKind::Room(event),
    }
}

fn published_seqs(commands: &[ClusterCommand]) -> Vec<u64> {
    commands
        .iter()
        .filter_map(|command| match command {
            ClusterCommand::Publish { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

#[test]
fn publishes_each_event_with_the_next_sequence_number() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    node.publish(now, RoomEvent::Joined("ann".into()));
    node.publish(now, said("ann", "hi"));
    let sent = commands(&mut node);
    assert_eq!(published_seqs(&sent), vec![1, 2]);
    let keeps: Vec<bool> = sent
        .iter()
        .filter_map(|command| match command {
            ClusterCommand::Publish { keep, .. } => Some(*keep),
            _ => None,
        })
        .collect();
    assert_eq!(
        keeps,
        vec![false, true],
        "only messages go into the history"
    );
}

#[test]
fn delivers_other_nodes_events_once_and_own_echoes_only_to_the_history() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    receive(&mut node, now, room(ME, 1, said("me", "echo")));
    receive(&mut node, now, room(ME, 1, said("me", "echo")));
    receive(&mut node, now, room(OTHER, 1, said("bob", "one")));
    receive(&mut node, now, room(OTHER, 1, said("bob", "one")));
    receive(&mut node, now, room(OTHER, 2, said("bob", "two")));
    let RoomEvent::Said(echo) = said("me", "echo") else {
        unreachable!("said makes a message")
    };
    assert_eq!(
        deliveries(&mut node),
        vec![
            Delivery::Echo(echo),
            Delivery::Live(said("bob", "one")),
            Delivery::Live(said("bob", "two"))
        ]
    );
}

#[test]
fn first_sync_fills_the_history_and_later_ones_deliver_what_was_missed() {
    let now = crate::testing::epoch();
    let mut node = ClusterNode::new(ClusterConfig::new(ME), now);
    let attempt = attempt_of(&commands(&mut node));
    let history = vec![said_payload(OTHER, 1, "bob", "old")];
    node.handle_report(now, ClusterReport::Synced { attempt, history });
    let old = SaidMessage {
        username: "bob".into(),
        message: "old".into(),
        time: None,
    };
    assert_eq!(deliveries(&mut node), vec![Delivery::History(vec![old])]);

    node.handle_report(
        now,
        ClusterReport::Lost {
            attempt,
            error: "gone".into(),
        },
    );
    let later = now + Duration::from_secs(1);
    node.handle_timeout(later);
    let attempt = attempt_of(&commands(&mut node));
    // What arrives live before the history is read waits, and comes after the history.
    let payload = said_payload(OTHER, 3, "bob", "live");
    node.handle_report(later, ClusterReport::Received { attempt, payload });
    assert!(deliveries(&mut node).is_empty());
    let history = vec![
        said_payload(OTHER, 1, "bob", "old"),
        said_payload(OTHER, 2, "bob", "during the outage"),
        said_payload(OTHER, 3, "bob", "live"),
    ];
    node.handle_report(later, ClusterReport::Synced { attempt, history });
    assert_eq!(
        deliveries(&mut node),
        vec![
            Delivery::Live(said("bob", "during the outage")),
            Delivery::Live(said("bob", "live"))
        ]
    );
}

#[test]
fn buffers_while_down_and_publishes_after_the_resync_in_order() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    node.publish(now, said("ann", "1"));
    let sent = commands(&mut node);
    assert_eq!(published_seqs(&sent), vec![1]);
    node.handle_report(
        now,
        ClusterReport::Lost {
            attempt: 1,
            error: "reset".into(),
        },
    );
    assert!(node.poll_notice().is_some(), "the outage is said once");
    node.publish(now, said("ann", "2"));
    assert!(published_seqs(&commands(&mut node)).is_empty());
    assert_eq!(node.buffered(), 2);
    let retry = node.poll_timeout().expect("a retry");
    assert_eq!(retry - now, MIN_BACKOFF);
    node.handle_timeout(retry);
    let attempt = attempt_of(&commands(&mut node));
    node.handle_report(
        retry,
        ClusterReport::Synced {
            attempt,
            history: vec![],
        },
    );
    // The one in flight when the link broke goes again first: the worker publishes it once.
    assert_eq!(published_seqs(&commands(&mut node)), vec![1, 2]);
    node.handle_report(retry, ClusterReport::Published { attempt, seq: 2 });
    assert_eq!(node.buffered(), 0);
}

#[test]
fn a_full_outage_buffer_drops_the_oldest_and_says_how_many() {
    let now = crate::testing::epoch();
    let mut config = ClusterConfig::new(ME);
    config.max_buffered = 3;
    let mut node = ClusterNode::new(config, now);
    let attempt = attempt_of(&commands(&mut node));
    node.handle_report(
        now,
        ClusterReport::Lost {
            attempt,
            error: "refused".into(),
        },
    );
    for i in 0..5 {
        node.publish(now, said("ann", &i.to_string()));
    }
    assert_eq!(node.buffered(), 3);
    let retry = node.poll_timeout().expect("a retry");
    node.handle_timeout(retry);
    let attempt = attempt_of(&commands(&mut node));
    node.handle_report(
        retry,
        ClusterReport::Synced {
            attempt,
            history: vec![],
        },
    );
    assert_eq!(published_seqs(&commands(&mut node)), vec![3, 4, 5]);
}

#[test]
fn reconnects_with_a_doubling_backoff_up_to_five_seconds() {
    let mut now = crate::testing::epoch();
    let mut node = ClusterNode::new(ClusterConfig::new(ME), now);
    let mut waits = Vec::new();
    for _ in 0..8 {
        let attempt = attempt_of(&commands(&mut node));
        node.handle_report(
            now,
            ClusterReport::Lost {
                attempt,
                error: "refused".into(),
            },
        );
        let retry = node.poll_timeout().expect("a retry");
        waits.push((retry - now).as_millis());
        now = retry;
        node.handle_timeout(now);
    }
    assert_eq!(waits, vec![100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    let notices: Vec<String> = std::iter::from_fn(|| node.poll_notice()).collect();
    assert_eq!(notices.len(), 1, "the outage is said once: {notices:?}");
}

#[test]
fn ignores_reports_of_an_attempt_given_up() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    node.handle_report(
        now,
        ClusterReport::Lost {
            attempt: 1,
            error: "x".into(),
        },
    );
    receive(&mut node, now, room(OTHER, 1, said("bob", "late")));
    assert!(deliveries(&mut node).is_empty());
}

#[test]
fn a_silent_node_is_dead_after_the_ttl_and_its_names_leave_once() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    receive(
        &mut node,
        now,
        room(OTHER, 1, RoomEvent::Joined("bob".into())),
    );
    receive(
        &mut node,
        now,
        room(OTHER, 1, RoomEvent::Joined("bob".into())),
    );
    assert_eq!(
        deliveries(&mut node),
        vec![Delivery::Live(RoomEvent::Joined("bob".into()))]
    );
    let mut at = now;
    // Our own beats keep going; the other node says nothing.
    while at < now + DEFAULT_TTL {
        at = node.poll_timeout().expect("a deadline");
        node.handle_timeout(at);
    }
    assert_eq!(
        deliveries(&mut node),
        vec![Delivery::Live(RoomEvent::Left("bob".into()))]
    );
    let beats = commands(&mut node)
        .iter()
        .filter(|command| matches!(command, ClusterCommand::Beat { .. }))
        .count();
    assert!(beats >= 3, "a beat every third of the ttl, got {beats}");
    // A leave it published before dying, arriving late, is not told twice.
    receive(&mut node, at, room(OTHER, 2, RoomEvent::Left("bob".into())));
    assert!(deliveries(&mut node).is_empty());
}

#[test]
fn a_beat_reconciles_the_names_of_a_node() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    receive(
        &mut node,
        now,
        room(OTHER, 1, RoomEvent::Joined("bob".into())),
    );
    deliveries(&mut node);
    let beat = ClusterEvent {
        node: OTHER,
        seq: 3,
        kind: EventKind::Beat {
            names: vec!["cy".into()],
        },
    };
    receive(&mut node, now, beat);
    assert_eq!(
        deliveries(&mut node),
        vec![
            Delivery::Live(RoomEvent::Left("bob".into())),
            Delivery::Live(RoomEvent::Joined("cy".into()))
        ]
    );
}

#[test]
fn nobody_is_declared_dead_while_our_own_link_is_down() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    receive(
        &mut node,
        now,
        room(OTHER, 1, RoomEvent::Joined("bob".into())),
    );
    deliveries(&mut node);
    node.handle_report(
        now,
        ClusterReport::Lost {
            attempt: 1,
            error: "x".into(),
        },
    );
    let later = now + DEFAULT_TTL * 3;
    node.handle_timeout(later);
    let attempt = attempt_of(&commands(&mut node));
    node.handle_report(
        later,
        ClusterReport::Synced {
            attempt,
            history: vec![],
        },
    );
    node.handle_timeout(later + Duration::from_millis(1));
    assert!(deliveries(&mut node).is_empty());
}

/// What a worker that read the history hands back for a message of another node.
fn said_payload(node: NodeId, seq: u64, username: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let said = SaidMessage {
        username: username.to_owned(),
        message: message.to_owned(),
        time: None,
    };
    wire::encode(
        &ClusterEvent {
            node,
            seq,
            kind: EventKind::Room(RoomEvent::Said(said)),
        },
        &mut out,
    );
    out
}
