//! Large rooms: joins and leaves in batches above `announce_limit`, one copy of each line
//! however many clients, and a join storm that costs each client a few lines, not one per
//! newcomer.

use std::time::Duration;

use serde_json::{json, Value};

use super::{config, message, Room};
use crate::chat::{ChatConfig, ChatEvent};

fn join_line(name: &str) -> Value {
    json!({"type": "join", "username": name})
}

fn batched(limit: usize) -> ChatConfig {
    ChatConfig {
        announce_limit: limit,
        announce_interval: Duration::from_secs(1),
        ..config()
    }
}

#[test]
fn above_the_limit_joins_and_leaves_come_in_batches_and_the_joiner_is_confirmed_at_once() {
    let mut room = Room::new(batched(2));
    let ann = room.join("ann");
    let bob = room.join("bob");
    assert_eq!(room.lines(ann), [join_line("bob")]);
    // The third makes the room larger than the limit.
    let cid = room.connect();
    room.send(cid, "{\"username\":\"cid\"}\n");
    assert_eq!(room.lines(cid), [join_line("cid")], "confirmed at once");
    assert_eq!(room.lines(ann), Vec::<Value>::new(), "announced later");
    let dan = room.join("dan");
    room.hub.disconnect(room.now, bob);
    room.pump();
    room.say(ann, "ann", "meanwhile");
    assert_eq!(room.lines(cid), [message("ann", "meanwhile")]);
    room.lines(dan);
    let due = room.hub.poll_timeout().expect("a batch is due");
    assert_eq!(due, room.now + Duration::from_secs(1));
    room.advance(Duration::from_secs(1));
    let batch = [
        json!({"type": "joins", "usernames": ["cid", "dan"]}),
        json!({"type": "leaves", "usernames": ["bob"]}),
    ];
    assert_eq!(room.lines(ann), batch);
    assert_eq!(room.lines(cid), batch);
    assert_eq!(room.lines(dan), batch);
    assert!(room.events.contains(&ChatEvent::Left {
        client: bob,
        username: "bob".into()
    }));
    // Back at the limit, with nothing waiting: one line each, at once.
    room.hub.disconnect(room.now, dan);
    room.pump();
    assert_eq!(
        room.lines(ann),
        [json!({"type": "leave", "username": "dan"})]
    );
}

#[test]
fn a_batch_names_the_first_hundred_or_so_and_counts_the_rest() {
    let mut room = Room::new(batched(0));
    let watcher = room.join("watcher");
    room.advance(Duration::from_secs(1));
    room.lines(watcher);
    let names: Vec<String> = (0..2000).map(|n| format!("user-{n:04}")).collect();
    for name in &names {
        room.join(name);
    }
    room.advance(Duration::from_secs(1));
    let lines = room.lines(watcher);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let listed: Vec<&str> = lines[0]["usernames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert!((50..200).contains(&listed.len()), "{}", listed.len());
    assert_eq!(listed, names[..listed.len()]);
    assert_eq!(lines[0]["others"], names.len() - listed.len());
    assert!(lines[0].to_string().len() < 2048);
}

#[test]
fn a_join_storm_costs_each_client_a_few_lines_and_one_copy_of_each() {
    const CLIENTS: usize = 3000;
    const LIMIT: usize = 500;
    let mut room = Room::new(batched(LIMIT));
    let first = room.join("first");
    room.lines(first);
    let mut ids = Vec::new();
    let mut lines_to_others = 0;
    for n in 0..CLIENTS {
        let id = room.join(&format!("c{n}"));
        ids.push(id);
        // The storm takes a few seconds: a batch goes out every second of it.
        if n % 1000 == 999 {
            room.advance(Duration::from_secs(1));
        }
        // One copy of each room line, whatever the number of clients it waits for.
        assert!(room.hub.room_backlog() <= ChatConfig::default().max_queue);
    }
    room.advance(Duration::from_secs(1));
    for id in std::iter::once(first).chain(ids.iter().copied()) {
        lines_to_others += room.lines(id).len();
    }
    // Below the limit a join is one line to each client already in; above, a batch a second.
    let individually: usize = (1..=LIMIT).sum();
    let batches = (CLIENTS + 1) * 2 * 4;
    assert!(
        lines_to_others <= individually + batches,
        "{lines_to_others} lines for {CLIENTS} joins"
    );
    // And everyone hears everyone who joined after it: its own join, then the rest in
    // batches. The last client to join sees itself in the last batch only.
    let last = *ids.last().unwrap();
    room.say(first, "first", "hello all");
    assert_eq!(room.lines(last), [message("first", "hello all")]);
}

#[test]
fn what_everyone_has_taken_is_not_kept() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let clients: Vec<_> = (0..100).map(|n| room.join(&format!("u{n}"))).collect();
    room.say(ann, "ann", "hello");
    for &client in &clients {
        assert_eq!(room.lines(client).last(), Some(&message("ann", "hello")));
    }
    assert_eq!(room.hub.room_backlog(), 0, "every client took every line");
    // A client that does not read keeps the lines it has not taken, once, for all.
    room.stalled.insert(clients[0]);
    room.say(ann, "ann", "one");
    room.say(ann, "ann", "two");
    let two = message("ann", "two").to_string().len() + 1;
    assert_eq!(room.hub.room_backlog(), two);
}

/// A storm at a pace of joins (one every 97 µs) with writes paced and a talker speaking:
/// every newcomer gets its confirmation and the probe every message.
#[test]
fn a_paced_storm_confirms_everyone_and_loses_nothing() {
    let mut room = Room::new(ChatConfig {
        write_interval: Duration::from_millis(1),
        ..batched(500)
    });
    let talker = room.join("talker");
    let probe = room.join("probe");
    let mut ids = Vec::new();
    for n in 0..3000 {
        room.now += Duration::from_micros(97);
        let id = room.connect();
        room.send(id, &format!("{{\"username\":\"c{n}\"}}\n"));
        ids.push(id);
        if n % 50 == 0 {
            room.say(talker, "talker", &format!("m{n}"));
        }
        if room.hub.poll_timeout().is_some_and(|d| d <= room.now) {
            room.hub.handle_timeout(room.now);
            room.pump();
        }
    }
    room.advance(Duration::from_millis(2));
    room.advance(Duration::from_secs(1));
    for (n, id) in ids.iter().enumerate() {
        let lines = room.lines(*id);
        assert!(
            lines.iter().any(|l| *l == json_line(&format!("c{n}"))),
            "c{n}: {lines:?}"
        );
    }
    let lines = room.lines(probe);
    assert!(
        lines.iter().any(|l| l["message"] == "m2950"),
        "{}",
        lines.len()
    );
}

fn json_line(name: &str) -> Value {
    json!({"type": "join", "username": name})
}

#[test]
fn the_longest_connected_go_first_and_nobody_waits_past_the_patience() {
    let mut room = Room::new(config());
    let talker = room.join("talker");
    let members: Vec<_> = (0..5).map(|n| room.join(&format!("m{n}"))).collect();
    for &member in &members {
        room.lines(member);
    }
    // A newcomer's confirmation and a message for everyone become ready at once.
    let newcomer = room.hub.connect(room.now);
    room.hub
        .receive(room.now, newcomer, b"{\"username\":\"new\"}\n");
    room.hub.receive(
        room.now,
        talker,
        b"{\"username\":\"talker\",\"message\":\"hi\"}\n",
    );
    let order = |room: &mut Room| {
        let mut out = Vec::new();
        let mut order = Vec::new();
        while let Some(transmit) = room.hub.poll_transmit(room.now, &mut out) {
            order.push(transmit.client);
            out.clear();
        }
        order
    };
    let mut expected = vec![talker];
    expected.extend(&members);
    expected.push(newcomer);
    assert_eq!(order(&mut room), expected, "longest connected first");
    for &client in &expected {
        room.hub.handle_drained(room.now, client);
    }
    order(&mut room);
    // Now the newcomer becomes ready first and waits past the patience while the others
    // become ready: it goes before them.
    room.send(talker, "not json\n");
    room.hub.receive(room.now, newcomer, b"not json\n");
    room.now += Duration::from_millis(100);
    room.hub.receive(
        room.now,
        talker,
        b"{\"username\":\"talker\",\"message\":\"again\"}\n",
    );
    let served = order(&mut room);
    assert_eq!(served.first(), Some(&newcomer), "{served:?}");
    assert_eq!(served[1..], members[..]);
}
