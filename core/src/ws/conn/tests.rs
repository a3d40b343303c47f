use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::testing::epoch;
use crate::ws::frame::MAX_CONTROL_PAYLOAD;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a client sends it: masked.
fn client(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(opcode, fin, Some(KEY), payload, &mut out);
    out
}

fn conn(now: Instant) -> WsConn {
    WsConn::new(WsConfig::default(), false, now, &[])
}

/// Drains output and events, reading on past each message as an application does.
fn drain(conn: &mut WsConn) -> (Vec<u8>, Vec<WsEvent>) {
    let mut out = Vec::new();
    let mut events = Vec::new();
    loop {
        while conn.poll_transmit(&mut out).is_some() {}
        events.extend(std::iter::from_fn(|| conn.poll_event()));
        if !conn.is_paused() {
            return (out, events);
        }
        conn.receive(epoch(), &[]);
    }
}

/// The server frames in `bytes`, as (opcode, payload).
fn frames(mut bytes: &[u8]) -> Vec<(Opcode, Vec<u8>)> {
    let mut frames = Vec::new();
    while let Some((header, used)) = parse_header(bytes).unwrap() {
        assert!(header.mask.is_none(), "a server never masks");
        let end = used + header.len as usize;
        frames.push((header.opcode, bytes[used..end].to_vec()));
        bytes = &bytes[end..];
    }
    assert!(bytes.is_empty());
    frames
}

fn close_code(frame: &(Opcode, Vec<u8>)) -> u16 {
    assert_eq!(frame.0, Opcode::Close);
    u16::from_be_bytes([frame.1[0], frame.1[1]])
}

fn text(payload: &[u8]) -> WsEvent {
    WsEvent::Message {
        kind: MessageKind::Text,
        payload: payload.to_vec(),
    }
}

#[test]
fn a_fragmented_text_message_with_a_ping_between_arrives_whole() {
    let now = epoch();
    let mut conn = conn(now);
    let mut bytes = client(Opcode::Text, false, "hé".as_bytes());
    bytes.extend(client(Opcode::Ping, true, b"are you there"));
    bytes.extend(client(Opcode::Continuation, true, "llo ünïcode".as_bytes()));
    conn.receive(now, &bytes);
    let (out, events) = drain(&mut conn);
    assert_eq!(events, [text("héllo ünïcode".as_bytes())]);
    assert_eq!(frames(&out), [(Opcode::Pong, b"are you there".to_vec())]);
    conn.send(MessageKind::Text, b"{\"a\":1}");
    let (out, _) = drain(&mut conn);
    assert_eq!(frames(&out), [(Opcode::Text, b"{\"a\":1}".to_vec())]);
}

#[test]
fn the_close_handshake_echoes_the_code_and_ends_the_connection() {
    let now = epoch();
    let mut conn = conn(now);
    let mut close = 1001u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    conn.receive(now, &client(Opcode::Close, true, &close));
    let (out, events) = drain(&mut conn);
    assert_eq!(events, [WsEvent::PeerClosed { code: Some(1001) }]);
    assert_eq!(
        frames(&out),
        [(Opcode::Close, 1001u16.to_be_bytes().to_vec())]
    );
    assert!(conn.is_write_closed() && !conn.is_closed());
    conn.receive(now, &client(Opcode::Text, true, b"too late"));
    assert_eq!(drain(&mut conn), (Vec::new(), Vec::new()));
    conn.receive_eof(now);
    assert!(conn.is_closed());
}

#[test]
fn a_server_close_waits_for_the_peers_close_until_the_deadline() {
    let now = epoch();
    let mut conn = conn(now);
    conn.close(1008, "idle", now + Duration::from_secs(3));
    let (out, _) = drain(&mut conn);
    assert_eq!(close_code(&frames(&out)[0]), 1008);
    conn.receive(now, &client(Opcode::Text, true, b"ignored"));
    assert_eq!(drain(&mut conn).1, []);
    assert_eq!(conn.poll_timeout(), Some(now + Duration::from_secs(3)));
    conn.handle_timeout(now + Duration::from_secs(3));
    assert!(conn.is_closed());

    let mut conn = self::conn(now);
    conn.close(1000, "", now + Duration::from_secs(3));
    conn.receive(now, &client(Opcode::Close, true, &1000u16.to_be_bytes()));
    let (out, events) = drain(&mut conn);
    assert_eq!(frames(&out).len(), 1, "the close is not answered twice");
    assert_eq!(events, [WsEvent::PeerClosed { code: Some(1000) }]);
    assert!(conn.is_write_closed());
}

#[test]
fn rule_breaking_frames_fail_with_their_close_code() {
    let unmasked = {
        let mut out = Vec::new();
        encode_frame(Opcode::Text, true, None, b"hi", &mut out);
        out
    };
    let mut bad_fragment = client(Opcode::Text, false, b"a");
    bad_fragment.extend(client(Opcode::Text, true, b"b"));
    let cases: Vec<(Vec<u8>, WsError, u16)> = vec![
        (unmasked, WsError::Unmasked, 1002),
        (
            client(Opcode::Text, true, b"\xff"),
            WsError::InvalidUtf8,
            1007,
        ),
        (
            client(Opcode::Text, true, b"ab\xe2\x82"),
            WsError::InvalidUtf8,
            1007,
        ),
        (
            client(Opcode::Binary, true, b"x"),
            WsError::BinaryRefused,
            1003,
        ),
        (
            client(Opcode::Continuation, true, b"x"),
            WsError::UnexpectedContinuation,
            1002,
        ),
        (bad_fragment, WsError::UnfinishedMessage, 1002),
        (
            client(Opcode::Close, true, b"x"),
            WsError::BadCloseFrame,
            1002,
        ),
        (
            client(Opcode::Close, true, &1005u16.to_be_bytes()),
            WsError::BadCloseFrame,
            1002,
        ),
        (
            client(Opcode::Close, true, b"\x03\xe8\xff"),
            WsError::InvalidUtf8,
            1007,
        ),
        (
            client(Opcode::Text, true, &[b'a'; 16 * 1024 + 1]),
            WsError::MessageTooBig,
            1009,
        ),
    ];
    for (bytes, error, code) in cases {
        let now = epoch();
        let mut conn = conn(now);
        conn.receive(now, &bytes);
        let (out, events) = drain(&mut conn);
        assert_eq!(events, [WsEvent::Rejected(error)], "{error:?}");
        assert_eq!(close_code(&frames(&out)[0]), code, "{error:?}");
        assert!(conn.is_write_closed(), "{error:?}");
    }
}

#[test]
fn invalid_utf8_fails_before_the_frame_ends() {
    let now = epoch();
    let mut conn = conn(now);
    let bytes = client(
        Opcode::Text,
        true,
        &[
            b"ok \xce\xba\xe1\xbd\xb9".as_slice(),
            b"\xed\xa0\x80 and more",
        ]
        .concat(),
    );
    // Up to the surrogate's second byte: nothing proves the text wrong yet.
    let cut = bytes.len() - b"\xa0\x80 and more".len();
    conn.receive(now, &bytes[..cut]);
    assert_eq!(drain(&mut conn).1, []);
    conn.receive(now, &bytes[cut..cut + 1]);
    assert_eq!(
        drain(&mut conn).1,
        [WsEvent::Rejected(WsError::InvalidUtf8)]
    );
}

#[test]
fn a_message_too_big_fails_at_its_head() {
    let now = epoch();
    let mut conn = conn(now);
    let bytes = client(Opcode::Text, false, &[b'a'; 10_000]);
    conn.receive(now, &bytes);
    let head = client(Opcode::Continuation, true, &[b'a'; 7_000]);
    conn.receive(now, &head[..8]);
    assert_eq!(
        drain(&mut conn).1,
        [WsEvent::Rejected(WsError::MessageTooBig)]
    );
}

#[test]
fn an_answer_to_a_message_leaves_before_the_close_a_later_frame_causes() {
    let now = epoch();
    let mut conn = conn(now);
    let mut bytes = client(Opcode::Text, true, b"first");
    bytes.extend(client(Opcode::Text, true, b"second"));
    bytes.extend([0xC1, 0x80, 0, 0, 0, 0]);
    conn.receive(now, &bytes);
    assert!(conn.is_paused());
    assert_eq!(conn.poll_event(), Some(text(b"first")));
    conn.send(MessageKind::Text, b"first");
    conn.receive(now, &[]);
    assert_eq!(conn.poll_event(), Some(text(b"second")));
    conn.send(MessageKind::Text, b"second");
    conn.receive(now, &[]);
    assert_eq!(
        conn.poll_event(),
        Some(WsEvent::Rejected(WsError::ReservedBits))
    );
    let (out, _) = drain(&mut conn);
    let frames = frames(&out);
    assert_eq!(
        frames[..2],
        [
            (Opcode::Text, b"first".to_vec()),
            (Opcode::Text, b"second".to_vec())
        ]
    );
    assert_eq!(close_code(&frames[2]), 1002);
}

#[test]
fn eof_ends_an_open_connection_without_a_close_frame() {
    let now = epoch();
    let mut conn = conn(now);
    conn.receive_eof(now);
    assert_eq!(
        drain(&mut conn),
        (Vec::new(), vec![WsEvent::PeerClosed { code: None }])
    );
    assert!(conn.is_closed());
}

#[test]
fn a_peer_that_does_not_read_its_pongs_stops_being_read() {
    let now = epoch();
    let mut conn = conn(now);
    let ping = client(Opcode::Ping, true, &[0; MAX_CONTROL_PAYLOAD]);
    while conn.wants_read() {
        conn.receive(now, &ping);
    }
    let mut out = Vec::new();
    conn.poll_transmit(&mut out);
    assert!(out.len() >= WsConfig::default().max_output);
    assert!(conn.wants_read());
}

/// A client's stream of frames: fragmented text messages, pings and a close.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let message = (
        proptest::collection::vec(any::<char>(), 0..40),
        proptest::collection::vec(0usize..60, 0..4),
        any::<bool>(),
    );
    proptest::collection::vec(message, 0..6).prop_map(|messages| {
        let mut bytes = Vec::new();
        for (chars, cuts, ping) in messages {
            let text: String = chars.into_iter().collect();
            let payload = text.as_bytes();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(payload.len())).collect();
            points.sort_unstable();
            let mut start = 0;
            let mut opcode = Opcode::Text;
            for point in points {
                bytes.extend(client(opcode, false, &payload[start..point]));
                if ping {
                    bytes.extend(client(Opcode::Ping, true, b"p"));
                }
                opcode = Opcode::Continuation;
                start = point;
            }
            bytes.extend(client(opcode, true, &payload[start..]));
        }
        bytes.extend(client(Opcode::Close, true, &1000u16.to_be_bytes()));
        bytes
    })
}

fn run(chunks: &[&[u8]]) -> (Vec<u8>, Vec<WsEvent>) {
    let now = epoch();
    let mut conn = conn(now);
    let mut out = Vec::new();
    let mut events = Vec::new();
    for chunk in chunks {
        conn.receive(now, chunk);
        let (bytes, more) = drain(&mut conn);
        out.extend(bytes);
        events.extend(more);
    }
    (out, events)
}

proptest! {
    #[test]
    fn splitting_the_input_anywhere_gives_the_same_result(bytes in stream(), seed: usize) {
        let whole = run(&[&bytes]);
        prop_assert_eq!(whole.1.last(), Some(&WsEvent::PeerClosed { code: Some(1000) }));
        for cut in 0..=bytes.len() {
            prop_assert_eq!(&run(&[&bytes[..cut], &bytes[cut..]]), &whole);
        }
        let byte_by_byte: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&run(&byte_by_byte), &whole);
        let odd: Vec<&[u8]> = bytes.chunks(seed % 13 + 2).collect();
        prop_assert_eq!(&run(&odd), &whole);
    }

    #[test]
    fn sent_messages_round_trip(messages in proptest::collection::vec(".{0,50}", 0..8)) {
        let now = epoch();
        let mut conn = conn(now);
        for message in &messages {
            conn.send(MessageKind::Text, message.as_bytes());
        }
        let (out, _) = drain(&mut conn);
        let expected: Vec<(Opcode, Vec<u8>)> =
            messages.iter().map(|m| (Opcode::Text, m.as_bytes().to_vec())).collect();
        prop_assert_eq!(frames(&out), expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        crate::check::check_ws_frames(crate::testing::epoch(), &bytes);
    }
}
