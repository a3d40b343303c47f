//! The WebSocket frame reader's invariants, for the `ws_frames` fuzz target and the proptests.

use std::time::Instant;

use crate::ws::frame::{encode_frame, Opcode};
use crate::ws::{WsConfig, WsConn, WsEvent};

/// Feeds `bytes` to a [`WsConn`] as a client's stream, twice over: raw, and cut into masked
/// frames whose opcode, FIN bit and length come from the bytes themselves (so most inputs get
/// past the head checks). Each stream is fed whole, split in two and byte by byte: the output
/// and the events must be the same; the output stays bounded by what the input can cause, and
/// a connection that reports a message or a close reports nothing after its close.
pub fn check_ws_frames(now: Instant, bytes: &[u8]) {
    check_stream(now, bytes);
    check_stream(now, &masked_frames(bytes));
}

fn check_stream(now: Instant, stream: &[u8]) {
    let whole = run(now, &[stream]);
    let middle = stream.len() / 2;
    assert_eq!(run(now, &[&stream[..middle], &stream[middle..]]), whole);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(now, &bytes), whole);
    let (out, events) = whole;
    // Every output frame answers some input: a pong at most 14 bytes over its ping, and one
    // close frame of at most 127 bytes.
    assert!(
        out.len() <= stream.len() * 8 + 131,
        "{} out of {}",
        out.len(),
        stream.len()
    );
    let closes = events
        .iter()
        .filter(|e| matches!(e, WsEvent::PeerClosed { .. } | WsEvent::Rejected(_)))
        .count();
    assert!(closes <= 1, "{events:?}");
    if let Some(end) = events
        .iter()
        .position(|e| matches!(e, WsEvent::PeerClosed { .. } | WsEvent::Rejected(_)))
    {
        assert_eq!(end, events.len() - 1, "nothing after the close: {events:?}");
    }
}

fn run(now: Instant, chunks: &[&[u8]]) -> (Vec<u8>, Vec<WsEvent>) {
    let config = WsConfig {
        max_message: 1024,
        ..WsConfig::default()
    };
    let mut conn = WsConn::new(config, true, now, &[]);
    let mut out = Vec::new();
    let mut events = Vec::new();
    for chunk in chunks {
        conn.receive(now, chunk);
        loop {
            while conn.poll_transmit(&mut out).is_some() {}
            events.extend(std::iter::from_fn(|| conn.poll_event()));
            if !conn.is_paused() {
                break;
            }
            conn.receive(now, &[]);
        }
    }
    (out, events)
}

/// Reads `bytes` as frames to send: a control byte (opcode in the low bits, FIN in the top
/// one), a length byte, that many payload bytes.
fn masked_frames(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let [control, len, rest @ ..] = bytes {
        let opcodes = [
            Opcode::Continuation,
            Opcode::Text,
            Opcode::Binary,
            Opcode::Close,
            Opcode::Ping,
            Opcode::Pong,
        ];
        let opcode = opcodes[usize::from(control & 0x7) % opcodes.len()];
        let len = usize::from(*len).min(rest.len());
        let fin = control & 0x80 != 0 || opcode.is_control();
        encode_frame(
            opcode,
            fin,
            Some([control & 0x7f, 1, 2, 3]),
            &rest[..len],
            &mut out,
        );
        bytes = &rest[len..];
    }
    out
}
