//! `write_interval`: a client is handed output at most once per interval, so a busy room's
//! lines leave in one write per client per interval, while a quiet room's go out at once.

use std::time::Duration;

use super::{config, message, Room};
use crate::chat::{ChatConfig, ClientId, Line};

const INTERVAL: Duration = Duration::from_millis(1);

fn paced() -> ChatConfig {
    ChatConfig {
        write_interval: INTERVAL,
        ..config()
    }
}

/// Hands out everything due now; returns how many transmits each client got.
fn transmits(room: &mut Room, client: ClientId) -> usize {
    let mut count = 0;
    let mut out: Vec<Line> = Vec::new();
    while let Some(transmit) = room.hub.poll_transmit(room.now, &mut out) {
        if transmit.client == client {
            count += 1;
        }
        crate::chat::line::copy_into(&out, room.inbox.entry(transmit.client).or_default());
        out.clear();
        room.hub.handle_drained(room.now, transmit.client);
    }
    count
}

#[test]
fn lines_within_an_interval_leave_in_one_transmit_after_it() {
    let mut room = Room::new(paced());
    let ann = room.join("ann");
    let bob = room.join("bob");
    room.advance(INTERVAL);
    room.lines(bob);
    // Quiet until now: the first line goes at once.
    room.hub.receive(
        room.now,
        ann,
        b"{\"username\":\"ann\",\"message\":\"one\"}\n",
    );
    assert_eq!(transmits(&mut room, bob), 1);
    assert_eq!(room.lines(bob), [message("ann", "one")]);
    // The next ones within the interval wait for it, then go together.
    room.now += INTERVAL / 4;
    room.hub.receive(
        room.now,
        ann,
        b"{\"username\":\"ann\",\"message\":\"two\"}\n",
    );
    room.now += INTERVAL / 4;
    room.hub.receive(
        room.now,
        ann,
        b"{\"username\":\"ann\",\"message\":\"three\"}\n",
    );
    assert_eq!(transmits(&mut room, bob), 0);
    let due = room.hub.poll_timeout().expect("bob's write time");
    assert_eq!(due, room.now + INTERVAL / 2);
    room.now = due;
    room.hub.handle_timeout(room.now);
    assert_eq!(transmits(&mut room, bob), 1);
    assert_eq!(
        room.lines(bob),
        [message("ann", "two"), message("ann", "three")]
    );
}

#[test]
fn a_busy_room_makes_one_transmit_per_client_per_interval() {
    const MESSAGES: u32 = 100;
    let mut room = Room::new(paced());
    let ann = room.join("ann");
    let clients: Vec<ClientId> = (0..10).map(|n| room.join(&format!("u{n}"))).collect();
    room.advance(INTERVAL);
    for &client in &clients {
        room.lines(client);
    }
    let mut count = 0;
    // A message every 100 µs for 10 ms: ten a millisecond.
    for n in 0..MESSAGES {
        room.now += INTERVAL / 10;
        let line = format!("{{\"username\":\"ann\",\"message\":\"m{n}\"}}\n");
        room.hub.receive(room.now, ann, line.as_bytes());
        if room.hub.poll_timeout().is_some_and(|due| due <= room.now) {
            room.hub.handle_timeout(room.now);
        }
        count += transmits(&mut room, clients[0]);
    }
    room.now += INTERVAL;
    room.hub.handle_timeout(room.now);
    count += transmits(&mut room, clients[0]);
    assert!((10..=12).contains(&count), "{count} transmits for 10 ms");
    for client in clients {
        let lines = room.lines(client);
        assert_eq!(lines.len(), MESSAGES as usize, "nothing lost");
        assert_eq!(lines.last(), Some(&message("ann", "m99")));
    }
}
