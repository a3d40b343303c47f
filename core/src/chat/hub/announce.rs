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
//! on. A line names the first hundred or so and counts the rest (`"others": N`): listing every
//! name of a storm to every client would make it quadratic again, in bytes instead of lines.

use std::time::{Duration, Instant};

use super::super::line::Line;
use super::super::wire;

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

/// Encodes one run of same-kind announcements as one line: the names in order while the line
/// stays within [`BATCH_NAMES_BUDGET`], the rest counted (`"others"`), so a storm of any size
/// costs each client one short line per run.
fn flush_run(kind: Option<Kind>, names: &mut Vec<&str>, lines: &mut Vec<Line>) {
    let Some(kind) = kind else {
        return;
    };
    let mut listed = 0;
    let mut len = 0;
    for (index, name) in names.iter().enumerate() {
        let added = wire::json_string_len(name) + usize::from(index > 0);
        // The first name is always listed: a username is at most 100 characters.
        if index > 0 && len + added > BATCH_NAMES_BUDGET {
            break;
        }
        len += added;
        listed += 1;
    }
    let others = names.len() - listed;
    let mut line = Vec::new();
    match kind {
        Kind::Join => wire::encode_joins(&names[..listed], others, &mut line),
        Kind::Leave => wire::encode_leaves(&names[..listed], others, &mut line),
    }
    lines.push(Line::new(&line));
    names.clear();
}

/// Bytes of names (as JSON strings, with their commas) a batch line lists: about a hundred
/// names, more than any reader takes in at once (the terminal client shows five), and small
/// enough that a storm of ten thousand joins costs each of ten thousand clients 1 KiB a second
/// instead of the whole list, which would be quadratic again.
const BATCH_NAMES_BUDGET: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_lists_names_up_to_the_budget_and_counts_the_rest() {
        let names: Vec<String> = (0..1000).map(|n| format!("user{n:04}")).collect();
        let mut refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut lines = Vec::new();
        flush_run(Some(Kind::Join), &mut refs, &mut lines);
        let line = wire::decode_server_line(lines[0].strip_suffix(b"\n").unwrap()).unwrap();
        let wire::ServerLine::Joins { usernames, others } = line else {
            panic!("{line:?}");
        };
        // "user0000" is 10 bytes as a JSON string, 11 with its comma.
        assert_eq!(usernames.len(), 93);
        assert_eq!(usernames[..], names[..93]);
        assert_eq!(others, 907);
        assert!(lines[0].len() < BATCH_NAMES_BUDGET + 64);
    }

    #[test]
    fn a_batch_keeps_the_order_of_joins_and_leaves() {
        let now = crate::testing::epoch();
        let interval = Duration::from_secs(1);
        let mut announcements = Announcements::new(0, interval);
        for (kind, name) in [
            (Kind::Join, "a"),
            (Kind::Join, "b"),
            (Kind::Leave, "a"),
            (Kind::Join, "a"),
        ] {
            assert_eq!(announcements.announce(now, kind, name, 1), None);
        }
        assert!(announcements.take_due(now).is_empty(), "not due yet");
        let lines: Vec<String> = announcements
            .take_due(now + interval)
            .iter()
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect();
        assert_eq!(
            lines,
            [
                "{\"type\":\"joins\",\"usernames\":[\"a\",\"b\"]}\n",
                "{\"type\":\"leaves\",\"usernames\":[\"a\"]}\n",
                "{\"type\":\"joins\",\"usernames\":[\"a\"]}\n",
            ]
        );
        assert_eq!(announcements.poll_timeout(), None);
    }
}
