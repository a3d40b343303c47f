//! How a cluster event travels between nodes: one JSON object per Pub/Sub message and per
//! history Stream entry. Pure: [`encode`] and [`decode`] over whole payloads.

use serde::{Deserialize, Serialize};

use super::{NodeId, RoomEvent};
use crate::chat::SaidMessage;

/// One event a node published: who published it, its place in that node's sequence, and what
/// happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEvent {
    pub node: NodeId,
    /// The publishing node's sequence number: rises by one per room event; a heartbeat carries
    /// the last one the node had handed to Redis when it was sent.
    pub seq: u64,
    pub kind: EventKind,
}

/// What a [`ClusterEvent`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A message, a join or a leave on the publishing node.
    Room(RoomEvent),
    /// The publishing node is alive and its clients hold these names.
    Beat { names: Vec<String> },
}

/// A payload that is not a cluster event (another program on the channel, a newer format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnEvent;

/// Appends the JSON form of `event` to `out`.
pub fn encode(event: &ClusterEvent, out: &mut Vec<u8>) {
    let node = event.node.to_string();
    let mut wire = Wire {
        node: &node,
        seq: event.seq,
        kind: "",
        username: None,
        message: None,
        time: None,
        names: None,
    };
    match &event.kind {
        EventKind::Room(RoomEvent::Said(said)) => {
            wire.kind = SAID;
            wire.username = Some(&said.username);
            wire.message = Some(&said.message);
            wire.time = said.time.as_deref();
        }
        EventKind::Room(RoomEvent::Joined(username)) => {
            wire.kind = JOINED;
            wire.username = Some(username);
        }
        EventKind::Room(RoomEvent::Left(username)) => {
            wire.kind = LEFT;
            wire.username = Some(username);
        }
        EventKind::Beat { names } => {
            wire.kind = BEAT;
            wire.names = Some(names);
        }
    }
    // Serialising borrowed strings into a Vec cannot fail.
    let _ = serde_json::to_writer(out, &wire);
}

/// Reads one event from a whole payload.
pub fn decode(payload: &[u8]) -> Result<ClusterEvent, NotAnEvent> {
    let wire: OwnedWire = serde_json::from_slice(payload).map_err(|_| NotAnEvent)?;
    let node = NodeId::parse(&wire.node).ok_or(NotAnEvent)?;
    let username = wire.username.ok_or(NotAnEvent);
    let kind = match wire.kind.as_str() {
        SAID => EventKind::Room(RoomEvent::Said(SaidMessage {
            username: username?,
            message: wire.message.ok_or(NotAnEvent)?,
            time: wire.time,
        })),
        JOINED => EventKind::Room(RoomEvent::Joined(username?)),
        LEFT => EventKind::Room(RoomEvent::Left(username?)),
        BEAT => EventKind::Beat {
            names: wire.names.ok_or(NotAnEvent)?,
        },
        _ => return Err(NotAnEvent),
    };
    Ok(ClusterEvent {
        node,
        seq: wire.seq,
        kind,
    })
}

#[derive(Serialize)]
struct Wire<'a> {
    node: &'a str,
    seq: u64,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<&'a [String]>,
}

#[derive(Deserialize)]
struct OwnedWire {
    node: String,
    seq: u64,
    kind: String,
    username: Option<String>,
    message: Option<String>,
    time: Option<String>,
    names: Option<Vec<String>>,
}

const SAID: &str = "said";
const JOINED: &str = "join";
const LEFT: &str = "leave";
const BEAT: &str = "beat";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(event: &ClusterEvent) -> ClusterEvent {
        let mut out = Vec::new();
        encode(event, &mut out);
        decode(&out).expect("decodes")
    }

    proptest! {
        #[test]
        fn every_event_survives_the_wire(
            node in any::<u64>(),
            seq in any::<u64>(),
            username in ".{0,12}",
            message in ".{0,40}",
            time in proptest::option::of("[0-9TZ:-]{0,20}"),
            names in proptest::collection::vec(".{0,8}", 0..4),
            which in 0..4u8,
        ) {
            let kind = match which {
                0 => EventKind::Room(RoomEvent::Said(SaidMessage { username, message, time })),
                1 => EventKind::Room(RoomEvent::Joined(username)),
                2 => EventKind::Room(RoomEvent::Left(username)),
                _ => EventKind::Beat { names },
            };
            let event = ClusterEvent { node: NodeId(node), seq, kind };
            prop_assert_eq!(round_trip(&event), event);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn rejects_foreign_payloads() {
        for payload in [
            &b"hello"[..],
            br#"{"node":"zz","seq":1,"kind":"join","username":"a"}"#,
            br#"{"node":"00000000000000ff","seq":1,"kind":"dance"}"#,
            br#"{"node":"00000000000000ff","seq":1,"kind":"said","username":"a"}"#,
        ] {
            assert_eq!(decode(payload), Err(NotAnEvent));
        }
    }
}
