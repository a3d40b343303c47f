//! Suite: load and faults on the way to the store: a UDP flood with garbage mixed in at the
//! socket server, and SIGTERM while many clients post. Neither may lose a message the server
//! confirmed (an acknowledgement, a 303), and the flood may not grow the server's memory
//! without bound.

use crate::proc_status::resident_kib;
use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::IO_TIMEOUT;
use crate::form;
use crate::server::{Launch, Server, Signal};
use crate::store;
use crate::temp::TempDir;

/// 100,000 datagrams, one in ten a valid message with an id and the rest garbage of every kind,
/// sent as fast as the socket takes them: the server stays up, every message it acknowledged
/// is stored once, and its resident memory grows by less than [`MAX_RSS_GROWTH_KIB`].
pub fn udp_flood_with_garbage_keeps_every_acknowledged_message(bin: &str) {
    let server = Launch::socket(bin, TempDir::new("udp_flood")).start();
    let rss_before = resident_kib(server.pid());
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket.connect(server.socket()).expect("connect");
    let acks = collect_acks(socket.try_clone().expect("clone the socket"));
    for i in 0..FLOOD_DATAGRAMS {
        let datagram = flood_datagram(i);
        // A full send buffer only drops datagrams, which the flood is allowed to lose.
        let _ = socket.send(&datagram);
    }
    // The server is still up: a last message is acknowledged (resent, as a web app would).
    let last = br#"{"id": "last", "username": "flood", "message": "last"}"#;
    let deadline = Instant::now() + IO_TIMEOUT;
    while !acks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains("last")
    {
        assert!(
            Instant::now() < deadline,
            "no ack for a message after the flood"
        );
        let _ = socket.send(last);
        thread::sleep(Duration::from_millis(100));
    }
    // Acks of the flood still on their way arrive before the last one's, in practice; wait for
    // the stream to go quiet anyway.
    thread::sleep(Duration::from_millis(500));
    let acked: BTreeSet<String> = acks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .into_iter()
        .collect();
    let rss_after = resident_kib(server.pid());
    let stored = store::read(server.store());
    let mut seen = HashSet::new();
    for entry in &stored {
        assert!(
            seen.insert(entry.message.clone()),
            "stored twice: {entry:?}"
        );
    }
    let missing: Vec<&String> = acked.iter().filter(|id| !seen.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages missing, e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
    assert!(
        acked.len() > 1,
        "the flood got no message through at all ({} stored)",
        stored.len()
    );
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < MAX_RSS_GROWTH_KIB,
        "resident memory grew by {growth} KiB ({rss_before} -> {rss_after})"
    );
    println!(
        "flood: {} acknowledged, {} stored, VmRSS {rss_before} -> {rss_after} KiB",
        acked.len(),
        stored.len()
    );
}

/// SIGTERM while [`POSTING_CLIENTS`] clients post as fast as they can: the server exits 0
/// within the grace period, and every message it answered 303 is in the store, once.
pub fn sigterm_under_load_loses_no_answered_message(bin: &str) {
    let server = Server::serve(bin, "sigterm_under_load");
    let addr = server.web();
    let store_path = server.store().to_path_buf();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..POSTING_CLIENTS)
        .map(|client| {
            let (stop, answered) = (stop.clone(), answered.clone());
            thread::spawn(move || {
                for round in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let message = format!("load {client}-{round}");
                    match try_post(addr, &message) {
                        Some(303) => answered
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(message),
                        Some(status) => panic!("{message}: answered {status} before shutdown"),
                        // Refused or cut off by the shutdown: never answered, may be lost.
                        None => return,
                    }
                }
            })
        })
        .collect();
    // Let the load build up: enough answers that some posts are surely in flight.
    let deadline = Instant::now() + IO_TIMEOUT;
    while answered.lock().unwrap_or_else(|e| e.into_inner()).len() < LOAD_BEFORE_SIGNAL {
        assert!(Instant::now() < deadline, "the load never got going");
        thread::sleep(Duration::from_millis(10));
    }
    let signalled = Instant::now();
    let stopped = server.stop(Signal::Term);
    let took = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        if let Err(panic) = client.join() {
            std::panic::resume_unwind(panic);
        }
    }
    assert_eq!(
        stopped.status.code(),
        Some(0),
        "exit after SIGTERM under load; stderr {:?}",
        stopped.stderr
    );
    assert!(
        took < SHUTDOWN_GRACE + SHUTDOWN_SLACK,
        "took {took:?} to stop under load"
    );
    let answered = answered.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let stored: Vec<String> = store::read(&store_path)
        .into_iter()
        .map(|e| e.message)
        .collect();
    let stored_set: HashSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "a message stored twice");
    let lost: Vec<&String> = answered
        .iter()
        .filter(|m| !stored_set.contains(m))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered messages lost, e.g. {:?}",
        lost.len(),
        answered.len(),
        lost.first()
    );
}

/// Datagram `i` of the flood: every tenth a valid message whose text is its id, the others
/// garbage in turn (bytes that are not UTF-8, truncated JSON, the wrong shapes, a large blob,
/// a form missing a field, an ack nobody asked for).
fn flood_datagram(i: usize) -> Vec<u8> {
    match i % 10 {
        0 => format!(r#"{{"id": "f{i}", "username": "flood", "message": "f{i}"}}"#).into_bytes(),
        1 => vec![0xff, 0xfe, (i % 251) as u8, 0x00, 0x80],
        2 => format!(r#"{{"id": "g{i}", "username": "flood", "mess"#).into_bytes(),
        3 => b"[1, 2, 3]".to_vec(),
        4 => vec![b'x'; 1400 + i % 100],
        5 => b"username=only".to_vec(),
        6 => format!(r#"{{"ack": "f{i}"}}"#).into_bytes(),
        7 => format!(r#"{{"id": {i}, "username": ["u"], "message": {{}}}}"#).into_bytes(),
        8 => Vec::new(),
        _ => format!(r#"{{"id": "h{i}", "username": "", "message": ""}}"#).into_bytes(),
    }
}

/// Reads acknowledgements on `socket` on a thread, for as long as the test runs; returns the
/// ids acknowledged so far.
fn collect_acks(socket: UdpSocket) -> Arc<Mutex<HashSet<String>>> {
    let acks = Arc::new(Mutex::new(HashSet::new()));
    let sink = acks.clone();
    let _ = socket.set_read_timeout(Some(IO_TIMEOUT));
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok(len) = socket.recv(&mut buf) {
            let Ok(value) = serde_json::from_slice::<Value>(&buf[..len]) else {
                continue;
            };
            if let Some(id) = value.get("ack").and_then(Value::as_str) {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.to_string());
            }
        }
    });
    acks
}

/// Posts `message` on a fresh connection; the status, or `None` when the connection was
/// refused or cut off before a whole status line came back.
fn try_post(addr: SocketAddr, message: &str) -> Option<u16> {
    let body = form::urlencoded(&[("username", "load"), ("message", message)]);
    let request = format!(
        "POST /message HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    // "HTTP/1.1 303 ...": the status is bytes 9 to 12.
    std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
}

/// The brief's flood size.
const FLOOD_DATAGRAMS: usize = 100_000;
/// What the flood may add to the server's resident memory: its buffers, the dedup window of
/// recent ids and the allocator's slack are a few MiB; a queue that grew with the flood would
/// take far more.
const MAX_RSS_GROWTH_KIB: u64 = 32 * 1024;
/// Clients posting during the shutdown: many connections in flight at once.
const POSTING_CLIENTS: usize = 20;
/// Answers before the signal is sent.
const LOAD_BEFORE_SIGNAL: usize = 50;
/// The servers' grace period for in-flight work (limits::SHUTDOWN_GRACE), and slack for a
/// loaded machine on top.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);
