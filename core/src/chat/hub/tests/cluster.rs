//! The hub in a cluster (issue 17): what it hands out for the other nodes and what it does
//! with theirs.

use super::*;
use crate::chat::accounts::{AccountOutcome, AccountWork};
use crate::chat::cluster::{Delivery, NameClaim, RoomEvent};
use crate::chat::SaidMessage;

fn clustered() -> Room {
    let mut room = Room::new(config());
    room.hub.share_events();
    room
}

fn claims(room: &mut Room) -> Vec<NameClaim> {
    std::iter::from_fn(|| room.hub.poll_name_claim()).collect()
}

fn claim(client: ClientId, key: &str) -> NameClaim {
    NameClaim::Claim {
        client,
        key: key.to_owned(),
    }
}

/// The cluster's answer to `client`'s claim, as the node delivers it.
fn answer(room: &mut Room, client: ClientId, granted: bool) {
    let now = room.now;
    room.hub
        .deliver_remote(now, Delivery::Claimed { client, granted });
    room.pump();
}

/// Connects a client and joins it as `name` once the cluster grants the claim.
fn join_granted(room: &mut Room, name: &str) -> ClientId {
    let client = room.connect();
    room.send(client, &format!("{{\"username\":\"{name}\"}}\n"));
    assert_eq!(claims(room), [claim(client, &name.to_lowercase())]);
    answer(room, client, true);
    room.lines(client);
    client
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
    let ann = join_granted(&mut room, "ann");
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
    let bob = join_granted(&mut room, "bob");
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
    answer(&mut room, other, true);
    assert_eq!(
        room.lines(other).last(),
        Some(&json!({"type": "join", "username": "ann"}))
    );
}

#[test]
fn own_messages_enter_the_history_when_echoed() {
    let mut room = clustered();
    let ann = join_granted(&mut room, "ann");
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

#[test]
fn a_name_is_welcomed_only_once_the_cluster_grants_it() {
    let mut room = clustered();
    let listener = join_granted(&mut room, "bob");
    let ann = room.connect();
    room.lines(ann);
    room.send(ann, "{\"username\":\"Ann\",\"message\":\"hi\"}\n");
    assert_eq!(claims(&mut room), [claim(ann, "ann")]);
    assert_eq!(room.lines(ann), Vec::<Value>::new());
    assert_eq!(room.hub.username(ann), None);
    assert_eq!(shared(&mut room), [RoomEvent::Joined("bob".into())]);
    answer(&mut room, ann, true);
    assert_eq!(
        room.lines(ann),
        [json!({"type": "join", "username": "Ann"})]
    );
    assert_eq!(room.hub.username(ann), Some("Ann"));
    assert_eq!(
        room.lines(listener),
        [
            json!({"type": "join", "username": "Ann"}),
            message("Ann", "hi")
        ]
    );
    assert_eq!(
        shared(&mut room),
        [
            RoomEvent::Joined("Ann".into()),
            RoomEvent::Said(said("Ann", "hi"))
        ]
    );
}

#[test]
fn a_name_held_on_another_node_is_refused_and_another_may_be_tried() {
    let mut room = clustered();
    let ann = room.connect();
    room.lines(ann);
    room.send(ann, "{\"username\":\"ann\"}\n");
    answer(&mut room, ann, false);
    assert_eq!(room.lines(ann), [error(ChatError::UsernameTaken)]);
    assert_eq!(shared(&mut room), []);
    room.send(ann, "{\"username\":\"anna\"}\n");
    assert_eq!(claims(&mut room), [claim(ann, "ann"), claim(ann, "anna")]);
    answer(&mut room, ann, true);
    assert_eq!(
        room.lines(ann),
        [json!({"type": "join", "username": "anna"})]
    );
    // The refused name is free again here: the other node holds it, not this one.
    let other = room.connect();
    room.send(other, "{\"username\":\"ann\"}\n");
    assert_eq!(claims(&mut room), [claim(other, "ann")]);
}

#[test]
fn a_name_waiting_for_its_claim_is_held_here_and_its_client_must_wait() {
    let mut room = clustered();
    let ann = room.connect();
    room.send(ann, "{\"username\":\"ann\"}\n");
    room.lines(ann);
    let rival = room.connect();
    room.lines(rival);
    room.send(rival, "{\"username\":\"ANN\"}\n");
    assert_eq!(room.lines(rival), [error(ChatError::UsernameTaken)]);
    room.send(ann, "{\"username\":\"ann\",\"message\":\"too soon\"}\n");
    room.send(
        ann,
        "{\"type\":\"login\",\"username\":\"x\",\"password\":\"y\"}\n",
    );
    assert_eq!(
        room.lines(ann),
        [
            error(ChatError::RequestPending),
            error(ChatError::RequestPending)
        ]
    );
    assert_eq!(claims(&mut room), [claim(ann, "ann")]);
    assert!(room.hub.poll_account_work().is_none());
}

#[test]
fn a_client_gone_while_its_claim_waits_gives_it_up() {
    let mut room = clustered();
    let ann = room.connect();
    room.send(ann, "{\"username\":\"ann\"}\n");
    room.hub.disconnect(room.now, ann);
    room.pump();
    assert_eq!(
        claims(&mut room),
        [
            claim(ann, "ann"),
            NameClaim::Abandon {
                client: ann,
                key: "ann".into()
            }
        ]
    );
    // A late answer finds nobody; the name is free for the next one.
    answer(&mut room, ann, true);
    assert_eq!(shared(&mut room), []);
    join_granted(&mut room, "ann");
}

#[test]
fn a_login_is_welcomed_once_its_name_is_claimed() {
    let mut room = clustered();
    let ann = room.connect();
    room.lines(ann);
    let line = json!({"type": "register", "username": "Ann", "password": "correct horse"});
    room.send(ann, &format!("{line}\n"));
    let work = room.hub.poll_account_work().expect("registration work");
    assert!(matches!(work, AccountWork::Register { .. }));
    let hash = "hash".to_owned();
    room.hub
        .handle_account(room.now, ann, AccountOutcome::Registered { hash });
    room.pump();
    assert_eq!(room.lines(ann), Vec::<Value>::new());
    assert_eq!(claims(&mut room), [claim(ann, "ann")]);
    answer(&mut room, ann, true);
    assert_eq!(
        room.lines(ann),
        [
            json!({"type": "welcome", "username": "Ann"}),
            json!({"type": "join", "username": "Ann"})
        ]
    );
}
