//! One client as the hub keeps it: its framer, its name, where it reads the room's log, the
//! lines for it alone, and where it stands in being handed output.
//!
//! A client's output is two streams merged in the order the hub made them: the room's lines
//! (from its cursor in the shared [`RoomLog`], once it hears the room) and its private lines
//! (its own error lines, the history). Each private line is marked with the log's end when it
//! was queued, and goes out after every room line before that mark and before every room line
//! from it on, so an error line answering a message never overtakes the lines said before it.

use std::collections::VecDeque;
use std::time::Instant;

use super::super::flood::Flood;
use super::super::framing::ObjectFramer;
use super::super::line::Line;
use super::super::{ClientId, Peer};
use super::log::RoomLog;

#[derive(Debug)]
pub(super) struct Client {
    pub(super) framer: ObjectFramer,
    pub(super) username: Option<String>,
    /// Where the client connects from, and whether over TLS.
    pub(super) peer: Peer,
    pub(super) flood: Flood,
    /// The account the client logged in to (its key), if it did.
    pub(super) account: Option<String>,
    /// An account request of the client's is with the shell: no other until it is answered.
    pub(super) awaiting_account: bool,
    /// Where the client reads the room's log; set once it hears the room live.
    pub(super) cursor: Option<u64>,
    /// `said` when the client connected: it has the history up to that message.
    pub(super) said_at_connect: u64,
    /// Lines for this client alone, each with the log's end when it was queued.
    private: VecDeque<(u64, Line)>,
    /// Bytes in `private`.
    private_bytes: usize,
    pub(super) stage: Stage,
    /// The client is ready and listed in the hub's `ready` heap and `ready_order`.
    pub(super) listed: bool,
    /// When it last became ready.
    pub(super) ready_since: Instant,
    /// The client is in the hub's `waiting` list, woken by the next room line.
    pub(super) waiting: bool,
    /// Set once the client is to be disconnected as too slow; nothing more is queued for it.
    pub(super) overflowed: bool,
    pub(super) last_input: Instant,
    pub(super) armed: Instant,
    /// Before this, output for the client waits (see `ChatConfig::write_interval`).
    pub(super) next_write: Instant,
}

/// Where a client stands in being handed output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Nothing handed out is unwritten, and nothing is known to wait.
    Idle,
    /// Output may wait; the client is in the hub's `ready` list.
    Ready,
    /// Output waits until the client's next write time, in the hub's `paced` heap.
    Paced,
    /// The shell holds output it has not finished writing.
    InFlight,
}

impl Client {
    /// A client that just connected at `now` from `peer`, with `said` messages said so far.
    pub(super) fn new(
        framer: ObjectFramer,
        peer: Peer,
        flood: Flood,
        now: Instant,
        armed: Instant,
        said: u64,
    ) -> Client {
        Client {
            framer,
            username: None,
            peer,
            flood,
            account: None,
            awaiting_account: false,
            cursor: None,
            said_at_connect: said,
            private: VecDeque::new(),
            private_bytes: 0,
            stage: Stage::Idle,
            listed: false,
            ready_since: now,
            waiting: false,
            overflowed: false,
            last_input: now,
            armed,
            next_write: now,
        }
    }

    /// Queues `line` for this client alone, after the room lines before `mark`.
    pub(super) fn queue_private(&mut self, mark: u64, line: Line) {
        self.private_bytes += line.len();
        self.private.push_back((mark, line));
    }

    /// Bytes of private lines waiting.
    pub(super) fn private_bytes(&self) -> usize {
        self.private_bytes
    }

    /// Whether the client hears the room live.
    pub(super) fn is_admitted(&self) -> bool {
        self.cursor.is_some()
    }

    /// Whether the client missed a room line: it fell too far behind.
    pub(super) fn has_fallen_off(&self, log: &RoomLog) -> bool {
        self.cursor.is_some_and(|cursor| log.has_fallen_off(cursor))
    }

    /// Whether anything may wait for the client (perhaps only its own messages, which it is
    /// not sent: [`Client::has_output`] says for sure).
    pub(super) fn may_have_output(&self, log: &RoomLog) -> bool {
        !self.private.is_empty() || self.cursor.is_some_and(|cursor| cursor < log.end())
    }

    /// Whether output waits for the client (`id`).
    pub(super) fn has_output(&self, log: &RoomLog, id: ClientId) -> bool {
        !self.private.is_empty() || self.cursor.is_some_and(|c| log.has_lines_for(c, id))
    }

    /// Appends everything waiting for the client (`id`) to `out`, room and private lines in
    /// order, and moves its cursor to the log's end.
    pub(super) fn take_output(&mut self, log: &mut RoomLog, id: ClientId, out: &mut Vec<Line>) {
        let private = &mut self.private;
        if let Some(cursor) = self.cursor {
            self.cursor = Some(log.advance(cursor, id, |seq, line| {
                take_marked_before(private, seq, out);
                out.push(line.clone());
            }));
        }
        out.extend(private.drain(..).map(|(_, line)| line));
        self.private_bytes = 0;
    }
}

/// Moves the private lines due before the room line `seq` to `out`.
fn take_marked_before(private: &mut VecDeque<(u64, Line)>, seq: u64, out: &mut Vec<Line>) {
    while private.front().is_some_and(|(mark, _)| *mark <= seq) {
        if let Some((_, line)) = private.pop_front() {
            out.push(line);
        }
    }
}
