//! How output reaches the clients: room lines into the shared log, private lines into one
//! client, and each client through its stages (idle, ready, paced, in flight) until the shell
//! has written what it was handed.
//!
//! Every client that hears the room and holds nothing sits in the `waiting` list; a room line
//! moves them all to `ready` at once, without looking at anyone else. [`ChatHub::poll_transmit`]
//! hands out each ready client's lines in one transmit (everything that waits for it, so one
//! write), longest-connected first, unless the client had a transmit less than `write_interval` ago: then it waits in
//! `paced` until its time, gathering more. A client in flight gets nothing new until
//! [`ChatHub::handle_drained`].

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use super::client::{Client, Stage};
use super::{ChatHub, Close, CloseReason, Line, Transmit};
use crate::chat::{ClientId, ClientMap};

impl ChatHub {
    /// Appends the next lines to send to `out` and says for whom, or `None` when nothing waits
    /// to be sent by `now`.
    ///
    /// Call after every input until it returns `None`, and again at [`ChatHub::poll_timeout`].
    /// After a transmit without `close`, the client gets no more until
    /// [`ChatHub::handle_drained`]; one with `close` is its last, and its [`Close`] says how to
    /// end the connection. The lines are shared with every other client they go to.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<Line>) -> Option<Transmit> {
        self.release_paced(now);
        loop {
            if let Some((client, lines, close)) = self.closing.pop_front() {
                out.extend(lines);
                return Some(Transmit {
                    client,
                    close: Some(close),
                });
            }
            let client = self.next_ready(now)?;
            let Some(state) = self.clients.get_mut(&client) else {
                continue;
            };
            state.listed = false;
            if state.has_fallen_off(&self.log) {
                // The sweep marks such a client and the input that pushed it off disconnects
                // it, so this is only a safeguard: its close comes out first on the next loop.
                self.close(now, client, CloseReason::TooSlow);
                self.disconnect_overflowed(now);
                continue;
            }
            if !state.has_output(&self.log, client) {
                // Only its own messages waited: it is sent none of them.
                state.take_output(&mut self.log, client, out);
                self.rest(client);
                continue;
            }
            if now < state.next_write {
                state.stage = Stage::Paced;
                self.paced.push(Reverse((state.next_write, client)));
                continue;
            }
            state.take_output(&mut self.log, client, out);
            state.stage = Stage::InFlight;
            state.next_write = now + self.config.write_interval;
            return Some(Transmit {
                client,
                close: None,
            });
        }
    }

    /// The shell has written every byte it took for `client` by `now`; more may be
    /// transmitted.
    pub fn handle_drained(&mut self, now: Instant, client: ClientId) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        if state.stage != Stage::InFlight {
            return;
        }
        state.stage = Stage::Idle;
        if state.may_have_output(&self.log) {
            self.wake(now, client);
        } else {
            self.rest(client);
        }
    }

    /// Lists `client` as ready from `now`, unless it is already on its way (ready, paced, in
    /// flight).
    pub(super) fn wake(&mut self, now: Instant, client: ClientId) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        if state.stage != Stage::Idle {
            return;
        }
        state.stage = Stage::Ready;
        state.listed = true;
        state.ready_since = now;
        self.ready.push(Reverse(client));
        self.ready_order.push_back((now, client));
    }

    /// The ready client to serve next by `now`: the first of those that waited longer than
    /// [`PATIENCE`], else the one connected longest. Entries of clients served, gone or woken
    /// again since are dropped on the way.
    fn next_ready(&mut self, now: Instant) -> Option<ClientId> {
        let is_listed = |clients: &ClientMap<Client>, client: ClientId, since: Option<Instant>| {
            clients.get(&client).is_some_and(|state| {
                state.listed && since.is_none_or(|since| state.ready_since == since)
            })
        };
        while let Some(&(since, client)) = self.ready_order.front() {
            if !is_listed(&self.clients, client, Some(since)) {
                self.ready_order.pop_front();
                continue;
            }
            if since + PATIENCE <= now {
                self.ready_order.pop_front();
                return Some(client);
            }
            break;
        }
        while let Some(Reverse(client)) = self.ready.pop() {
            if is_listed(&self.clients, client, None) {
                return Some(client);
            }
        }
        None
    }

    /// `client` holds nothing: it idles, woken by its next private line or, once it hears the
    /// room, by the next room line.
    fn rest(&mut self, client: ClientId) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        state.stage = Stage::Idle;
        if state.is_admitted() && !state.waiting {
            state.waiting = true;
            self.waiting.push(client);
        }
    }

    /// Appends a room line for every client that hears the room but `except`, and wakes them.
    /// Clients whose cursor it pushes off the log are marked to be disconnected.
    pub(super) fn push_room_line(&mut self, now: Instant, line: Line, except: Option<ClientId>) {
        if self.log.push(line, except) {
            self.mark_fallen_off();
        }
        for client in std::mem::take(&mut self.waiting) {
            if let Some(state) = self.clients.get_mut(&client) {
                state.waiting = false;
            }
            self.wake(now, client);
        }
    }

    /// Queues the line in `self.line` for `client` alone, after the room lines so far; a
    /// client whose own lines pass `max_queue` is marked to be disconnected.
    pub(super) fn send_private(&mut self, now: Instant, client: ClientId) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        if state.overflowed {
            return;
        }
        if state.private_bytes() + self.line.len() > self.config.max_queue {
            state.overflowed = true;
            self.overflowed.push(client);
            return;
        }
        state.queue_private(self.log.end(), Line::new(&self.line));
        self.wake(now, client);
    }

    /// Paced clients whose write time has come are ready again.
    pub(super) fn release_paced(&mut self, now: Instant) {
        while let Some(&Reverse((due, client))) = self.paced.peek() {
            if due > now {
                return;
            }
            self.paced.pop();
            let Some(state) = self.clients.get_mut(&client) else {
                continue;
            };
            if state.stage == Stage::Paced {
                state.stage = Stage::Idle;
                // It has waited since its write time: its patience counts from then.
                self.wake(due, client);
            }
        }
    }

    /// Disconnects the clients that fell too far behind; their leaves may push more out.
    pub(super) fn disconnect_overflowed(&mut self, now: Instant) {
        while let Some(client) = self.overflowed.pop() {
            self.close(now, client, CloseReason::TooSlow);
        }
    }

    /// Finds the clients whose cursor the log just pushed off. Runs only when one did, so it
    /// costs a look at every client once per client that fell behind, never per line.
    fn mark_fallen_off(&mut self) {
        for (&client, state) in self.clients.iter_mut() {
            if state.has_fallen_off(&self.log) && !state.overflowed {
                state.overflowed = true;
                self.overflowed.push(client);
            }
        }
        // Deterministic order of disconnects (and so of their leaves), whatever the map's.
        self.overflowed.sort_unstable_by(|a, b| b.cmp(a));
    }

    /// Queues `client`'s last lines and how to end its connection.
    pub(super) fn queue_close(&mut self, client: ClientId, lines: Vec<Line>, close: Close) {
        self.closing.push_back((client, lines, close));
    }
}

/// How long a ready client may be passed over for longer-connected ones: a tenth of a second
/// is barely noticed in a chat, and a large room's fan-out (some microseconds a client) fits
/// in it many times, so regulars go first through a storm while nobody waits much longer.
pub(super) const PATIENCE: Duration = Duration::from_millis(100);
