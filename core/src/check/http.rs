//! Invariants of the HTTP connection machine, checked on arbitrary bytes.

use std::time::{Duration, Instant};

use time::macros::datetime;

use crate::http::{HttpConfig, HttpConn, HttpEvent, Response};

/// Drives a connection, from time `now` on, with `bytes` whole, byte by byte and split in two places, answering every
/// request with an empty 200, and checks that:
/// - every split gives the same events and the same output;
/// - the output is a sequence of well-formed responses, exactly one per request or rejection,
///   and a rejection is the last thing that happens;
/// - output stays bounded by the input;
/// - the connection never stalls: after EOF it ends, and in every state but waiting for the
///   application a deadline is set.
pub fn check_http_conn(now: Instant, bytes: &[u8]) {
    // `100 Continue` depends on whether the body had arrived when the head was read, so it may
    // differ between splits; everything else must not.
    let whole = without_interim(drive(now, bytes, &[]));
    let split_a = bytes.len() / 3;
    let split_b = bytes.len() * 2 / 3;
    let split = without_interim(drive(now, bytes, &[split_a, split_b]));
    assert_eq!(split, whole, "split at {split_a}, {split_b}");
    if bytes.len() <= BYTE_BY_BYTE_LIMIT {
        let every: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(
            without_interim(drive(now, bytes, &every)),
            whole,
            "byte by byte"
        );
    }
    let (events, sent) = whole;
    assert_http_responses_match_events(&events, &sent);
}

/// Asserts that `sent` is a sequence of complete responses (interim `100 Continue` aside), one
/// for each request and each rejection in `events`, with a rejection only at the end.
pub fn assert_http_responses_match_events(events: &[HttpEvent], sent: &[u8]) {
    let requests = events
        .iter()
        .filter(|e| matches!(e, HttpEvent::Request(_)))
        .count();
    let rejections = events
        .iter()
        .filter(|e| matches!(e, HttpEvent::Rejected(_)))
        .count();
    assert!(rejections <= 1, "more than one rejection: {events:?}");
    if rejections == 1 {
        assert!(
            matches!(events.last(), Some(HttpEvent::Rejected(_))),
            "events after a rejection"
        );
    }
    let finals = count_final_responses(sent);
    assert_eq!(
        finals,
        requests + rejections,
        "responses vs events: {events:?}"
    );
}

/// Removes `100 Continue` interim responses (the bodies sent here never contain that text).
pub(super) fn without_interim(
    (events, sent): (Vec<HttpEvent>, Vec<u8>),
) -> (Vec<HttpEvent>, Vec<u8>) {
    let mut kept = Vec::with_capacity(sent.len());
    let mut rest = sent.as_slice();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(CONTINUE) {
            rest = after;
        } else {
            kept.push(rest[0]);
            rest = &rest[1..];
        }
    }
    (events, kept)
}

fn drive(start: Instant, bytes: &[u8], cuts: &[usize]) -> (Vec<HttpEvent>, Vec<u8>) {
    let mut now = start;
    let config = HttpConfig::default();
    let mut conn = HttpConn::new(config, now, datetime!(2026-01-01 00:00:00 UTC));
    let mut events = Vec::new();
    let mut sent = Vec::new();
    let mut start = 0;
    let pump = |conn: &mut HttpConn, events: &mut Vec<HttpEvent>, sent: &mut Vec<u8>, now| loop {
        conn.poll_transmit(sent);
        let Some(event) = conn.poll_event() else {
            break;
        };
        if let HttpEvent::Request(_) = event {
            let answered = conn.respond(now, Response::new(200));
            assert!(answered.is_ok(), "a request event leaves a request pending");
        }
        events.push(event);
    };
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let cut = cut.clamp(start, bytes.len());
        conn.receive(now, &bytes[start..cut]);
        pump(&mut conn, &mut events, &mut sent, now);
        start = cut;
    }
    assert!(
        sent.len() <= OUTPUT_PER_INPUT_BYTE * bytes.len() + OUTPUT_SLACK,
        "output grew without bound"
    );
    // No stall: each state but waiting on the application has a deadline, and time ends it.
    let mut steps = 0;
    while !conn.is_closed() && steps < MAX_DEADLINE_STEPS {
        let Some(deadline) = conn.poll_timeout() else {
            panic!("connection stalled without a deadline")
        };
        now = now.max(deadline) + Duration::from_millis(1);
        conn.handle_timeout(now);
        pump(&mut conn, &mut events, &mut sent, now);
        steps += 1;
    }
    assert!(
        conn.is_closed(),
        "connection did not close after its deadlines"
    );
    // After close, nothing more happens.
    conn.receive(now, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(conn.poll_event().is_none());
    (events, sent)
}

/// Counts the responses in `sent` other than `100 Continue`, checking each is complete.
pub(super) fn count_final_responses(mut sent: &[u8]) -> usize {
    let mut count = 0;
    while !sent.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response.parse(sent) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!(
                "malformed response: {other:?} in {:?}",
                String::from_utf8_lossy(sent)
            ),
        };
        let code = response.code.unwrap_or(0);
        let length = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
            .unwrap_or(0);
        assert!(sent.len() >= head_len + length, "truncated response body");
        sent = &sent[head_len + length..];
        if code != 100 {
            count += 1;
        }
    }
    count
}

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// Inputs up to this size are also fed one byte per call (quadratic cost beyond it).
const BYTE_BY_BYTE_LIMIT: usize = 4096;
/// Each response needs input that asked for it; a request line is at least 14 bytes and an
/// answer here is at most a few KiB (an error page), so this bounds amplification generously.
const OUTPUT_PER_INPUT_BYTE: usize = 200;
const OUTPUT_SLACK: usize = 4096;
/// Idle, head, body and linger deadlines: a handful of steps always closes a connection.
const MAX_DEADLINE_STEPS: usize = 8;
