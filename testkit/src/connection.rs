//! Suite: connection handling (SPEC, HTTP rules): keep-alive, pipelining, HTTP/1.0,
//! `Connection: close`, the header timeout and the idle timeout.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary. Timeouts are tested with
//! short `--header-timeout` / `--idle-timeout` values and a blocking read that waits for the
//! server's answer, never with a sleep.

use crate::check;
use crate::client::Client;
use crate::fixture::{self, ERROR_HTML, INDEX_HTML};
use crate::form;
use crate::server::{Launch, Server};
use crate::store;

/// Several requests, one after the other, on one connection all get their answers.
pub fn keep_alive_serves_several_requests_on_one_connection(bin: &str) {
    let server = Server::serve(bin, "keep_alive_serves_several_requests_on_one_connection");
    let mut client = Client::connect(server.web());
    for (round, page) in fixture::PAGES.iter().chain(fixture::ASSETS).enumerate() {
        let response =
            client.request(format!("GET {} HTTP/1.1\r\nHost: t\r\n\r\n", page.target).as_bytes());
        let what = format!("request {round} on one connection: GET {}", page.target);
        check::page(&response, 200, page.body, page.media_types, &what);
        assert!(
            !response.has_connection_token("close"),
            "{what}: server asked to close"
        );
    }
}

/// Three requests in one write get three answers, in order.
pub fn pipelined_requests_are_answered_in_order(bin: &str) {
    let server = Server::serve(bin, "pipelined_requests_are_answered_in_order");
    let mut client = Client::connect(server.web());
    client.send(
        b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /nope HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let first = client.read_response();
    check::page(
        &first,
        200,
        INDEX_HTML.as_bytes(),
        &["text/html"],
        "pipelined 1 (index)",
    );
    let second = client.read_response();
    check::page(
        &second,
        404,
        ERROR_HTML.as_bytes(),
        &["text/html"],
        "pipelined 2 (404)",
    );
    let third = client.read_response();
    let css = fixture::ASSETS[0];
    check::page(
        &third,
        200,
        css.body,
        css.media_types,
        "pipelined 3 (style.css)",
    );
}

/// A POST between two GETs in one write: its 303 comes second, after the message is stored,
/// and the GET behind it is not lost while the message is forwarded.
pub fn pipelined_post_keeps_its_place(bin: &str) {
    let server = Server::serve(bin, "pipelined_post_keeps_its_place");
    let body = form::urlencoded(&[("username", "pipe"), ("message", "in the middle")]);
    let mut client = Client::connect(server.web());
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: t\r\n\r\n\
         POST /message HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}\
         GET /sent HTTP/1.1\r\nHost: t\r\n\r\n",
        body.len()
    );
    client.send(raw.as_bytes());
    check::page(
        &client.read_response(),
        200,
        INDEX_HTML.as_bytes(),
        &["text/html"],
        "first GET",
    );
    let posted = client.read_response();
    check::status(&posted, 303, "pipelined POST");
    let stored = store::pairs(&store::read(server.store()));
    assert_eq!(stored, [("pipe".to_string(), "in the middle".to_string())]);
    let sent = client.read_response();
    check::page(
        &sent,
        200,
        fixture::SENT_HTML.as_bytes(),
        &["text/html"],
        "GET after the POST",
    );
}

/// An HTTP/1.0 request without keep-alive is answered, then the connection is closed.
pub fn http10_connection_is_closed_after_the_response(bin: &str) {
    let server = Server::serve(bin, "http10_connection_is_closed_after_the_response");
    let mut client = Client::connect(server.web());
    let response = client.request(b"GET / HTTP/1.0\r\n\r\n");
    check::page(
        &response,
        200,
        INDEX_HTML.as_bytes(),
        &["text/html"],
        "HTTP/1.0 GET",
    );
    client.expect_closed();
}

/// An HTTP/1.0 request with `Connection: keep-alive` is answered with keep-alive (so the client
/// knows) and the connection serves the next request.
pub fn http10_keep_alive_is_kept_open(bin: &str) {
    let server = Server::serve(bin, "http10_keep_alive_is_kept_open");
    let mut client = Client::connect(server.web());
    for round in 0..3 {
        let response = client.request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let what = format!("HTTP/1.0 keep-alive request {round}");
        check::page(&response, 200, INDEX_HTML.as_bytes(), &["text/html"], &what);
        assert!(
            response.has_connection_token("keep-alive"),
            "{what}: no Connection: keep-alive"
        );
    }
    let last = client.request(b"GET /sent HTTP/1.0\r\n\r\n");
    check::status(&last, 200, "HTTP/1.0 request without keep-alive");
    client.expect_closed();
}

/// `Connection: close` from the client: the answer says close, then the server closes.
pub fn connection_close_is_honoured(bin: &str) {
    let server = Server::serve(bin, "connection_close_is_honoured");
    let mut client = Client::connect(server.web());
    let kept = client.request(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    check::status(&kept, 200, "first request");
    let response = client.request(b"GET /message HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    check::status(&response, 200, "request with Connection: close");
    assert!(
        response.has_connection_token("close"),
        "the answer lacks Connection: close"
    );
    client.expect_closed();
}

/// A client that sends half a head and stops gets 408 after `--header-timeout`, then EOF.
pub fn header_timeout_answers_408_and_closes(bin: &str) {
    let dir = fixture::sandbox("header_timeout_answers_408_and_closes");
    let server = Launch::serve(bin, dir)
        .flag("--header-timeout", "300ms")
        .start();
    let mut client = Client::connect(server.web());
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: slow");
    let response = client.read_response();
    check::status(&response, 408, "half a head, then silence");
    client.expect_closed();
}

/// A keep-alive connection that stays quiet after an answer is closed after `--idle-timeout`,
/// without further bytes.
pub fn idle_keep_alive_connection_is_closed(bin: &str) {
    let dir = fixture::sandbox("idle_keep_alive_connection_is_closed");
    let server = Launch::serve(bin, dir)
        .flag("--idle-timeout", "300ms")
        .start();
    let mut client = Client::connect(server.web());
    let response = client.request(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    check::status(&response, 200, "request before going idle");
    client.expect_closed();
}
