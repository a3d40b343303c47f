//! [`Line`]: one encoded server line, shared by every client it goes to.
//!
//! The hub encodes a room line once and hands the same bytes to each recipient: a `Line` is a
//! reference-counted slice, so a copy costs a counter increment, never the bytes. The shells
//! write lines as they are (a vectored write of several at once) or copy them into their own
//! buffer where they must (TLS encrypts a copy anyway). Lines never change once made.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The bytes of one server line: a JSON object and its `\n`.
#[derive(Clone, PartialEq, Eq)]
pub struct Line(Arc<[u8]>);

impl Line {
    /// A line holding a copy of `bytes` (one JSON object and its newline, as [`super::wire`]
    /// encodes them).
    pub fn new(bytes: &[u8]) -> Line {
        Line(Arc::from(bytes))
    }

    /// The line's bytes, newline included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for Line {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Line {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Line({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// How many bytes `lines` hold together.
pub fn total_len(lines: &[Line]) -> usize {
    lines.iter().map(|line| line.len()).sum()
}

/// Appends the bytes of `lines` to `out`, in order.
pub fn copy_into(lines: &[Line], out: &mut Vec<u8>) {
    out.reserve(total_len(lines));
    for line in lines {
        out.extend_from_slice(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_bytes() {
        let line = Line::new(b"{\"type\":\"join\",\"username\":\"ann\"}\n");
        let copy = line.clone();
        assert!(std::ptr::eq(line.as_bytes(), copy.as_bytes()));
        let mut out = b"x".to_vec();
        let expected = [&b"x"[..], &line, &copy].concat();
        copy_into(&[line, copy], &mut out);
        assert_eq!(out, expected);
        assert_eq!(total_len(&[Line::new(b"ab\n")]), 3);
    }
}
