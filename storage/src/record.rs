//! Stored records read back from a `data.json` file, in file order.
//!
//! Owns the reading side of the format for callers that need the records themselves (tests,
//! exports, a move to another backend). It loads the whole input, so it is meant for files of a
//! size that fits in memory; opening and appending never use it. Never touches files.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// One record as it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The key exactly as written, which may predate ferry's format.
    pub key: String,
    pub username: String,
    pub message: String,
}

impl StoredRecord {
    /// Parses a whole store file into its records, in file order (duplicate keys included).
    ///
    /// Every record must hold string `username` and `message` fields; other fields are ignored.
    /// An empty or whitespace-only input is a store without records.
    pub fn read_all(bytes: &[u8]) -> Result<Vec<StoredRecord>, RecordError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let records = (&mut de)
            .deserialize_map(RecordsVisitor)
            .map_err(RecordError::from_json)?;
        de.end().map_err(RecordError::from_json)?;
        Ok(records)
    }
}

/// Why a file could not be read back as records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    detail: String,
}

impl RecordError {
    fn from_json(error: serde_json::Error) -> RecordError {
        RecordError {
            detail: error.to_string(),
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a store of message records: {}", self.detail)
    }
}

impl std::error::Error for RecordError {}

/// The fields of a record value.
#[derive(Deserialize)]
struct Fields {
    username: String,
    message: String,
}

/// Collects the top-level entries in order (a map type would sort or merge them).
struct RecordsVisitor;

impl<'de> Visitor<'de> for RecordsVisitor {
    type Value = Vec<StoredRecord>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of message records")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<StoredRecord>, A::Error> {
        let mut records = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let fields: Fields = map.next_value()?;
            records.push(StoredRecord {
                key,
                username: fields.username,
                message: fields.message,
            });
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_in_file_order_with_duplicates() {
        let file = br#"{"b": {"username": "u1", "message": "m1"},
            "a": {"message": "m2", "username": "u2", "extra": 1},
            "b": {"username": "u3", "message": "m3"}}"#;
        let records = StoredRecord::read_all(file).unwrap();
        let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
        assert_eq!(records[1].username, "u2");
        assert_eq!(records[1].message, "m2");
    }

    #[test]
    fn reads_an_empty_file_as_no_records() {
        assert_eq!(StoredRecord::read_all(b""), Ok(Vec::new()));
        assert_eq!(StoredRecord::read_all(b" \n"), Ok(Vec::new()));
        assert_eq!(StoredRecord::read_all(b"{}"), Ok(Vec::new()));
    }

    #[test]
    fn refuses_records_without_their_fields() {
        let cases: &[&[u8]] = &[
            br#"{"k": {"username": "u"}}"#,
            br#"{"k": {"username": "u", "message": 3}}"#,
            br#"{"k": 1}"#,
            br#"[]"#,
            br#"{"k": {"username": "u", "message": "m"}} x"#,
        ];
        for case in cases {
            assert!(
                StoredRecord::read_all(case).is_err(),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }
}
