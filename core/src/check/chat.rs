//! Invariants of the chat line framing and the JSON read from it, checked on arbitrary bytes.

use std::time::Instant;

use crate::chat::wire::{self, ClientObject};
use crate::chat::{ChatConfig, ChatError, ChatHub, ObjectFramer, MAX_LINE};

/// Frames `bytes` whole, split in two places and byte by byte, with the real line limit and a
/// small one, and checks that:
/// - every split gives the same objects and errors;
/// - every object is within the limit, starts with `{`, ends with `}` and has no newline;
/// - an object that decodes as a client's re-encodes to one that decodes the same, and likewise
///   for a server line;
/// - a hub fed the bytes by one client (at time `now`) sends the other client only whole JSON
///   lines.
pub fn check_chat_line(now: Instant, bytes: &[u8]) {
    for limit in [MAX_LINE, SMALL_LIMIT] {
        let whole = frames(limit, bytes, &[]);
        let split_a = bytes.len() / 3;
        let split_b = bytes.len() * 2 / 3;
        assert_eq!(
            frames(limit, bytes, &[split_a, split_b]),
            whole,
            "split at {split_a}, {split_b}"
        );
        if bytes.len() <= BYTE_BY_BYTE_LIMIT {
            let every: Vec<usize> = (1..bytes.len()).collect();
            assert_eq!(frames(limit, bytes, &every), whole, "byte by byte");
        }
        for frame in whole.iter().flatten() {
            assert!(frame.len() <= limit, "object over the limit");
            assert_eq!(frame.first(), Some(&b'{'));
            assert_eq!(frame.last(), Some(&b'}'));
            assert!(!frame.contains(&b'\n'));
            check_client_object(frame);
            check_server_line(frame);
        }
    }
    check_hub(now, bytes);
}

/// The framer's output for `bytes` fed in pieces cut at `splits`, then EOF.
fn frames(limit: usize, bytes: &[u8], splits: &[usize]) -> Vec<Result<Vec<u8>, ChatError>> {
    let mut framer = ObjectFramer::new(limit);
    let mut out = Vec::new();
    let mut last = 0;
    for &split in splits.iter().chain([&bytes.len()]) {
        let split = split.clamp(last, bytes.len());
        framer.receive(&bytes[last..split], |frame| {
            out.push(frame.map(<[u8]>::to_vec))
        });
        assert!(
            framer.buffered() <= limit,
            "framer holds more than the limit"
        );
        last = split;
    }
    framer.receive_eof(|frame| out.push(frame.map(<[u8]>::to_vec)));
    out
}

fn check_client_object(frame: &[u8]) {
    let Ok(object) = wire::decode_client_object(frame) else {
        return;
    };
    if let Ok(Some(request)) = object.account_request() {
        let mut out = Vec::new();
        wire::encode_account_request(&request, &mut out);
        let again = wire::decode_client_object(&out[..out.len() - 1]);
        let again = again.expect("a re-encoded account object decodes");
        assert_eq!(again.account_request(), Ok(Some(request)));
        return;
    }
    let ClientObject {
        username, message, ..
    } = object;
    let Some(username) = username else {
        return;
    };
    let mut out = Vec::new();
    wire::encode_client_object(&username, message.as_deref(), &mut out);
    assert_eq!(out.last(), Some(&b'\n'));
    let again = wire::decode_client_object(&out[..out.len() - 1]);
    let again = again.expect("a re-encoded client object decodes");
    assert_eq!(again.username.as_deref(), Some(username.as_ref()));
    assert_eq!(again.message.as_deref(), message.as_deref());
}

fn check_server_line(frame: &[u8]) {
    let Ok(line) = wire::decode_server_line(frame) else {
        return;
    };
    let mut out = Vec::new();
    wire::encode_server_line(&line, &mut out);
    assert_eq!(wire::decode_server_line(&out[..out.len() - 1]), Ok(line));
}

/// Feeds `bytes` to a hub from one client (after it joined) and checks what a listening client
/// (joined too, so it hears the room) and the sender get: whole lines, each a JSON object.
fn check_hub(now: Instant, bytes: &[u8]) {
    let mut hub = ChatHub::new(ChatConfig::default());
    let listener = hub.connect(now);
    hub.receive(now, listener, b"{\"username\":\"listener\"}\n");
    let sender = hub.connect(now);
    hub.receive(now, sender, b"{\"username\":\"fuzz\"}\n");
    hub.receive(now, sender, bytes);
    hub.receive_eof(now, sender);
    let mut out = Vec::new();
    let mut received = Vec::new();
    while let Some(transmit) = hub.poll_transmit(now, &mut out) {
        if transmit.client == listener {
            crate::chat::line::copy_into(&out, &mut received);
            hub.handle_drained(now, listener);
        }
        out.clear();
    }
    assert!(received.is_empty() || received.ends_with(b"\n"));
    for line in received.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(
            wire::decode_server_line(line).is_ok(),
            "the hub sent an unreadable line"
        );
    }
    assert_eq!(hub.len(), 1);
}

/// A limit small enough that random input reaches it.
const SMALL_LIMIT: usize = 32;
/// Inputs up to this length are also fed one byte at a time.
const BYTE_BY_BYTE_LIMIT: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn checks_typical_chat_input() {
        check_chat_line(
            crate::testing::epoch(),
            b"{\"username\":\"fuzz\",\"message\":\"hi\"}{\"username\":\"x\"}\nbad\n",
        );
        check_chat_line(
            crate::testing::epoch(),
            b"{\"type\":\"join\",\"username\":\"a\"}\n{\"error\":\"e\"}",
        );
        check_chat_line(
            crate::testing::epoch(),
            b"{\"a\":[}\n{]\n{\"username\":\"fuzz\",\"message\":\"\\ud800\"}",
        );
    }

    #[test]
    fn the_account_seeds_of_the_fuzz_target_pass() {
        for seed in [
            &include_bytes!("../../../fuzz/seeds/chat_line/accounts")[..],
            include_bytes!("../../../fuzz/seeds/chat_line/password"),
            include_bytes!("../../../fuzz/seeds/chat_line/accounts_hostile"),
        ] {
            check_chat_line(crate::testing::epoch(), seed);
        }
    }

    proptest! {
        #[test]
        fn any_bytes_pass_the_chat_checks(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            check_chat_line(crate::testing::epoch(), &bytes);
        }

        #[test]
        fn json_like_bytes_pass_the_chat_checks(text in "[{}\\[\\]\":,a-z \\\\\n]{0,120}") {
            check_chat_line(crate::testing::epoch(), text.as_bytes());
        }
    }
}
