//! The property test of [`ChatHub`]: any sequence of connects, objects, raw bytes, stalls,
//! drains, EOFs and waits keeps the room consistent.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::Value;

use super::{config, Room};
use crate::chat::ChatConfig;

/// What one simulated client does next.
#[derive(Debug, Clone)]
enum Step {
    Connect,
    Say { who: usize, text: String },
    Raw { who: usize, bytes: Vec<u8> },
    Stall { who: usize },
    Drain { who: usize },
    Eof { who: usize },
    Wait { seconds: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Connect),
        (0usize..6, "[a-z ]{0,30}").prop_map(|(who, text)| Step::Say { who, text }),
        (0usize..6, prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(who, bytes)| Step::Raw { who, bytes }),
        (0usize..6).prop_map(|who| Step::Stall { who }),
        (0usize..6).prop_map(|who| Step::Drain { who }),
        (0usize..6).prop_map(|who| Step::Eof { who }),
        (0u64..400).prop_map(|seconds| Step::Wait { seconds }),
    ]
}

proptest! {
    #[test]
    fn any_session_keeps_the_room_consistent(steps in prop::collection::vec(step(), 0..60)) {
        let mut room = Room::new(ChatConfig { max_queue: 512, max_line: 128, ..config() });
        let mut ids = Vec::new();
        for step in steps {
            match step {
                Step::Connect => ids.push(room.connect()),
                Step::Say { who, text } => if let Some(&id) = ids.get(who) {
                    let name = format!("user{who}");
                    room.say(id, &name, &text);
                },
                Step::Raw { who, bytes } => if let Some(&id) = ids.get(who) {
                    room.hub.receive(room.now, id, &bytes);
                    room.pump();
                },
                Step::Stall { who } => if let Some(&id) = ids.get(who) {
                    room.stalled.insert(id);
                },
                Step::Drain { who } => if let Some(&id) = ids.get(who) {
                    room.stalled.remove(&id);
                    room.hub.handle_drained(id);
                    room.pump();
                },
                Step::Eof { who } => if let Some(&id) = ids.get(who) {
                    room.hub.receive_eof(room.now, id);
                    room.pump();
                },
                Step::Wait { seconds } => room.advance(Duration::from_secs(seconds)),
            }
            // Names are unique and belong to connected clients.
            for (name, id) in &room.hub.names {
                prop_assert_eq!(room.hub.username(*id), Some(name.as_str()));
            }
            let named = room.hub.clients.values().filter(|c| c.username.is_some()).count();
            prop_assert_eq!(named, room.hub.names.len());
            for client in room.hub.clients.values() {
                prop_assert!(client.queue.len() <= 512);
            }
            // Every byte handed out is whole JSON lines.
            for bytes in room.inbox.values() {
                if let Some(last) = bytes.last() {
                    prop_assert_eq!(*last, b'\n');
                }
                for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    prop_assert!(serde_json::from_slice::<Value>(line).is_ok());
                }
            }
            // A closed client is gone from the hub.
            for id in room.closed.keys() {
                prop_assert!(room.hub.username(*id).is_none());
                prop_assert!(!room.hub.clients.contains_key(id));
            }
        }
    }
}
