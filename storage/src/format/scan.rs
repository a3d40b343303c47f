//! Scanning an existing `data.json`: one streaming pass that validates the file and finds where
//! the next records go.
//!
//! Owns the rules for what an acceptable store looks like (one JSON object whose values are flat
//! record objects) and what counts as a torn tail. It reads from any `std::io::Read` with bounded
//! memory, so a file of any size is scanned without being loaded; it never writes anything.
//!
//! Theory of operation: serde_json validates the syntax while a visitor counts records and keeps
//! the latest key. Between the reader and serde_json sits the byte tracker of
//! [`lexer`](super::lexer), which sees every byte before serde_json does and knows the positions
//! serde_json does not report (the opening brace, where each record ends, where a line starts).
//! When the parse fails, the failure is a torn tail only if it is an incomplete last entry
//! followed by nothing but padding; then the report keeps the records before it.

use std::fmt;
use std::io::{BufReader, Read};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::error::Category;

use crate::format::encode::closing;
use crate::format::lexer::{Refusal, Tracker, SCAN_BUFFER_LEN};
use crate::key::{RecordKey, KEY_LEN};

/// What a scan found out about a store file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Records that are complete and kept (duplicate keys each count).
    pub records: u64,
    /// The latest key in ferry's format, wherever it sits in the file; other keys do not count.
    pub latest: Option<RecordKey>,
    /// Where new records are written: just after the last complete record, or at the opening
    /// brace (or byte 0) when there is none. Every byte before it is kept as it is.
    pub append_offset: u64,
    /// Length of the scanned input in bytes.
    pub len: u64,
    /// What follows the append offset.
    pub tail: Tail,
}

impl ScanReport {
    /// Whether the object holds no complete record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

/// The state of the bytes from the append offset to the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Exactly the closing ferry writes (`\n}\n`, or `{}\n` for an empty object): ready to append.
    Canonical,
    /// A valid closing in another layout (no final newline, extra whitespace, an empty file).
    Untidy,
    /// The end of the file is a partial write: an incomplete entry, possibly followed by padding
    /// (NUL bytes, whitespace, stray closing braces) that cannot hold a record.
    Torn,
}

/// Why a file is not an acceptable store. Offsets count bytes from the start of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// The bytes are not JSON; `detail` is the parser's description.
    Syntax { offset: u64, detail: String },
    /// Valid JSON, but not an object of record objects; `offset` is at the offending value or at
    /// the byte just after it, where the parser noticed.
    NotRecords { offset: u64, detail: String },
    /// An object or array inside a record, where only plain values belong.
    NestedValue { offset: u64 },
    /// A key or field name longer than [`MAX_NAME_LEN`] bytes.
    NameTooLong { offset: u64 },
    /// A byte sequence that is not UTF-8, which JSON text must be.
    NotUtf8 { offset: u64 },
    /// The reader failed.
    Read { detail: String },
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::Syntax { offset, detail } => {
                write!(f, "not valid JSON at byte {offset}: {detail}")
            }
            ScanError::NotRecords { offset, detail } => {
                write!(
                    f,
                    "not an object of message records at byte {offset}: {detail}"
                )
            }
            ScanError::NestedValue { offset } => {
                write!(f, "nested object or array inside a record at byte {offset}")
            }
            ScanError::NameTooLong { offset } => {
                write!(
                    f,
                    "key or field name over {MAX_NAME_LEN} bytes at byte {offset}"
                )
            }
            ScanError::NotUtf8 { offset } => write!(f, "not valid UTF-8 at byte {offset}"),
            ScanError::Read { detail } => write!(f, "read failed: {detail}"),
        }
    }
}

impl std::error::Error for ScanError {}

/// Scans a whole store file from `reader`, in one pass and with bounded memory.
///
/// An empty or whitespace-only input is an empty store. A torn tail is not an error: the report
/// says [`Tail::Torn`] and counts only the records before it; see
/// [`TailFix`](crate::format::TailFix) for the repair. Damage anywhere else is an error, so no
/// complete record is ever given up.
pub fn scan<R: Read>(reader: R) -> Result<ScanReport, ScanError> {
    let mut tracker = Tracker::new(reader);
    let mut found = Found::default();
    let outcome = {
        let buffered = BufReader::with_capacity(SCAN_BUFFER_LEN, &mut tracker);
        let mut de = serde_json::Deserializer::from_reader(buffered);
        let parsed = (&mut de).deserialize_map(TopVisitor { found: &mut found });
        parsed.and_then(|()| de.end())
    };
    let error = match outcome {
        Ok(()) => {
            // The parser read to the end, so the tracker has lexed every byte.
            let lexer = &tracker.lexer;
            let append_offset = lexer.append_offset(found.records)?;
            let tail = if tracker.len - append_offset == CLOSING_LEN
                && lexer.last_bytes == closing(found.records == 0)
            {
                Tail::Canonical
            } else {
                Tail::Untidy
            };
            return Ok(found.report(append_offset, tracker.len, tail));
        }
        Err(error) => error,
    };
    tracker.drain()?;
    let lexer = &tracker.lexer;
    // Where the parser stopped: the last byte it read, or the byte the tracker refused. `None`
    // only if the lexer lost track of the line, which then rules out a repair.
    let stop = match lexer.refusal {
        Some(Refusal::Nested { offset }) => return Err(ScanError::NestedValue { offset }),
        Some(Refusal::LongName { offset }) => return Err(ScanError::NameTooLong { offset }),
        Some(Refusal::NotUtf8 { offset }) => Some(offset),
        // At the end of the input, nothing follows the stop.
        None if error.classify() == Category::Eof => Some(tracker.len),
        None => lexer.offset_of(error.line(), error.column()),
    };
    let torn_candidate = match error.classify() {
        _ if lexer.refusal.is_some() => true,
        Category::Io => {
            return Err(ScanError::Read {
                detail: error.to_string(),
            })
        }
        Category::Data => {
            let offset = stop.unwrap_or(tracker.len);
            return Err(ScanError::NotRecords {
                offset,
                detail: error.to_string(),
            });
        }
        // Nothing but whitespace: the empty store, whose closing is still to be written.
        Category::Eof if !lexer.seen_token => {
            return Ok(found.report(0, tracker.len, Tail::Untidy));
        }
        Category::Eof | Category::Syntax => true,
    };
    // A torn tail: the parser stopped in an incomplete last entry and no byte from there on
    // holds data. Any data after the stop could be records, which are never given up.
    let nothing_after = |stop: u64| tracker.last_data.is_none_or(|last| last < stop);
    if torn_candidate && stop.is_some_and(nothing_after) {
        let append_offset = lexer.append_offset(found.records)?;
        return Ok(found.report(append_offset, tracker.len, Tail::Torn));
    }
    let stop = stop.unwrap_or(tracker.len);
    Err(match lexer.refusal {
        Some(Refusal::NotUtf8 { .. }) => ScanError::NotUtf8 { offset: stop },
        _ => ScanError::Syntax {
            offset: stop,
            detail: error.to_string(),
        },
    })
}

/// The longest key or field name accepted, in bytes as written. ferry's keys are 26 bytes and
/// its field names 8; the bound keeps a hostile file from making the scan buffer a huge name.
pub const MAX_NAME_LEN: u64 = 1024;

/// What the visitor collects; kept outside the visitor so it survives a parse error.
#[derive(Default)]
struct Found {
    records: u64,
    latest: Option<RecordKey>,
}

impl Found {
    fn report(self, append_offset: u64, len: u64, tail: Tail) -> ScanReport {
        ScanReport {
            records: self.records,
            latest: self.latest,
            append_offset,
            len,
            tail,
        }
    }
}

/// Visits the top-level object: counts records, keeps the latest key.
struct TopVisitor<'a> {
    found: &'a mut Found,
}

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of message records")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map
            .next_key_seed(KeySeed {
                latest: &mut self.found.latest,
            })?
            .is_some()
        {
            map.next_value::<RecordProbe>()?;
            self.found.records += 1;
        }
        Ok(())
    }
}

/// Reads one top-level key and keeps it if it is the latest key in ferry's format so far.
struct KeySeed<'a> {
    latest: &'a mut Option<RecordKey>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record key")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        // String order is time order among well-formed keys, so most keys are settled by one
        // comparison and only a new latest is parsed and copied.
        let later = self
            .latest
            .as_ref()
            .is_none_or(|latest| text > latest.as_str());
        if text.len() == KEY_LEN && later {
            if let Some(key) = RecordKey::parse(text) {
                *self.latest = Some(key);
            }
        }
        Ok(())
    }
}

/// Accepts one record: an object whose values are skipped (the tracker forbids nesting in them).
struct RecordProbe;

impl<'de> de::Deserialize<'de> for RecordProbe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RecordProbe, D::Error> {
        deserializer.deserialize_map(RecordProbe)
    }
}

impl<'de> Visitor<'de> for RecordProbe {
    type Value = RecordProbe;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordProbe, A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(RecordProbe)
    }
}

/// Length of the closing ferry keeps after the append offset, in both its forms.
const CLOSING_LEN: u64 = 3;
