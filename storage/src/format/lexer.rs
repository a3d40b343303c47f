//! The byte tracker between the reader and serde_json during a scan.
//!
//! Owns what serde_json does not report: byte positions (the opening brace, where each record
//! ends, where each line starts, the last non-padding byte), the memory bounds of a scan (no
//! nesting below a record, no over-long names) and UTF-8 validation of values serde_json skips
//! without checking. It follows the JSON grammar only as far as strings, escapes and depth, which
//! is exact for any prefix of valid JSON; serde_json validates everything else. Never writes.
//!
//! serde_json reads through a `BufReader` over the [`Tracker`], so the tracker sees each buffer
//! before serde_json parses it and runs ahead of the parser by at most one buffer. Positions that
//! matter after the parse (record ends, line starts) are therefore kept for a window of the most
//! recent ones that covers that lead, and looked up by ordinal or line number.

use std::collections::VecDeque;
use std::io::{self, Read};

use crate::format::scan::{ScanError, MAX_NAME_LEN};

/// The reader under serde_json's buffer: lexes every buffer it hands out, stops at a refused
/// byte, and counts every byte it reads from the input (handed out or not).
pub(super) struct Tracker<R> {
    inner: R,
    pub(super) lexer: Lexer,
    /// Bytes read from the input so far.
    pub(super) len: u64,
    /// Offset of the last byte read that is not padding, if any.
    pub(super) last_data: Option<u64>,
}

impl<R: Read> Tracker<R> {
    pub(super) fn new(inner: R) -> Tracker<R> {
        Tracker {
            inner,
            lexer: Lexer::default(),
            len: 0,
            last_data: None,
        }
    }

    /// Reads the rest of the input without lexing it, after the parse stopped, so that `len`
    /// and `last_data` cover the whole input.
    pub(super) fn drain(&mut self) -> Result<(), ScanError> {
        let mut chunk = vec![0; DRAIN_CHUNK_LEN];
        loop {
            match self.read_raw(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    return Err(ScanError::Read {
                        detail: error.to_string(),
                    })
                }
            }
        }
    }

    /// Reads from the input and accounts for the bytes read.
    fn read_raw(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(out)?;
        let read = out.get(..count).unwrap_or_default();
        if let Some(index) = read.iter().rposition(|&byte| !is_padding(byte)) {
            self.last_data = Some(self.len + index as u64);
        }
        self.len += count as u64;
        Ok(count)
    }
}

impl<R: Read> Read for Tracker<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.lexer.refusal.is_some() {
            return Err(refused());
        }
        let count = self.read_raw(out)?;
        let read = out.get(..count).unwrap_or_default();
        if let Err((index, refusal)) = self.lexer.feed_all(read) {
            // The bytes from the refused one on are never handed out; `drain` and the padding
            // check still account for them through `len` and `last_data`.
            self.lexer.refusal = Some(refusal);
            return if index == 0 {
                Err(refused())
            } else {
                Ok(index)
            };
        }
        Ok(count)
    }
}

/// The error handed to serde_json when the tracker refuses a byte; the reason stays in the lexer.
fn refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "byte refused by the store scanner",
    )
}

/// Why the tracker stopped the scan at a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Nested { offset: u64 },
    LongName { offset: u64 },
    NotUtf8 { offset: u64 },
}

/// Follows the lexical structure of the bytes lexed so far.
#[derive(Default)]
pub(super) struct Lexer {
    /// Bytes lexed so far.
    pos: u64,
    depth: u8,
    in_string: bool,
    escaped: bool,
    /// Whether the current string is bounded by `MAX_NAME_LEN` (every string but a field value).
    string_bounded: bool,
    string_start: u64,
    /// Whether a `:` came since the last `{`, `[` or `,`: the next value is not a key.
    after_colon: bool,
    utf8: Utf8Check,
    pub(super) seen_token: bool,
    open_brace: Option<u64>,
    /// End offsets of the most recently closed records, oldest first.
    record_ends: Window,
    /// Offsets of the most recent newlines, oldest first.
    newlines: Window,
    /// The last three bytes lexed, oldest first.
    pub(super) last_bytes: [u8; 3],
    pub(super) refusal: Option<Refusal>,
}

impl Lexer {
    /// Takes in the next bytes, or stops at the index of a byte it refuses.
    fn feed_all(&mut self, bytes: &[u8]) -> Result<(), (usize, Refusal)> {
        let mut index = 0;
        while let Some(&byte) = bytes.get(index) {
            let rest = bytes.get(index..).unwrap_or_default();
            let run = if self.in_string && !self.escaped && self.utf8.pending == 0 {
                // Inside a string (most of a file), plain ASCII changes no state: skip ahead to
                // the next byte that does, or to where a bounded string would pass its bound.
                let allowed = if self.string_bounded {
                    (self.string_start + MAX_NAME_LEN + 1).saturating_sub(self.pos)
                } else {
                    u64::MAX
                };
                let rest = rest
                    .get(..usize::try_from(allowed).unwrap_or(usize::MAX))
                    .unwrap_or(rest);
                let run = rest
                    .iter()
                    .position(|&b| matches!(b, b'"' | b'\\' | b'\n' | 0x80..));
                run.unwrap_or(rest.len())
            } else if self.utf8.pending == 0 {
                // Indentation between tokens changes no state either.
                rest.iter().position(|&b| b != b' ').unwrap_or(rest.len())
            } else {
                0
            };
            if run > 0 {
                index += run;
                self.pos += run as u64;
                continue;
            }
            self.feed(byte).map_err(|refusal| (index, refusal))?;
            index += 1;
        }
        // Keep the last three bytes lexed, across calls with fewer than three.
        for &byte in bytes.iter().rev().take(3).rev() {
            self.last_bytes = [self.last_bytes[1], self.last_bytes[2], byte];
        }
        Ok(())
    }

    /// Takes in the next byte, or refuses it.
    fn feed(&mut self, byte: u8) -> Result<(), Refusal> {
        let offset = self.pos;
        if !self.utf8.feed(byte) {
            return Err(Refusal::NotUtf8 { offset });
        }
        if byte == b'\n' {
            // Counted inside strings too (where JSON forbids them), as serde_json counts lines.
            self.newlines.push(offset);
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
            if self.in_string && self.string_bounded && offset - self.string_start > MAX_NAME_LEN {
                return Err(Refusal::LongName {
                    offset: self.string_start,
                });
            }
        } else {
            match byte {
                b'"' => {
                    self.in_string = true;
                    self.string_start = offset;
                    self.string_bounded = !(self.depth == RECORD_DEPTH && self.after_colon);
                }
                b'{' | b'[' => {
                    if self.depth >= RECORD_DEPTH {
                        return Err(Refusal::Nested { offset });
                    }
                    self.depth += 1;
                    self.after_colon = false;
                    if self.depth == 1 && byte == b'{' && self.open_brace.is_none() {
                        self.open_brace = Some(offset);
                    }
                }
                b'}' | b']' => {
                    if self.depth == RECORD_DEPTH && byte == b'}' {
                        self.record_ends.push(offset + 1);
                    }
                    self.depth = self.depth.saturating_sub(1);
                    self.after_colon = false;
                }
                b':' => self.after_colon = true,
                b',' => self.after_colon = false,
                _ => {}
            }
            self.seen_token |= !is_whitespace(byte);
        }
        self.pos += 1;
        Ok(())
    }

    /// Where records go after `records` complete ones: the end of the last, or the opening brace.
    pub(super) fn append_offset(&self, records: u64) -> Result<u64, ScanError> {
        let Some(last) = records.checked_sub(1) else {
            return Ok(self.open_brace.unwrap_or(0));
        };
        // The parser accepted `records` records, so the lexer has closed at least as many, and
        // at most one buffer more, which the window covers. A miss would be a bug in this
        // tracker; report it rather than guess a cut point.
        self.record_ends.get(last).ok_or_else(|| ScanError::Syntax {
            offset: self.pos,
            detail: "record boundaries could not be tracked".to_owned(),
        })
    }

    /// The offset of the last byte serde_json read, from the 1-based line and the column it
    /// reports (bytes read on that line, 0 right after its newline).
    pub(super) fn offset_of(&self, line: usize, column: usize) -> Option<u64> {
        let line_start = match (line as u64).checked_sub(2) {
            // Line 1 starts the input; line `n` starts after newline number `n - 1`.
            None => 0,
            Some(newline) => self.newlines.get(newline)? + 1,
        };
        Some((line_start + column as u64).saturating_sub(1))
    }
}

/// The most recent offsets of one kind, addressed by their ordinal among all pushed.
#[derive(Default)]
struct Window {
    offsets: VecDeque<u64>,
    /// How many offsets were pushed out at the front.
    dropped: u64,
}

impl Window {
    fn push(&mut self, offset: u64) {
        if self.offsets.len() == WINDOW_LEN {
            self.offsets.pop_front();
            self.dropped += 1;
        }
        self.offsets.push_back(offset);
    }

    /// The offset with 0-based ordinal `ordinal`, if still in the window.
    fn get(&self, ordinal: u64) -> Option<u64> {
        let index = usize::try_from(ordinal.checked_sub(self.dropped)?).ok()?;
        self.offsets.get(index).copied()
    }
}

/// Incremental UTF-8 validation (RFC 3629 §4): rejects overlong forms, surrogates and code
/// points above U+10FFFF, like `std::str::from_utf8`.
#[derive(Default)]
struct Utf8Check {
    /// Continuation bytes still expected.
    pending: u8,
    /// The range the next continuation byte must fall in.
    low: u8,
    high: u8,
}

impl Utf8Check {
    fn feed(&mut self, byte: u8) -> bool {
        if self.pending > 0 {
            if byte < self.low || byte > self.high {
                return false;
            }
            self.pending -= 1;
            self.low = 0x80;
            self.high = 0xBF;
            return true;
        }
        let (pending, low, high) = match byte {
            0x00..=0x7F => return true,
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => return false,
        };
        *self = Utf8Check { pending, low, high };
        true
    }
}

/// JSON whitespace (RFC 8259 §2).
fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Bytes a torn write can leave after the last complete record that hold no data: NUL bytes
/// (blocks allocated but never written before a power cut), whitespace, and closing braces left
/// from the closing an interrupted append was overwriting.
fn is_padding(byte: u8) -> bool {
    byte == 0 || byte == b'}' || is_whitespace(byte)
}

/// Size of the buffer serde_json reads through, and so the most the lexer runs ahead of it.
/// 16 KiB keeps system calls few on a large file while the windows below stay small.
pub(super) const SCAN_BUFFER_LEN: usize = 16 * 1024;

/// Positions kept per window. The lexer runs at most one buffer (plus the parser's one byte of
/// lookahead) ahead, and every record end or newline takes at least one byte, so a window of one
/// buffer plus slack always still holds the position the parser stopped at.
const WINDOW_LEN: usize = SCAN_BUFFER_LEN + 16;

/// Read size when draining the input after the parse stopped.
const DRAIN_CHUNK_LEN: usize = 64 * 1024;

/// Depth of the values inside a record: the top-level object is depth 1, records depth 2.
const RECORD_DEPTH: u8 = 2;
