//! Suite: the web app and the socket server apart (SPEC, "Datagram protocol"): as two
//! processes, against a silent or a fake socket server, and the socket server fed datagrams
//! directly (acknowledgement after storage, dedup by id, the original app's urlencoded form,
//! messages without id, malformed datagrams).
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary. Fake peers are plain
//! `UdpSocket`s on port 0 with read timeouts, so a missing datagram fails instead of hanging.

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::check;
use crate::client::IO_TIMEOUT;
use crate::fixture;
use crate::post::post_form;
use crate::server::Launch;
use crate::store;
use crate::temp::TempDir;

/// `socket` and `http` as two processes: a post through the web app lands in the socket
/// server's store before the 303.
pub fn http_and_socket_run_as_separate_processes(bin: &str) {
    let socket = Launch::socket(bin, TempDir::new("separate_processes_socket")).start();
    let dir = fixture::sandbox("separate_processes_http");
    let web = Launch::http(bin, dir, socket.socket()).start();
    let response = post_form(
        web.web(),
        &[("username", "split"), ("message", "two processes")],
    );
    check::status(&response, 303, "POST through the separate web app");
    assert_eq!(
        store::pairs(&store::read(socket.store())),
        [("split".to_string(), "two processes".to_string())]
    );
}

/// With no socket server answering (one that never acknowledges, and a port nobody listens
/// on), a post gets 503 once `--ack-timeout` has passed; the datagrams sent carry an `id`, the
/// username and the message.
pub fn absent_socket_server_gives_503(bin: &str) {
    let silent = udp_socket();
    let dir = fixture::sandbox("absent_socket_server_gives_503");
    let web = Launch::http(bin, dir, local_addr(&silent))
        .flag("--ack-timeout", "300ms")
        .start();
    let started = Instant::now();
    let response = post_form(
        web.web(),
        &[("username", "lost"), ("message", "nobody home")],
    );
    let waited = started.elapsed();
    check::status(&response, 503, "POST with a silent socket server");
    assert!(
        response.text().contains("may or may not have been saved"),
        "the 503 page must say the message may or may not be stored: {:?}",
        response.text()
    );
    assert!(
        waited >= Duration::from_millis(250),
        "503 after {waited:?}, before the ack timeout"
    );
    let (datagram, _) = receive_json(&silent);
    assert!(
        datagram["id"].is_string(),
        "datagram without a string id: {datagram}"
    );
    assert_eq!(
        (&datagram["username"], &datagram["message"]),
        (&json!("lost"), &json!("nobody home")),
        "datagram: {datagram}"
    );

    let closed_port = local_addr(&udp_socket());
    let dir = fixture::sandbox("absent_socket_server_gives_503_closed");
    let web = Launch::http(bin, dir, closed_port)
        .flag("--ack-timeout", "300ms")
        .start();
    for round in 0..2 {
        let response = post_form(
            web.web(),
            &[("username", "lost"), ("message", "port closed")],
        );
        check::status(
            &response,
            503,
            &format!("POST {round} to a port nobody listens on"),
        );
    }
}

/// The web app retransmits until it gets the acknowledgement for its own id: a fake socket
/// server answers the first copy with a wrong ack and garbage, and acknowledges the second.
pub fn web_app_retransmits_until_acknowledged(bin: &str) {
    let fake = udp_socket();
    let fake_addr = local_addr(&fake);
    let peer = thread::spawn(move || {
        let (first, from) = receive_json(&fake);
        for junk in [&br#"{"ack": "not-this-one"}"#[..], b"garbage", b"{}"] {
            fake.send_to(junk, from).expect("send junk");
        }
        let (second, from) = receive_json(&fake);
        assert_eq!(first, second, "a retransmission must repeat the datagram");
        let ack = json!({ "ack": second["id"] }).to_string();
        fake.send_to(ack.as_bytes(), from).expect("send ack");
        first
    });
    let dir = fixture::sandbox("web_app_retransmits_until_acknowledged");
    let web = Launch::http(bin, dir, fake_addr)
        .flag("--ack-timeout", "4s")
        .start();
    let response = post_form(
        web.web(),
        &[("username", "again"), ("message", "and again")],
    );
    let datagram = match peer.join() {
        Ok(datagram) => datagram,
        Err(_) => panic!(
            "the fake socket server saw no retransmission (the web app answered {} instead)",
            response.status
        ),
    };
    check::status(&response, 303, "POST acknowledged on the second copy");
    assert_eq!(
        (&datagram["username"], &datagram["message"]),
        (&json!("again"), &json!("and again"))
    );
}

/// The socket server acknowledges `{"ack": id}` only once the record is in the file, and
/// stores a repeated id once while acknowledging every copy.
pub fn socket_server_acknowledges_stored_messages_once_per_id(bin: &str) {
    let server = Launch::socket(bin, TempDir::new("socket_server_acks_once_per_id")).start();
    let client = udp_socket();
    let datagram = json!({"id": "t-1", "username": "udp", "message": "straight in"}).to_string();
    for copy in 0..3 {
        client
            .send_to(datagram.as_bytes(), server.socket())
            .expect("send datagram");
        let (ack, _) = receive_json(&client);
        assert_eq!(ack, json!({"ack": "t-1"}), "acknowledgement of copy {copy}");
        let stored = store::pairs(&store::read(server.store()));
        assert_eq!(
            stored,
            [("udp".to_string(), "straight in".to_string())],
            "after copy {copy}"
        );
    }
    let other = json!({"id": "t-2", "username": "udp", "message": "straight in"}).to_string();
    client
        .send_to(other.as_bytes(), server.socket())
        .expect("send datagram");
    assert_eq!(receive_json(&client).0, json!({"ack": "t-2"}));
    assert_eq!(
        store::read(server.store()).len(),
        2,
        "a new id is a new message"
    );
}

/// The original app's urlencoded datagram and a JSON object without `id` are stored and not
/// acknowledged.
pub fn socket_server_stores_messages_without_id_unacknowledged(bin: &str) {
    let server = Launch::socket(bin, TempDir::new("socket_server_without_id")).start();
    let client = udp_socket();
    client
        .send_to(b"username=py+app&message=hello+%26+bye", server.socket())
        .expect("send");
    let plain = json!({"username": "no id", "message": "best effort"}).to_string();
    client
        .send_to(plain.as_bytes(), server.socket())
        .expect("send");
    let stored = store::read_when(server.store(), 2, IO_TIMEOUT);
    let mut pairs = store::pairs(&stored);
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("no id".to_string(), "best effort".to_string()),
            ("py app".to_string(), "hello & bye".to_string())
        ]
    );
    // The next datagram back must be this ack: the two above were not acknowledged.
    let last = json!({"id": "after", "username": "u", "message": "m"}).to_string();
    client
        .send_to(last.as_bytes(), server.socket())
        .expect("send");
    assert_eq!(receive_json(&client).0, json!({"ack": "after"}));
}

/// Malformed datagrams are ignored: no answer, nothing stored, and the server goes on.
pub fn socket_server_ignores_malformed_datagrams(bin: &str) {
    let server = Launch::socket(bin, TempDir::new("socket_server_malformed")).start();
    let client = udp_socket();
    let junk: [&[u8]; 8] = [
        b"",
        b"{",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        b"\"just a string\"",
        br#"{"id": "no-fields"}"#,
        br#"{"id": 7, "username": ["u"], "message": {"m": 1}}"#,
        b"username=only",
    ];
    for datagram in junk {
        client
            .send_to(datagram, server.socket())
            .expect("send junk");
    }
    let good = json!({"id": "good", "username": "still", "message": "alive"}).to_string();
    client
        .send_to(good.as_bytes(), server.socket())
        .expect("send");
    assert_eq!(
        receive_json(&client).0,
        json!({"ack": "good"}),
        "first answer after the junk"
    );
    assert_eq!(
        store::pairs(&store::read(server.store())),
        [("still".to_string(), "alive".to_string())]
    );
}

fn udp_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on port 0");
    // Unwrap: fails only for a zero duration, which IO_TIMEOUT is not.
    socket
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");
    socket
}

fn local_addr(socket: &UdpSocket) -> SocketAddr {
    socket
        .local_addr()
        .expect("local address of a bound socket")
}

/// Receives one datagram and parses it as JSON; panics on timeout or non-JSON.
fn receive_json(socket: &UdpSocket) -> (Value, SocketAddr) {
    let mut buf = [0u8; 65_536];
    let (len, from) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no datagram within {IO_TIMEOUT:?}: {e}"));
    let value = serde_json::from_slice(&buf[..len]).unwrap_or_else(|e| {
        panic!(
            "datagram is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&buf[..len])
        )
    });
    (value, from)
}
