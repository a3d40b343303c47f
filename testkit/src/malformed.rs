//! Suite: malformed and oversized requests (SPEC, HTTP rules). Each gets its status, then the
//! connection is closed, and the server goes on serving others.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary. The cases are a table;
//! every case runs and the test fails with the list of all that went wrong.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use crate::check;
use crate::client::Client;
use crate::server::Server;

/// Every malformed request of the table is answered with its status and `Connection: close`,
/// then the connection is closed; afterwards the server still serves a good request.
pub fn malformed_requests_are_answered_and_closed(bin: &str) {
    let server = Server::serve(bin, "malformed_requests_are_answered_and_closed");
    let mut failures = Vec::new();
    for (what, raw, expected) in cases() {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut client = Client::connect(server.web());
            // The server may answer and close before taking an oversized request whole.
            let _ = client.try_send(&raw);
            let response = client.read_response();
            check::status(&response, expected, what);
            assert!(
                response.has_connection_token("close"),
                "{what}: no Connection: close"
            );
            client.expect_closed();
        }));
        if let Err(panic) = outcome {
            failures.push(panic_text(&panic));
        }
        let good = crate::client::get(server.web(), "/");
        check::status(&good, 200, &format!("a good request after {what}"));
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A request that sends its head byte by byte is parsed as if sent at once.
pub fn head_sent_byte_by_byte_is_parsed(bin: &str) {
    let server = Server::serve(bin, "head_sent_byte_by_byte_is_parsed");
    let mut client = Client::connect(server.web());
    for byte in b"GET /style.css HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n" {
        client.send(&[*byte]);
    }
    let response = client.read_response();
    check::status(&response, 200, "head sent one byte per write");
    assert_eq!(response.media_type().as_deref(), Some("text/css"));
}

/// The table: what, raw bytes, expected status.
fn cases() -> Vec<(&'static str, Vec<u8>, u16)> {
    let post = |extra: &str, body: &str| {
        format!("POST /message HTTP/1.1\r\nHost: t\r\n{extra}\r\n{body}").into_bytes()
    };
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Long: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let many_headers: String = (0..101).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(10_000));
    vec![
        ("bad request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        (
            "missing Host on HTTP/1.1",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "two Host headers",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            400,
        ),
        (
            "space in a header name",
            b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "NUL byte in the target",
            b"GET /\0 HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            400,
        ),
        // A TLS ClientHello sent to the plain port: there is no CRLF to wait for.
        (
            "TLS hello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            400,
        ),
        (
            "Content-Length with Transfer-Encoding",
            post(
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            400,
        ),
        (
            "conflicting Content-Length",
            post("Content-Length: 5\r\nContent-Length: 6\r\n", ""),
            400,
        ),
        (
            "non-numeric Content-Length",
            post("Content-Length: five\r\n", ""),
            400,
        ),
        (
            "bad chunk size",
            post("Transfer-Encoding: chunked\r\n", "zz\r\nab\r\n0\r\n\r\n"),
            400,
        ),
        (
            "unknown transfer coding",
            post("Transfer-Encoding: gzip\r\n", ""),
            501,
        ),
        (
            "HTTP/2.0",
            b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(),
            505,
        ),
        (
            "HTTP/9.9",
            b"GET / HTTP/9.9\r\nHost: t\r\n\r\n".to_vec(),
            505,
        ),
        ("20 KB header", long_header.into_bytes(), 431),
        (
            "101 headers",
            format!("GET / HTTP/1.1\r\nHost: t\r\n{many_headers}\r\n").into_bytes(),
            431,
        ),
        ("10 KB target", long_target.into_bytes(), 414),
    ]
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
