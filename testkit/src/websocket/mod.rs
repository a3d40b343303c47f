//! Suite: the chat in a browser (`chat --web`): the page, the WebSocket handshake, WebSocket
//! clients in the same room as TCP clients, and what the server does with hostile frames.
//!
//! Each test starts `chat --bind 127.0.0.1:0 --web 127.0.0.1:0` and talks to both ports with a
//! raw TCP chat client and a small WebSocket client of the suite's own ([`client`]), which can
//! also send what a browser never would.

pub mod client;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::chat::harness::{message, ChatServer};
use client::{default_headers, WsClient, BINARY, CLOSE, PING, PONG, TEXT};

fn start(bin: &str, label: &str) -> ChatServer {
    ChatServer::start(bin, label, &["--web", "127.0.0.1:0", "--history", "5"])
}

fn web(server: &ChatServer) -> std::net::SocketAddr {
    server.web.expect("the web port's address")
}

/// A WebSocket client joining as `name`, reading up to its confirmation.
fn join(server: &ChatServer, name: &str) -> WsClient {
    let mut ws = WsClient::open(web(server), "/ws");
    ws.send_json(&json!({"username": name}));
    ws.expect(&json!({"type": "join", "username": name}));
    ws
}

/// A browser's client and a terminal's see each other's messages, history, joins and leaves,
/// and a name is unique across both kinds.
pub fn websocket_and_tcp_clients_share_the_room(bin: &str) {
    let server = start(bin, "ws_room");
    let mut ann = server.join("ann");
    ann.say("ann", "said before bob came");
    let mut bob = WsClient::open(web(&server), "/ws");
    // History first, marked as such, as a TCP newcomer gets it.
    bob.expect(&json!({"username": "ann", "message": "said before bob came", "history": true}));
    bob.send_json(&json!({"username": "bob"}));
    bob.expect(&json!({"type": "join", "username": "bob"}));
    ann.expect(&json!({"type": "join", "username": "bob"}));
    bob.send_json(&message("bob", "hello from a browser"));
    ann.expect(&message("bob", "hello from a browser"));
    ann.say("ann", "hello from a terminal");
    bob.expect(&message("ann", "hello from a terminal"));
    // Two browsers see each other too.
    let mut cid = join(&server, "cid");
    bob.expect(&json!({"type": "join", "username": "cid"}));
    cid.send_json(&message("cid", "ünïcödé ✓"));
    bob.expect(&message("cid", "ünïcödé ✓"));
    ann.expect(&message("cid", "ünïcödé ✓"));
    // A name held over TCP is refused to a browser, and the other way round.
    let mut impostor = WsClient::open(web(&server), "/ws");
    impostor.send_json(&json!({"username": "ann"}));
    let refusal = loop {
        let value = impostor.json();
        if value["type"] == "error" {
            break value;
        }
    };
    assert!(
        refusal["error"].as_str().unwrap_or("").contains("taken"),
        "{refusal}"
    );
    let mut copycat = server.connect();
    copycat.send(&json!({"username": "bob"}));
    copycat.expect_error();
    // Pings are answered; a browser that closes leaves like a terminal client.
    bob.send_frame(PING, true, b"still there?", true);
    let pong = loop {
        let frame = bob.frame().expect("a pong");
        if frame.opcode == PONG {
            break frame;
        }
    };
    assert_eq!(pong.payload, b"still there?");
    bob.send_frame(CLOSE, true, &1000u16.to_be_bytes(), true);
    assert_eq!(bob.expect_close(), 1000);
    ann.expect(&json!({"type": "leave", "username": "bob"}));
    cid.expect(&json!({"type": "leave", "username": "bob"}));
}

/// Sends something to a fresh WebSocket.
type Send = Box<dyn Fn(&mut WsClient)>;

/// Frames a browser never sends close the connection with the code RFC 6455 gives for each;
/// the room carries on.
pub fn hostile_websocket_frames_are_closed_with_their_codes(bin: &str) {
    let server = start(bin, "ws_hostile");
    let mut ann = server.join("ann");
    let oversize = vec![b'a'; 16 * 1024 + 1];
    let cases: Vec<(&str, Send, u16)> = vec![
        (
            "unmasked",
            Box::new(|ws| ws.send_frame(TEXT, true, b"{\"username\":\"x\"}", false)),
            1002,
        ),
        (
            "bad UTF-8",
            Box::new(|ws| ws.send_frame(TEXT, true, b"{\"a\":\"\xff\"}", true)),
            1007,
        ),
        (
            "bad UTF-8 across fragments",
            Box::new(|ws| {
                ws.send_frame(TEXT, false, b"caf\xc3", true);
                ws.send_frame(0, true, b"(", true);
            }),
            1007,
        ),
        (
            "oversize",
            Box::new(move |ws| ws.send_frame(TEXT, true, &oversize, true)),
            1009,
        ),
        (
            "binary",
            Box::new(|ws| ws.send_frame(BINARY, true, b"\x00", true)),
            1003,
        ),
        (
            "reserved opcode",
            Box::new(|ws| ws.send_frame(0x3, true, b"", true)),
            1002,
        ),
        (
            "long ping",
            Box::new(|ws| ws.send_frame(PING, true, &[0; 126], true)),
            1002,
        ),
    ];
    for (what, send, code) in cases {
        let mut ws = WsClient::open(web(&server), "/ws");
        send(&mut ws);
        assert_eq!(ws.expect_close(), code, "{what}");
    }
    ann.say("ann", "still fine");
    let mut bob = join(&server, "bob");
    ann.say("ann", "after the storm");
    bob.expect(&message("ann", "after the storm"));
    // A fragmented message split at every byte still arrives whole.
    let text = message("bob", "in pieces");
    let payload = text.to_string().into_bytes();
    let (first, rest) = payload.split_at(payload.len() / 2);
    let mut bytes = client::encode(TEXT, false, first, Some([1, 2, 3, 4]));
    bytes.extend(client::encode(PING, true, b"", Some([5, 6, 7, 8])));
    bytes.extend(client::encode(0, true, rest, Some([9, 9, 9, 9])));
    for byte in bytes {
        bob.stream.write_all(&[byte]).expect("send a byte");
    }
    ann.expect(&text);
}

/// The page, its assets and the health check are served on the web port; handshakes that ask
/// wrongly get 400 or 426; a handshake that never completes is closed at the header timeout.
pub fn websocket_handshake_errors_and_a_silent_handshake(bin: &str) {
    let server = start(bin, "ws_handshake");
    let address = web(&server);
    for (path, needle) in [("/", "<title>ferry chat"), ("/chat.js", "new WebSocket")] {
        let (status, head, mut client) = WsClient::handshake(address, path, "");
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("Content-Security-Policy: "), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("Content-Length");
        let body = client.bytes(length);
        assert!(String::from_utf8_lossy(&body).contains(needle), "{path}");
    }
    let (status, _, _) = WsClient::handshake(address, "/__ferry/health", "");
    assert_eq!(status, 200);
    let good = default_headers();
    let cases = [
        ("no upgrade", String::new(), 426),
        (
            "wrong version",
            good.replace("Version: 13", "Version: 8"),
            426,
        ),
        (
            "missing key",
            good.replace("Sec-WebSocket-Key", "X-Key"),
            400,
        ),
        ("short key", good.replace(client::KEY, "c2hvcnQ="), 400),
    ];
    for (what, headers, code) in cases {
        let (status, head, _) = WsClient::handshake(address, "/ws", &headers);
        assert_eq!(status, code, "{what}: {head}");
        if what == "wrong version" {
            assert!(head.contains("Sec-WebSocket-Version: 13"), "{head}");
        }
    }
    // Half a handshake, then silence: the header timeout (10 s) ends it with 408.
    let mut silent = TcpStream::connect(address).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    silent
        .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .expect("send half a head");
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = silent.read_to_end(&mut answer);
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408 "),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// SIGTERM: a browser client hears the room's goodbye line, then a close frame 1001.
pub fn websocket_clients_hear_the_goodbye_at_sigterm(bin: &str) {
    let server = start(bin, "ws_sigterm");
    let mut ws = join(&server, "ann");
    server.terminate();
    ws.expect(&json!({"type": "error", "error": "the server is shutting down"}));
    assert_eq!(ws.expect_close(), 1001);
    assert!(server.exit_status().success());
}

/// A WebSocket client that stops reading never slows the room: it falls behind, is told so in
/// a last text message and a close frame 1008, while a reading TCP client gets every message.
pub fn a_websocket_that_never_reads_is_disconnected(bin: &str) {
    const MESSAGES: usize = 20_000;
    const BATCH: usize = 20;
    let server = start(bin, "ws_never_reads");
    let mut stuck = join(&server, "stuck");
    let mut sender = server.join("sender");
    let mut third = server.join("third");
    sender.expect(&json!({"type": "join", "username": "third"}));
    // 20 MiB in all: far more than the stuck client's socket buffers and its room backlog.
    let padding = "x".repeat(1000);
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        while got < MESSAGES {
            if third.raw_line().starts_with("{\"username\":\"sender\"") {
                got += 1;
            }
        }
    });
    let mut batch = Vec::new();
    for n in 0..MESSAGES {
        let line = json!({"username": "sender", "message": format!("{n} {padding}")});
        batch.extend_from_slice(line.to_string().as_bytes());
        batch.push(b'\n');
        if n % BATCH == BATCH - 1 {
            sender.send_raw(&batch);
            batch.clear();
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    reader.join().expect("the reading client got every message");
    // Now the stuck client reads what it was sent: its backlog ends with why it was dropped.
    let mut last_text = Vec::new();
    let code = loop {
        let frame = stuck.frame().expect("a close frame before the end");
        match frame.opcode {
            TEXT => last_text = frame.payload,
            CLOSE => break u16::from_be_bytes([frame.payload[0], frame.payload[1]]),
            _ => {}
        }
    };
    assert_eq!(code, 1008);
    let last: serde_json::Value = serde_json::from_slice(&last_text).expect("JSON");
    assert_eq!(last["type"], "error", "{last}");
    assert!(
        last["error"].as_str().unwrap_or("").contains("behind"),
        "{last}"
    );
    stuck.expect_end();
}
