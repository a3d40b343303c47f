//! Suite: `--transport tcp` (SPEC, "Datagram protocol"): the same messages as newline-delimited
//! JSON over one persistent connection from each web app, each acknowledged by a line. In one
//! process (`serve`), as two processes, against the socket server directly, and across a
//! socket server killed with SIGKILL and restarted on the same port while the web app runs.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary. Sockets have read
//! timeouts and every wait has a deadline, so a missing answer fails instead of hanging.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::check;
use crate::client::IO_TIMEOUT;
use crate::fixture;
use crate::post::post_form;
use crate::server::{Launch, Server};
use crate::store;
use crate::temp::TempDir;

/// `serve --transport tcp`: a post is stored before the 303, and the socket server's address
/// takes TCP connections.
pub fn serve_over_tcp_stores_then_redirects(bin: &str) {
    let server = Launch::serve(bin, fixture::sandbox("serve_over_tcp"))
        .flag("--transport", "tcp")
        .start();
    for round in 0..3 {
        let text = format!("over tcp {round}");
        let response = post_form(server.web(), &[("username", "stream"), ("message", &text)]);
        check::status(&response, 303, &format!("POST {round} over tcp"));
    }
    let stored = store::pairs(&store::read(server.store()));
    let expected: Vec<(String, String)> = (0..3)
        .map(|round| ("stream".to_string(), format!("over tcp {round}")))
        .collect();
    assert_eq!(stored, expected);
    TcpStream::connect_timeout(&server.socket(), IO_TIMEOUT)
        .expect("the tcp socket server takes connections");
}

/// `socket` and `http` as two processes over tcp.
pub fn http_and_socket_over_tcp_as_separate_processes(bin: &str) {
    let socket = Launch::socket(bin, TempDir::new("tcp_separate_socket"))
        .flag("--transport", "tcp")
        .start();
    let web = Launch::http(bin, fixture::sandbox("tcp_separate_http"), socket.socket())
        .flag("--transport", "tcp")
        .start();
    let response = post_form(
        web.web(),
        &[("username", "split"), ("message", "two over tcp")],
    );
    check::status(&response, 303, "POST through the separate web app over tcp");
    assert_eq!(
        store::pairs(&store::read(socket.store())),
        [("split".to_string(), "two over tcp".to_string())]
    );
}

/// The tcp socket server read as a peer would: a line per message, whatever the pieces it
/// arrives in; `{"ack": id}` lines once stored; a repeated id stored once and acked again;
/// junk lines ignored; an over-long line closes that stream and nothing else.
pub fn tcp_socket_server_acks_lines_once_per_id(bin: &str) {
    let server = Launch::socket(bin, TempDir::new("tcp_acks_lines"))
        .flag("--transport", "tcp")
        .start();
    let mut peer = LinePeer::connect(server.socket());
    let line = json!({"id": "t-1", "username": "tcp", "message": "line one"}).to_string();
    // The first copy in two pieces, then junk, then the copy again whole.
    let (head, tail) = line.split_at(10);
    peer.send(head.as_bytes());
    peer.send(format!("{tail}\n").as_bytes());
    assert_eq!(peer.receive(), json!({"ack": "t-1"}));
    peer.send(b"{not json\n\n\xff\xfe\nusername=only\n");
    peer.send(format!("{line}\r\n").as_bytes());
    assert_eq!(
        peer.receive(),
        json!({"ack": "t-1"}),
        "the copy is acked again"
    );
    let other = json!({"id": "t-2", "username": "tcp", "message": "line two"}).to_string();
    let third = json!({"id": "t-3", "username": "tcp", "message": "line three"}).to_string();
    peer.send(format!("{other}\n{third}\n").as_bytes());
    let mut acks = [peer.receive(), peer.receive()];
    acks.sort_by_key(Value::to_string);
    assert_eq!(acks, [json!({"ack": "t-2"}), json!({"ack": "t-3"})]);
    assert_eq!(
        store::pairs(&store::read(server.store())),
        [
            ("tcp".to_string(), "line one".to_string()),
            ("tcp".to_string(), "line two".to_string()),
            ("tcp".to_string(), "line three".to_string()),
        ]
    );

    let mut flooder = LinePeer::connect(server.socket());
    // Past the longest line (one datagram, 65,507 bytes) without a line end.
    let endless = vec![b'x'; 70_000];
    let _ = flooder.stream.write_all(&endless);
    flooder.expect_closed();
    let last = json!({"id": "t-4", "username": "tcp", "message": "still here"}).to_string();
    peer.send(format!("{last}\n").as_bytes());
    assert_eq!(peer.receive(), json!({"ack": "t-4"}), "other streams go on");
}

/// The socket server killed with SIGKILL and restarted on the same port while the web app
/// runs: a post during the outage gets 503 after `--ack-timeout`; the web app reconnects by
/// itself and posts succeed again; a post in flight while the socket server comes back is
/// stored; nothing is stored twice.
pub fn web_app_survives_a_socket_server_restart_over_tcp(bin: &str) {
    let store_dir = TempDir::new("tcp_restart_store");
    let store_path = store_dir.join("data.json");
    let start_socket = |label: &str, address: &str| {
        Launch::socket(bin, TempDir::new(label))
            .flag("--transport", "tcp")
            .flag("--socket", address)
            .flag("--store", &store_path)
            .start()
    };
    let socket = start_socket("tcp_restart_socket_1", "127.0.0.1:0");
    let address = socket.socket();
    let web = Launch::http(bin, fixture::sandbox("tcp_restart_http"), address)
        .flag("--transport", "tcp")
        .flag("--ack-timeout", "3s")
        .start();
    let mut acknowledged = Vec::new();
    let mut post = |text: &str| {
        let response = post_form(web.web(), &[("username", "restart"), ("message", text)]);
        if response.status == 303 {
            acknowledged.push(text.to_string());
        }
        response.status
    };
    assert_eq!(post("before the kill"), 303);

    kill_hard(socket);
    let started = Instant::now();
    assert_eq!(
        post("during the outage"),
        503,
        "POST with the socket server down"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(2_500),
        "503 after {:?}, before the ack timeout",
        started.elapsed()
    );

    let socket = start_socket("tcp_restart_socket_2", &address.to_string());
    let deadline = Instant::now() + RECOVERY_BOUND;
    let mut attempt = 0;
    while post(&format!("after the restart {attempt}")) != 303 {
        assert!(
            Instant::now() < deadline,
            "no post got through within {RECOVERY_BOUND:?} of the restart"
        );
        attempt += 1;
    }

    kill_hard(socket);
    let in_flight = {
        let web_address = web.web();
        thread::spawn(move || {
            let text = "in flight across the restart";
            let response = post_form(web_address, &[("username", "restart"), ("message", text)]);
            (response.status, text.to_string())
        })
    };
    let socket = start_socket("tcp_restart_socket_3", &address.to_string());
    let (status, text) = in_flight.join().expect("the posting thread");
    assert_eq!(
        status, 303,
        "a POST in flight while the socket server came back"
    );
    acknowledged.push(text);

    let stored = store::pairs(&store::read(socket.store()));
    let mut messages: Vec<String> = stored.into_iter().map(|(_, message)| message).collect();
    let total = messages.len();
    messages.sort();
    messages.dedup();
    assert_eq!(
        messages.len(),
        total,
        "a message was stored twice: {messages:?}"
    );
    for text in &acknowledged {
        assert!(
            messages.contains(text),
            "acknowledged but not stored: {text}"
        );
    }
    assert!(
        !messages.iter().any(|text| text == "during the outage"),
        "the outage's message reached no socket server"
    );
}

/// A test's end of a TCP stream to the socket server, reading lines with a timeout.
struct LinePeer {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl LinePeer {
    fn connect(address: SocketAddr) -> LinePeer {
        let stream = TcpStream::connect_timeout(&address, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot connect to the socket server at {address}: {e}"));
        // Unwraps on set-up calls: they fail only for a zero duration, which IO_TIMEOUT is not.
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        LinePeer { stream, reader }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .expect("send to the socket server");
    }

    /// The next line, parsed as JSON; panics on timeout, EOF or non-JSON.
    fn receive(&mut self) -> Value {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => panic!("the socket server closed the stream"),
            Ok(_) => serde_json::from_str(line.trim_end())
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}")),
            Err(e) => panic!("no line within {IO_TIMEOUT:?}: {e}"),
        }
    }

    /// Waits for the socket server to close the stream (EOF or reset).
    fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match std::io::Read::read_to_end(&mut self.reader, &mut rest) {
            Ok(_) => assert!(rest.is_empty(), "unexpected answer: {rest:?}"),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("the stream is still open after {IO_TIMEOUT:?}")
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                panic!("the stream is still open after {IO_TIMEOUT:?}")
            }
            // A reset is a close too.
            Err(_) => {}
        }
    }
}

/// Kills `server` with SIGKILL (no chance to finish anything) and waits until it is gone.
fn kill_hard(mut server: Server) {
    let sent = Command::new("kill")
        .arg("-KILL")
        .arg(server.pid().to_string())
        .status();
    assert!(
        matches!(sent, Ok(s) if s.success()),
        "kill -KILL failed: {sent:?}"
    );
    let deadline = Instant::now() + IO_TIMEOUT;
    while server.is_running() {
        assert!(Instant::now() < deadline, "still running after SIGKILL");
        thread::sleep(Duration::from_millis(10));
    }
}

/// How long after the socket server is back a post must get through: the web app's reconnect
/// backoff is at most 2 s and each post waits up to its 3 s ack timeout, so two or three posts,
/// with slack for a machine shared with builds.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);
