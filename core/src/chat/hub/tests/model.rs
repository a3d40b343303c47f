//! The hub against a model of the room: any sequence of connects, joins, messages, bad lines,
//! stalls, drains, EOFs, disconnects and waits gives every client exactly the lines the model
//! says it should get, in order, with the memory bound holding throughout.
//!
//! The model is the room as the SPEC and the README describe it, written the plainest way: a
//! list of expected lines per client, appended to as things happen, with no log, cursor or
//! pacing. Whom the hub disconnects for being slow or idle is taken from its events (the model
//! cannot know when a stalled client's bytes run out); everything else the model decides.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{config, Room};
use crate::chat::{ChatConfig, ChatEvent, ClientId, CloseReason};

/// What happens next.
#[derive(Debug, Clone)]
enum Step {
    Connect,
    Join { who: usize },
    Say { who: usize, text: String },
    Bad { who: usize },
    Stall { who: usize },
    Drain { who: usize },
    Eof { who: usize },
    Disconnect { who: usize },
    Wait { millis: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Connect),
        3 => (0usize..8).prop_map(|who| Step::Join { who }),
        4 => (0usize..8, "[a-z]{1,20}").prop_map(|(who, text)| Step::Say { who, text }),
        1 => (0usize..8).prop_map(|who| Step::Bad { who }),
        1 => (0usize..8).prop_map(|who| Step::Stall { who }),
        2 => (0usize..8).prop_map(|who| Step::Drain { who }),
        1 => (0usize..8).prop_map(|who| Step::Eof { who }),
        1 => (0usize..8).prop_map(|who| Step::Disconnect { who }),
        2 => prop_oneof![0u64..3, 0u64..2500, 0u64..400_000].prop_map(|millis| Step::Wait { millis }),
    ]
}

/// The room as it should behave.
struct Model {
    config: ChatConfig,
    /// Lines each connected client should have got so far, in order.
    expected: HashMap<ClientId, Vec<Value>>,
    /// What each client that left should have got in all.
    finished: HashMap<ClientId, Vec<Value>>,
    /// Clients that claimed a name, in the order they did.
    joined: Vec<ClientId>,
    said_at_connect: HashMap<ClientId, u64>,
    history: VecDeque<Value>,
    said: u64,
    /// Joins and leaves waiting for a batch, and when it is due.
    batch: Vec<(&'static str, String)>,
    due: Option<Instant>,
}

impl Model {
    fn connect(&mut self, client: ClientId) {
        self.expected
            .insert(client, self.history.iter().cloned().collect());
        self.said_at_connect.insert(client, self.said);
    }

    fn join(&mut self, now: Instant, client: ClientId, name: &str) {
        let missed = usize::try_from(self.said - self.said_at_connect[&client]).unwrap();
        let skip = self.history.len().saturating_sub(missed);
        let missed: Vec<Value> = self.history.iter().skip(skip).cloned().collect();
        self.send_to(client, missed);
        self.joined.push(client);
        let join = json!({"type": "join", "username": name});
        if self.announce(now, "joins", name) {
            self.send_room(&join, None);
        } else {
            self.send_to(client, vec![join]);
        }
    }

    fn say(&mut self, sender: ClientId, name: &str, text: &str) {
        self.send_room(&json!({"username": name, "message": text}), Some(sender));
        if self.config.history > 0 {
            if self.history.len() == self.config.history {
                self.history.pop_front();
            }
            self.said += 1;
            let line = json!({"username": name, "message": text, "history": true});
            self.history.push_back(line);
        }
    }

    /// `client` is gone; `last` is what its close adds. Its leave is announced if it joined.
    fn leave(&mut self, now: Instant, client: ClientId, name: &str, last: Option<Value>) {
        let mut lines = self.expected.remove(&client).unwrap_or_default();
        lines.extend(last);
        self.finished.insert(client, lines);
        if let Some(index) = self.joined.iter().position(|&id| id == client) {
            self.joined.remove(index);
            if self.announce(now, "leaves", name) {
                self.send_room(&json!({"type": "leave", "username": name}), None);
            }
        }
    }

    /// True when the announcement goes out at once; else it waits for the batch.
    fn announce(&mut self, now: Instant, kind: &'static str, name: &str) -> bool {
        if self.joined.len() <= self.config.announce_limit && self.batch.is_empty() {
            return true;
        }
        self.batch.push((kind, name.to_string()));
        self.due.get_or_insert(now + self.config.announce_interval);
        false
    }

    fn flush_batch(&mut self, now: Instant) {
        if self.due.is_none_or(|due| due > now) {
            return;
        }
        self.due = None;
        let batch = std::mem::take(&mut self.batch);
        let mut runs: Vec<(&str, Vec<String>)> = Vec::new();
        for (kind, name) in batch {
            match runs.last_mut() {
                Some((last, names)) if *last == kind => names.push(name),
                _ => runs.push((kind, vec![name])),
            }
        }
        for (kind, names) in runs {
            self.send_room(&json!({"type": kind, "usernames": names}), None);
        }
    }

    fn send_to(&mut self, client: ClientId, lines: Vec<Value>) {
        self.expected.entry(client).or_default().extend(lines);
    }

    fn send_room(&mut self, line: &Value, except: Option<ClientId>) {
        for &client in &self.joined {
            if Some(client) != except {
                self.expected.entry(client).or_default().push(line.clone());
            }
        }
    }
}

/// Applies the disconnects the hub decided (its `Closed` events from `seen` on) to the model.
/// After a wait, the hub first disconnects idle clients, then sends the batch that was due,
/// whose lines may push slow clients off: so the batch goes before the first of those.
fn follow_closes(
    room: &Room,
    model: &mut Model,
    seen: &mut usize,
    names: &HashMap<ClientId, String>,
    waited: bool,
) {
    let events: Vec<ChatEvent> = room.events[*seen..].to_vec();
    *seen = room.events.len();
    for event in events {
        if let ChatEvent::Closed { client, reason } = event {
            if waited && reason == CloseReason::TooSlow {
                model.flush_batch(room.now);
            }
            let last = match reason {
                CloseReason::PeerClosed => None,
                _ => Some(json!({"type": "error", "error": reason.to_string()})),
            };
            let name = names.get(&client).cloned().unwrap_or_default();
            model.leave(room.now, client, &name, last);
        }
    }
    if waited {
        model.flush_batch(room.now);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_client_gets_exactly_its_lines_in_order(
        steps in prop::collection::vec(step(), 0..80),
        announce_limit in 0usize..4,
        paced in any::<bool>(),
    ) {
        let chat = ChatConfig {
            max_queue: 512,
            max_line: 128,
            history: 3,
            announce_limit,
            announce_interval: Duration::from_secs(1),
            write_interval: if paced { Duration::from_millis(1) } else { Duration::ZERO },
            ..config()
        };
        let mut room = Room::new(chat);
        let mut model = Model {
            config: chat,
            expected: HashMap::new(),
            finished: HashMap::new(),
            joined: Vec::new(),
            said_at_connect: HashMap::new(),
            history: VecDeque::new(),
            said: 0,
            batch: Vec::new(),
            due: None,
        };
        let mut ids: Vec<ClientId> = Vec::new();
        let mut names: HashMap<ClientId, String> = HashMap::new();
        let mut ever_stalled = Vec::new();
        let mut lost = Vec::new();
        let mut seen = 0;
        for step in steps {
            let live = |who: usize| ids.get(who).copied().filter(|id| room.hub.clients.contains_key(id));
            match step {
                Step::Connect => {
                    let id = room.hub.connect(room.now);
                    model.connect(id);
                    ids.push(id);
                    room.inbox.insert(id, Vec::new());
                    room.pump();
                }
                Step::Join { who } | Step::Say { who, .. } if live(who).is_some() => {
                    let id = ids[who];
                    let name = format!("user{who}");
                    let text = match &step { Step::Say { text, .. } => Some(text.clone()), _ => None };
                    let first = !names.contains_key(&id);
                    match (&text, first) {
                        (_, true) => {
                            names.insert(id, name.clone());
                            model.join(room.now, id, &name);
                            if let Some(text) = &text {
                                model.say(id, &name, text);
                            }
                        }
                        (Some(text), false) => model.say(id, &name, text),
                        (None, false) => {
                            let error = crate::chat::ChatError::MissingMessage.to_string();
                            model.send_to(id, vec![json!({"type": "error", "error": error})]);
                        }
                    }
                    let object = match &text {
                        Some(text) => json!({"username": name, "message": text}),
                        None => json!({"username": name}),
                    };
                    room.send(id, &format!("{object}\n"));
                }
                Step::Bad { who } => if let Some(id) = live(who) {
                    let error = crate::chat::ChatError::MalformedJson.to_string();
                    model.send_to(id, vec![json!({"type": "error", "error": error})]);
                    room.send(id, "nonsense\n");
                },
                Step::Stall { who } => if let Some(id) = live(who) {
                    room.stalled.insert(id);
                    ever_stalled.push(id);
                },
                Step::Drain { who } => if let Some(id) = live(who) {
                    room.stalled.remove(&id);
                    room.hub.handle_drained(room.now, id);
                    room.pump();
                },
                Step::Eof { who } => if let Some(id) = live(who) {
                    room.hub.receive_eof(room.now, id);
                    room.pump();
                },
                Step::Disconnect { who } => if let Some(id) = live(who) {
                    room.hub.disconnect(room.now, id);
                    lost.push(id);
                    let name = names.get(&id).cloned().unwrap_or_default();
                    model.leave(room.now, id, &name, None);
                    room.pump();
                },
                Step::Wait { millis } => {
                    room.advance(Duration::from_millis(millis));
                }
                _ => {}
            }
            let waited = matches!(step, Step::Wait { .. });
            follow_closes(&room, &mut model, &mut seen, &names, waited);
            prop_assert!(room.hub.room_backlog() <= 512);
        }
        // Let paced clients have their last writes (no batch or idle deadline is that close).
        room.advance(Duration::from_millis(2));
        follow_closes(&room, &mut model, &mut seen, &names, true);
        for (&id, inbox) in &room.inbox {
            let got: Vec<Value> = String::from_utf8(inbox.clone()).unwrap()
                .lines().map(|line| serde_json::from_str(line).unwrap()).collect();
            let closed = room.closed.get(&id).copied();
            // A client the shell lost (`disconnect`) is finished without a close.
            let expected = model.expected.get(&id).or(model.finished.get(&id));
            let expected = expected.cloned().unwrap_or_default();
            let stalled = ever_stalled.contains(&id);
            match closed {
                // Everything still waiting is the last transmit.
                Some(CloseReason::PeerClosed) => prop_assert_eq!(&got, &expected, "{:?}", id),
                // What was taken before, then the reason; the rest is dropped.
                Some(reason) => {
                    let slow = reason == CloseReason::TooSlow;
                    prop_assert!(!slow || stalled || paced, "{:?} drained yet was dropped", id);
                    let (last, before) = got.split_last().expect("a last line");
                    prop_assert_eq!(Some(last), expected.last(), "{:?}", id);
                    prop_assert!(expected.starts_with(before), "{:?}: {:?} / {:?}", id, got, expected);
                }
                // The shell lost it: what was not handed out yet (paced) is lost with it.
                None if room.stalled.contains(&id) || (paced && lost.contains(&id)) => {
                    prop_assert!(expected.starts_with(&got), "{:?}: {:?} / {:?}", id, got, expected);
                }
                None => prop_assert_eq!(&got, &expected, "{:?}", id),
            }
        }
    }
}
