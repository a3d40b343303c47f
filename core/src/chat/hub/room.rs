//! What the room does with each object a client sends, and how a client joins and leaves: the
//! hub's decisions between an input and the lines it makes.

use std::time::Instant;

use time::format_description::well_known::Rfc3339;

use super::announce::Kind;
use super::claims::Join;
use super::client::Client;
use super::rules::{self, Action};
use super::{ChatEvent, ChatHub, Close, CloseReason, Line};
use crate::chat::accounts::account_key;
use crate::chat::cluster::RoomEvent;
use crate::chat::flood::FloodVerdict;
use crate::chat::{wire, ChatError, ClientId, SaidMessage};
use crate::limits::SHUTDOWN_GRACE;

impl ChatHub {
    /// Acts on one framed object (or framing error) from `client`.
    pub(super) fn handle_frame(
        &mut self,
        now: Instant,
        client: ClientId,
        frame: Result<&[u8], ChatError>,
    ) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        match state.flood.check(now) {
            FloodVerdict::Allowed => {}
            FloodVerdict::Refused => return self.refuse(now, client, ChatError::TooFast),
            FloodVerdict::Disconnect => return self.close(now, client, CloseReason::Flooding),
        }
        let object = match frame.and_then(wire::decode_client_object) {
            Ok(object) => object,
            Err(error) => return self.refuse(now, client, error),
        };
        if self.is_claiming(client) {
            return self.refuse(now, client, ChatError::RequestPending);
        }
        match object.account_request() {
            Ok(Some(request)) => return self.handle_account_request(now, client, request),
            Ok(None) => {}
            Err(error) => return self.refuse(now, client, error),
        }
        let Some(state) = self.clients.get(&client) else {
            return;
        };
        let room = rules::Room {
            names: &self.names,
            remote_names: &self.remote_names,
            claiming: &self.claiming,
            accounts: &self.accounts,
            mode: self.config.accounts,
        };
        let speaker = rules::Speaker {
            claimed: state.username.as_deref(),
            logged_in: state.account.is_some(),
        };
        match rules::check_object(&room, speaker, object) {
            Ok(Action::Join { username, message }) => {
                let key = account_key(&username);
                self.join_when_claimed(now, client, key, Join::Guest { username, message });
            }
            Ok(Action::Say { username, message }) => self.say(now, client, &username, &message),
            Err(error) => self.refuse(now, client, error),
        }
    }

    /// Tells `client` (alone) what was wrong with what it sent.
    pub(super) fn refuse(&mut self, now: Instant, client: ClientId, error: ChatError) {
        self.line.clear();
        wire::encode_error(&error.to_string(), &mut self.line);
        self.send_private(now, client);
        self.events.push_back(ChatEvent::Refused { client, error });
    }

    /// Sends a message to everyone but its sender, keeps it in the history and hands it out
    /// to be stored.
    pub(super) fn say(&mut self, now: Instant, sender: ClientId, username: &str, message: &str) {
        let said = SaidMessage {
            username: username.to_owned(),
            message: message.to_owned(),
            time: self.wall_clock(now),
        };
        self.line.clear();
        wire::encode_message(
            username,
            message,
            false,
            said.time.as_deref(),
            &mut self.line,
        );
        self.push_room_line(now, Line::new(&self.line), Some(sender));
        match &mut self.shared {
            // In a cluster the message takes its place in the history when it comes back from
            // Redis, in the order every node sees (`deliver_remote`).
            Some(shared) => shared.push_back(RoomEvent::Said(said.clone())),
            None => self.keep_in_history(&said),
        }
        self.said_messages.push_back(said);
    }

    /// Adds a message to the history newcomers get.
    pub(super) fn keep_in_history(&mut self, said: &SaidMessage) {
        if self.config.history == 0 {
            return;
        }
        if self.history.len() == self.config.history {
            self.history.pop_front();
        }
        self.said += 1;
        self.line.clear();
        wire::encode_message(
            &said.username,
            &said.message,
            true,
            said.time.as_deref(),
            &mut self.line,
        );
        self.history.push_back(Line::new(&self.line));
    }

    /// The wall-clock time at `now`, as a message carries it: UTC, RFC 3339, whole seconds
    /// (minutes are what a reader looks at; seconds order a log).
    fn wall_clock(&self, now: Instant) -> Option<String> {
        let (at, utc) = self.clock?;
        let elapsed = now.saturating_duration_since(at);
        let time = (utc + elapsed).replace_nanosecond(0).ok()?;
        time.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
    }

    /// From now on `client` hears the room live. It has the history up to its connect; what
    /// was said since (as far as the history still holds it) comes first, as history, then
    /// the announcement of its join (or, in a room that batches them, its own confirmation).
    pub(super) fn admit(&mut self, now: Instant, client: ClientId, username: &str) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        state.cursor = Some(self.log.open_cursor());
        if let Some(shared) = &mut self.shared {
            shared.push_back(RoomEvent::Joined(username.to_owned()));
        }
        let missed = usize::try_from(self.said - state.said_at_connect).unwrap_or(usize::MAX);
        let kept = self.history.len();
        // Like the history at connect, this may pass `max_queue` once: the history is bounded.
        for line in self.history.iter().skip(kept.saturating_sub(missed)) {
            state.queue_private(self.log.end(), line.clone());
        }
        self.wake(now, client);
        let room = self.names.len();
        match self.announcements.announce(now, Kind::Join, username, room) {
            Some(line) => self.push_room_line(now, Line::new(&line), None),
            None => {
                self.line.clear();
                wire::encode_join(username, &mut self.line);
                self.send_private(now, client);
            }
        }
    }

    /// Disconnects `client` for `reason`: queues its last lines and forgets it.
    pub(super) fn close(&mut self, now: Instant, client: ClientId, reason: CloseReason) {
        let Some(mut state) = self.clients.remove(&client) else {
            return;
        };
        let mut last = Vec::new();
        match reason {
            // The client may still read what it was sent before it closed its side.
            CloseReason::PeerClosed => state.take_output(&mut self.log, client, &mut last),
            // It is told off line by line before the last: its refusals are not dropped.
            CloseReason::Flooding => {
                state.take_output(&mut self.log, client, &mut last);
                self.line.clear();
                wire::encode_error(&reason.to_string(), &mut self.line);
                last.push(Line::new(&self.line));
            }
            CloseReason::TooSlow | CloseReason::Idle | CloseReason::Shutdown => {
                self.line.clear();
                wire::encode_error(&reason.to_string(), &mut self.line);
                last.push(Line::new(&self.line));
            }
        }
        let linger = match reason {
            // The process exits at the end of its grace; a goodbye cannot take longer.
            CloseReason::Shutdown => self.config.close_linger.min(SHUTDOWN_GRACE),
            CloseReason::PeerClosed
            | CloseReason::TooSlow
            | CloseReason::Idle
            | CloseReason::Flooding => self.config.close_linger,
        };
        let close = Close {
            reason,
            deadline: now + linger,
        };
        self.queue_close(client, last, close);
        self.events.push_back(ChatEvent::Closed { client, reason });
        self.forget(now, client, state);
    }

    /// Lets go of `client`'s place in the room's lines, frees its username and announces its
    /// leave.
    pub(super) fn forget(&mut self, now: Instant, client: ClientId, state: Client) {
        if let Some(cursor) = state.cursor {
            self.log.close_cursor(cursor);
        }
        self.abandon_claim(client);
        if let Some(username) = state.username {
            self.names.remove(&account_key(&username));
            if let Some(shared) = &mut self.shared {
                shared.push_back(RoomEvent::Left(username.clone()));
            }
            let room = self.names.len();
            if let Some(line) = self
                .announcements
                .announce(now, Kind::Leave, &username, room)
            {
                self.push_room_line(now, Line::new(&line), None);
            }
            self.events.push_back(ChatEvent::Left { client, username });
        }
    }
}
