//! The framing of the datagram protocol over a stream (`--transport tcp`): each datagram's bytes
//! followed by one `\n`, in both directions.
//!
//! Owns the line framer that cuts a byte stream back into datagrams, incrementally and with a
//! bounded line, and [`push_line`], which frames one datagram for sending. Never decides what a
//! line means: each one goes to the sender or receiver as if it were a datagram, and what to do
//! about a stream whose framing broke (close it) is the caller's rule, stated on
//! [`LineFramer::poll_line`].

use std::fmt;

use super::codec::MAX_DATAGRAM_SIZE;

/// Why a stream of lines cannot be read any further. Fatal for the stream: the framer keeps
/// answering it, and the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// A line (without its line end) is longer than [`MAX_LINE_LEN`].
    TooLong,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong => write!(f, "line longer than {MAX_LINE_LEN} bytes"),
        }
    }
}

/// Cuts a byte stream into lines, as bytes arrive.
///
/// Feed every read to [`LineFramer::receive`], then drain [`LineFramer::poll_line`] until it
/// gives `Ok(None)`. The framer remembers how far it has searched for `\n`, so bytes are looked at
/// once however a line is split across reads, and it keeps at most one unfinished line (at most
/// [`MAX_LINE_LEN`] bytes plus one read) between calls.
#[derive(Debug, Default)]
pub struct LineFramer {
    buf: Vec<u8>,
    /// Where the next line starts; bytes before it were handed out already.
    start: usize,
    /// How far past `start` the search for `\n` has got without finding one.
    scanned: usize,
    error: Option<LineError>,
}

impl LineFramer {
    /// Creates a framer at the start of a stream.
    pub fn new() -> Self {
        LineFramer::default()
    }

    /// Takes the next bytes of the stream. Ignored after a [`LineError`].
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        // Lines handed out are dropped before growing the buffer, so it never holds more than
        // the unfinished line and this read.
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole line, without its `\n` (and without a `\r` before it, for peers that
    /// end lines the Internet way); `Ok(None)` while the next line is still incomplete.
    ///
    /// A line longer than [`MAX_LINE_LEN`] is an error as soon as that many bytes arrive without
    /// a line end; from then on every call returns the same error and the stream must be closed.
    /// Changes after `receive`.
    pub fn poll_line(&mut self) -> Result<Option<&[u8]>, LineError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        // `start + scanned <= buf.len()` always: both only move over bytes already received.
        let unsearched = &self.buf[self.start + self.scanned..];
        let Some(offset) = unsearched.iter().position(|&byte| byte == b'\n') else {
            self.scanned = self.buf.len() - self.start;
            if self.scanned > MAX_LINE_LEN + 1 {
                // One byte more is allowed for a `\r` whose `\n` is still on its way.
                return Err(self.fail());
            }
            return Ok(None);
        };
        let end = self.start + self.scanned + offset;
        let mut line = &self.buf[self.start..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.len() > MAX_LINE_LEN {
            return Err(self.fail());
        }
        let line_len = line.len();
        let line_start = self.start;
        self.start = end + 1;
        self.scanned = 0;
        Ok(Some(&self.buf[line_start..line_start + line_len]))
    }

    /// How many received bytes are not yet part of a line handed out: an unfinished line the
    /// stream ended in, if the peer closes now.
    pub fn unfinished_len(&self) -> usize {
        self.buf.len() - self.start
    }

    fn fail(&mut self) -> LineError {
        self.buf = Vec::new();
        self.start = 0;
        self.scanned = 0;
        self.error = Some(LineError::TooLong);
        LineError::TooLong
    }
}

/// Appends `datagram` as one line to `out`: its bytes and a `\n`.
///
/// The datagrams ferry encodes are compact JSON, in which a newline byte can only appear
/// escaped, so the line end is never ambiguous.
pub fn push_line(datagram: &[u8], out: &mut Vec<u8>) {
    debug_assert!(!datagram.contains(&b'\n'), "a datagram with a raw newline");
    out.extend_from_slice(datagram);
    out.push(b'\n');
}

/// The longest line: a line carries what one datagram would, so the two transports take the
/// same messages and the web app's 413 rule (a message must fit a datagram) holds for both.
pub const MAX_LINE_LEN: usize = MAX_DATAGRAM_SIZE;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every line the framer gives for `chunks` fed in turn, and its final error, if any.
    fn lines(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Option<LineError>) {
        let mut framer = LineFramer::new();
        let mut found = Vec::new();
        for chunk in chunks {
            framer.receive(chunk);
            loop {
                match framer.poll_line() {
                    Ok(Some(line)) => found.push(line.to_vec()),
                    Ok(None) => break,
                    Err(error) => return (found, Some(error)),
                }
            }
        }
        (found, None)
    }

    #[test]
    fn cuts_lines_and_keeps_the_unfinished_tail() {
        // (the reads, the lines they give)
        type Case<'a> = (&'a [&'a [u8]], &'a [&'a [u8]]);
        let cases: &[Case] = &[
            (&[b"a\nb\n"], &[b"a", b"b"]),
            (&[b"a\r\nb\n"], &[b"a", b"b"]),
            (&[b"a", b"b\n", b"c"], &[b"ab"]),
            (&[b"\n\n"], &[b"", b""]),
            (&[b"a\r", b"\n"], &[b"a"]),
            (&[b"a\rb\n"], &[b"a\rb"]),
            (&[b""], &[]),
        ];
        for (chunks, expected) in cases {
            let (found, error) = lines(chunks);
            assert_eq!(error, None, "{chunks:?}");
            assert_eq!(found, expected.to_vec(), "{chunks:?}");
        }
    }

    #[test]
    fn a_line_of_the_limit_is_taken_and_one_more_byte_fails() {
        let longest = vec![b'x'; MAX_LINE_LEN];
        let (found, error) = lines(&[&longest, b"\r\n"]);
        assert_eq!((found.len(), error), (1, None));

        let too_long = vec![b'x'; MAX_LINE_LEN + 1];
        let (found, error) = lines(&[&too_long, b"\n"]);
        assert_eq!((found.len(), error), (0, Some(LineError::TooLong)));
    }

    #[test]
    fn an_endless_line_fails_before_its_end_and_stays_failed() {
        let mut framer = LineFramer::new();
        let chunk = vec![b'x'; 4096];
        let mut failed_after = None;
        for round in 1..=100 {
            framer.receive(&chunk);
            if framer.poll_line() == Err(LineError::TooLong) {
                failed_after = Some(round * chunk.len());
                break;
            }
        }
        let failed_after = failed_after.expect("the framer never gave up");
        assert!(failed_after <= MAX_LINE_LEN + 1 + chunk.len());
        framer.receive(b"\nfine\n");
        assert_eq!(framer.poll_line(), Err(LineError::TooLong));
        assert_eq!(framer.unfinished_len(), 0, "the buffer is released");
    }

    #[test]
    fn never_searches_the_same_bytes_twice() {
        // Byte by byte, each receive costs one byte of search, so a long line fed in tiny
        // pieces stays linear; `scanned` is the witness.
        let mut framer = LineFramer::new();
        for count in 1..=1000 {
            framer.receive(b"y");
            assert_eq!(framer.poll_line(), Ok(None));
            assert_eq!(framer.scanned, count);
        }
    }

    #[test]
    fn push_line_frames_what_the_framer_reads_back() {
        let mut out = Vec::new();
        push_line(br#"{"ack":"a"}"#, &mut out);
        push_line(b"", &mut out);
        assert_eq!(out, b"{\"ack\":\"a\"}\n\n");
        let (found, _) = lines(&[&out]);
        assert_eq!(found, vec![br#"{"ack":"a"}"#.to_vec(), Vec::new()]);
    }

    /// Any bytes but the line end; `long` also gives lengths around the limit.
    fn line(long: bool) -> impl Strategy<Value = Vec<u8>> {
        let byte = any::<u8>().prop_filter("no newline", |&byte| byte != b'\n');
        let near_limit = if long { 1 } else { 0 };
        prop_oneof![
            8 => proptest::collection::vec(byte.clone(), 0..40),
            near_limit => proptest::collection::vec(byte, MAX_LINE_LEN - 2..MAX_LINE_LEN + 3),
        ]
    }

    fn stream_of(lines_in: &[Vec<u8>], tail: &[u8]) -> Vec<u8> {
        let mut stream = Vec::new();
        for line in lines_in {
            stream.extend_from_slice(line);
            stream.push(b'\n');
        }
        stream.extend_from_slice(tail);
        stream
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_split_point_gives_the_same_lines(
            lines_in in proptest::collection::vec(line(false), 0..8),
            tail in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let stream = stream_of(&lines_in, &tail);
            let whole = lines(&[&stream]);
            for split in 0..=stream.len() {
                let (head, rest) = stream.split_at(split);
                prop_assert_eq!(&lines(&[head, rest]), &whole, "split at {}", split);
            }
            let chunks: Vec<&[u8]> = stream.chunks(1).collect();
            prop_assert_eq!(&lines(&chunks), &whole, "byte by byte");
        }

        #[test]
        fn long_lines_fail_the_same_wherever_the_stream_splits(
            lines_in in proptest::collection::vec(line(true), 1..4),
            splits in proptest::collection::vec(any::<proptest::sample::Index>(), 1..12),
        ) {
            // Lines near the limit make every split point too slow; a dozen random ones and
            // even chunks cover the boundary cases over many runs.
            let stream = stream_of(&lines_in, b"");
            let whole = lines(&[&stream]);
            for split in splits {
                let split = split.index(stream.len() + 1);
                let (head, rest) = stream.split_at(split);
                prop_assert_eq!(&lines(&[head, rest]), &whole, "split at {}", split);
            }
            let chunks: Vec<&[u8]> = stream.chunks(4096).collect();
            prop_assert_eq!(&lines(&chunks), &whole, "in reads of 4 KiB");
            let expect_error = lines_in.iter().any(|line| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                line.len() > MAX_LINE_LEN
            });
            prop_assert_eq!(whole.1.is_some(), expect_error);
        }

        #[test]
        fn lines_within_the_limit_round_trip(
            lines_in in proptest::collection::vec(
                proptest::collection::vec(
                    any::<u8>().prop_filter("no line end", |&b| b != b'\n' && b != b'\r'),
                    0..60,
                ),
                0..10,
            ),
        ) {
            let mut stream = Vec::new();
            for line in &lines_in {
                push_line(line, &mut stream);
            }
            prop_assert_eq!(lines(&[&stream]), (lines_in, None));
        }
    }
}
