//! The hub in a cluster (issue 17): what it hands out for the other nodes and what it does
//! with theirs.

use super::*;
use crate::chat::cluster::{Delivery, RoomEvent};
use crate::chat::SaidMessage;

fn clustered() -> Room {
    let mut room = Room::new(config());
    room.hub.share_events();
    room
}

fn shared(room: &mut Room) -> Vec<RoomEvent> {
    std::iter::from_fn(|| room.hub.poll_shared()).collect()
}

fn said(username: &str, message: &str) -> SaidMessage {
    SaidMessage {
        username: username.to_owned(),
        message: message.to_owned(),
        time: None,
    }
}

#[test]
fn hands_out_its_joins_messages_and_leaves() {
    let mut room = clustered();
    let ann = room.join("ann");
    room.send(ann, "{\"username\":\"ann\",\"message\":\"hi\"}\n");
    room.hub.disconnect(room.now, ann);
    assert_eq!(
        shared(&mut room),
        vec![
            RoomEvent::Joined("ann".into()),
            RoomEvent::Said(said("ann", "hi")),
            RoomEvent::Left("ann".into()),
        ]
    );
}

#[test]
fn outside_a_cluster_nothing_is_handed_out() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    room.send(ann, "{\"username\":\"ann\",\"message\":\"hi\"}\n");
    assert_eq!(room.hub.poll_shared(), None);
}

#[test]
fn tells_local_clients_of_other_nodes_and_keeps_their_names() {
    let mut room = clustered();
    let bob = room.join("bob");
    let now = room.now;
    room.hub
        .deliver_remote(now, Delivery::Live(RoomEvent::Joined("Ann".into())));
    room.hub
        .deliver_remote(now, Delivery::Live(RoomEvent::Said(said("Ann", "hello"))));
    room.pump();
    assert_eq!(
        room.lines(bob),
        vec![
            json!({"type": "join", "username": "Ann"}),
            json!({"username": "Ann", "message": "hello"}),
        ]
    );
    // The name is held on another node, in any case.
    let other = room.connect();
    room.lines(other);
    room.send(other, "{\"username\":\"ann\"}\n");
    assert_eq!(room.lines(other)[0]["type"], "error");
    room.hub
        .deliver_remote(now, Delivery::Live(RoomEvent::Left("Ann".into())));
    room.send(other, "{\"username\":\"ann\"}\n");
    assert_eq!(
        room.lines(other).last(),
        Some(&json!({"type": "join", "username": "ann"}))
    );
}

#[test]
fn own_messages_enter_the_history_when_echoed() {
    let mut room = clustered();
    let ann = room.join("ann");
    room.send(ann, "{\"username\":\"ann\",\"message\":\"mine\"}\n");
    let now = room.now;
    room.hub
        .deliver_remote(now, Delivery::Live(RoomEvent::Said(said("bob", "theirs"))));
    room.hub
        .deliver_remote(now, Delivery::Echo(said("ann", "mine")));
    let newcomer = room.connect();
    assert_eq!(
        room.lines(newcomer),
        vec![
            json!({"username": "bob", "message": "theirs", "history": true}),
            json!({"username": "ann", "message": "mine", "history": true}),
        ]
    );
}
