//! Invariants of the TLS adapter around `HttpConn`, checked on arbitrary bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::macros::datetime;

use crate::http::{HttpConfig, HttpConn, HttpEvent, Response};
use crate::tls::{
    client_config, server_config, Alpn, TlsError, TlsServerConfig, TlsSession, WallClock,
};

use super::http::{assert_http_responses_match_events, without_interim};

/// A wall clock stopped at 2027-01-01, inside the validity of the test certificates.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock;

impl WallClock for FixedClock {
    fn since_unix_epoch(&self) -> Duration {
        Duration::from_secs(1_798_761_600)
    }
}

/// Checks the TLS adapter with a server holding `cert_pem`/`key_pem` (valid for `localhost`).
/// The first byte picks what the rest is:
/// - 0: raw bytes from a client: fed whole, in thirds and (when short) byte by byte, they give
///   the same outcome, never plaintext (no handshake can complete without a real client), and
///   a failure stays a failure;
/// - 1: plaintext a real client sends after a real handshake: the `HttpConn` behind TLS sees
///   the same events and the client gets the same answers as a plain `HttpConn` fed the bytes
///   directly, whatever the ciphertext's split;
/// - 2: raw records after a real handshake: forged records never decrypt to plaintext.
pub fn check_tls_http(now: Instant, cert_pem: &[u8], key_pem: &[u8], bytes: &[u8]) {
    let Some((&mode, rest)) = bytes.split_first() else {
        return;
    };
    let clock = Arc::new(FixedClock);
    let config = server_config(cert_pem, key_pem, Alpn::Http11, clock)
        .expect("the checker's certificate and key match");
    match mode % 3 {
        0 => check_raw(now, &config, rest),
        1 => check_through_tls(now, &config, cert_pem, rest),
        _ => check_forged_records(now, &config, cert_pem, rest),
    }
}

/// Two sessions, client and server, joined in memory.
pub(crate) struct Pair {
    pub client: TlsSession,
    pub server: TlsSession,
}

impl Pair {
    /// A client trusting `cert_pem` and a server with `config`, at `now`, before the handshake.
    pub(crate) fn new(now: Instant, config: &TlsServerConfig, cert_pem: &[u8]) -> Pair {
        let clock = Arc::new(FixedClock);
        let client_config = client_config(Some(cert_pem), Alpn::Http11, clock)
            .expect("the checker's certificate is a valid root");
        let client = TlsSession::client(&client_config, "localhost", now, HANDSHAKE)
            .expect("localhost is a valid name");
        let server = TlsSession::server(config, now, HANDSHAKE).expect("a valid config");
        Pair { client, server }
    }

    /// Moves bytes both ways until neither side has anything to send; panics if the
    /// handshake does not complete.
    pub(crate) fn handshake(&mut self, now: Instant) {
        for _ in 0..HANDSHAKE_ROUNDS {
            let moved = self.client_to_server(now, &[]) + self.server_to_client(now);
            if moved == 0 {
                break;
            }
        }
        assert!(
            !self.client.is_handshaking() && !self.server.is_handshaking(),
            "handshake incomplete: client {:?}, server {:?}",
            self.client.error(),
            self.server.error()
        );
    }

    /// Moves what the client has to send to the server, cut at `cuts`; returns its length.
    pub(crate) fn client_to_server(&mut self, now: Instant, cuts: &[usize]) -> usize {
        let mut wire = Vec::new();
        self.client.poll_transmit(&mut wire);
        feed(&mut self.server, now, &wire, cuts);
        wire.len()
    }

    /// Moves what the server has to send to the client, whole; returns its length.
    pub(crate) fn server_to_client(&mut self, now: Instant) -> usize {
        let mut wire = Vec::new();
        self.server.poll_transmit(&mut wire);
        self.client.receive(now, &wire);
        wire.len()
    }
}

/// Feeds `wire` to `session` in pieces cut at `cuts` (ascending, clamped).
pub(crate) fn feed(session: &mut TlsSession, now: Instant, wire: &[u8], cuts: &[usize]) {
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        let cut = cut.clamp(start, wire.len());
        session.receive(now, &wire[start..cut]);
        start = cut;
    }
}

/// What a server session made of raw input.
#[derive(Debug, PartialEq, Eq)]
struct RawOutcome {
    plaintext: Vec<u8>,
    error: Option<TlsError>,
    handshaking: bool,
}

fn check_raw(now: Instant, config: &TlsServerConfig, bytes: &[u8]) {
    let whole = feed_raw(now, config, bytes, &[]);
    let thirds = feed_raw(now, config, bytes, &[bytes.len() / 3, bytes.len() * 2 / 3]);
    assert_eq!(thirds, whole, "fed in thirds");
    if bytes.len() <= BYTE_BY_BYTE_LIMIT {
        let every: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(feed_raw(now, config, bytes, &every), whole, "byte by byte");
    }
    assert!(whole.plaintext.is_empty(), "plaintext without a handshake");
}

fn feed_raw(now: Instant, config: &TlsServerConfig, bytes: &[u8], cuts: &[usize]) -> RawOutcome {
    let mut server = TlsSession::server(config, now, HANDSHAKE).expect("a valid config");
    let mut sent = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let cut = cut.clamp(start, bytes.len());
        server.receive(now, &bytes[start..cut]);
        server.poll_transmit(&mut sent);
        start = cut;
    }
    assert!(
        sent.len() <= MAX_SERVER_FLIGHT,
        "the server's output grew without bound"
    );
    let mut plaintext = Vec::new();
    server.poll_plaintext(&mut plaintext);
    if let Some(error) = server.error().cloned() {
        // A fatal error stays: more input changes nothing, and the alert is handed out once.
        server.receive(now, b"\x16\x03\x01\x00\x05hello");
        assert_eq!(server.error(), Some(&error), "the error changed");
        assert_eq!(
            server.poll_transmit(&mut sent),
            None,
            "output after the alert"
        );
        assert_eq!(
            server.poll_plaintext(&mut plaintext),
            None,
            "plaintext after failing"
        );
        assert!(!server.wants_read());
        assert_eq!(
            server.poll_timeout(),
            None,
            "a failed session keeps no deadline"
        );
    } else {
        // Still in the handshake: its deadline bounds a client that stops here.
        assert!(server.is_handshaking());
        let deadline = server.poll_timeout().expect("a handshake deadline");
        server.handle_timeout(deadline);
        assert_eq!(server.error(), Some(&TlsError::HandshakeTimeout));
    }
    RawOutcome {
        plaintext,
        error: server.error().cloned(),
        handshaking: server.is_handshaking(),
    }
}

fn check_through_tls(now: Instant, config: &TlsServerConfig, cert_pem: &[u8], bytes: &[u8]) {
    let plain = without_interim(serve_plain(now, bytes));
    let whole = without_interim(serve_over_tls(now, config, cert_pem, bytes, false));
    assert_eq!(whole, plain, "HTTP over TLS differs from HTTP");
    let split = without_interim(serve_over_tls(now, config, cert_pem, bytes, true));
    assert_eq!(
        split, plain,
        "HTTP over TLS, ciphertext split, differs from HTTP"
    );
    assert_http_responses_match_events(&whole.0, &whole.1);
}

/// A plain `HttpConn` fed `bytes` then EOF, answering every request with an empty 200.
fn serve_plain(now: Instant, bytes: &[u8]) -> (Vec<HttpEvent>, Vec<u8>) {
    let mut http = new_http(now);
    let mut events = Vec::new();
    let mut sent = Vec::new();
    http.receive(now, bytes);
    answer(&mut http, now, &mut events, &mut sent);
    http.receive_eof(now);
    answer(&mut http, now, &mut events, &mut sent);
    (events, sent)
}

/// The same through a client and server TLS session: the client sends `bytes` and closes; the
/// server's plaintext feeds an `HttpConn` whose answers go back through TLS. Returns the
/// server's events and what the client decrypted.
fn serve_over_tls(
    now: Instant,
    config: &TlsServerConfig,
    cert_pem: &[u8],
    bytes: &[u8],
    split: bool,
) -> (Vec<HttpEvent>, Vec<u8>) {
    let mut pair = Pair::new(now, config, cert_pem);
    pair.handshake(now);
    let mut http = new_http(now);
    let mut events = Vec::new();
    let mut received = Vec::new();
    pair.client.send(bytes);
    pair.client.close();
    let mut wire = Vec::new();
    pair.client.poll_transmit(&mut wire);
    let cuts: Vec<usize> = if split {
        (1..=SPLITS)
            .map(|i| wire.len() * i / (SPLITS + 1))
            .collect()
    } else {
        Vec::new()
    };
    let mut start = 0;
    let mut plaintext = Vec::new();
    let mut answer_bytes = Vec::new();
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        pair.server.receive(now, &wire[start..cut]);
        start = cut;
        while pair.server.poll_plaintext(&mut plaintext).is_some() {
            http.receive(now, &plaintext);
            plaintext.clear();
        }
        answer(&mut http, now, &mut events, &mut answer_bytes);
        pair.server.send(&answer_bytes);
        answer_bytes.clear();
    }
    assert_eq!(pair.server.error(), None, "a real client's records fail");
    assert!(
        pair.server.is_peer_closed(),
        "the client's close_notify is lost"
    );
    http.receive_eof(now);
    answer(&mut http, now, &mut events, &mut answer_bytes);
    pair.server.send(&answer_bytes);
    pair.server_to_client(now);
    pair.client.poll_plaintext(&mut received);
    assert_eq!(pair.client.error(), None, "the server's records fail");
    (events, received)
}

fn check_forged_records(now: Instant, config: &TlsServerConfig, cert_pem: &[u8], bytes: &[u8]) {
    let mut pair = Pair::new(now, config, cert_pem);
    pair.handshake(now);
    pair.server.receive(now, bytes);
    let mut plaintext = Vec::new();
    assert_eq!(
        pair.server.poll_plaintext(&mut plaintext),
        None,
        "forged records decrypted"
    );
    pair.server.receive_eof(now);
    assert!(!pair.server.wants_read(), "input after the end");
}

fn new_http(now: Instant) -> HttpConn {
    HttpConn::new(
        HttpConfig::default(),
        now,
        datetime!(2026-01-01 00:00:00 UTC),
    )
}

/// Answers every request with an empty 200 and collects events and output.
fn answer(http: &mut HttpConn, now: Instant, events: &mut Vec<HttpEvent>, sent: &mut Vec<u8>) {
    loop {
        http.poll_transmit(sent);
        let Some(event) = http.poll_event() else {
            return;
        };
        if let HttpEvent::Request(_) = event {
            let answered = http.respond(now, Response::new(200));
            assert!(answered.is_ok(), "a request event leaves a request pending");
        }
        events.push(event);
    }
}

/// The handshake deadline of the checker's sessions.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// A TLS 1.3 or 1.2 handshake takes two round trips; more rounds than this is a loop.
const HANDSHAKE_ROUNDS: usize = 8;
/// Raw inputs up to this size are also fed one byte per call.
const BYTE_BY_BYTE_LIMIT: usize = 1024;
/// The pieces the ciphertext is cut into, less one.
const SPLITS: usize = 4;
/// A server's whole first flight (hello, certificate, finished) and an alert fit in this.
const MAX_SERVER_FLIGHT: usize = 16 * 1024;
