//! Invariants of the client's response reader (`http::response`), checked on arbitrary bytes.

use crate::http::{parse_response_head, ResponseError, ResponseEvent, ResponseReader};
use crate::http::{ResponseFraming, MAX_RESPONSE_HEAD};

/// Reads `bytes` as the server's side of a connection, then EOF, both as the answer to a HEAD
/// request and to another one, and checks that:
/// - feeding them whole, split at points taken from the input, in thirds, and (when short) byte
///   by byte gives the same events, body and error;
/// - the events are any `Continue`s, then at most one head, then `End` exactly when the
///   response is complete; the head is never an interim `1xx`;
/// - the body never exceeds the input, is empty for HEAD and for framings without a body, and
///   has exactly the declared `Content-Length`;
/// - a head [`parse_response_head`] reads is read the same from exactly the bytes it used.
pub fn check_http_response(bytes: &[u8]) {
    check_head(bytes);
    let len = bytes.len();
    // Split points the fuzzer steers with the first and last bytes, so every point is reachable.
    let steer = |byte: Option<&u8>| byte.map_or(0, |&b| usize::from(b) * len / 256);
    let mut steered = [steer(bytes.first()), steer(bytes.last())];
    steered.sort_unstable();
    for head_request in [false, true] {
        let whole = read(bytes, &[], head_request);
        assert_eq!(
            read(bytes, &steered, head_request),
            whole,
            "split at {steered:?}"
        );
        assert_eq!(
            read(bytes, &[len / 3, len * 2 / 3], head_request),
            whole,
            "split in thirds"
        );
        if len <= BYTE_BY_BYTE_LIMIT {
            let every: Vec<usize> = (1..len).collect();
            assert_eq!(read(bytes, &every, head_request), whole, "byte by byte");
        }
        if let Ok(outcome) = whole {
            check_outcome(&outcome, len, head_request);
        }
    }
}

/// What reading a whole input achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    events: Vec<ResponseEvent>,
    body: Vec<u8>,
    /// Whether the response was complete before the EOF.
    done_before_eof: bool,
}

/// Feeds `input` cut at `cuts`, as reads would arrive, then EOF; stops at the first error.
fn read(input: &[u8], cuts: &[usize], head_request: bool) -> Result<Outcome, ResponseError> {
    let mut reader = ResponseReader::new(head_request);
    let mut body = Vec::new();
    let mut events = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(start, input.len());
        reader.receive(&input[start..cut], &mut body)?;
        start = cut;
        while let Some(event) = reader.poll_event() {
            events.push(event);
        }
    }
    let done_before_eof = reader.is_done();
    reader.receive_eof()?;
    while let Some(event) = reader.poll_event() {
        events.push(event);
    }
    assert!(
        reader.is_done(),
        "a response read to EOF without error is complete"
    );
    Ok(Outcome {
        events,
        body,
        done_before_eof,
    })
}

/// The invariants of one response read without error.
fn check_outcome(outcome: &Outcome, input_len: usize, head_request: bool) {
    let Outcome { events, body, .. } = outcome;
    assert!(body.len() <= input_len, "more body than input");
    assert!(
        events.len() <= input_len / MIN_HEAD_LEN + 2,
        "more events than the input holds heads"
    );
    let continues = events
        .iter()
        .take_while(|event| **event == ResponseEvent::Continue)
        .count();
    let head = match &events[continues..] {
        [ResponseEvent::Head(head), ResponseEvent::End] => head,
        other => panic!("not continues, then a head and the end: {other:?}"),
    };
    assert!(
        !(100..200).contains(&head.status),
        "an interim response reported as the head"
    );
    if head_request {
        assert!(body.is_empty(), "a body in the response to HEAD");
    }
    let framing = head.framing(head_request);
    match framing {
        Ok(ResponseFraming::Empty) => assert!(body.is_empty(), "a body where none may be"),
        Ok(ResponseFraming::Length(n)) => {
            assert_eq!(body.len() as u64, n, "body length vs Content-Length");
            assert!(
                outcome.done_before_eof,
                "a full Content-Length body not done"
            );
        }
        Ok(ResponseFraming::Chunked) => assert!(outcome.done_before_eof, "chunked not done"),
        Ok(ResponseFraming::UntilClose) => {}
        Err(error) => panic!("a head read without error has a bad framing: {error:?}"),
    }
}

/// [`parse_response_head`] on `bytes`: a head it reads is within the limit and the input, and is
/// read the same from exactly the bytes it used.
fn check_head(bytes: &[u8]) {
    if let Ok(Some((head, used))) = parse_response_head(bytes) {
        assert!(
            used <= bytes.len() && used <= MAX_RESPONSE_HEAD,
            "used {used}"
        );
        let again = parse_response_head(&bytes[..used]);
        assert_eq!(again, Ok(Some((head, used))), "the head from its own bytes");
    }
}

/// Inputs up to this size are also fed one byte per call: each call re-parses the head, so
/// the cost is quadratic in the head's length.
const BYTE_BY_BYTE_LIMIT: usize = 2048;
/// The shortest head httparse completes (`HTTP/1.1 100\n\n`, 14 bytes), rounded down: bounds
/// how many `Continue`s an input can hold.
const MIN_HEAD_LEN: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typical_and_broken_responses_keep_the_invariants() {
        let cases: &[&[u8]] = &[
            b"",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
            b"HTTP/1.0 200 OK\r\n\r\nuntil close",
            b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 101 Switching\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            b"SSH-2.0\r\n\r\n",
            b"HTTP/1.1 100\n\nHTTP/1.1 100\n\n",
        ];
        for case in cases {
            check_http_response(case);
        }
    }

    #[test]
    fn the_checker_sees_bodies_and_events() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        let outcome = read(input, &[30], false).expect("a valid response");
        assert_eq!(outcome.body, b"hi");
        assert_eq!(outcome.events.len(), 3);
        assert!(outcome.done_before_eof);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_keep_the_invariants(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            check_http_response(&bytes);
        }

        #[test]
        fn responses_with_random_tails_keep_the_invariants(
            head in prop::sample::select(vec![
                "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n",
                "HTTP/1.1 304 Not Modified\r\n\r\n",
            ]),
            tail in prop::collection::vec(any::<u8>(), 0..100),
        ) {
            check_http_response(&[head.as_bytes(), &tail].concat());
        }
    }
}
