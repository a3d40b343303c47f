//! The TLS session between an in-memory client and server: handshakes, plaintext both ways
//! under every split, closes, deadlines, failures that stay, and the config checks.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::check::{check_tls_http, feed, FixedClock, Pair};
use crate::testing::epoch;

const CERT: &[u8] = include_bytes!("testdata/cert.pem");
const KEY: &[u8] = include_bytes!("testdata/key.pem");
const OTHER_CERT: &[u8] = include_bytes!("testdata/other_cert.pem");
const OTHER_KEY: &[u8] = include_bytes!("testdata/other_key.pem");

fn server(alpn: Alpn) -> TlsServerConfig {
    server_config(CERT, KEY, alpn, Arc::new(FixedClock)).expect("fixture")
}

/// Sends `plaintext` from a fresh client after the handshake, cuts the ciphertext at `cuts`,
/// and returns what the server decrypted.
fn client_sends(plaintext: &[u8], cuts: impl Fn(usize) -> Vec<usize>) -> Vec<u8> {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
    pair.handshake(now);
    pair.client.send(plaintext);
    let mut wire = Vec::new();
    pair.client.poll_transmit(&mut wire);
    feed(&mut pair.server, now, &wire, &cuts(wire.len()));
    let mut received = Vec::new();
    while pair.server.poll_plaintext(&mut received).is_some() {}
    assert_eq!(pair.server.error(), None);
    received
}

#[test]
fn handshake_completes_and_plaintext_flows_both_ways() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
    assert!(pair.server.is_handshaking());
    pair.handshake(now);
    assert_eq!(pair.server.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        pair.server.poll_timeout(),
        None,
        "no deadline after the handshake"
    );

    pair.client.send(b"GET / HTTP/1.1\r\n\r\n");
    pair.client_to_server(now, &[]);
    let mut got = Vec::new();
    assert_eq!(pair.server.poll_plaintext(&mut got), Some(18));
    assert_eq!(got, b"GET / HTTP/1.1\r\n\r\n");

    pair.server.send(b"HTTP/1.1 200 OK\r\n\r\n");
    pair.server_to_client(now);
    let mut answer = Vec::new();
    pair.client.poll_plaintext(&mut answer);
    assert_eq!(answer, b"HTTP/1.1 200 OK\r\n\r\n");
}

#[test]
fn chat_ports_announce_no_protocol() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::None), CERT);
    pair.handshake(now);
    assert_eq!(pair.server.alpn_protocol(), None);
}

#[test]
fn plaintext_sent_during_the_handshake_follows_it() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
    pair.server.send(b"early");
    pair.handshake(now);
    let mut got = Vec::new();
    pair.client.poll_plaintext(&mut got);
    assert_eq!(got, b"early");
}

#[test]
fn plaintext_is_the_same_whole_split_at_every_point_and_byte_by_byte() {
    let plaintext: Vec<u8> = (0..200u8).collect();
    let whole = client_sends(&plaintext, |_| Vec::new());
    assert_eq!(whole, plaintext);
    let wire_len = {
        let now = epoch();
        let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
        pair.handshake(now);
        pair.client.send(&plaintext);
        let mut wire = Vec::new();
        pair.client.poll_transmit(&mut wire)
    }
    .expect("records");
    for cut in 0..=wire_len {
        assert_eq!(
            client_sends(&plaintext, |_| vec![cut]),
            plaintext,
            "cut at {cut}"
        );
    }
    let every = client_sends(&plaintext, |len| (1..len).collect());
    assert_eq!(every, plaintext, "byte by byte");
}

#[test]
fn a_megabyte_passes_in_records_and_the_buffers_drain() {
    let plaintext: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let received = client_sends(&plaintext, |len| (1..8).map(|i| len * i / 8).collect());
    assert_eq!(received.len(), plaintext.len());
    assert!(received == plaintext);
}

#[test]
fn close_notify_ends_the_peer_after_its_last_bytes() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
    pair.handshake(now);
    pair.client.send(b"last words");
    pair.client.close();
    pair.client.send(b"ignored after the close");
    pair.client_to_server(now, &[]);
    let mut got = Vec::new();
    pair.server.poll_plaintext(&mut got);
    assert_eq!(got, b"last words");
    assert!(pair.server.is_peer_closed());
    assert!(!pair.server.wants_read());
    assert_eq!(pair.server.error(), None);
    // The server may still answer after the peer closed its side.
    pair.server.send(b"goodbye");
    pair.server.close();
    assert!(pair.server.is_close_sent());
    pair.server_to_client(now);
    let mut answer = Vec::new();
    pair.client.poll_plaintext(&mut answer);
    assert_eq!(answer, b"goodbye");
    assert!(pair.client.is_peer_closed());
}

#[test]
fn a_close_asked_in_the_handshake_is_sent_after_it() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
    pair.server.send(b"refused");
    pair.server.close();
    assert!(!pair.server.is_close_sent());
    pair.handshake(now);
    assert!(pair.server.is_close_sent());
    let mut got = Vec::new();
    pair.client.poll_plaintext(&mut got);
    assert_eq!(got, b"refused");
    assert!(pair.client.is_peer_closed());
}

#[test]
fn eof_after_the_handshake_closes_the_peer_without_error() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
    pair.handshake(now);
    pair.server.receive_eof(now);
    assert!(pair.server.is_peer_closed());
    assert_eq!(pair.server.error(), None);
}

#[test]
fn eof_in_the_handshake_is_a_truncated_handshake() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
    let mut hello = Vec::new();
    pair.client.poll_transmit(&mut hello);
    pair.server.receive(now, &hello[..hello.len() / 2]);
    pair.server.receive_eof(now);
    assert_eq!(pair.server.error(), Some(&TlsError::HandshakeTruncated));
}

#[test]
fn a_client_that_stops_mid_handshake_fails_at_the_deadline() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::None), CERT);
    let mut hello = Vec::new();
    pair.client.poll_transmit(&mut hello);
    pair.server.receive(now, &hello);
    assert!(
        pair.server.poll_transmit(&mut Vec::new()).is_some(),
        "server hello"
    );
    let deadline = pair.server.poll_timeout().expect("a handshake deadline");
    assert_eq!(deadline, now + DEFAULT_HANDSHAKE_TIMEOUT);
    pair.server
        .handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(pair.server.error(), None, "not before the deadline");
    pair.server.handle_timeout(deadline);
    assert_eq!(pair.server.error(), Some(&TlsError::HandshakeTimeout));
    assert_eq!(pair.server.poll_timeout(), None);
    assert!(!pair.server.wants_read());
}

#[test]
fn plain_http_to_a_tls_port_fails_once_and_stays_failed() {
    let now = epoch();
    let mut session =
        TlsSession::server(&server(Alpn::Http11), now, DEFAULT_HANDSHAKE_TIMEOUT).expect("config");
    session.receive(now, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(session.error(), Some(&TlsError::NotTls));
    let mut alert = Vec::new();
    assert!(session.poll_transmit(&mut alert).is_some(), "an alert");
    assert_eq!(alert[0], 0x15, "an alert record");
    session.receive(now, b"more");
    session.receive_eof(now);
    assert_eq!(session.error(), Some(&TlsError::NotTls));
    assert_eq!(session.poll_transmit(&mut alert), None);
    assert!(session
        .error()
        .is_some_and(|e| !e.to_string().contains('\n')));
}

#[test]
fn a_forged_record_after_the_handshake_fails() {
    let now = epoch();
    let mut pair = Pair::new(now, &server(Alpn::Http11), CERT);
    pair.handshake(now);
    pair.server
        .receive(now, b"\x17\x03\x03\x00\x20aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(pair.server.error(), Some(&TlsError::Decrypt));
}

#[test]
fn a_client_refuses_a_server_it_does_not_trust() {
    let now = epoch();
    let clock = Arc::new(FixedClock);
    let other = server_config(OTHER_CERT, OTHER_KEY, Alpn::Http11, clock).expect("fixture");
    let mut pair = Pair::new(now, &other, CERT);
    for _ in 0..4 {
        pair.client_to_server(now, &[]);
        pair.server_to_client(now);
    }
    let error = pair.client.error().expect("the client refuses").clone();
    assert!(matches!(error, TlsError::BadCertificate(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("not signed by a trusted authority"),
        "{error}"
    );
}

#[test]
fn a_client_refuses_a_certificate_for_another_name() {
    let now = epoch();
    let clock = Arc::new(FixedClock);
    let roots = client_config(Some(CERT), Alpn::Http11, clock).expect("roots");
    let mut client =
        TlsSession::client(&roots, "example.org", now, DEFAULT_HANDSHAKE_TIMEOUT).expect("name");
    let mut server =
        TlsSession::server(&server(Alpn::Http11), now, DEFAULT_HANDSHAKE_TIMEOUT).expect("config");
    for _ in 0..4 {
        let mut wire = Vec::new();
        client.poll_transmit(&mut wire);
        server.receive(now, &wire);
        wire.clear();
        server.poll_transmit(&mut wire);
        client.receive(now, &wire);
    }
    let error = client.error().expect("refused");
    assert!(
        error.to_string().contains("not valid for this host name"),
        "{error}"
    );
}

#[test]
fn server_configs_check_their_certificate_and_key() {
    let clock = || -> Arc<dyn WallClock> { Arc::new(FixedClock) };
    let cases: &[(&[u8], &[u8], TlsConfigError)] = &[
        (CERT, OTHER_KEY, TlsConfigError::KeyMismatch),
        (b"", KEY, TlsConfigError::NoCertificate),
        (KEY, KEY, TlsConfigError::NoCertificate),
        (CERT, b"", TlsConfigError::NoKey),
        (CERT, CERT, TlsConfigError::NoKey),
    ];
    for (cert, key, expected) in cases {
        let got = server_config(cert, key, Alpn::Http11, clock()).map(|_| ());
        assert_eq!(got, Err(expected.clone()));
    }
    let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    let got = server_config(broken, KEY, Alpn::Http11, clock()).map(|_| ());
    assert!(
        matches!(got, Err(TlsConfigError::BadCertificatePem(_))),
        "{got:?}"
    );
    let garbage_key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let got = server_config(CERT, garbage_key, Alpn::Http11, clock()).map(|_| ());
    assert!(matches!(got, Err(TlsConfigError::BadKey(_))), "{got:?}");
    assert!(server_config(CERT, KEY, Alpn::Http11, clock()).is_ok());
}

#[test]
fn bad_names_and_roots_are_config_errors() {
    let clock = Arc::new(FixedClock);
    let roots = client_config(None, Alpn::None, clock.clone()).expect("bundled roots");
    let now = epoch();
    let got = TlsSession::client(&roots, "not a name", now, DEFAULT_HANDSHAKE_TIMEOUT).map(|_| ());
    assert!(matches!(got, Err(TlsConfigError::BadServerName(_))));
    assert_eq!(
        client_config(Some(b"nothing"), Alpn::None, clock).map(|_| ()),
        Err(TlsConfigError::NoCertificate)
    );
}

#[test]
fn the_checker_accepts_a_request_through_tls() {
    let now = epoch();
    let mut input = vec![1u8];
    input.extend_from_slice(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
    );
    check_tls_http(now, CERT, KEY, &input);
    check_tls_http(now, CERT, KEY, b"\x00GET / HTTP/1.1\r\n\r\n");
    check_tls_http(now, CERT, KEY, b"\x02\x17\x03\x03\x00\x05hello");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_plaintext_arrives_whole_however_the_records_are_cut(
        plaintext in proptest::collection::vec(any::<u8>(), 1..4000),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let received = client_sends(&plaintext, |len| {
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(len + 1)).collect();
            at.sort_unstable();
            at
        });
        prop_assert_eq!(received, plaintext);
    }

    #[test]
    fn arbitrary_bytes_through_the_checker_never_break_an_invariant(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        check_tls_http(epoch(), CERT, KEY, &bytes);
    }
}

#[test]
fn listening_lines_name_the_secure_scheme() {
    let cases = [
        (
            "web app listening on http://127.0.0.1:3000",
            "web app listening on https://127.0.0.1:3000",
        ),
        (
            "chat server listening on tcp://0.0.0.0:7072",
            "chat server listening on tls://0.0.0.0:7072",
        ),
        ("no scheme", "no scheme"),
    ];
    for (plain, secure) in cases {
        assert_eq!(listening_line(plain), secure);
    }
}
