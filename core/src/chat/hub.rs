//! [`ChatHub`]: the chat room on the server side, for every client at once, as a sans-io machine.
//!
//! Owns who is connected, who holds which username, the recent history, each client's queue of
//! bytes to send, and every decision to disconnect someone. It never touches a socket: the shell
//! reports connections, bytes, EOF and time, and carries out what comes back.
//!
//! # Theory of operation
//!
//! A client is `connected` from [`ChatHub::connect`] on, and gets the history at once. Its first
//! valid object claims a username (refused with an error line while another client holds it);
//! the join is announced to everyone, the client itself included, as confirmation. After that
//! every object must carry the same username and a message, which goes to every other client
//! and into the history. Anything invalid gets an error line for that client alone.
//!
//! # Who hears what
//!
//! A client hears the room live (messages, joins, leaves) only once it has claimed a username:
//! nobody can read along unseen. Until then it gets the history (at connect, as the SPEC says)
//! and its own error lines. When it joins, what was said since it connected comes first, as
//! history, so joining loses nothing. [`ChatHub::connect`] and `admit` are the one place that
//! decides this; a room where nothing goes before login would move the history from one to
//! the other.
//!
//! Each client's outgoing bytes wait in its queue in the hub. The shell takes them with
//! [`ChatHub::poll_transmit`] and, once it has written all of them, says so with
//! [`ChatHub::handle_drained`]; until then that client's new bytes keep waiting here. A client
//! whose waiting bytes pass `max_queue` is disconnected as too slow, so a client that stops
//! reading holds at most two queues' worth of memory (its queue here and the batch the shell
//! could not write) and never delays anyone else. A client that sends nothing for
//! `idle_timeout` is disconnected too; an empty line counts as something.
//!
//! A disconnect the hub decides comes out as a [`Transmit`] with `close` set: the bytes (an error
//! line saying why, or for EOF the rest of the queue) are the last to write, and the [`Close`]
//! says until when the shell may wait for the client to take them: `close_linger` after the
//! decision, or at a shutdown the smaller of that and the server's stop grace. The wait is
//! counted from the decision, not from the last progress, so a client that trickles cannot hold
//! its socket and its bytes for longer. The client is forgotten at once and its leave is
//! announced.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::mem;
use std::time::Instant;

use super::client_id::{ClientId, ClientMap};
use super::framing::ObjectFramer;
use super::wire;
use super::{ChatConfig, ChatError};
use crate::limits::SHUTDOWN_GRACE;
use rules::Action;

mod outcome;
mod rules;

pub use outcome::{ChatEvent, Close, CloseReason, Transmit};

/// The chat room.
#[derive(Debug)]
pub struct ChatHub {
    config: ChatConfig,
    clients: ClientMap<Client>,
    names: HashMap<String, ClientId>,
    /// Encoded history lines (marked `"history": true`), oldest first.
    history: VecDeque<Box<[u8]>>,
    /// How many messages ever went into the history: the newest one's number.
    said: u64,
    /// Clients whose queue has bytes and who are not in flight, in the order they got them.
    ready: VecDeque<ClientId>,
    /// Last bytes of clients the hub disconnected, not yet handed to the shell.
    closing: VecDeque<(ClientId, Vec<u8>, Close)>,
    /// Clients whose queue overflowed, to be disconnected once the current input is done.
    overflowed: Vec<ClientId>,
    events: VecDeque<ChatEvent>,
    /// Idle deadlines; an entry fires only if it is still the client's `armed` one.
    timers: BinaryHeap<Reverse<(Instant, ClientId)>>,
    next_id: u64,
    /// [`ChatHub::shutdown`] was called: a client connecting now is told goodbye at once.
    stopping: bool,
    /// Encodes one line before it is copied to every recipient.
    line: Vec<u8>,
}

#[derive(Debug)]
struct Client {
    framer: ObjectFramer,
    username: Option<String>,
    /// The client hears the room live; set by `admit` alone.
    admitted: bool,
    /// `said` when the client connected: it has the history up to that message.
    said_at_connect: u64,
    queue: Vec<u8>,
    /// The shell holds bytes of this client it has not finished writing.
    in_flight: bool,
    /// The client is in `ready`.
    listed: bool,
    /// Set once the queue overflowed; nothing more is queued for it.
    overflowed: bool,
    last_input: Instant,
    armed: Instant,
}

impl ChatHub {
    /// An empty room.
    pub fn new(config: ChatConfig) -> Self {
        ChatHub {
            config,
            clients: ClientMap::default(),
            names: HashMap::new(),
            history: VecDeque::with_capacity(config.history),
            said: 0,
            ready: VecDeque::new(),
            closing: VecDeque::new(),
            overflowed: Vec::new(),
            events: VecDeque::new(),
            timers: BinaryHeap::new(),
            next_id: 0,
            stopping: false,
            line: Vec::new(),
        }
    }

    /// A client connected; it is sent the history at once (see "Who hears what"). Returns its
    /// id for later inputs.
    pub fn connect(&mut self, now: Instant) -> ClientId {
        self.next_id += 1;
        let id = ClientId(self.next_id);
        let armed = now + self.config.idle_timeout;
        let mut client = Client {
            framer: ObjectFramer::new(self.config.max_line),
            username: None,
            admitted: false,
            said_at_connect: self.said,
            queue: Vec::new(),
            in_flight: false,
            listed: false,
            overflowed: false,
            last_input: now,
            armed,
        };
        for line in &self.history {
            client.queue.extend_from_slice(line);
        }
        if !client.queue.is_empty() {
            client.listed = true;
            self.ready.push_back(id);
        }
        self.clients.insert(id, client);
        self.timers.push(Reverse((armed, id)));
        if self.stopping {
            // A shell may still hand over a connection it accepted just before the stop.
            self.close(now, id, CloseReason::Shutdown);
        }
        id
    }

    /// Bytes from `client`. Complete objects are acted on at once; unknown ids are ignored.
    pub fn receive(&mut self, now: Instant, client: ClientId, bytes: &[u8]) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        state.last_input = now;
        // The framer leaves the client while it runs, since each object may touch every client.
        let mut framer = mem::replace(&mut state.framer, ObjectFramer::new(0));
        framer.receive(bytes, |frame| self.handle_frame(client, frame));
        if let Some(state) = self.clients.get_mut(&client) {
            state.framer = framer;
        }
        self.disconnect_overflowed(now);
    }

    /// `client` closed its side: it leaves; the rest of its queue is its last transmit.
    pub fn receive_eof(&mut self, now: Instant, client: ClientId) {
        if let Some(state) = self.clients.get_mut(&client) {
            // An unfinished object at EOF is dropped with the client; nobody is left to tell.
            state.framer.receive_eof(|_| {});
            self.close(now, client, CloseReason::PeerClosed);
            self.disconnect_overflowed(now);
        }
    }

    /// The shell lost `client` (a socket error, or it closed the socket): it leaves, without
    /// a transmit. Unknown ids are ignored.
    pub fn disconnect(&mut self, now: Instant, client: ClientId) {
        if let Some(state) = self.clients.remove(&client) {
            self.forget(client, state);
            self.disconnect_overflowed(now);
        }
    }

    /// The shell has written every byte it took for `client`; more may be transmitted.
    pub fn handle_drained(&mut self, client: ClientId) {
        if let Some(state) = self.clients.get_mut(&client) {
            state.in_flight = false;
            if !state.queue.is_empty() && !state.listed {
                state.listed = true;
                self.ready.push_back(client);
            }
        }
    }

    /// Disconnects clients idle for `idle_timeout` by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((deadline, client))) = self.timers.peek().copied() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            let Some(state) = self.clients.get_mut(&client) else {
                continue;
            };
            if state.armed != deadline {
                continue;
            }
            let due = state.last_input + self.config.idle_timeout;
            if due <= now {
                self.close(now, client, CloseReason::Idle);
            } else {
                // Input pushed the deadline later since this entry was armed.
                state.armed = due;
                self.timers.push(Reverse((due, client)));
            }
        }
        self.disconnect_overflowed(now);
    }

    /// Disconnects every client with a last line saying the server is stopping. Their
    /// [`Close`] deadlines fall within the server's stop grace ([`SHUTDOWN_GRACE`]).
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        let mut ids: Vec<ClientId> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for client in ids {
            if let Some(state) = self.clients.get_mut(&client) {
                // Nobody stays to hear the leaves.
                if let Some(username) = state.username.take() {
                    self.names.remove(&username);
                }
                self.close(now, client, CloseReason::Shutdown);
            }
        }
    }

    /// Appends the next bytes to send to `out` and says for whom, or `None` when nothing waits.
    ///
    /// Call after every input until it returns `None`. After a transmit without `close`, the
    /// client gets no more until [`ChatHub::handle_drained`]; one with `close` is its last, and
    /// its [`Close`] says how to end the connection.
    /// When `out` is empty the hub's buffer is swapped in rather than copied.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<Transmit> {
        if let Some((client, mut bytes, close)) = self.closing.pop_front() {
            append(out, &mut bytes);
            return Some(Transmit {
                client,
                close: Some(close),
            });
        }
        while let Some(client) = self.ready.pop_front() {
            let Some(state) = self.clients.get_mut(&client) else {
                continue;
            };
            state.listed = false;
            if state.in_flight || state.queue.is_empty() {
                continue;
            }
            state.in_flight = true;
            append(out, &mut state.queue);
            return Some(Transmit {
                client,
                close: None,
            });
        }
        None
    }

    /// The earliest idle deadline, possibly one that input has since pushed later (handling it
    /// then only re-arms). Changes after `connect`, `handle_timeout` and disconnects.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// The next thing that happened in the room. Drain after every input; nothing depends on it.
    pub fn poll_event(&mut self) -> Option<ChatEvent> {
        self.events.pop_front()
    }

    /// How many clients are connected.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// True when no client is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The username `client` holds, if it has claimed one.
    pub fn username(&self, client: ClientId) -> Option<&str> {
        self.clients.get(&client)?.username.as_deref()
    }

    /// Acts on one framed object (or framing error) from `client`.
    fn handle_frame(&mut self, client: ClientId, frame: Result<&[u8], ChatError>) {
        let Some(state) = self.clients.get(&client) else {
            return;
        };
        let claimed = state.username.as_deref();
        let result = frame
            .and_then(wire::decode_client_object)
            .and_then(|object| rules::check_object(&self.names, claimed, object));
        match result {
            Ok(Action::Join { username, message }) => {
                self.names.insert(username.clone(), client);
                if let Some(state) = self.clients.get_mut(&client) {
                    state.username = Some(username.clone());
                }
                self.admit(client);
                self.line.clear();
                wire::encode_join(&username, &mut self.line);
                self.broadcast(None);
                if let Some(message) = &message {
                    self.say(client, &username, message);
                }
                self.events
                    .push_back(ChatEvent::Joined { client, username });
            }
            Ok(Action::Say { username, message }) => self.say(client, &username, &message),
            Err(error) => {
                self.line.clear();
                wire::encode_error(&error.to_string(), &mut self.line);
                self.send_line(client);
                self.events.push_back(ChatEvent::Refused { client, error });
            }
        }
    }

    /// Sends a message to everyone but its sender and keeps it in the history.
    fn say(&mut self, sender: ClientId, username: &str, message: &str) {
        self.line.clear();
        wire::encode_message(username, message, false, &mut self.line);
        self.broadcast(Some(sender));
        if self.config.history > 0 {
            if self.history.len() == self.config.history {
                self.history.pop_front();
            }
            self.said += 1;
            let mut line = Vec::new();
            wire::encode_message(username, message, true, &mut line);
            self.history.push_back(line.into_boxed_slice());
        }
    }

    /// From now on `client` hears the room live. It has the history up to its connect; what
    /// was said since (as far as the history still holds it) comes first, as history.
    fn admit(&mut self, client: ClientId) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        state.admitted = true;
        let missed = usize::try_from(self.said - state.said_at_connect).unwrap_or(usize::MAX);
        let kept = self.history.len();
        // Like the history at connect, this may pass `max_queue` once: the history is bounded.
        for line in self.history.iter().skip(kept.saturating_sub(missed)) {
            state.queue.extend_from_slice(line);
        }
        if !state.queue.is_empty() && !state.in_flight && !state.listed {
            state.listed = true;
            self.ready.push_back(client);
        }
    }

    /// Queues `self.line` for every client that hears the room, except `except`.
    fn broadcast(&mut self, except: Option<ClientId>) {
        let max_queue = self.config.max_queue;
        for (&id, state) in self.clients.iter_mut() {
            if Some(id) == except || !state.admitted {
                continue;
            }
            queue_line(
                id,
                state,
                &self.line,
                max_queue,
                &mut self.ready,
                &mut self.overflowed,
            );
        }
    }

    /// Queues `self.line` for `client` alone.
    fn send_line(&mut self, client: ClientId) {
        if let Some(state) = self.clients.get_mut(&client) {
            let max_queue = self.config.max_queue;
            queue_line(
                client,
                state,
                &self.line,
                max_queue,
                &mut self.ready,
                &mut self.overflowed,
            );
        }
    }

    /// Disconnects the clients whose queues overflowed; their leaves may overflow more.
    fn disconnect_overflowed(&mut self, now: Instant) {
        while let Some(client) = self.overflowed.pop() {
            self.close(now, client, CloseReason::TooSlow);
        }
    }

    /// Disconnects `client` for `reason`: queues its last bytes and forgets it.
    fn close(&mut self, now: Instant, client: ClientId, reason: CloseReason) {
        let Some(mut state) = self.clients.remove(&client) else {
            return;
        };
        let last = match reason {
            // The client may still read what it was sent before it closed its side.
            CloseReason::PeerClosed => mem::take(&mut state.queue),
            CloseReason::TooSlow | CloseReason::Idle | CloseReason::Shutdown => {
                let mut line = Vec::new();
                wire::encode_error(&reason.to_string(), &mut line);
                line
            }
        };
        let linger = match reason {
            // The process exits at the end of its grace; a goodbye cannot take longer.
            CloseReason::Shutdown => self.config.close_linger.min(SHUTDOWN_GRACE),
            CloseReason::PeerClosed | CloseReason::TooSlow | CloseReason::Idle => {
                self.config.close_linger
            }
        };
        let close = Close {
            reason,
            deadline: now + linger,
        };
        self.closing.push_back((client, last, close));
        self.events.push_back(ChatEvent::Closed { client, reason });
        self.forget(client, state);
    }

    /// Frees `client`'s username and announces its leave.
    fn forget(&mut self, client: ClientId, state: Client) {
        if let Some(username) = state.username {
            self.names.remove(&username);
            self.line.clear();
            wire::encode_leave(&username, &mut self.line);
            self.broadcast(None);
            self.events.push_back(ChatEvent::Left { client, username });
        }
    }
}

/// Queues `line` for one client, listing it as ready or marking it overflowed.
fn queue_line(
    id: ClientId,
    state: &mut Client,
    line: &[u8],
    max_queue: usize,
    ready: &mut VecDeque<ClientId>,
    overflowed: &mut Vec<ClientId>,
) {
    if state.overflowed {
        return;
    }
    if state.queue.len() + line.len() > max_queue {
        state.overflowed = true;
        overflowed.push(id);
        return;
    }
    state.queue.extend_from_slice(line);
    if !state.in_flight && !state.listed {
        state.listed = true;
        ready.push_back(id);
    }
}

/// Moves `bytes` to the end of `out`, swapping buffers instead of copying when `out` is empty.
fn append(out: &mut Vec<u8>, bytes: &mut Vec<u8>) {
    if out.is_empty() {
        mem::swap(out, bytes);
    } else {
        out.append(bytes);
    }
}

#[cfg(test)]
mod tests;
