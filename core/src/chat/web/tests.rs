use std::time::{Duration, Instant};

use time::macros::datetime;

use super::*;
use crate::testing::epoch;
use crate::ws::frame::{encode_frame, parse_header, Opcode};

const HANDSHAKE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: chat\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn conn(now: Instant, echo: bool) -> WebChatConn {
    let config = WebChatConfig {
        echo: echo.then(WebChatConfig::echo_limits),
        ..WebChatConfig::default()
    };
    WebChatConn::new(config, now, datetime!(2026-12-05 12:00:00 UTC))
}

fn client(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(opcode, true, Some([9, 8, 7, 6]), payload, &mut out);
    out
}

fn drain(conn: &mut WebChatConn) -> (Vec<u8>, Vec<WebChatEvent>) {
    let mut out = Vec::new();
    while conn.poll_transmit(&mut out).is_some() {}
    (out, std::iter::from_fn(|| conn.poll_event()).collect())
}

/// The server frames after the `101` head in `bytes`.
fn frames_after_head(bytes: &[u8]) -> Vec<(Opcode, Vec<u8>)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut rest = &bytes[end..];
    let mut frames = Vec::new();
    while let Some((header, used)) = parse_header(rest).unwrap() {
        let stop = used + header.len as usize;
        frames.push((header.opcode, rest[used..stop].to_vec()));
        rest = &rest[stop..];
    }
    frames
}

#[test]
fn a_websocket_joins_the_room_with_one_object_per_text_message() {
    let now = epoch();
    let mut conn = conn(now, false);
    let mut bytes = HANDSHAKE.to_vec();
    bytes.extend(client(Opcode::Text, br#"{"username":"ann"}"#));
    conn.receive(now, &bytes);
    conn.receive(now, &client(Opcode::Text, b""));
    let (out, events) = drain(&mut conn);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_eq!(
        events,
        [
            WebChatEvent::Opened,
            WebChatEvent::Input(b"{\"username\":\"ann\"}\n".to_vec()),
            WebChatEvent::Input(b"\n".to_vec()),
        ]
    );
    conn.send_lines(&[
        Line::new(b"{\"type\":\"join\",\"username\":\"ann\"}\n"),
        Line::new(b"{\"username\":\"bob\",\"message\":\"hi\"}\n"),
    ]);
    let (out, _) = drain(&mut conn);
    let mut rest = out.as_slice();
    let mut texts = Vec::new();
    while let Some((header, used)) = parse_header(rest).unwrap() {
        texts.push(rest[used..used + header.len as usize].to_vec());
        rest = &rest[used + header.len as usize..];
    }
    assert_eq!(
        texts,
        [
            b"{\"type\":\"join\",\"username\":\"ann\"}".to_vec(),
            b"{\"username\":\"bob\",\"message\":\"hi\"}".to_vec()
        ]
    );
}

#[test]
fn the_browser_leaving_tells_the_shell_once() {
    let now = epoch();
    let mut conn = conn(now, false);
    conn.receive(now, HANDSHAKE);
    conn.receive(now, &client(Opcode::Close, &1001u16.to_be_bytes()));
    conn.receive_eof(now);
    let (_, events) = drain(&mut conn);
    assert_eq!(events, [WebChatEvent::Opened, WebChatEvent::Gone]);
    assert!(conn.is_closed());

    let mut conn = self::conn(now, false);
    conn.receive(now, HANDSHAKE);
    conn.receive(now, &client(Opcode::Binary, b"\x00"));
    let (out, events) = drain(&mut conn);
    assert_eq!(events, [WebChatEvent::Opened, WebChatEvent::Gone]);
    let close = frames_after_head(&out).pop().unwrap();
    assert_eq!(
        (close.0, &close.1[..2]),
        (Opcode::Close, &1003u16.to_be_bytes()[..])
    );
}

#[test]
fn a_close_the_hub_decides_carries_its_code_and_reason() {
    let now = epoch();
    let mut conn = conn(now, false);
    conn.receive(now, HANDSHAKE);
    conn.send_lines(&[Line::new(
        b"{\"type\":\"error\",\"error\":\"the server is shutting down\"}\n",
    )]);
    conn.close(CloseReason::Shutdown, now + Duration::from_secs(5));
    let (out, events) = drain(&mut conn);
    assert_eq!(events, [WebChatEvent::Opened]);
    let frames = frames_after_head(&out);
    assert_eq!(frames[0].0, Opcode::Text);
    assert_eq!(frames[1].0, Opcode::Close);
    assert_eq!(&frames[1].1[..2], &1001u16.to_be_bytes());
    assert_eq!(&frames[1].1[2..], b"the server is shutting down");
    conn.receive(now, &client(Opcode::Close, &1001u16.to_be_bytes()));
    assert_eq!(drain(&mut conn).1, [], "the hub already forgot the client");
    assert!(conn.is_write_closed());
}

#[test]
fn plain_requests_get_the_page_the_health_check_or_a_refusal() {
    let cases: &[(&[u8], &str)] = &[
        (b"GET / HTTP/1.1\r\nHost: c\r\n\r\n", "HTTP/1.1 200 OK"),
        (
            b"GET /chat.js HTTP/1.1\r\nHost: c\r\n\r\n",
            "HTTP/1.1 200 OK",
        ),
        (
            b"GET /__ferry/health HTTP/1.1\r\nHost: c\r\n\r\n",
            "HTTP/1.1 200 OK",
        ),
        (b"GET /nothing HTTP/1.1\r\nHost: c\r\n\r\n", "HTTP/1.1 404 "),
        (b"GET /ws HTTP/1.1\r\nHost: c\r\n\r\n", "HTTP/1.1 426 "),
        (b"GET /echo HTTP/1.1\r\nHost: c\r\n\r\n", "HTTP/1.1 404 "),
        (
            b"GET /ws HTTP/1.1\r\nHost: c\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
              Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            "HTTP/1.1 426 ",
        ),
        (
            b"GET /ws HTTP/1.1\r\nHost: c\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
            "HTTP/1.1 400 ",
        ),
    ];
    for (request, status) in cases {
        let now = epoch();
        let mut conn = conn(now, false);
        conn.receive(now, request);
        let (out, events) = drain(&mut conn);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with(status), "{text}");
        assert_eq!(events, [], "{text}");
        assert!(!conn.is_write_closed(), "kept alive: {text}");
    }
}

#[test]
fn a_handshake_that_never_completes_is_timed_out() {
    let now = epoch();
    let mut conn = conn(now, false);
    conn.receive(now, &HANDSHAKE[..30]);
    let deadline = conn.poll_timeout().unwrap();
    assert!(deadline <= now + Duration::from_secs(10));
    conn.handle_timeout(deadline);
    let (out, events) = drain(&mut conn);
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 408 "));
    assert_eq!(events, []);
    assert!(conn.is_closed());
}

#[test]
fn the_echo_endpoint_echoes_without_the_room() {
    let now = epoch();
    let mut conn = conn(now, true);
    let handshake = String::from_utf8_lossy(HANDSHAKE).replace("/ws", "/echo");
    conn.receive(now, handshake.as_bytes());
    conn.receive(now, &client(Opcode::Binary, &[0, 1, 2]));
    conn.receive(now, &client(Opcode::Text, b"not json"));
    let (out, events) = drain(&mut conn);
    assert_eq!(events, []);
    assert_eq!(
        frames_after_head(&out),
        [
            (Opcode::Binary, vec![0, 1, 2]),
            (Opcode::Text, b"not json".to_vec())
        ]
    );
}

#[test]
fn the_handshake_and_frames_split_anywhere_give_the_same_result() {
    let mut bytes = HANDSHAKE.to_vec();
    bytes.extend(client(
        Opcode::Text,
        r#"{"username":"ann","message":"hé"}"#.as_bytes(),
    ));
    bytes.extend(client(Opcode::Ping, b"x"));
    bytes.extend(client(Opcode::Close, &1000u16.to_be_bytes()));
    let run = |cut: usize| {
        let now = epoch();
        let mut conn = conn(now, false);
        conn.receive(now, &bytes[..cut]);
        let (mut out, mut events) = drain(&mut conn);
        conn.receive(now, &bytes[cut..]);
        let (more, later) = drain(&mut conn);
        out.extend(more);
        events.extend(later);
        (frames_after_head(&out), events)
    };
    let whole = run(bytes.len());
    assert_eq!(whole.1.len(), 3);
    for cut in 0..bytes.len() {
        assert_eq!(run(cut), whole, "{cut}");
    }
}
