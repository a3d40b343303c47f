//! Tests of [`ChatHub`] with simulated clients and a simulated clock: no sockets, no sleeps.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::chat::ChatError;

mod accounts;
mod closing;
mod cluster;
mod large;
mod model;
mod pacing;
mod props;

/// A room driven as a shell would drive it, with every client's received bytes kept.
struct Room {
    hub: ChatHub,
    now: Instant,
    inbox: HashMap<ClientId, Vec<u8>>,
    closed: HashMap<ClientId, CloseReason>,
    /// The deadline of each closed client's last bytes.
    deadlines: HashMap<ClientId, Instant>,
    /// Clients that never read: what the hub hands out for them is never reported drained.
    stalled: HashSet<ClientId>,
    events: Vec<ChatEvent>,
}

impl Room {
    fn new(config: ChatConfig) -> Room {
        Room {
            hub: ChatHub::new(config),
            now: crate::testing::epoch(),
            inbox: HashMap::new(),
            closed: HashMap::new(),
            deadlines: HashMap::new(),
            stalled: HashSet::new(),
            events: Vec::new(),
        }
    }

    fn connect(&mut self) -> ClientId {
        let id = self.hub.connect(self.now);
        self.inbox.insert(id, Vec::new());
        self.pump();
        id
    }

    /// Connects a client and claims `name` for it, discarding what it was sent so far.
    fn join(&mut self, name: &str) -> ClientId {
        let id = self.connect();
        self.send(id, &format!("{{\"username\":\"{name}\"}}\n"));
        self.lines(id);
        id
    }

    fn send(&mut self, client: ClientId, text: &str) {
        self.hub.receive(self.now, client, text.as_bytes());
        self.pump();
    }

    fn say(&mut self, client: ClientId, name: &str, message: &str) {
        let line = json!({"username": name, "message": message}).to_string();
        self.send(client, &format!("{line}\n"));
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.hub.poll_timeout().is_some_and(|d| d <= self.now) {
            self.hub.handle_timeout(self.now);
        }
        self.pump();
    }

    /// Drains transmits into the inboxes (reporting each drained unless stalled) and events.
    fn pump(&mut self) {
        let mut out = Vec::new();
        while let Some(transmit) = self.hub.poll_transmit(self.now, &mut out) {
            let inbox = self.inbox.entry(transmit.client).or_default();
            crate::chat::line::copy_into(&out, inbox);
            out.clear();
            match transmit.close {
                Some(close) => {
                    assert!(self.closed.insert(transmit.client, close.reason).is_none());
                    self.deadlines.insert(transmit.client, close.deadline);
                }
                None => {
                    assert!(!self.closed.contains_key(&transmit.client));
                    if !self.stalled.contains(&transmit.client) {
                        self.hub.handle_drained(self.now, transmit.client);
                    }
                }
            }
        }
        while let Some(event) = self.hub.poll_event() {
            self.events.push(event);
        }
    }

    /// Takes the lines `client` received so far, as JSON values.
    fn lines(&mut self, client: ClientId) -> Vec<Value> {
        let bytes = std::mem::take(self.inbox.entry(client).or_default());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// The default room, but every client's lines go out at once and nobody is held to the flood
/// limit: these tests are about who hears what, not when (`pacing.rs` tests `write_interval`,
/// `accounts.rs` the flood limit).
fn config() -> ChatConfig {
    ChatConfig {
        write_interval: Duration::ZERO,
        flood: None,
        ..ChatConfig::default()
    }
}

fn message(name: &str, text: &str) -> Value {
    json!({"username": name, "message": text})
}

fn history(name: &str, text: &str) -> Value {
    json!({"username": name, "message": text, "history": true})
}

fn error(error: ChatError) -> Value {
    json!({"type": "error", "error": error.to_string()})
}

#[test]
fn a_message_goes_to_every_other_client_not_back_to_its_sender() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let bob = room.join("bob");
    let cid = room.join("cid");
    room.lines(ann);
    room.lines(bob);
    room.say(ann, "ann", "hello");
    assert_eq!(room.lines(bob), [message("ann", "hello")]);
    assert_eq!(room.lines(cid), [message("ann", "hello")]);
    assert_eq!(room.lines(ann), Vec::<Value>::new());
}

#[test]
fn a_client_without_a_name_hears_only_the_history_and_its_own_errors() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    room.say(ann, "ann", "before");
    let lurker = room.connect();
    assert_eq!(room.lines(lurker), [history("ann", "before")]);
    let bob = room.join("bob");
    room.say(ann, "ann", "hi");
    room.hub.disconnect(room.now, bob);
    room.pump();
    room.send(lurker, "nonsense\n");
    assert_eq!(room.lines(lurker), [error(ChatError::MalformedJson)]);
}

#[test]
fn joining_brings_what_was_said_since_connecting_as_history_then_the_join() {
    let mut room = Room::new(ChatConfig {
        history: 3,
        ..config()
    });
    let ann = room.join("ann");
    room.say(ann, "ann", "m1");
    let cid = room.connect();
    assert_eq!(room.lines(cid), [history("ann", "m1")]);
    for n in 2..=6 {
        room.say(ann, "ann", &format!("m{n}"));
    }
    room.lines(ann);
    room.send(cid, "{\"username\":\"cid\"}\n");
    // Five were said meanwhile; the history holds the last three of them.
    let joined = json!({"type": "join", "username": "cid"});
    assert_eq!(
        room.lines(cid),
        [
            history("ann", "m4"),
            history("ann", "m5"),
            history("ann", "m6"),
            joined.clone()
        ]
    );
    assert_eq!(room.lines(ann), [joined]);
    room.say(ann, "ann", "live");
    assert_eq!(room.lines(cid), [message("ann", "live")]);
    // Nothing said since connecting: the join alone.
    let dan = room.connect();
    room.lines(dan);
    room.send(dan, "{\"username\":\"dan\"}\n");
    assert_eq!(
        room.lines(dan),
        [json!({"type": "join", "username": "dan"})]
    );
}

#[test]
fn join_is_announced_to_everyone_and_leave_to_the_rest() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let bob = room.connect();
    room.send(bob, "{\"username\":\"bob\"}\n");
    let joined = json!({"type": "join", "username": "bob"});
    assert_eq!(room.lines(ann), std::slice::from_ref(&joined));
    assert_eq!(room.lines(bob), [joined]);
    room.hub.receive_eof(room.now, bob);
    room.pump();
    assert_eq!(room.closed.get(&bob), Some(&CloseReason::PeerClosed));
    assert_eq!(
        room.lines(ann),
        [json!({"type": "leave", "username": "bob"})]
    );
    assert!(room.events.contains(&ChatEvent::Left {
        client: bob,
        username: "bob".into()
    }));
    let cid = room.join("cid");
    room.lines(ann);
    room.hub.disconnect(room.now, cid);
    room.pump();
    assert_eq!(
        room.lines(ann),
        [json!({"type": "leave", "username": "cid"})]
    );
    assert_eq!(room.hub.len(), 1);
}

#[test]
fn first_object_may_join_and_speak_at_once() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let bob = room.connect();
    room.say(bob, "bob", "hi all");
    assert_eq!(
        room.lines(ann),
        [
            json!({"type": "join", "username": "bob"}),
            message("bob", "hi all")
        ]
    );
    assert_eq!(room.hub.username(bob), Some("bob"));
}

#[test]
fn a_newcomer_gets_the_recent_history_first_marked_as_history() {
    let mut room = Room::new(ChatConfig {
        history: 3,
        ..config()
    });
    let ann = room.join("ann");
    for n in 1..=5 {
        room.say(ann, "ann", &format!("m{n}"));
    }
    let bob = room.connect();
    let expected: Vec<Value> = (3..=5)
        .map(|n| json!({"username": "ann", "message": format!("m{n}"), "history": true}))
        .collect();
    assert_eq!(room.lines(bob), expected);
    let none = Room::new(ChatConfig {
        history: 0,
        ..config()
    });
    assert!(none.hub.history.is_empty());
}

#[test]
fn a_name_held_by_another_client_is_refused_until_it_is_free() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let other = room.connect();
    room.say(other, "ann", "I am ann");
    assert_eq!(room.lines(other), [error(ChatError::UsernameTaken)]);
    assert_eq!(room.lines(ann), Vec::<Value>::new(), "nobody spoke as ann");
    room.hub.disconnect(room.now, ann);
    room.pump();
    room.lines(other);
    room.send(other, "{\"username\":\"ann\"}\n");
    assert_eq!(
        room.lines(other),
        [json!({"type": "join", "username": "ann"})]
    );
}

#[test]
fn a_client_cannot_change_its_name() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let bob = room.join("bob");
    room.lines(ann);
    room.say(bob, "ann", "I am ann now");
    assert_eq!(room.lines(bob), [error(ChatError::UsernameChanged)]);
    assert_eq!(room.lines(ann), Vec::<Value>::new());
}

#[test]
fn bad_input_gets_an_error_line_for_its_sender_only_and_the_connection_stays() {
    let long = format!(
        "{{\"username\":\"bob\",\"message\":\"{}\"}}\n",
        "x".repeat(MAX_LINE_FOR_TEST)
    );
    let cases: &[(&str, ChatError)] = &[
        ("hello\n", ChatError::MalformedJson),
        ("{\"username\":\"bob\",\n", ChatError::MalformedJson),
        (
            "{\"username\":\"bob\",\"message\":7}\n",
            ChatError::InvalidFields,
        ),
        ("{\"message\":\"hi\"}\n", ChatError::MissingUsername),
        ("{\"username\":\"bob\"}\n", ChatError::MissingMessage),
        (
            "{\"username\":\"bob\",\"message\":\" \"}\n",
            ChatError::BlankMessage,
        ),
        (&long, ChatError::LineTooLong),
    ];
    for (input, expected) in cases {
        let mut room = Room::new(ChatConfig {
            max_line: MAX_LINE_FOR_TEST,
            ..config()
        });
        let ann = room.join("ann");
        let bob = room.join("bob");
        room.lines(ann);
        room.send(bob, input);
        assert_eq!(room.lines(bob), [error(*expected)], "{input:?}");
        assert_eq!(room.lines(ann), Vec::<Value>::new(), "{input:?}");
        assert!(room.closed.is_empty());
        room.say(bob, "bob", "still here");
        assert_eq!(room.lines(ann), [message("bob", "still here")], "{input:?}");
    }
}

#[test]
fn bad_names_are_refused_before_joining() {
    let cases: &[(&str, ChatError)] = &[
        ("{\"username\":\"\"}\n", ChatError::BlankUsername),
        (
            "{\"username\":\" ann\"}\n",
            ChatError::UsernameEdgeWhitespace,
        ),
        (
            "{\"username\":\"a\\u001bb\"}\n",
            ChatError::UsernameControlCharacter,
        ),
        ("{\"username\":1}\n", ChatError::InvalidFields),
    ];
    for (input, expected) in cases {
        let mut room = Room::new(config());
        let client = room.connect();
        room.send(client, input);
        assert_eq!(room.lines(client), [error(*expected)], "{input:?}");
        assert_eq!(room.hub.username(client), None);
    }
}

#[test]
fn objects_back_to_back_and_split_anywhere_are_all_read() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let bob = room.connect();
    let input =
        "{\"username\":\"bob\",\"message\":\"one\"}{\"username\":\"bob\",\"message\":\"two\"}\n";
    for chunk in input.as_bytes().chunks(7) {
        room.hub.receive(room.now, bob, chunk);
        room.pump();
    }
    assert_eq!(
        room.lines(ann),
        [
            json!({"type": "join", "username": "bob"}),
            message("bob", "one"),
            message("bob", "two")
        ]
    );
}

#[test]
fn a_client_reading_slowly_gets_everything_in_batches() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    let bob = room.join("bob");
    room.stalled.insert(bob);
    room.say(ann, "ann", "one");
    // The shell holds "one"; the next messages wait in the hub, not handed out yet.
    room.say(ann, "ann", "two");
    room.say(ann, "ann", "three");
    assert_eq!(room.lines(bob), [message("ann", "one")]);
    room.stalled.remove(&bob);
    room.hub.handle_drained(room.now, bob);
    room.pump();
    assert_eq!(
        room.lines(bob),
        [message("ann", "two"), message("ann", "three")]
    );
}

#[test]
fn unknown_clients_are_ignored() {
    let mut room = Room::new(config());
    let ann = room.join("ann");
    room.hub.disconnect(room.now, ann);
    room.hub.receive(room.now, ann, b"{\"username\":\"x\"}\n");
    room.hub.receive_eof(room.now, ann);
    room.hub.handle_drained(room.now, ann);
    room.hub.disconnect(room.now, ann);
    room.pump();
    assert!(room.hub.is_empty());
}

const MAX_LINE_FOR_TEST: usize = 256;

#[test]
fn sequential_client_ids_land_in_distinct_buckets() {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let build = BuildHasherDefault::<crate::chat::ClientIdHasher>::default();
    // A table of 1,024 buckets picks by the low ten bits; a thousand clients in a row must not
    // share one.
    let mut buckets: Vec<u64> = (1..=1024u64)
        .map(|n| build.hash_one(ClientId(n)) & 1023)
        .collect();
    buckets.sort_unstable();
    buckets.dedup();
    assert_eq!(buckets.len(), 1024);
}
