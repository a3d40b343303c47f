//! [`ChatHub`]: the chat room on the server side, for every client at once, as a sans-io machine.
//!
//! Owns who is connected, who holds which username, the recent history, the room's lines still
//! on their way and each client's place in them, and every decision to disconnect someone. It
//! never touches a socket: the shell reports connections, bytes, EOF and time, and carries out
//! what comes back.
//!
//! # Theory of operation
//!
//! A client is `connected` from [`ChatHub::connect`] on, and gets the history at once. Its first
//! valid object claims a username (refused with an error line while another client holds it);
//! the join is announced to everyone, the client itself included, as confirmation. After that
//! every object must carry the same username and a message, which goes to every other client
//! and into the history. Anything invalid gets an error line for that client alone.
//!
//! # Accounts, flood control, history that survives (issue 14)
//!
//! A client may instead register or log in (`accounts`): the hub checks the request, hands the
//! shell the hashing and storing as [`AccountWork`] ([`ChatHub::poll_account_work`]) and, on
//! its outcome ([`ChatHub::handle_account`]), welcomes the client and joins it under the
//! account's name. Under `--accounts optional` a guest may not take a registered name; under
//! `required` nothing but register and login is accepted first. Names are held by their
//! compared form, so `Ann` cannot join beside `ann`. Every object a client sends takes a token
//! from its flood bucket ([`super::flood`]); over the rate it is refused, and a client that
//! keeps on is disconnected. Each message said goes out to be stored
//! ([`ChatHub::poll_said_message`]), stamped with the wall-clock time the shell anchored with
//! [`ChatHub::set_clock`]; at start the shell gives back what was kept
//! ([`ChatHub::restore_history`]).
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
//! In a room of more than `announce_limit` clients, joins and leaves are announced in batches
//! once per `announce_interval` (see [`announce`]), so a reconnect storm is not n² lines; the
//! one who joins is still confirmed at once with its own `join` line.
//!
//! # One copy of each line
//!
//! A room line is encoded once into the room's log ([`log`]), which every client that hears the
//! room reads through its own cursor; lines for one client alone (its errors, the history) wait
//! in that client, marked with where in the room's lines they belong. The shell takes a
//! client's output with [`ChatHub::poll_transmit`] (shared [`Line`]s, never copied per client)
//! and, once it has written all of it, says so with [`ChatHub::handle_drained`]; until then that
//! client's new lines keep waiting here, and the next transmit gathers all of them. A client
//! whose cursor falls off the log (more than `max_queue` bytes of room lines behind) or whose
//! own lines pass `max_queue` is disconnected as too slow, so a client that stops reading never
//! delays anyone else and memory is the log plus what each client holds alone, not clients
//! times backlog. A client is handed output at most once per `write_interval`: what arrives
//! meanwhile leaves in the same write. A client that sends nothing for `idle_timeout` is
//! disconnected too; an empty line counts as something.
//!
//! # Who goes first
//!
//! When several clients have output, the one connected longest is handed its lines first
//! (client ids rise with every connection), unless one has waited longer than
//! [`delivery::PATIENCE`] (100 ms): those go first, in the order they became ready, so nobody
//! waits for ever behind others. A shell that writes only so many clients per turn, to read
//! again in between, then serves the room's regulars before newcomers: a storm of ten thousand
//! clients joining delays the members already there by a turn or two, and the newcomers,
//! whose names are confirmed within their patience, absorb the wait. A client waiting for its
//! turn gathers everything that arrives meanwhile into its one transmit.
//!
//! A disconnect the hub decides comes out as a [`Transmit`] with `close` set: the lines (an
//! error line saying why, or for EOF everything still waiting) are the last to write, and the
//! [`Close`] says until when the shell may wait for the client to take them: `close_linger`
//! after the decision, or at a shutdown the smaller of that and the server's stop grace. The
//! wait is counted from the decision, not from the last progress, so a client that trickles
//! cannot hold its socket and its bytes for longer. The client is forgotten at once and its
//! leave is announced.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::mem;
use std::time::Instant;

use time::OffsetDateTime;

use super::accounts::guard::{LoginGuard, RegisterLimit};
use super::accounts::{account_key, AccountTable, AccountWork};
use super::client_id::{ClientId, ClientMap};
use super::cluster::{NameClaim, RoomEvent};
use super::flood::Flood;
use super::framing::ObjectFramer;
use super::line::Line;
use super::{ChatConfig, Peer, SaidMessage};
use announce::Announcements;
use client::Client;
use log::RoomLog;

mod accounts;
mod announce;
mod claims;
mod client;
mod delivery;
mod log;
mod outcome;
mod remote;
mod room;
mod rules;

pub use outcome::{ChatEvent, Close, CloseReason, Transmit};

/// The chat room.
#[derive(Debug)]
pub struct ChatHub {
    config: ChatConfig,
    clients: ClientMap<Client>,
    /// Who holds each name, by its compared form ([`account_key`]), so `Ann` cannot join
    /// beside `ann`.
    names: HashMap<String, ClientId>,
    /// How many clients of other nodes hold each name, by its compared form: none of them may
    /// be claimed here (issue 17).
    remote_names: HashMap<String, usize>,
    /// Room events for the other nodes of a cluster, not yet taken; `None` outside a cluster.
    shared: Option<VecDeque<RoomEvent>>,
    /// Names whose claim in the cluster is unanswered, by compared form, and who waits for
    /// each: held as firmly as `names` meanwhile (see [`claims`]).
    claiming: HashMap<String, ClientId>,
    /// The joins those clients wait to make.
    pending_claims: ClientMap<claims::PendingClaim>,
    /// Claims for the cluster, not yet taken.
    name_claims: VecDeque<NameClaim>,
    accounts: AccountTable,
    logins: LoginGuard,
    registrations: RegisterLimit,
    /// Each client's account request whose outcome the shell has not reported yet; kept apart
    /// from the client, which may leave meanwhile.
    pending_accounts: ClientMap<accounts::Pending>,
    /// Account work for the shell, not yet taken.
    account_work: VecDeque<AccountWork>,
    /// Messages said, for the shell to store, not yet taken.
    said_messages: VecDeque<SaidMessage>,
    /// A monotonic instant and the wall-clock time at it, to stamp messages with.
    clock: Option<(Instant, OffsetDateTime)>,
    /// History lines (marked `"history": true`), oldest first.
    history: VecDeque<Line>,
    /// How many messages ever went into the history: the newest one's number.
    said: u64,
    /// The room's lines not yet taken by every client that hears the room.
    log: RoomLog,
    announcements: Announcements,
    /// Clients whose output may wait, handed out longest-connected first (see "Who goes
    /// first"); entries of clients no longer `listed` are skipped.
    ready: BinaryHeap<Reverse<ClientId>>,
    /// The same clients in the order they became ready, with when: one waiting longer than
    /// [`delivery::PATIENCE`] goes before everyone; stale entries are skipped.
    ready_order: VecDeque<(Instant, ClientId)>,
    /// Clients that heard every room line so far and hold nothing: woken by the next one.
    waiting: Vec<ClientId>,
    /// Clients whose output waits for their next write time, earliest first.
    paced: BinaryHeap<Reverse<(Instant, ClientId)>>,
    /// Last lines of clients the hub disconnected, not yet handed to the shell.
    closing: VecDeque<(ClientId, Vec<Line>, Close)>,
    /// Clients that fell too far behind, to be disconnected once the current input is done.
    overflowed: Vec<ClientId>,
    events: VecDeque<ChatEvent>,
    /// Idle deadlines; an entry fires only if it is still the client's `armed` one.
    timers: BinaryHeap<Reverse<(Instant, ClientId)>>,
    next_id: u64,
    /// [`ChatHub::shutdown`] was called: a client connecting now is told goodbye at once.
    stopping: bool,
    /// Where a line is encoded before it becomes a [`Line`].
    line: Vec<u8>,
}

impl ChatHub {
    /// An empty room.
    pub fn new(config: ChatConfig) -> Self {
        ChatHub {
            config,
            clients: ClientMap::default(),
            names: HashMap::new(),
            remote_names: HashMap::new(),
            shared: None,
            claiming: HashMap::new(),
            pending_claims: ClientMap::default(),
            name_claims: VecDeque::new(),
            accounts: AccountTable::default(),
            logins: LoginGuard::default(),
            registrations: RegisterLimit::default(),
            pending_accounts: ClientMap::default(),
            account_work: VecDeque::new(),
            said_messages: VecDeque::new(),
            clock: None,
            history: VecDeque::with_capacity(config.history),
            said: 0,
            log: RoomLog::new(config.max_queue),
            announcements: Announcements::new(config.announce_limit, config.announce_interval),
            ready: BinaryHeap::new(),
            ready_order: VecDeque::new(),
            waiting: Vec::new(),
            paced: BinaryHeap::new(),
            closing: VecDeque::new(),
            overflowed: Vec::new(),
            events: VecDeque::new(),
            timers: BinaryHeap::new(),
            next_id: 0,
            stopping: false,
            line: Vec::new(),
        }
    }

    /// The registered accounts, as the store holds them at start (issue 14). Call before the
    /// first client connects.
    pub fn set_accounts(&mut self, accounts: AccountTable) {
        self.accounts = accounts;
    }

    /// The history the store kept (oldest first), as if just said: newcomers get its last
    /// `history` messages. Call before the first client connects.
    pub fn restore_history(&mut self, messages: impl IntoIterator<Item = SaidMessage>) {
        for said in messages {
            self.keep_in_history(&said);
        }
    }

    /// Tells the hub that the wall clock read `utc` at `now`: messages said from then on carry
    /// the time (`now` plus the monotonic time since). A shell calls it at start, and may again
    /// to follow changes of the wall clock.
    pub fn set_clock(&mut self, now: Instant, utc: OffsetDateTime) {
        self.clock = Some((now, utc));
    }

    /// A client connected from this machine over a plain port; see [`ChatHub::connect_from`].
    pub fn connect(&mut self, now: Instant) -> ClientId {
        self.connect_from(now, Peer::LOCAL)
    }

    /// A client connected from `peer`; it is sent the history at once (see "Who hears
    /// what"). Returns its id for later inputs.
    pub fn connect_from(&mut self, now: Instant, peer: Peer) -> ClientId {
        self.next_id += 1;
        let id = ClientId(self.next_id);
        let armed = now + self.config.idle_timeout;
        let framer = ObjectFramer::new(self.config.max_line);
        let flood = Flood::new(self.config.flood);
        let mut client = Client::new(framer, peer, flood, now, armed, self.said);
        // Like every private line, the history may pass `max_queue` once: it is bounded.
        for line in &self.history {
            client.queue_private(self.log.end(), line.clone());
        }
        self.clients.insert(id, client);
        self.wake(now, id);
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
        framer.receive(bytes, |frame| self.handle_frame(now, client, frame));
        if let Some(state) = self.clients.get_mut(&client) {
            state.framer = framer;
        }
        self.disconnect_overflowed(now);
    }

    /// `client` closed its side: it leaves; everything still waiting for it is its last
    /// transmit.
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
            self.forget(now, client, state);
            self.disconnect_overflowed(now);
        }
    }

    /// Disconnects clients idle for `idle_timeout` by `now`, and announces the batch of joins
    /// and leaves due by then.
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
        for line in self.announcements.take_due(now) {
            self.push_room_line(now, line, None);
        }
        self.release_paced(now);
        self.disconnect_overflowed(now);
    }

    /// Disconnects every client with a last line saying the server is stopping. Their
    /// [`Close`] deadlines fall within the server's stop grace
    /// ([`crate::limits::SHUTDOWN_GRACE`]).
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        let mut ids: Vec<ClientId> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for client in ids {
            if let Some(state) = self.clients.get_mut(&client) {
                // Nobody stays to hear the leaves.
                if let Some(username) = state.username.take() {
                    self.names.remove(&account_key(&username));
                    // The other nodes do hear this node's clients go.
                    if let Some(shared) = &mut self.shared {
                        shared.push_back(RoomEvent::Left(username));
                    }
                }
                self.close(now, client, CloseReason::Shutdown);
            }
        }
    }

    /// The earliest deadline: an idle client's (possibly one input has since pushed later;
    /// handling it then only re-arms), a batch of announcements, or a client's next write
    /// time. Changes after every input and after [`ChatHub::poll_transmit`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let idle = self.timers.peek().map(|Reverse((deadline, _))| *deadline);
        let paced = self.paced.peek().map(|Reverse((deadline, _))| *deadline);
        [idle, paced, self.announcements.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next piece of account work for the shell (hash, verify, store), whose outcome comes
    /// back with [`ChatHub::handle_account`]. Drain after every input.
    pub fn poll_account_work(&mut self) -> Option<AccountWork> {
        self.account_work.pop_front()
    }

    /// The next message said, for the shell to store so the history survives a restart.
    /// Drain after every input; nothing waits for it.
    pub fn poll_said_message(&mut self) -> Option<SaidMessage> {
        self.said_messages.pop_front()
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

    /// Bytes of room lines the hub holds for clients that have not taken them yet: at most
    /// `max_queue`, however many clients there are.
    pub fn room_backlog(&self) -> usize {
        self.log.bytes()
    }
}

#[cfg(test)]
mod tests;
