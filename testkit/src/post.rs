//! Suite: posting messages through the web app and finding them in the store (SPEC, "Message
//! web app" and "Storage"): the 303 round trip, awkward characters, multipart, chunked bodies,
//! `Expect: 100-continue`, every 400, 413, many clients at once, and existing store files.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary with `serve`. The store
//! is read right after the 303: the SPEC answers only once the message is stored, so no test
//! polls for a message the web app acknowledged.

use std::fs;
use std::net::SocketAddr;
use std::thread;

use crate::check;
use crate::client::{self, Client, Response};
use crate::fixture::{self, SENT_HTML};
use crate::form;
use crate::server::{Launch, Server};
use crate::store;

/// A valid post answers `303 See Other` to `/sent` (a 200 page), and the store then holds
/// exactly that record under a timestamp key.
pub fn post_stores_the_message_then_redirects(bin: &str) {
    let server = Server::serve(bin, "post_stores_the_message_then_redirects");
    let response = post_form(
        server.web(),
        &[("username", "john_doe"), ("message", "Hello, world!")],
    );
    check::status(&response, 303, "valid POST /message");
    assert_eq!(response.header("location"), Some("/sent"), "303 Location");
    check::date_and_length(&response, "303 answer");
    assert_eq!(
        store::pairs(&store::read(server.store())),
        [("john_doe".to_string(), "Hello, world!".to_string())]
    );
    let sent = client::get(server.web(), "/sent");
    check::page(
        &sent,
        200,
        SENT_HTML.as_bytes(),
        &["text/html"],
        "GET /sent after the 303",
    );

    let second = post_form(
        server.web(),
        &[("username", "jane_doe"), ("message", "Second message")],
    );
    check::status(&second, 303, "second POST");
    let names: Vec<String> = store::read(server.store())
        .into_iter()
        .map(|e| e.username)
        .collect();
    assert_eq!(
        names,
        ["john_doe", "jane_doe"],
        "records in the order posted"
    );
}

/// Unicode and `& = + % < >` survive urlencoding both ways, including a space sent as `%20` or
/// `+`, a literal `+` sent as `%2B`, lower-case escapes and fields in either order.
pub fn awkward_characters_round_trip_urlencoded(bin: &str) {
    let server = Server::serve(bin, "awkward_characters_round_trip_urlencoded");
    for (username, message) in AWKWARD {
        let response = post_form(
            server.web(),
            &[("username", username), ("message", message)],
        );
        check::status(&response, 303, &format!("POST {username:?}"));
    }
    let raw: [(&[u8], (&str, &str)); 3] = [
        (b"username=a%20b&message=c+d%2Be", ("a b", "c d+e")),
        (b"username=%c3%a9t%C3%A9&message=ok", ("été", "ok")),
        (
            b"message=first+is+message&username=order",
            ("order", "first is message"),
        ),
    ];
    for (body, _) in &raw {
        let response = client::post_message(server.web(), URLENCODED, body);
        check::status(
            &response,
            303,
            &format!("POST {:?}", String::from_utf8_lossy(body)),
        );
    }
    let mut expected = owned(AWKWARD);
    expected.extend(owned(&raw.map(|(_, pair)| pair)));
    assert_eq!(store::pairs(&store::read(server.store())), expected);
}

/// The same awkward messages posted as `multipart/form-data` are stored as they were typed.
pub fn multipart_form_is_accepted(bin: &str) {
    let server = Server::serve(bin, "multipart_form_is_accepted");
    let boundary = "----ferry-boundary-7MA4YWxkTrZu0gW";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    for (username, message) in AWKWARD {
        let body = form::multipart(boundary, &[("username", username), ("message", message)]);
        let response = client::post_message(server.web(), &content_type, &body);
        check::status(&response, 303, &format!("multipart POST {username:?}"));
    }
    assert_eq!(store::pairs(&store::read(server.store())), owned(AWKWARD));
}

/// A chunked request body (with a chunk extension, which RFC 9112 §7.1.1 says to ignore) is
/// decoded and stored.
pub fn chunked_post_is_stored(bin: &str) {
    let server = Server::serve(bin, "chunked_post_is_stored");
    let body = form::urlencoded(&[("username", "chunky"), ("message", "in three pieces")]);
    let (a, rest) = body.split_at(7);
    let (b, c) = rest.split_at(9);
    let raw = format!(
        "POST /message HTTP/1.1\r\nHost: t\r\nContent-Type: {URLENCODED}\r\n\
         Transfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{a}\r\n{:x};note=x\r\n{b}\r\n{:X}\r\n{c}\r\n0\r\n\r\n",
        a.len(),
        b.len(),
        c.len()
    );
    let mut client = Client::connect(server.web());
    let response = client.request(raw.as_bytes());
    check::status(&response, 303, "chunked POST");
    assert_eq!(
        store::pairs(&store::read(server.store())),
        [("chunky".to_string(), "in three pieces".to_string())]
    );
}

/// `Expect: 100-continue`: the server answers `100 Continue` before any body byte is sent,
/// then the final answer once the body arrives.
pub fn expect_continue_gets_100_before_the_body(bin: &str) {
    let server = Server::serve(bin, "expect_continue_gets_100_before_the_body");
    let body = form::urlencoded(&[("username", "patient"), ("message", "after the 100")]);
    let mut client = Client::connect(server.web());
    client.send(
        format!(
            "POST /message HTTP/1.1\r\nHost: t\r\nContent-Type: {URLENCODED}\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let interim = client.read_response();
    check::status(&interim, 100, "answer to a head with Expect: 100-continue");
    client.send(body.as_bytes());
    let response = client.read_response();
    check::status(&response, 303, "final answer after the body");
    assert_eq!(store::read(server.store()).len(), 1);
}

/// Every bad form is a 400 HTML page and nothing is stored; a 100-character username (counted
/// in characters, not bytes) is still fine.
pub fn bad_forms_are_400_and_store_nothing(bin: &str) {
    let server = Server::serve(bin, "bad_forms_are_400_and_store_nothing");
    let long_name = format!("username={}&message=hi", "a".repeat(101));
    let cases: [(&str, &[u8]); 11] = [
        ("blank username", b"username=+%20+&message=hi"),
        ("blank message", b"username=ann&message=%0D%0A%09"),
        ("empty message", b"username=ann&message="),
        ("missing message", b"username=ann"),
        ("missing username", b"message=hi"),
        ("empty body", b""),
        ("username of 101 characters", long_name.as_bytes()),
        ("bad escape %zz", b"username=ann&message=%zz"),
        ("cut escape", b"username=ann&message=hi%2"),
        ("escaped non-UTF-8", b"username=ann&message=%FF%FE"),
        ("raw non-UTF-8", b"username=ann&message=caf\xe9"),
    ];
    for (what, body) in cases {
        let response = client::post_message(server.web(), URLENCODED, body);
        check::status(&response, 400, what);
        assert_eq!(
            response.media_type().as_deref(),
            Some("text/html"),
            "{what}: a page"
        );
        assert!(
            !response.body.is_empty(),
            "{what}: the page must say what is wrong"
        );
        assert_eq!(store::read(server.store()), [], "{what}: stored something");
    }
    let bad_multipart = b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nann";
    let response = client::post_message(
        server.web(),
        "multipart/form-data; boundary=b",
        bad_multipart,
    );
    check::status(&response, 400, "multipart without its closing boundary");
    assert_eq!(store::read(server.store()), []);

    let name = "é".repeat(100);
    let response = post_form(server.web(), &[("username", &name), ("message", "x")]);
    check::status(&response, 303, "username of 100 two-byte characters");
}

/// With `--max-body 1K`: a `Content-Length` over the limit is 413 before the body is sent (also
/// with `Expect: 100-continue`, which then gets no 100), a chunked body over it is 413, a body
/// of exactly 1024 bytes is stored; only that one is.
pub fn body_over_max_body_is_413(bin: &str) {
    let dir = fixture::sandbox("body_over_max_body_is_413");
    let server = Launch::serve(bin, dir).flag("--max-body", "1K").start();
    let head = |extra: &str| {
        format!("POST /message HTTP/1.1\r\nHost: t\r\nContent-Type: {URLENCODED}\r\n{extra}\r\n")
    };
    let mut client = Client::connect(server.web());
    client.send(head("Content-Length: 2000\r\n").as_bytes());
    check::status(
        &client.read_response(),
        413,
        "Content-Length 2000, body not sent",
    );

    let mut client = Client::connect(server.web());
    client.send(head("Content-Length: 2000\r\nExpect: 100-continue\r\n").as_bytes());
    check::status(
        &client.read_response(),
        413,
        "Content-Length 2000 with Expect",
    );

    let mut client = Client::connect(server.web());
    let big = form::urlencoded(&[("username", "big"), ("message", &"x".repeat(2000))]);
    let chunked = format!(
        "{}{:x}\r\n{big}\r\n0\r\n\r\n",
        head("Transfer-Encoding: chunked\r\n"),
        big.len()
    );
    let _ = client.try_send(chunked.as_bytes());
    check::status(&client.read_response(), 413, "chunked body of 2 KB");

    let prefix = "username=edge&message=";
    let exact = format!("{prefix}{}", "x".repeat(1024 - prefix.len()));
    let response = client::post_message(server.web(), URLENCODED, exact.as_bytes());
    check::status(&response, 303, "body of exactly 1024 bytes");
    let stored = store::read(server.store());
    assert_eq!(
        stored.len(),
        1,
        "only the body within the limit is stored: {stored:?}"
    );
}

/// A message too big for one UDP datagram is 413 even when `--max-body` allows the body, and
/// nothing is stored.
pub fn message_too_big_for_a_datagram_is_413(bin: &str) {
    let dir = fixture::sandbox("message_too_big_for_a_datagram_is_413");
    let server = Launch::serve(bin, dir).flag("--max-body", "1M").start();
    let huge = "x".repeat(70_000);
    let response = post_form(server.web(), &[("username", "huge"), ("message", &huge)]);
    check::status(&response, 413, "a 70 000 character message");
    assert_eq!(store::read(server.store()), []);
}

/// 200 posts from [`CLIENT_THREADS`] threads at once are all answered 303 and each stored
/// exactly once.
pub fn concurrent_posts_are_each_stored_once(bin: &str) {
    let server = Server::serve(bin, "concurrent_posts_are_each_stored_once");
    let addr = server.web();
    let workers: Vec<_> = (0..CLIENT_THREADS)
        .map(|worker| {
            thread::spawn(move || {
                for round in 0..POSTS_PER_THREAD {
                    let username = format!("user-{worker}");
                    let message = format!("message {worker}-{round}");
                    let response =
                        post_form(addr, &[("username", &username), ("message", &message)]);
                    check::status(&response, 303, &format!("concurrent post {worker}-{round}"));
                }
            })
        })
        .collect();
    for worker in workers {
        if let Err(panic) = worker.join() {
            std::panic::resume_unwind(panic);
        }
    }
    let mut stored = store::pairs(&store::read(server.store()));
    stored.sort();
    let mut expected: Vec<(String, String)> = (0..CLIENT_THREADS)
        .flat_map(|w| {
            (0..POSTS_PER_THREAD).map(move |r| (format!("user-{w}"), format!("message {w}-{r}")))
        })
        .collect();
    expected.sort();
    assert_eq!(
        stored.len(),
        expected.len(),
        "every post stored exactly once"
    );
    assert_eq!(stored, expected);
}

/// A store file written by the original app (indented, `\uXXXX` escapes) is kept byte for byte
/// and appended to.
pub fn existing_store_file_is_kept_and_appended(bin: &str) {
    let dir = fixture::sandbox("existing_store_file_is_kept_and_appended");
    let path = dir.join(fixture::STORE_FILE);
    fs::write(&path, PYTHON_STORE).expect("write the old store");
    let before = store::read(&path);
    let server = Launch::serve(bin, dir).start();
    let response = post_form(
        server.web(),
        &[("username", "new"), ("message", "appended")],
    );
    check::status(&response, 303, "POST onto an existing store");
    let after = store::read(server.store());
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[..2], before[..], "old records changed");
    assert_eq!(
        (after[2].username.as_str(), after[2].message.as_str()),
        ("new", "appended")
    );
    let text = fs::read_to_string(server.store()).expect("read the store");
    let kept = PYTHON_STORE.trim_end().trim_end_matches('}').trim_end();
    assert!(
        text.starts_with(kept),
        "the old records were rewritten, not appended to:\n{text}"
    );
}

/// An empty store file counts as `{}`; a store path in folders that do not exist yet is created.
pub fn empty_or_missing_store_file_is_created(bin: &str) {
    let dir = fixture::sandbox("empty_or_missing_store_file_is_created");
    fs::write(dir.join(fixture::STORE_FILE), b"").expect("write an empty store");
    let server = Launch::serve(bin, dir).start();
    let response = post_form(
        server.web(),
        &[("username", "a"), ("message", "into empty")],
    );
    check::status(&response, 303, "POST onto an empty store file");
    assert_eq!(store::read(server.store()).len(), 1);

    let dir = fixture::sandbox("empty_or_missing_store_file_is_created_nested");
    let nested = dir.join("storage/deeper/data.json");
    let server = Launch::serve(bin, dir).flag("--store", &nested).start();
    let response = post_form(
        server.web(),
        &[("username", "b"), ("message", "into new folders")],
    );
    check::status(&response, 303, "POST with a store in missing folders");
    assert_eq!(store::read(&nested).len(), 1);
}

/// Posts `pairs` urlencoded to `/message` on a fresh connection.
pub fn post_form(addr: SocketAddr, pairs: &[(&str, &str)]) -> Response {
    client::post_message(addr, URLENCODED, form::urlencoded(pairs).as_bytes())
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(u, m)| (u.to_string(), m.to_string()))
        .collect()
}

/// Messages whose characters break naive encoders, decoders and JSON writers.
const AWKWARD: &[(&str, &str)] = &[
    ("Zoë 山田", "a & b = c + d % e < f > g"),
    (
        "😀 emoji",
        "line one\r\nline two\ttab \"quoted\" 'single' \\ backslash",
    ),
    (
        "%41 stays",
        "100% sure; ?x=1#frag /path <script>alert(1)</script>",
    ),
];

/// A store as the original app wrote it: two-space indent, non-ASCII as `\uXXXX`.
const PYTHON_STORE: &str = r#"{
  "2022-10-29T20:20:58.020261": {
    "username": "krabaton",
    "message": "First message"
  },
  "2022-10-29T20:21:11.375155": {
    "username": "\u0456\u0432\u0430\u043d",
    "message": "\u041f\u0440\u0438\u0432\u0456\u0442 \ud83d\ude00"
  }
}"#;

const URLENCODED: &str = "application/x-www-form-urlencoded";

/// Concurrent clients in [`concurrent_posts_are_each_stored_once`]: enough to overlap many
/// stores, few enough for a 2-core machine shared with builds.
const CLIENT_THREADS: usize = 40;

/// Posts per client thread; with [`CLIENT_THREADS`] this makes the brief's 200.
const POSTS_PER_THREAD: usize = 5;
