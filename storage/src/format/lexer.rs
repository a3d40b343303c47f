//! The byte tracker between the reader and serde_json during a scan.
//!
//! Owns what serde_json does not report: byte positions (the opening brace, where each record
//! ends, the last bytes read), the memory bounds of a scan (no nesting below a record, no
//! over-long names) and UTF-8 validation of values serde_json skips without checking. It follows
//! the JSON grammar only as far as strings, escapes and depth, which is exact for any prefix of
//! valid JSON; serde_json validates everything else. Never writes anything.

use std::io::{self, BufRead, BufReader, Read};

use crate::format::scan::{ScanError, MAX_NAME_LEN};

/// The reader serde_json reads through: hands out bytes one buffer at a time and lets the
/// [`Lexer`] see each one first.
pub(super) struct Tracker<R> {
    pub(super) inner: BufReader<R>,
    pub(super) lexer: Lexer,
}

impl<R: Read> Tracker<R> {
    /// Reads the rest of the input after a parse error; says whether it is all padding, and how
    /// many bytes it held.
    pub(super) fn drain_padding(&mut self) -> Result<(bool, u64), ScanError> {
        let mut all_padding = true;
        let mut len = 0u64;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(chunk) => chunk,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    return Err(ScanError::Read {
                        detail: error.to_string(),
                    })
                }
            };
            if chunk.is_empty() {
                return Ok((all_padding, len));
            }
            all_padding = all_padding && chunk.iter().all(|&byte| is_padding(byte));
            let chunk_len = chunk.len();
            len += chunk_len as u64;
            self.inner.consume(chunk_len);
        }
    }
}

impl<R: Read> Read for Tracker<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.lexer.refusal.is_some() {
            return Err(refused());
        }
        let available = self.inner.fill_buf()?;
        let mut taken = 0;
        for (slot, &byte) in out.iter_mut().zip(available) {
            if let Err(refusal) = self.lexer.feed(byte) {
                self.lexer.refusal = Some(refusal);
                break;
            }
            *slot = byte;
            taken += 1;
        }
        self.inner.consume(taken);
        if taken == 0 && self.lexer.refusal.is_some() {
            return Err(refused());
        }
        Ok(taken)
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

/// Follows the lexical structure of the bytes handed to serde_json: exact for any prefix of valid
/// JSON, which is all it is relied on for (serde_json validates the rest).
#[derive(Default)]
pub(super) struct Lexer {
    /// Bytes handed out so far.
    pub(super) pos: u64,
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
    /// End offsets of the last two records closed, indexed by their ordinal modulo 2.
    record_ends: [u64; 2],
    records_closed: u64,
    /// The last three bytes handed out, oldest first.
    pub(super) last_bytes: [u8; 3],
    pub(super) refusal: Option<Refusal>,
}

impl Lexer {
    /// Takes in the next byte, or refuses it.
    fn feed(&mut self, byte: u8) -> Result<(), Refusal> {
        let offset = self.pos;
        if !self.utf8.feed(byte) {
            return Err(Refusal::NotUtf8 { offset });
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
                        self.records_closed += 1;
                        self.record_ends[(self.records_closed % 2) as usize] = offset + 1;
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
        self.last_bytes = [self.last_bytes[1], self.last_bytes[2], byte];
        Ok(())
    }

    /// Where records go after `records` complete ones: the end of the last, or the opening brace.
    pub(super) fn append_offset(&self, records: u64) -> Result<u64, ScanError> {
        if records == 0 {
            return Ok(self.open_brace.unwrap_or(0));
        }
        // serde_json reads at most one byte past a value, so the lexer has closed either exactly
        // the records the visitor accepted or one more (the byte serde_json failed on). Anything
        // else would be a bug in this tracker; report it rather than guess a cut point.
        if self.records_closed == records || self.records_closed == records + 1 {
            return Ok(self.record_ends[(records % 2) as usize]);
        }
        Err(ScanError::Syntax {
            offset: self.pos,
            detail: "record boundaries could not be tracked".to_owned(),
        })
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
pub(super) fn is_padding(byte: u8) -> bool {
    byte == 0 || byte == b'}' || is_whitespace(byte)
}

/// Depth of the values inside a record: the top-level object is depth 1, records depth 2.
const RECORD_DEPTH: u8 = 2;
