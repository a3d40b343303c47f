//! The invariant checker of the stream framing (`datagram::lines`), for the `datagram_lines`
//! fuzz target and the proptests.

use crate::datagram::{LineError, LineFramer, MAX_LINE_LEN};

/// Checks the line framer on `bytes`: fed whole, byte by byte, and split at a point taken from
/// the first byte, it gives the same lines and the same error; no line holds a `\n` or exceeds
/// [`MAX_LINE_LEN`]; the lines and their line ends never add up to more than the input.
pub fn check_lines(bytes: &[u8]) {
    let whole = frame(&[bytes]);
    let single: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(frame(&single), whole, "byte by byte");
    let split = bytes
        .first()
        .map_or(0, |&first| usize::from(first) % (bytes.len() + 1));
    let (head, tail) = bytes.split_at(split);
    assert_eq!(frame(&[head, tail]), whole, "split at {split}");
    let (lines, _) = &whole;
    let used: usize = lines.iter().map(|line| line.len() + 1).sum();
    assert!(used <= bytes.len(), "more bytes in lines than received");
    for line in lines {
        assert!(line.len() <= MAX_LINE_LEN, "a line past the limit");
        assert!(!line.contains(&b'\n'), "a line end inside a line");
    }
}

/// Every line `chunks` give when received in turn, and the error that ended them, if any.
fn frame(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Option<LineError>) {
    let mut framer = LineFramer::new();
    let mut lines = Vec::new();
    for chunk in chunks {
        framer.receive(chunk);
        loop {
            match framer.poll_line() {
                Ok(Some(line)) => lines.push(line.to_vec()),
                Ok(None) => break,
                Err(error) => return (lines, Some(error)),
            }
        }
    }
    (lines, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn checks_known_inputs() {
        for input in [&b""[..], b"\n", b"a\r\n\r\nb", b"\r", b"{\"ack\":\"x\"}\n{"] {
            check_lines(input);
        }
        check_lines(&vec![b'x'; MAX_LINE_LEN + 2]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_pass_the_check(
            bytes in proptest::collection::vec(
                prop_oneof![4 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'\r')],
                0..300,
            ),
        ) {
            check_lines(&bytes);
        }
    }
}
