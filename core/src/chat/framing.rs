//! [`ObjectFramer`]: cuts a chat byte stream into JSON objects, one per line or back to back.
//!
//! Owns where each object starts and ends, the line-length limit and how the stream recovers after
//! a bad line. It never parses the objects' content (the hub and the client do, with
//! [`super::wire`]) and never buffers more than one unfinished object.
//!
//! # Theory of operation
//!
//! The framer scans every byte once, in one of three states:
//!
//! - `Between`: outside any object. Whitespace (newlines included) is skipped; `{` starts an
//!   object; anything else makes the line an error and moves to `Skipping`.
//! - `Object`: inside an object. Brackets and braces are counted outside strings, and quotes and
//!   backslashes tracked, so the object ends at the brace that closes the first one. It is then
//!   handed out whole, and the framer is `Between` again: that is how objects sent back to back
//!   without a newline are accepted. A raw newline inside an object (never valid inside a JSON
//!   string, and never sent by a client that writes one object per line) ends the line: the
//!   unfinished object is an error. An object longer than the limit is an error too.
//! - `Skipping`: after an error, everything up to the next newline is dropped, so one bad line
//!   costs one error and the next line is read normally.
//!
//! Only the bytes of an unfinished object are kept (at most the limit); complete objects in the
//! input are handed out as slices of it without a copy. The scan resumes where it stopped, so a
//! slowly arriving object is never rescanned. Splitting the input anywhere gives the same
//! objects and errors.

use super::ChatError;

/// Cuts a stream into JSON object texts; one per connection and direction.
///
/// Unlike the datagram transport's line framer, which keeps its input until the receiver can
/// take the next line (that stream is paused while the store catches up), this one hands each
/// object out while it scans, as a slice of the caller's bytes: a chat hub takes every object at
/// once, and most objects then cost no copy at all.
#[derive(Debug, Clone)]
pub struct ObjectFramer {
    max_line: usize,
    state: State,
    /// The unfinished object's bytes so far (only in `Object`, only across `receive` calls).
    partial: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Object {
        /// Open braces and brackets; the object ends when this returns to zero.
        depth: u32,
        in_string: bool,
        escaped: bool,
        /// Bytes of the object seen so far.
        len: usize,
    },
    Skipping,
}

impl ObjectFramer {
    /// A framer whose objects may be at most `max_line` bytes long.
    pub fn new(max_line: usize) -> Self {
        ObjectFramer {
            max_line,
            state: State::Between,
            partial: Vec::new(),
        }
    }

    /// Feeds `bytes`; calls `emit` with each complete object's text (braces included) or with
    /// the error of a bad line, in stream order. An incomplete object is kept for the next call.
    pub fn receive(&mut self, bytes: &[u8], mut emit: impl FnMut(Result<&[u8], ChatError>)) {
        // Where the current object starts in `bytes`, when it started in this call.
        let mut start = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            match &mut self.state {
                State::Between => match byte {
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    b'{' => {
                        start = index;
                        self.state = State::Object {
                            depth: 1,
                            in_string: false,
                            escaped: false,
                            len: 1,
                        };
                    }
                    _ => {
                        self.state = State::Skipping;
                        emit(Err(ChatError::MalformedJson));
                    }
                },
                State::Skipping => {
                    if byte == b'\n' {
                        self.state = State::Between;
                    }
                }
                State::Object {
                    depth,
                    in_string,
                    escaped,
                    len,
                } => {
                    *len += 1;
                    if byte == b'\n' {
                        // The line ended inside the object.
                        self.partial.clear();
                        self.state = State::Between;
                        emit(Err(ChatError::MalformedJson));
                        continue;
                    }
                    if *len > self.max_line {
                        self.partial.clear();
                        self.state = State::Skipping;
                        emit(Err(ChatError::LineTooLong));
                        continue;
                    }
                    if *in_string {
                        if *escaped {
                            *escaped = false;
                        } else if byte == b'\\' {
                            *escaped = true;
                        } else if byte == b'"' {
                            *in_string = false;
                        }
                        continue;
                    }
                    match byte {
                        b'"' => *in_string = true,
                        b'{' | b'[' => *depth += 1,
                        b'}' | b']' => *depth -= 1,
                        _ => {}
                    }
                    if *depth == 0 && byte == b']' {
                        // `{ ... ]`: the brackets do not match, which no JSON object does.
                        self.partial.clear();
                        self.state = State::Skipping;
                        emit(Err(ChatError::MalformedJson));
                        continue;
                    }
                    if *depth == 0 {
                        self.state = State::Between;
                        // `start..=index` lies in `bytes`: `start` was set in this call or is 0.
                        let tail = &bytes[start..=index];
                        if self.partial.is_empty() {
                            emit(Ok(tail));
                        } else {
                            self.partial.extend_from_slice(tail);
                            emit(Ok(&self.partial));
                            self.partial.clear();
                        }
                    }
                }
            }
        }
        if matches!(self.state, State::Object { .. }) {
            // `start` is where the object began in this call, or 0 when it began earlier.
            self.partial.extend_from_slice(&bytes[start..]);
        }
        if self.partial.capacity() > RETAINED_PARTIAL && self.partial.is_empty() {
            self.partial = Vec::new();
        }
    }

    /// The peer closed its side; an unfinished object is an error.
    pub fn receive_eof(&mut self, mut emit: impl FnMut(Result<&[u8], ChatError>)) {
        if matches!(self.state, State::Object { .. }) {
            emit(Err(ChatError::MalformedJson));
        }
        self.partial = Vec::new();
        self.state = State::Between;
    }

    /// Bytes held for an unfinished object (never more than the limit).
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }
}

/// A long object's buffer is released once it is handed out, so an idle client keeps none.
const RETAINED_PARTIAL: usize = 4 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the framer emits for `bytes` fed at the given split points, as owned values.
    fn frames(max: usize, bytes: &[u8], splits: &[usize]) -> Vec<Frame> {
        let mut framer = ObjectFramer::new(max);
        let mut out = Vec::new();
        let mut last = 0;
        for &split in splits.iter().chain([&bytes.len()]) {
            let split = split.clamp(last, bytes.len());
            framer.receive(&bytes[last..split], |frame| {
                out.push(frame.map(<[u8]>::to_vec))
            });
            assert!(framer.buffered() <= max);
            last = split;
        }
        framer.receive_eof(|frame| out.push(frame.map(<[u8]>::to_vec)));
        out
    }

    /// One framer output, owned.
    type Frame = Result<Vec<u8>, ChatError>;

    fn ok(text: &str) -> Frame {
        Ok(text.as_bytes().to_vec())
    }

    #[test]
    fn cuts_lines_and_back_to_back_objects() {
        let cases: &[(&str, &[Frame])] = &[
            ("", &[]),
            ("\n\r\n  \t", &[]),
            ("{}\n", &[ok("{}")]),
            ("{\"a\":1}", &[ok("{\"a\":1}")]),
            ("{\"a\":1}{\"b\":2}\n", &[ok("{\"a\":1}"), ok("{\"b\":2}")]),
            (
                "{\"a\":1} {\"b\":2}\r\n",
                &[ok("{\"a\":1}"), ok("{\"b\":2}")],
            ),
            ("{\"a\":\"}{\"}\n", &[ok("{\"a\":\"}{\"}")]),
            ("{\"a\":\"\\\"}\"}\n", &[ok("{\"a\":\"\\\"}\"}")]),
            ("{\"a\":[1,{\"b\":[]}]}", &[ok("{\"a\":[1,{\"b\":[]}]}")]),
            ("hello\n{}\n", &[Err(ChatError::MalformedJson), ok("{}")]),
            ("[1]\n", &[Err(ChatError::MalformedJson)]),
            (
                "{} x {}\n{}",
                &[ok("{}"), Err(ChatError::MalformedJson), ok("{}")],
            ),
            ("{\"a\":\n{}\n", &[Err(ChatError::MalformedJson), ok("{}")]),
            ("{\"a\":", &[Err(ChatError::MalformedJson)]),
            (
                "{\"a\":\"x\nb\"}\n",
                &[Err(ChatError::MalformedJson), Err(ChatError::MalformedJson)],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(frames(64, input.as_bytes(), &[]), *expected, "{input:?}");
        }
    }

    #[test]
    fn a_line_over_the_limit_is_one_error_and_the_next_line_is_read() {
        let long = format!("{{\"message\":\"{}\"}}", "x".repeat(100));
        let input = format!("{long}{long}\n{{}}\n");
        assert_eq!(
            frames(64, input.as_bytes(), &[]),
            [Err(ChatError::LineTooLong), ok("{}")]
        );
        // Exactly at the limit is fine.
        let exact = format!("{{\"m\":\"{}\"}}", "x".repeat(64 - 8));
        assert_eq!(exact.len(), 64);
        assert_eq!(frames(64, exact.as_bytes(), &[]), [ok(&exact)]);
        let over = format!("{{\"m\":\"{}\"}}", "x".repeat(64 - 7));
        assert_eq!(
            frames(64, over.as_bytes(), &[]),
            [Err(ChatError::LineTooLong)]
        );
    }

    #[test]
    fn an_object_split_at_every_point_is_the_same_object() {
        let input = b"{\"username\":\"ann\",\"message\":\"h\\\"i}\"}{\"a\":[]}\nbad\n{}";
        let whole = frames(1024, input, &[]);
        assert_eq!(whole.len(), 4);
        for split in 0..=input.len() {
            assert_eq!(frames(1024, input, &[split]), whole, "split at {split}");
        }
        let every: Vec<usize> = (0..input.len()).collect();
        assert_eq!(frames(1024, input, &every), whole, "byte by byte");
    }

    /// Chat-like input: objects, newlines, garbage and long strings mixed.
    fn chat_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"{\"username\":\"ann\",\"message\":\"hi\"}".to_vec()),
            Just(b"{\"a\":{\"b\":[\"}\\\"\"]}}".to_vec()),
            Just(b"\n".to_vec()),
            Just(b" ".to_vec()),
            Just(b"x".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"\\".to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn splitting_the_stream_anywhere_gives_the_same_frames(
            bytes in chat_bytes(),
            mut splits in prop::collection::vec(0usize..400, 0..6),
            max in 8usize..64,
        ) {
            splits.sort_unstable();
            let whole = frames(max, &bytes, &[]);
            prop_assert_eq!(&frames(max, &bytes, &splits), &whole);
            for split in 0..=bytes.len() {
                prop_assert_eq!(&frames(max, &bytes, &[split]), &whole);
            }
        }

        #[test]
        fn every_frame_is_one_balanced_object_within_the_limit(
            bytes in chat_bytes(),
            max in 8usize..64,
        ) {
            for frame in frames(max, &bytes, &[]).into_iter().flatten() {
                prop_assert!(frame.len() <= max);
                prop_assert_eq!(frame.first(), Some(&b'{'));
                prop_assert_eq!(frame.last(), Some(&b'}'));
                prop_assert!(!frame.contains(&b'\n'));
            }
        }
    }
}
