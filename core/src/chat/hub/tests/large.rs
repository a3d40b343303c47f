//! Large rooms: joins and leaves in batches above `announce_limit`, one copy of each line
//! however many clients, and a join storm that costs each client a few lines, not one per
//! newcomer.

use std::time::Duration;

use serde_json::{json, Value};

use super::{config, message, Room};
use crate::chat::{ChatConfig, ChatEvent, MAX_LINE};

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
fn a_batch_never_passes_the_line_limit_and_keeps_every_name_in_order() {
    let mut room = Room::new(batched(0));
    let watcher = room.join("watcher");
    room.advance(Duration::from_secs(1));
    room.lines(watcher);
    let names: Vec<String> = (0..2000)
        .map(|n| format!("user-{n:04}-{}", "x".repeat(20)))
        .collect();
    for name in &names {
        room.join(name);
    }
    room.advance(Duration::from_secs(1));
    let bytes = room.inbox[&watcher].clone();
    let lines = room.lines(watcher);
    assert!(lines.len() > 1, "2000 long names do not fit one line");
    for line in bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
        assert!(line.len() <= MAX_LINE, "{} bytes", line.len());
    }
    let got: Vec<&str> = lines
        .iter()
        .flat_map(|line| {
            assert_eq!(line["type"], "joins");
            line["usernames"].as_array().unwrap().iter()
        })
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(got, names);
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
