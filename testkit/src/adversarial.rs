//! Suite: hostile requests (SPEC, HTTP rules): size limits at and just past each boundary,
//! request smuggling shapes, and malformed framing, each with the answer it must get.
//!
//! The table is independent of the server: [`hostile_requests`] holds what every HTTP port of
//! ferry must answer the same way, [`body_limit_cases`] the body limit of one path, and
//! [`run_cases`] plays cases against any address. A test for another HTTP port (the file server)
//! runs the same table against its own address.
//!
//! A case is either refused (its status, `Connection: close`, then the connection closes) or
//! served. A served request must leave the connection usable: a second request on it gets a
//! well-formed answer, which shows the server framed the first one exactly where the client
//! did (the point of a smuggling shape is that two parties disagree on that).

use std::any::Any;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};

use crate::check;
use crate::client::{Client, Response};
use crate::fixture;
use crate::server::Launch;

/// One hostile request and the answer it must get.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the case is, for failure messages.
    pub what: String,
    /// The bytes sent, all at once.
    pub bytes: Vec<u8>,
    /// The answer expected.
    pub expect: Expect,
}

/// The answer a [`Case`] must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This status with `Connection: close`, then the server closes the connection.
    Refused(u16),
    /// Any answer that is not a refusal, and the connection stays usable.
    Served,
    /// Exactly this status, and the connection stays usable.
    ServedWith(u16),
}

/// The table of this suite, run against both shells' web app: every hostile request and the
/// body limit of `/message` (at `--max-body 1K`).
pub fn hostile_requests_get_their_answers(bin: &str) {
    let dir = fixture::sandbox("hostile_requests_get_their_answers");
    let server = Launch::serve(bin, dir)
        .flag("--max-body", MAX_BODY.to_string())
        .start();
    let mut cases = hostile_requests("POST /");
    cases.extend(body_limit_cases(
        "POST /message",
        "application/x-www-form-urlencoded",
        MAX_BODY,
        Expect::ServedWith(303),
        form_of_len,
    ));
    let failures = run_cases(server.web(), &cases);
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Plays every case on a fresh connection to `addr` and checks its answer; after each, a good
/// request on another connection must still be answered. Returns what went wrong, one line per
/// failed case.
pub fn run_cases(addr: SocketAddr, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| play(addr, case)));
        if let Err(panic) = outcome {
            failures.push(format!("{}: {}", case.what, panic_text(&panic)));
        }
        let alive = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut client = Client::connect(addr);
            let response = client.request(PROBE);
            assert!(is_well_formed(&response), "status {}", response.status);
        }));
        if let Err(panic) = alive {
            failures.push(format!(
                "a good request after {}: {}",
                case.what,
                panic_text(&panic)
            ));
        }
    }
    failures
}

/// Hostile requests every HTTP port answers the same way, whatever it serves: heads, targets
/// and header counts at and past their limits, smuggling shapes, malformed lines and framing.
/// Requests that carry a body are sent to `body_target` (method and path, e.g. `PUT /x`), a
/// target that reads bodies on this port, so the framing is what gets judged.
pub fn hostile_requests(body_target: &str) -> Vec<Case> {
    let mut cases = vec![
        served("plain GET", get_with("")),
        // Size limits: at the limit is served, one byte or one header more is refused.
        served("head of exactly 16 KiB", head_of_len(MAX_HEAD)),
        refused("head of 16 KiB + 1", head_of_len(MAX_HEAD + 1), 431),
        refused("head of 64 KiB", head_of_len(4 * MAX_HEAD), 431),
        served("target of exactly 8 KiB", target_of_len(MAX_TARGET)),
        refused("target of 8 KiB + 1", target_of_len(MAX_TARGET + 1), 414),
        refused(
            "request line of 10 KiB without an end",
            format!("GET /{}", "a".repeat(10 * 1024)).into_bytes(),
            414,
        ),
        served("100 header fields", with_header_count(MAX_HEADERS)),
        refused("101 header fields", with_header_count(MAX_HEADERS + 1), 431),
        refused(
            "a header line of 20 KiB",
            get_with(&format!("X-Long: {}\r\n", "a".repeat(20 * 1024))),
            431,
        ),
    ];
    // Request smuggling (RFC 9112 §6.1, §6.3): framing is never guessed.
    let chunked_body = "5\r\nhello\r\n0\r\n\r\n";
    cases.extend([
        refused(
            "CL.TE: Content-Length then Transfer-Encoding",
            post_with(
                "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\nX",
            ),
            400,
        ),
        refused(
            "TE.CL: Transfer-Encoding then Content-Length",
            post_with(
                "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                chunked_body,
            ),
            400,
        ),
        refused(
            "TE.TE: chunked and xchunked",
            post_with(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: xchunked\r\n",
                chunked_body,
            ),
            400,
        ),
        refused(
            "Transfer-Encoding: xchunked",
            post_with("Transfer-Encoding: xchunked\r\n", chunked_body),
            501,
        ),
        refused(
            "Transfer-Encoding: chunked, identity",
            post_with("Transfer-Encoding: chunked, identity\r\n", chunked_body),
            400,
        ),
        refused(
            "Transfer-Encoding: identity",
            post_with("Transfer-Encoding: identity\r\n", "hello"),
            501,
        ),
        refused(
            "Transfer-Encoding: chunked twice",
            post_with(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                chunked_body,
            ),
            400,
        ),
        refused(
            "Transfer-Encoding: gzip, chunked",
            post_with("Transfer-Encoding: gzip, chunked\r\n", chunked_body),
            501,
        ),
        refused(
            "Transfer-Encoding with a space before the colon",
            post_with("Transfer-Encoding : chunked\r\n", chunked_body),
            400,
        ),
        refused(
            "Transfer-Encoding continued by obs-fold",
            post_with("Transfer-Encoding:\r\n chunked\r\n", chunked_body),
            400,
        ),
        refused(
            "Transfer-Encoding in HTTP/1.0",
            format!("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n{chunked_body}")
                .into_bytes(),
            400,
        ),
        served(
            "Transfer-Encoding:  chunked (extra space)",
            post_with("Transfer-Encoding:  chunked\r\n", chunked_body),
        ),
        served(
            "Transfer-Encoding: Chunked (upper case)",
            post_with("Transfer-Encoding: Chunked\r\n", chunked_body),
        ),
        refused(
            "two equal Content-Length",
            post_with("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
            400,
        ),
        refused(
            "two different Content-Length",
            post_with("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"),
            400,
        ),
        refused(
            "Content-Length: 5, 5",
            post_with("Content-Length: 5, 5\r\n", "hello"),
            400,
        ),
        refused(
            "Content-Length: +5",
            post_with("Content-Length: +5\r\n", "hello"),
            400,
        ),
        refused(
            "Content-Length: -1",
            post_with("Content-Length: -1\r\n", ""),
            400,
        ),
        refused(
            "Content-Length: 5 5",
            post_with("Content-Length: 5 5\r\n", "hello"),
            400,
        ),
        refused(
            "Content-Length: 0x5",
            post_with("Content-Length: 0x5\r\n", "hello"),
            400,
        ),
        refused(
            "Content-Length of 20 digits",
            post_with("Content-Length: 18446744073709551616\r\n", ""),
            400,
        ),
        served(
            "Content-Length with spaces around it",
            post_with("Content-Length:   5  \r\n", "hello"),
        ),
    ]);
    // Malformed lines and fields.
    cases.extend([
        refused("obs-fold", get_with("X-Folded: a\r\n b\r\n"), 400),
        refused(
            "bare LF line ends",
            b"GET / HTTP/1.1\nHost: t\n\n".to_vec(),
            400,
        ),
        refused(
            "bare LF after the request line",
            b"GET / HTTP/1.1\nHost: t\r\n\r\n".to_vec(),
            400,
        ),
        refused("bare CR in a header", get_with("X-A: a\rb\r\n"), 400),
        refused("NUL in a header value", get_with("X-A: a\0b\r\n"), 400),
        refused("NUL in a header name", get_with("X-\0A: b\r\n"), 400),
        refused("a header without a colon", get_with("NoColon\r\n"), 400),
        refused("an empty header name", get_with(": empty\r\n"), 400),
        refused(
            "a space before the first header",
            b"GET / HTTP/1.1\r\n Host: t\r\n\r\n".to_vec(),
            400,
        ),
        refused(
            "two Host headers",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            400,
        ),
        refused(
            "no Host in HTTP/1.1",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            400,
        ),
        refused(
            "two spaces in the request line",
            b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
        ),
        refused(
            "a target without a slash",
            b"GET index.html HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
        ),
        refused(
            "HTTP/1.2",
            b"GET / HTTP/1.2\r\nHost: t\r\n\r\n".to_vec(),
            505,
        ),
        refused(
            "a lower-case version",
            b"GET / http/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
        ),
        refused("Expect: 100-bogus", get_with("Expect: 100-bogus\r\n"), 417),
        refused(
            "binary before the request line",
            b"\x80\x81GET / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
        ),
    ]);
    // Chunked framing.
    cases.extend([
        refused(
            "chunk size of 16 hex digits",
            post_with(
                "Transfer-Encoding: chunked\r\n",
                "ffffffffffffffff\r\nx\r\n0\r\n\r\n",
            ),
            400,
        ),
        refused(
            "chunk size with a sign",
            post_with("Transfer-Encoding: chunked\r\n", "+5\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        refused(
            "chunk size line ended by a bare LF",
            post_with("Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n"),
            400,
        ),
        refused(
            "chunk data longer than its size",
            post_with("Transfer-Encoding: chunked\r\n", "3\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        refused(
            "a chunk extension of 2 KiB",
            post_with(
                "Transfer-Encoding: chunked\r\n",
                &format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(2048)),
            ),
            400,
        ),
        served(
            "a chunk extension and a trailer",
            post_with(
                "Transfer-Encoding: chunked\r\n",
                "5;name=value\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
            ),
        ),
    ]);
    // Requests with a body go where this port reads one; the rest stay as written.
    for case in &mut cases {
        if let Some(rest) = case.bytes.strip_prefix(b"POST / ") {
            case.bytes = [format!("{body_target} ").as_bytes(), rest].concat();
        }
    }
    cases
}

/// The body limit of `target` (method and path, e.g. `POST /message`): a body of exactly
/// `max_body` bytes gets `at_limit`, one byte more is refused with 413, by `Content-Length`
/// before it is read and chunked as it arrives. `body_of_len` makes a body the target accepts,
/// of the length asked for.
pub fn body_limit_cases(
    target: &str,
    content_type: &str,
    max_body: usize,
    at_limit: Expect,
    body_of_len: fn(usize) -> Vec<u8>,
) -> Vec<Case> {
    let with_length = |len: usize, announced: usize| {
        let mut bytes = format!(
            "{target} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\n\
             Content-Length: {announced}\r\n\r\n"
        )
        .into_bytes();
        bytes.extend(body_of_len(len));
        bytes
    };
    let chunked = |len: usize| {
        let body = body_of_len(len);
        let mut bytes = format!(
            "{target} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        for chunk in body.chunks(100) {
            bytes.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
            bytes.extend(chunk);
            bytes.extend(b"\r\n");
        }
        bytes.extend(b"0\r\n\r\n");
        bytes
    };
    vec![
        Case {
            what: format!("{target}: body of exactly {max_body} bytes"),
            bytes: with_length(max_body, max_body),
            expect: at_limit,
        },
        Case {
            what: format!("{target}: Content-Length of {max_body} + 1"),
            bytes: with_length(max_body + 1, max_body + 1),
            expect: Expect::Refused(413),
        },
        Case {
            what: format!("{target}: Content-Length of {max_body} + 1, no body sent"),
            bytes: with_length(0, max_body + 1),
            expect: Expect::Refused(413),
        },
        Case {
            what: format!("{target}: chunked body of exactly {max_body} bytes"),
            bytes: chunked(max_body),
            expect: at_limit,
        },
        Case {
            what: format!("{target}: chunked body of {max_body} + 1 bytes"),
            bytes: chunked(max_body + 1),
            expect: Expect::Refused(413),
        },
    ]
}

/// A message form of exactly `len` bytes (at least 20): `username=adversary&message=aaa...`.
pub fn form_of_len(len: usize) -> Vec<u8> {
    let mut body = b"username=adversary&message=".to_vec();
    let fill = len.saturating_sub(body.len()).max(1);
    body.extend(std::iter::repeat_n(b'a', fill));
    body
}

/// Sends the case and checks the answer.
fn play(addr: SocketAddr, case: &Case) {
    let mut client = Client::connect(addr);
    // The server may answer and close before taking a refused request whole.
    let _ = client.try_send(&case.bytes);
    let response = client.read_response();
    match case.expect {
        Expect::Refused(status) => {
            check::status(&response, status, &case.what);
            assert!(
                response.has_connection_token("close"),
                "no Connection: close"
            );
            client.expect_closed();
        }
        Expect::Served | Expect::ServedWith(_) => {
            if let Expect::ServedWith(status) = case.expect {
                check::status(&response, status, &case.what);
            }
            assert!(
                is_well_formed(&response),
                "refused with {} ({})",
                response.status,
                check::shorten(&response.text())
            );
            // The next request on the same connection must be read from where the server
            // says the first one ended.
            let next = client.request(PROBE);
            assert!(
                is_well_formed(&next),
                "the request after it was refused with {}",
                next.status
            );
        }
    }
}

fn served(what: &str, bytes: Vec<u8>) -> Case {
    Case {
        what: what.to_string(),
        bytes,
        expect: Expect::Served,
    }
}

fn refused(what: &str, bytes: Vec<u8>, status: u16) -> Case {
    Case {
        what: what.to_string(),
        bytes,
        expect: Expect::Refused(status),
    }
}

/// A GET of `/` with `extra` header lines (each ending in CRLF) after `Host`.
fn get_with(extra: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: t\r\n{extra}\r\n").into_bytes()
}

/// A POST to `/` with `extra` header lines and `body` as sent.
fn post_with(extra: &str, body: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: t\r\n{extra}\r\n{body}").into_bytes()
}

/// A GET whose whole head, final CRLF included, is `len` bytes.
fn head_of_len(len: usize) -> Vec<u8> {
    let bare = get_with("X-Pad: \r\n").len();
    get_with(&format!("X-Pad: {}\r\n", "p".repeat(len - bare)))
}

/// A GET whose target is `len` bytes long.
fn target_of_len(len: usize) -> Vec<u8> {
    format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "t".repeat(len - 1)).into_bytes()
}

/// A GET with `count` header fields in all, `Host` included.
fn with_header_count(count: usize) -> Vec<u8> {
    let extra: String = (1..count).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    get_with(&extra)
}

/// Whether a response is an answer rather than a refusal of the request's syntax or framing.
fn is_well_formed(response: &Response) -> bool {
    !REFUSALS.contains(&response.status)
}

fn panic_text(panic: &Box<dyn Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else {
        "a panic without a message".to_string()
    }
}

/// The statuses that refuse a request for its syntax, size or framing.
const REFUSALS: [u16; 8] = [400, 408, 413, 414, 417, 431, 501, 505];
/// A request every HTTP port answers without refusing it.
const PROBE: &[u8] = b"GET /probe HTTP/1.1\r\nHost: t\r\n\r\n";
/// The SPEC's limits on every HTTP port.
const MAX_HEAD: usize = 16 * 1024;
const MAX_TARGET: usize = 8 * 1024;
const MAX_HEADERS: usize = 100;
/// The web app's `--max-body` in [`hostile_requests_get_their_answers`]: small, so the case at
/// the limit is a message that fits in one datagram and is stored.
const MAX_BODY: usize = 1024;
