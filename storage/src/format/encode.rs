//! Encoding appended records: the exact bytes written at the append offset.
//!
//! Owns the layout of ferry's writes, which matches what Python's `json.dump(data, f, indent=2)`
//! produces (two-space indent, one field per line, `": "` between name and value) so a file
//! started by the original app stays uniform. Strings are escaped by serde_json; non-ASCII text
//! is written as UTF-8 where Python writes `\uXXXX`, and both are valid JSON. Never touches files.

use ferry_core::Message;

use crate::key::RecordKey;

/// The closing kept after the append offset: `\n}\n` after records, `{}\n` for an empty object
/// (whose append offset is its opening brace).
pub fn closing(is_empty: bool) -> &'static [u8] {
    if is_empty {
        EMPTY_OBJECT
    } else {
        CLOSING_AFTER_RECORDS
    }
}

/// Appends to `buf` the bytes that store `records` when written at the append offset of an
/// object that is empty (`object_is_empty`) or not, ending with the closing of the object.
///
/// The write always overwrites the whole previous closing (it is longer than the 3-byte closing),
/// so the file is valid JSON again the moment it lands. Returns how many of the bytes stay when
/// the next append comes: the new append offset is the old one plus this. Writes nothing and
/// returns 0 when `records` is empty.
pub fn encode_append<'a, I>(buf: &mut Vec<u8>, object_is_empty: bool, records: I) -> u64
where
    I: IntoIterator<Item = (&'a RecordKey, &'a Message)>,
{
    let start = buf.len();
    let mut first = object_is_empty;
    for (key, message) in records {
        buf.extend_from_slice(if first { b"{\n  " } else { b",\n  " });
        first = false;
        push_json_string(buf, key.as_str());
        buf.extend_from_slice(b": {\n    \"username\": ");
        push_json_string(buf, &message.username);
        buf.extend_from_slice(b",\n    \"message\": ");
        push_json_string(buf, &message.message);
        buf.extend_from_slice(b"\n  }");
    }
    let kept = (buf.len() - start) as u64;
    if kept > 0 {
        buf.extend_from_slice(CLOSING_AFTER_RECORDS);
    }
    kept
}

/// Writes `text` as a JSON string literal.
fn push_json_string(buf: &mut Vec<u8>, text: &str) {
    let written = serde_json::to_writer(&mut *buf, text);
    // Serializing a `str` cannot fail (no map keys to convert, no numbers out of range) and
    // writing into a `Vec` cannot fail either, so there is no error to report here.
    debug_assert!(written.is_ok(), "a string always serializes into a Vec");
}

/// What follows the last record: the object's closing brace and a final newline.
const CLOSING_AFTER_RECORDS: &[u8] = b"\n}\n";

/// An object without records, as ferry writes it.
const EMPTY_OBJECT: &[u8] = b"{}\n";
