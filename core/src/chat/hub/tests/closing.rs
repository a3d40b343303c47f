//! How clients leave a [`ChatHub`]: too slow, idle, at EOF, at a shutdown, and the deadline
//! each close gives the shell.

use std::time::Duration;

use serde_json::json;

use super::{config, message, Room};
use crate::chat::{ChatConfig, CloseReason};
use crate::limits::SHUTDOWN_GRACE;

#[test]
fn a_client_that_stops_reading_is_disconnected_and_never_holds_up_the_others() {
    let mut room = Room::new(ChatConfig {
        max_queue: 4096,
        ..config()
    });
    let ann = room.join("ann");
    let bob = room.join("bob");
    let stuck = room.join("stuck");
    room.lines(ann);
    room.lines(bob);
    room.stalled.insert(stuck);
    let mut sent = 0;
    let mut bob_got = Vec::new();
    while !room.closed.contains_key(&stuck) {
        room.say(ann, "ann", &format!("message {sent}"));
        sent += 1;
        assert!(sent < 1000, "never disconnected");
        // Every other client got every message so far, at once.
        let lines = room.lines(bob);
        assert_eq!(
            lines.first(),
            Some(&message("ann", &format!("message {}", sent - 1)))
        );
        bob_got.extend(lines);
    }
    assert_eq!(room.closed[&stuck], CloseReason::TooSlow);
    let last = room.lines(stuck).pop().unwrap();
    assert_eq!(
        last,
        json!({"type": "error", "error": CloseReason::TooSlow.to_string()})
    );
    // What was held in the hub for it stayed within the bound.
    // The first message went to the shell; the rest waited in the hub until one more would
    // have passed the bound.
    let len = |n: usize| message("ann", &format!("message {n}")).to_string().len() + 1;
    let waited: usize = (1..sent - 1).map(len).sum();
    assert!(
        waited <= 4096 && waited + len(sent - 1) > 4096,
        "{sent} {waited}"
    );
    assert_eq!(bob_got.len(), sent + 1);
    assert_eq!(
        bob_got.last(),
        Some(&json!({"type": "leave", "username": "stuck"}))
    );
    room.say(ann, "ann", "after");
    assert_eq!(room.lines(bob), [message("ann", "after")]);
}

#[test]
fn an_idle_client_is_timed_out_and_an_empty_line_keeps_it() {
    let idle = Duration::from_secs(600);
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let quiet = room.join("quiet");
    room.lines(ann);
    assert_eq!(room.hub.poll_timeout(), Some(room.now + idle));
    room.advance(Duration::from_secs(400));
    room.send(ann, "\n");
    room.advance(Duration::from_secs(200));
    assert_eq!(room.closed.get(&quiet), Some(&CloseReason::Idle));
    assert_eq!(
        room.lines(quiet),
        [json!({"type": "error", "error": CloseReason::Idle.to_string()})]
    );
    assert_eq!(
        room.lines(ann),
        [json!({"type": "leave", "username": "quiet"})]
    );
    assert!(!room.closed.contains_key(&ann));
    room.advance(Duration::from_secs(399));
    assert!(!room.closed.contains_key(&ann));
    room.advance(Duration::from_secs(1));
    assert_eq!(room.closed.get(&ann), Some(&CloseReason::Idle));
    assert!(room.hub.is_empty());
}

#[test]
fn at_eof_the_rest_of_the_queue_is_the_last_transmit() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let bob = room.join("bob");
    room.lines(ann);
    room.stalled.insert(bob);
    room.say(ann, "ann", "one");
    room.say(ann, "ann", "two");
    room.hub.receive_eof(room.now, bob);
    room.pump();
    assert_eq!(
        room.lines(bob),
        [message("ann", "one"), message("ann", "two")]
    );
    assert_eq!(room.closed.get(&bob), Some(&CloseReason::PeerClosed));
}

#[test]
fn shutdown_tells_everyone_and_closes_all() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let bob = room.join("bob");
    room.lines(ann);
    room.hub.shutdown(room.now);
    room.pump();
    let last = json!({"type": "error", "error": CloseReason::Shutdown.to_string()});
    assert_eq!(room.lines(ann), std::slice::from_ref(&last));
    assert_eq!(room.lines(bob), [last]);
    assert!(room.hub.is_empty());
    assert!(room.hub.names.is_empty());
}

#[test]
fn a_closed_client_has_until_the_linger_or_at_a_shutdown_the_grace() {
    let linger = Duration::from_secs(30);
    let mut room = Room::new(ChatConfig {
        close_linger: linger,
        ..config()
    });
    let ann = room.join("ann");
    let bob = room.join("bob");
    room.advance(Duration::from_secs(1));
    room.hub.receive_eof(room.now, bob);
    room.pump();
    assert_eq!(room.deadlines[&bob], room.now + linger);
    room.advance(Duration::from_secs(1));
    room.hub.shutdown(room.now);
    room.pump();
    assert_eq!(room.deadlines[&ann], room.now + SHUTDOWN_GRACE);
    assert_eq!(
        ChatConfig::default().close_linger,
        crate::chat::CLOSE_LINGER
    );
}

#[test]
fn a_client_connecting_after_a_shutdown_is_told_goodbye_at_once() {
    let mut room = Room::new(config());
    room.hub.shutdown(room.now);
    let late = room.connect();
    assert_eq!(room.closed.get(&late), Some(&CloseReason::Shutdown));
    assert_eq!(
        room.lines(late),
        [json!({"type": "error", "error": CloseReason::Shutdown.to_string()})]
    );
    assert!(room.hub.is_empty());
}
