//! The room shared with other nodes (issue 17): what the hub hands out for them and what it
//! takes in from them. The [`crate::chat::cluster::ClusterNode`] decides what reaches here and
//! in which order; the hub tells its clients as it would tell them of its own.

use std::time::Instant;

use super::announce::Kind;
use super::{ChatHub, Line};
use crate::chat::accounts::account_key;
use crate::chat::cluster::{Delivery, RoomEvent};
use crate::chat::{wire, SaidMessage};

impl ChatHub {
    /// Makes the hub hand out its messages, joins and leaves for the other nodes of a cluster
    /// ([`ChatHub::poll_shared`]). Call once, before the first client connects.
    pub fn share_events(&mut self) {
        self.shared.get_or_insert_with(Default::default);
    }

    /// The next room event of this node for the others. Drain after every input.
    pub fn poll_shared(&mut self) -> Option<RoomEvent> {
        self.shared.as_mut()?.pop_front()
    }

    /// Something from another node: its message goes to every local client who hears the room
    /// and into the history; its joins and leaves are announced, and the names it holds cannot
    /// be claimed here meanwhile.
    pub fn deliver_remote(&mut self, now: Instant, delivery: Delivery) {
        match delivery {
            Delivery::History(messages) => self.restore_history(messages),
            Delivery::Echo(said) => self.keep_in_history(&said),
            Delivery::Claimed { client, granted } => self.handle_claim(now, client, granted),
            Delivery::Live(RoomEvent::Said(said)) => self.remote_said(now, &said),
            Delivery::Live(RoomEvent::Joined(username)) => {
                *self.remote_names.entry(account_key(&username)).or_default() += 1;
                self.remote_announce(now, Kind::Join, &username);
            }
            Delivery::Live(RoomEvent::Left(username)) => {
                let key = account_key(&username);
                let Some(count) = self.remote_names.get_mut(&key) else {
                    return;
                };
                *count -= 1;
                if *count == 0 {
                    self.remote_names.remove(&key);
                }
                self.remote_announce(now, Kind::Leave, &username);
            }
        }
        self.disconnect_overflowed(now);
    }

    /// Whether a client here or on another node holds the name of key `key`, or a client
    /// here waits for its claim.
    pub(super) fn is_held(&self, key: &str) -> bool {
        self.names.contains_key(key)
            || self.remote_names.contains_key(key)
            || self.claiming.contains_key(key)
    }

    fn remote_said(&mut self, now: Instant, said: &SaidMessage) {
        self.line.clear();
        wire::encode_message(
            &said.username,
            &said.message,
            false,
            said.time.as_deref(),
            &mut self.line,
        );
        self.push_room_line(now, Line::new(&self.line), None);
        self.keep_in_history(said);
    }

    fn remote_announce(&mut self, now: Instant, kind: Kind, username: &str) {
        let room = self.names.len() + self.remote_names.len();
        if let Some(line) = self.announcements.announce(now, kind, username, room) {
            self.push_room_line(now, Line::new(&line), None);
        }
    }
}
