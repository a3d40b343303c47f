//! [`Announcements`]: when joins and leaves are announced one by one, and when in batches.
//!
//! In a small room each join and leave is one line to everyone, at once. In a room of more
//! than `limit` clients that would make a reconnect storm of n clients n² lines, so there they
//! are collected and announced once per `interval` as batch lines (`{"type":"joins",
//! "usernames":[...]}`, `{"type":"leaves",...}`): a storm costs each client a few lines per
//! interval instead of one per newcomer. The one who joins is still confirmed at once, by the
//! hub, with its own `join` line.
//!
//! Once anything waits in a batch, later announcements join it even if the room has shrunk
//! meanwhile, so they are never told out of order. A batch keeps the order things happened in:
//! consecutive joins make one `joins` line, a leave after them starts a `leaves` line, and so
//! on; a line never passes [`MAX_LINE`] bytes (what a client accepts), a longer run is cut into
//! several lines.

use std::time::{Duration, Instant};

use super::super::line::Line;
use super::super::{wire, MAX_LINE};

/// Joins and leaves waiting for the next batch.
#[derive(Debug)]
pub(super) struct Announcements {
    limit: usize,
    interval: Duration,
    /// What happened since the last batch, in order.
    pending: Vec<(Kind, String)>,
    /// When the waiting batch is due.
    due: Option<Instant>,
}

/// What is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Join,
    Leave,
}

impl Announcements {
    /// Batches in rooms of more than `limit` clients, once per `interval`.
    pub(super) fn new(limit: usize, interval: Duration) -> Announcements {
        Announcements {
            limit,
            interval,
            pending: Vec::new(),
            due: None,
        }
    }

    /// `username` joined or left a room of `room` clients (counted after the change). Returns
    /// the line to announce it with at once, or `None` when it waits for the next batch.
    pub(super) fn announce(
        &mut self,
        now: Instant,
        kind: Kind,
        username: &str,
        room: usize,
    ) -> Option<Vec<u8>> {
        if room <= self.limit && self.pending.is_empty() {
            let mut line = Vec::new();
            match kind {
                Kind::Join => wire::encode_join(username, &mut line),
                Kind::Leave => wire::encode_leave(username, &mut line),
            }
            return Some(line);
        }
        self.pending.push((kind, username.to_string()));
        self.due.get_or_insert(now + self.interval);
        None
    }

    /// When the waiting batch is due, if one waits.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    /// The batch lines due by `now`, in order; empty when none is due.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<Line> {
        if self.due.is_none_or(|due| due > now) {
            return Vec::new();
        }
        self.due = None;
        let pending = std::mem::take(&mut self.pending);
        let mut lines = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut run: Option<Kind> = None;
        for (kind, name) in &pending {
            if run != Some(*kind) {
                flush_run(run, &mut names, &mut lines);
                run = Some(*kind);
            }
            names.push(name);
        }
        flush_run(run, &mut names, &mut lines);
        lines
    }
}

/// Encodes one run of same-kind announcements into lines of at most [`MAX_LINE`] bytes (the
/// object, without its newline), cutting where the next name would not fit.
fn flush_run(kind: Option<Kind>, names: &mut Vec<&str>, lines: &mut Vec<Line>) {
    let Some(kind) = kind else {
        return;
    };
    let mut line = Vec::new();
    encode_batch(kind, &[], &mut line);
    // The object's bytes without any name and without the newline.
    let empty = line.len() - 1;
    let mut start = 0;
    let mut len = empty;
    for (index, name) in names.iter().enumerate() {
        let added = wire::json_string_len(name) + usize::from(index > start);
        // A single name always fits: a username is at most 100 characters.
        if len + added > MAX_LINE && index > start {
            push_batch(kind, &names[start..index], &mut line, lines);
            start = index;
            len = empty + wire::json_string_len(name);
        } else {
            len += added;
        }
    }
    if start < names.len() {
        push_batch(kind, &names[start..], &mut line, lines);
    }
    names.clear();
}

fn push_batch(kind: Kind, names: &[&str], scratch: &mut Vec<u8>, lines: &mut Vec<Line>) {
    scratch.clear();
    encode_batch(kind, names, scratch);
    lines.push(Line::new(scratch));
}

fn encode_batch(kind: Kind, names: &[&str], out: &mut Vec<u8>) {
    match kind {
        Kind::Join => wire::encode_joins(names, out),
        Kind::Leave => wire::encode_leaves(names, out),
    }
}
