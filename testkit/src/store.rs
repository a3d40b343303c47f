//! Reading the server's `data.json` back, in file order, and checking the SPEC's rules on it.
//!
//! Owns the order-preserving parse (a plain map would hide a duplicate key and the file order)
//! and the checks every read makes: valid JSON object, records of exactly `username` and
//! `message`, keys in the SPEC's timestamp format, unique and ascending. It never writes the
//! store; only the server does.

use std::fmt;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// One stored message, as found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The timestamp key, e.g. `2024-09-09T12:34:56.789012`.
    pub key: String,
    /// The stored username.
    pub username: String,
    /// The stored message text.
    pub message: String,
}

/// Reads the store at `path`; a missing or empty file is an empty store.
///
/// Panics, showing the file, when it is not valid JSON, a record has other fields, or the keys
/// break the SPEC's format, uniqueness or ascending order.
pub fn read(path: &Path) -> Vec<Entry> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("cannot read the store {}: {e}", path.display()),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    let entries = parse(&bytes).unwrap_or_else(|e| {
        panic!(
            "the store is not a JSON object of records ({e}):\n{}",
            String::from_utf8_lossy(&bytes)
        )
    });
    check_keys(&entries);
    entries
}

/// Reads the store until it holds at least `count` entries or `timeout` passes, then returns
/// what it holds: for messages stored without an acknowledgement to wait for.
///
/// The server may be appending meanwhile, and a reader that takes the file in several reads can
/// get the old closing from one and the new tail from the next: such a torn read is retried, and
/// the last read is checked strictly.
pub fn read_when(path: &Path, count: usize, timeout: Duration) -> Vec<Entry> {
    let deadline = Instant::now() + timeout;
    loop {
        let held = std::fs::read(path)
            .ok()
            .and_then(|bytes| parse(&bytes).ok());
        match held {
            Some(entries) if entries.len() >= count => return read(path),
            _ if Instant::now() >= deadline => return read(path),
            _ => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

/// The `(username, message)` pairs of `entries`, in file order, for comparing with what was sent.
pub fn pairs(entries: &[Entry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.username.clone(), e.message.clone()))
        .collect()
}

/// Parses a store file's bytes, keeping the file order and any duplicate key.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let entries = deserializer.deserialize_map(EntriesVisitor)?;
    deserializer.end()?;
    Ok(entries)
}

/// Panics unless every key has the SPEC's format and the keys are unique and ascending.
pub fn check_keys(entries: &[Entry]) {
    for entry in entries {
        assert!(
            is_timestamp_key(&entry.key),
            "key {:?} is not YYYY-MM-DDTHH:MM:SS.ffffff",
            entry.key
        );
    }
    for pair in entries.windows(2) {
        assert!(
            pair[0].key < pair[1].key,
            "keys not unique and ascending in file order: {:?} then {:?}",
            pair[0].key,
            pair[1].key
        );
    }
}

/// True for `YYYY-MM-DDTHH:MM:SS.ffffff`: ISO 8601, microseconds, no offset (SPEC, Storage).
pub fn is_timestamp_key(key: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddddd";
    key.len() == SHAPE.len()
        && key.bytes().zip(SHAPE).all(|(b, &s)| {
            if s == b'd' {
                b.is_ascii_digit()
            } else {
                b == s
            }
        })
}

/// A record as the SPEC fixes it: these two fields and no others.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    username: String,
    message: String,
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Vec<Entry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of timestamp keys to {username, message} records")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Entry>, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, record)) = map.next_entry::<String, Record>()? {
            entries.push(Entry {
                key,
                username: record.username,
                message: record.message,
            });
        }
        Ok(entries)
    }
}

/// How often [`read_when`] looks at the file again.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_file_order_and_duplicates() {
        let text = br#"{"2024-01-01T00:00:00.000002": {"username": "b", "message": "2"},
                        "2024-01-01T00:00:00.000001": {"username": "a", "message": "1"},
                        "2024-01-01T00:00:00.000001": {"username": "a", "message": "1"}}"#;
        let keys: Vec<String> = parse(text).unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(keys.len(), 3);
        assert!(keys[0].ends_with('2'));
    }

    #[test]
    fn refuses_extra_fields_and_trailing_garbage() {
        assert!(parse(br#"{"k": {"username": "a", "message": "b", "x": 1}}"#).is_err());
        assert!(parse(br#"{"k": {"username": "a", "message": "b"}} {"#).is_err());
        assert!(parse(br#"{"k": {"username": "a"}}"#).is_err());
    }

    #[test]
    fn reads_python_escapes() {
        let entries =
            parse(br#"{"k": {"username": "\u00e9", "message": "\ud83d\ude00"}}"#).unwrap();
        assert_eq!(pairs(&entries), [("é".to_string(), "😀".to_string())]);
    }

    #[test]
    fn timestamp_key_shape() {
        assert!(is_timestamp_key("2024-09-09T12:34:56.789012"));
        for bad in [
            "2024-09-09T12:34:56.78901",
            "2024-09-09 12:34:56.789012",
            "2024-09-09T12:34:56Z",
        ] {
            assert!(!is_timestamp_key(bad), "{bad}");
        }
    }

    #[test]
    #[should_panic(expected = "ascending")]
    fn out_of_order_keys_fail() {
        let entry = |key: &str| Entry {
            key: key.into(),
            username: "a".into(),
            message: "b".into(),
        };
        check_keys(&[
            entry("2024-01-01T00:00:00.000002"),
            entry("2024-01-01T00:00:00.000001"),
        ]);
    }
}
