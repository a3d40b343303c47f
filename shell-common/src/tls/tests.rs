//! The blocking TLS stream over socket pairs: handshakes both ways, plaintext both ways while
//! two threads share one stream, the handshake deadline, refusals that are errors.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferry_core::tls::{client_config, server_config, Alpn, TlsSession};

use super::{SystemClock, TlsStream};

const CERT: &[u8] = include_bytes!("../../../core/src/tls/testdata/cert.pem");
const KEY: &[u8] = include_bytes!("../../../core/src/tls/testdata/key.pem");
const OTHER_CERT: &[u8] = include_bytes!("../../../core/src/tls/testdata/other_cert.pem");

fn server_session(timeout: Duration) -> TlsSession {
    let config = server_config(CERT, KEY, Alpn::Http11, Arc::new(SystemClock)).expect("fixture");
    TlsSession::server(&config, Instant::now(), timeout).expect("session")
}

fn client_session(roots: &[u8]) -> TlsSession {
    let config = client_config(Some(roots), Alpn::Http11, Arc::new(SystemClock)).expect("roots");
    TlsSession::client(&config, "localhost", Instant::now(), Duration::from_secs(5))
        .expect("session")
}

/// A connected client and server stream.
fn pair() -> (TlsStream<UnixStream>, TlsStream<UnixStream>) {
    let (a, b) = UnixStream::pair().expect("socket pair");
    let server = thread::spawn(move || {
        TlsStream::handshake(b, server_session(Duration::from_secs(5))).expect("server handshake")
    });
    let client = TlsStream::handshake(a, client_session(CERT)).expect("client handshake");
    (client, server.join().expect("server thread"))
}

#[test]
fn plaintext_flows_both_ways_and_close_is_eof() {
    let (mut client, mut server) = pair();
    assert_eq!(server.alpn_protocol().as_deref(), Some(&b"http/1.1"[..]));
    client.write_all(b"ping").expect("write");
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"ping");
    server.write_all(b"pong").expect("write");
    server.shutdown(Shutdown::Write).expect("close");
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("read to the end");
    assert_eq!(rest, b"pong");
}

#[test]
fn a_reader_and_a_writer_thread_share_one_stream() {
    let (mut client, server) = pair();
    let mut reader = server.try_clone().expect("clone");
    let mut writer = server;
    let lines = 2000;
    let echo = thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.len() < lines * 8 {
            let n = reader.read(&mut buf).expect("read");
            assert!(n > 0, "early end");
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    let talker = thread::spawn(move || {
        for i in 0..lines {
            writer
                .write_all(format!("{i:07}\n").as_bytes())
                .expect("write");
        }
        writer
    });
    // The client reads on a thread of its own, as every ferry client does: a peer that only
    // writes while we write to it would block both sides.
    let mut client_reader = client.try_clone().expect("clone");
    let listener = thread::spawn(move || {
        let mut heard = vec![0u8; lines * 8];
        client_reader.read_exact(&mut heard).expect("client read");
        heard
    });
    let mut sent = Vec::new();
    for i in 0..lines {
        let line = format!("{i:07}\n");
        client.write_all(line.as_bytes()).expect("client write");
        sent.extend_from_slice(line.as_bytes());
    }
    let heard = listener.join().expect("client reader");
    assert_eq!(echo.join().expect("reader"), sent);
    assert_eq!(heard, sent, "the writer's records arrive in order");
    drop(talker.join());
}

#[test]
fn a_client_that_says_nothing_fails_the_handshake_at_its_deadline() {
    let (_silent, b) = UnixStream::pair().expect("socket pair");
    let started = Instant::now();
    let error = TlsStream::handshake(b, server_session(Duration::from_millis(200)))
        .err()
        .expect("timed out");
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn a_client_refuses_an_untrusted_server_with_one_line() {
    let (a, b) = UnixStream::pair().expect("socket pair");
    let server = thread::spawn(move || {
        TlsStream::handshake(b, server_session(Duration::from_secs(5))).err()
    });
    let error = TlsStream::handshake(a, client_session(OTHER_CERT))
        .err()
        .expect("refused");
    let text = error.to_string();
    assert!(text.contains("not signed by a trusted authority"), "{text}");
    assert!(!text.contains('\n'));
    assert!(
        server.join().expect("server").is_some(),
        "the server sees the alert"
    );
}

#[test]
fn plain_text_to_a_tls_server_is_an_error_not_a_hang() {
    let (mut a, b) = UnixStream::pair().expect("socket pair");
    a.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    let error = TlsStream::handshake(b, server_session(Duration::from_secs(5)))
        .err()
        .expect("refused");
    assert!(error.to_string().contains("not TLS"), "{error}");
}

#[test]
fn a_generated_certificate_serves_and_verifies_for_its_names() {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let (cert, key) = super::cert::generate(&names, time::OffsetDateTime::now_utc()).expect("made");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(key.contains("PRIVATE KEY"));
    let server = server_config(
        cert.as_bytes(),
        key.as_bytes(),
        Alpn::None,
        Arc::new(SystemClock),
    )
    .expect("serves");
    let client =
        client_config(Some(cert.as_bytes()), Alpn::None, Arc::new(SystemClock)).expect("roots");
    for name in ["localhost", "127.0.0.1"] {
        let (a, b) = UnixStream::pair().expect("socket pair");
        let session =
            TlsSession::server(&server, Instant::now(), Duration::from_secs(5)).expect("s");
        let accept = thread::spawn(move || TlsStream::handshake(b, session).map(|_| ()));
        let session =
            TlsSession::client(&client, name, Instant::now(), Duration::from_secs(5)).expect("c");
        let _client = TlsStream::handshake(a, session).unwrap_or_else(|e| panic!("{name}: {e}"));
        accept.join().expect("thread").expect("server side");
    }
}
