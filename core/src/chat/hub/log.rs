//! [`RoomLog`]: the one bounded log of recent room lines that every client reads from.
//!
//! A room line (a message, a join or leave announcement) is encoded once and appended here;
//! each client that hears the room holds a cursor, the sequence number of the next line it has
//! not taken. Handing a client its output is reading the log from its cursor and moving the
//! cursor to the end, so a line costs its bytes once however many clients get it, and the
//! memory is the log plus a cursor per client, never a copy per client.
//!
//! The log keeps only lines some cursor has not passed: the front line goes as soon as no
//! cursor waits at it. It never holds more than `max_bytes`: a line appended beyond that pushes
//! the oldest out even if cursors wait at it, and those cursors have fallen off: their clients
//! missed a line and must be disconnected as too slow (the hub finds them with
//! [`RoomLog::has_fallen_off`]). The log counts the cursors waiting at each line so that both
//! decisions cost nothing per client.

use std::collections::VecDeque;

use super::super::line::Line;
use super::super::ClientId;

/// The room's recent lines and how many cursors wait at each.
#[derive(Debug)]
pub(super) struct RoomLog {
    entries: VecDeque<Entry>,
    /// The sequence number of `entries[0]`.
    first: u64,
    /// Bytes of the lines in `entries`.
    bytes: usize,
    max_bytes: usize,
    /// Cursors at the end: clients that have taken every line so far.
    parked_at_end: usize,
}

#[derive(Debug)]
struct Entry {
    line: Line,
    /// The client this line is not for: a message is never echoed to its sender.
    except: Option<ClientId>,
    /// Cursors whose next line is this one.
    parked: usize,
}

impl RoomLog {
    /// An empty log holding at most `max_bytes` of lines.
    pub(super) fn new(max_bytes: usize) -> RoomLog {
        RoomLog {
            entries: VecDeque::new(),
            first: 0,
            bytes: 0,
            max_bytes,
            parked_at_end: 0,
        }
    }

    /// The sequence number the next appended line gets.
    pub(super) fn end(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// Bytes of the lines held now.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many lines are held now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// A new cursor, at the end: its client hears the lines appended from now on.
    pub(super) fn open_cursor(&mut self) -> u64 {
        self.parked_at_end += 1;
        self.end()
    }

    /// Forgets the cursor at `cursor` (its client left).
    pub(super) fn close_cursor(&mut self, cursor: u64) {
        self.unpark(cursor);
        self.trim_passed();
    }

    /// Whether a cursor at `cursor` missed a line: one it had not passed was pushed out.
    pub(super) fn has_fallen_off(&self, cursor: u64) -> bool {
        cursor < self.first
    }

    /// Whether a cursor at `cursor` has lines to take that are for `client`.
    pub(super) fn has_lines_for(&self, cursor: u64, client: ClientId) -> bool {
        self.range(cursor)
            .any(|(_, entry)| entry.except != Some(client))
    }

    /// Appends `line` for every cursor but `except`'s, then pushes out the oldest lines while
    /// the log holds more than its bound. True when a cursor fell off doing so.
    pub(super) fn push(&mut self, line: Line, except: Option<ClientId>) -> bool {
        self.bytes += line.len();
        self.entries.push_back(Entry {
            line,
            except,
            parked: std::mem::take(&mut self.parked_at_end),
        });
        let mut fell_off = false;
        while self.bytes > self.max_bytes {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            self.first += 1;
            self.bytes -= oldest.line.len();
            fell_off |= oldest.parked > 0;
        }
        self.trim_passed();
        fell_off
    }

    /// Moves the cursor at `cursor` to the end, calling `take` with every line on the way that
    /// is for `client` and its sequence number, in order. Returns the new cursor (the end).
    /// A cursor that fell off is not moved: its client must go.
    pub(super) fn advance(
        &mut self,
        cursor: u64,
        client: ClientId,
        mut take: impl FnMut(u64, &Line),
    ) -> u64 {
        if self.has_fallen_off(cursor) {
            return cursor;
        }
        for (seq, entry) in self.range(cursor) {
            if entry.except != Some(client) {
                take(seq, &entry.line);
            }
        }
        let end = self.end();
        if cursor != end {
            self.unpark(cursor);
            self.parked_at_end += 1;
            self.trim_passed();
        }
        end
    }

    /// The entries from `cursor` to the end, with their sequence numbers.
    fn range(&self, cursor: u64) -> impl Iterator<Item = (u64, &Entry)> {
        let skip = usize::try_from(cursor.saturating_sub(self.first)).unwrap_or(usize::MAX);
        self.entries
            .iter()
            .skip(skip)
            .zip(cursor.max(self.first)..)
            .map(|(entry, seq)| (seq, entry))
    }

    fn unpark(&mut self, cursor: u64) {
        if cursor == self.end() {
            self.parked_at_end = self.parked_at_end.saturating_sub(1);
        } else if let Some(index) = cursor
            .checked_sub(self.first)
            .and_then(|index| usize::try_from(index).ok())
        {
            if let Some(entry) = self.entries.get_mut(index) {
                entry.parked = entry.parked.saturating_sub(1);
            }
        }
        // A cursor before `first` fell off and was never counted since.
    }

    /// Drops the front lines no cursor waits at: every cursor is past them.
    fn trim_passed(&mut self) {
        while self.entries.front().is_some_and(|entry| entry.parked == 0) {
            if let Some(passed) = self.entries.pop_front() {
                self.first += 1;
                self.bytes -= passed.line.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        Line::new(format!("{text}\n").as_bytes())
    }

    fn taken(log: &mut RoomLog, cursor: &mut u64, client: ClientId) -> Vec<String> {
        let mut lines = Vec::new();
        *cursor = log.advance(*cursor, client, |_, line| {
            lines.push(String::from_utf8_lossy(line).trim_end().to_string());
        });
        lines
    }

    #[test]
    fn each_cursor_takes_every_line_once_except_its_own() {
        let (ann, bob) = (ClientId(1), ClientId(2));
        let mut log = RoomLog::new(1024);
        let mut at_ann = log.open_cursor();
        let mut at_bob = log.open_cursor();
        log.push(line("from ann"), Some(ann));
        log.push(line("join"), None);
        assert_eq!(taken(&mut log, &mut at_ann, ann), ["join"]);
        assert_eq!(taken(&mut log, &mut at_bob, bob), ["from ann", "join"]);
        assert_eq!(taken(&mut log, &mut at_bob, bob), Vec::<String>::new());
        // Both cursors passed everything: nothing is kept.
        assert_eq!((log.len(), log.bytes()), (0, 0));
        log.push(line("later"), None);
        assert_eq!(taken(&mut log, &mut at_ann, ann), ["later"]);
    }

    #[test]
    fn lines_nobody_waits_for_are_not_kept() {
        let mut log = RoomLog::new(1024);
        log.push(line("nobody listens"), None);
        assert_eq!(log.len(), 0);
        let cursor = log.open_cursor();
        log.push(line("one"), None);
        log.push(line("two"), None);
        assert_eq!(log.len(), 2);
        log.close_cursor(cursor);
        assert_eq!((log.len(), log.bytes()), (0, 0));
    }

    #[test]
    fn a_cursor_left_behind_by_more_than_the_bound_falls_off() {
        let client = ClientId(1);
        let mut log = RoomLog::new(20);
        let mut slow = log.open_cursor();
        let mut fast = log.open_cursor();
        assert!(!log.push(line("aaaaaaaaa"), None));
        taken(&mut log, &mut fast, ClientId(2));
        assert!(!log.push(line("bbbbbbbbb"), None));
        assert!(!log.has_fallen_off(slow));
        assert!(log.push(line("ccccccccc"), None), "30 bytes wait for slow");
        assert!(log.has_fallen_off(slow));
        assert!(log.bytes() <= 20);
        // A cursor that fell off takes nothing: it would miss a line.
        assert!(taken(&mut log, &mut slow, client).is_empty());
        assert_eq!(
            taken(&mut log, &mut fast, ClientId(2)),
            ["bbbbbbbbb", "ccccccccc"]
        );
        log.close_cursor(slow);
        assert_eq!(log.len(), 0);
    }

    #[test]
    fn a_cursor_only_its_own_lines_wait_for_has_nothing_to_take() {
        let ann = ClientId(1);
        let mut log = RoomLog::new(1024);
        let cursor = log.open_cursor();
        log.push(line("ann says"), Some(ann));
        assert!(!log.has_lines_for(cursor, ann));
        assert!(log.has_lines_for(cursor, ClientId(2)));
        log.push(line("join"), None);
        assert!(log.has_lines_for(cursor, ann));
    }
}
