//! Suite: the promise "sent means stored, once" under faults (SPEC, "Datagram protocol" and
//! "Storage"): a lossy relay between the web app and the socket server that drops, duplicates
//! and reorders datagrams in both directions, and a socket server killed with SIGKILL while
//! messages keep coming, then restarted on the same port and file.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary. The relay's faults come
//! from a seeded generator, so a failure replays the same schedule.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::fixture;
use crate::post::post_form;
use crate::relay::{Faults, Relay};
use crate::server::{Launch, Server};
use crate::store;
use crate::temp::TempDir;

/// 1,000 posts through a relay that drops 30%, duplicates 10% and reorders datagrams both ways:
/// every post answered 303 is stored exactly once, and no message is ever stored twice.
pub fn lossy_relay_loses_nothing_and_stores_nothing_twice(bin: &str) {
    let socket = Launch::socket(bin, TempDir::new("lossy_relay_socket")).start();
    let relay = Relay::start(
        socket.socket(),
        Faults {
            drop: 0.30,
            duplicate: 0.10,
            reorder: 0.10,
        },
    );
    let web = Launch::http(bin, fixture::sandbox("lossy_relay_http"), relay.address()).start();
    let answers = post_many(web.web(), RELAY_POSTS, POSTING_THREADS, |_| true);
    relay.stop();

    let stored = store::read(socket.store());
    let counts = count_messages(&stored);
    let duplicated: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "stored more than once: {duplicated:?}"
    );
    let mut accepted = 0;
    for (message, status) in &answers {
        match status {
            303 => {
                accepted += 1;
                assert_eq!(
                    counts.get(message),
                    Some(&1),
                    "{message} got 303 but is not stored once"
                );
            }
            // An ack lost every time: the message may or may not be stored, never twice.
            503 => {}
            other => panic!("{message}: unexpected status {other}"),
        }
    }
    assert_eq!(answers.len(), RELAY_POSTS);
    // With 30% loss each way and retransmits for 2 s, nearly every post gets through.
    assert!(
        accepted * 100 >= RELAY_POSTS * 95,
        "only {accepted} of {RELAY_POSTS} posts got 303"
    );
    eprintln!(
        "lossy relay: {accepted} of {RELAY_POSTS} got 303; {}",
        relay.summary()
    );
}

/// The socket server is killed with SIGKILL while posts keep coming, then restarted on the same
/// port and file: the file parses, holds every message that was answered 303, and none twice
/// (messages stored just before the kill are recognised by their ids when retransmitted).
pub fn killed_socket_server_keeps_every_acknowledged_message(bin: &str) {
    killed_socket_server_keeps_every_acknowledged_message_over(bin, "udp");
}

/// The same over `--transport tcp`: the web app reconnects to the restarted server and resends
/// what was in flight.
pub fn killed_tcp_socket_server_keeps_every_acknowledged_message(bin: &str) {
    killed_socket_server_keeps_every_acknowledged_message_over(bin, "tcp");
}

fn killed_socket_server_keeps_every_acknowledged_message_over(bin: &str, transport: &str) {
    let first = Launch::socket(bin, TempDir::new("killed_socket_server"))
        .flag("--transport", transport)
        .start();
    let port = first.socket().port();
    let store_path = first.store().to_path_buf();
    let web = Launch::http(bin, fixture::sandbox("killed_socket_http"), first.socket())
        .flag("--ack-timeout", "3s")
        .flag("--transport", transport)
        .start();

    let posting = Arc::new(AtomicBool::new(true));
    let keep_posting = posting.clone();
    let web_address = web.web();
    let poster = thread::spawn(move || {
        post_many(web_address, usize::MAX, POSTING_THREADS, move |_| {
            keep_posting.load(Ordering::SeqCst)
        })
    });
    wait_for_entries(&store_path, 50);
    let mut first = first;
    kill_hard(&mut first);
    // Posts go on meanwhile: they wait on retransmits, then reach the restarted server.
    let restarted = Launch::socket(bin, TempDir::new("killed_socket_server_again"))
        .flag("--transport", transport)
        .flag("--socket", format!("127.0.0.1:{port}"))
        .flag("--store", &store_path)
        .start();
    let before = wait_for_entries(&store_path, 0);
    wait_for_entries(&store_path, before + 50);
    posting.store(false, Ordering::SeqCst);
    let answers = poster.join().expect("posting threads");

    let stored = store::read(&store_path);
    let counts = count_messages(&stored);
    let acknowledged: Vec<_> = answers
        .iter()
        .filter(|(_, status)| *status == 303)
        .collect();
    assert!(
        acknowledged.len() >= 100,
        "too few posts went through: {}",
        acknowledged.len()
    );
    for (message, _) in &acknowledged {
        assert!(
            counts.contains_key(message),
            "{message} got 303 but is missing after the crash"
        );
    }
    for (message, status) in &answers {
        assert!(
            matches!(status, 303 | 503),
            "{message}: unexpected status {status}"
        );
    }
    eprintln!(
        "killed {transport} socket server: {} posts, {} got 303, {} entries stored, none twice",
        answers.len(),
        acknowledged.len(),
        stored.len()
    );
    drop(restarted);
    drop(first);
}

/// Two web apps forward to one socket server at once: their message ids never collide (a
/// collision would make the server take one app's message for a copy of the other's), so every
/// post of both is stored once.
pub fn two_web_apps_share_one_socket_server(bin: &str) {
    let socket = Launch::socket(bin, TempDir::new("two_web_apps_socket")).start();
    let first = Launch::http(bin, fixture::sandbox("two_web_apps_a"), socket.socket()).start();
    let second = Launch::http(bin, fixture::sandbox("two_web_apps_b"), socket.socket()).start();
    let (a, b) = (first.web(), second.web());
    let from_second = thread::spawn(move || post_many(b, SHARED_POSTS, 4, |_| true));
    let mut answers = post_many(a, SHARED_POSTS, 4, |_| true);
    let second_answers = from_second.join().expect("second web app's posts");
    // Both apps number their messages alike; tell them apart by which app sent them.
    answers.extend(
        second_answers
            .into_iter()
            .map(|(m, s)| (format!("{m} (b)"), s)),
    );
    assert!(
        answers.iter().all(|(_, status)| *status == 303),
        "every post is stored"
    );
    let stored = store::read(socket.store());
    assert_eq!(
        stored.len(),
        2 * SHARED_POSTS,
        "each app's messages are all stored, once"
    );
    let counts = count_messages(&stored);
    assert!(
        counts.values().all(|&n| n == 2),
        "message texts are stored once per app: {counts:?}"
    );
}

/// A second socket server pointed at the same file refuses to start, in one line naming the
/// lock, and the first one keeps storing.
pub fn second_socket_server_on_the_same_file_refuses(bin: &str) {
    let first = Launch::socket(bin, TempDir::new("same_file_first")).start();
    let exit = Launch::socket(bin, TempDir::new("same_file_second"))
        .flag("--store", first.store())
        .run();
    assert!(!exit.status.success(), "the second socket server started");
    let lines: Vec<&str> = exit.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {:?}", exit.stderr);
    assert!(lines[0].contains("in use"), "names the lock: {}", lines[0]);
    let web = Launch::http(bin, fixture::sandbox("same_file_http"), first.socket()).start();
    let response = post_form(
        web.web(),
        &[("username", "first"), ("message", "still mine")],
    );
    assert_eq!(response.status, 303);
    assert_eq!(store::read(first.store()).len(), 1);
}

/// Datagrams of the largest size UDP carries (65,507 bytes), garbage and valid, never stop the
/// socket server: the garbage is dropped, the valid one stored and acknowledged.
pub fn largest_datagrams_never_stop_the_socket_server(bin: &str) {
    let server = Launch::socket(bin, TempDir::new("largest_datagrams")).start();
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(FAULT_TIMEOUT))
        .expect("timeout");
    let garbage = vec![b'{'; MAX_UDP_PAYLOAD];
    client
        .send_to(&garbage, server.socket())
        .expect("send garbage");
    let head = r#"{"id":"big-1","username":"big","message":""#;
    let filler = "m".repeat(MAX_UDP_PAYLOAD - head.len() - 2);
    let big = format!("{head}{filler}\"}}");
    assert_eq!(big.len(), MAX_UDP_PAYLOAD);
    client
        .send_to(big.as_bytes(), server.socket())
        .expect("send the largest message");
    let mut buf = [0u8; 256];
    let (n, _) = client
        .recv_from(&mut buf)
        .expect("an ack for the largest message");
    assert_eq!(&buf[..n], br#"{"ack":"big-1"}"#);
    let stored = store::read(server.store());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message.len(), filler.len());
}

/// Posts `count` distinct messages from `threads` threads while `go_on(i)` holds; returns each
/// message with the status it got. Also used by the MongoDB suite.
pub(crate) fn post_many(
    web: SocketAddr,
    count: usize,
    threads: usize,
    go_on: impl Fn(usize) -> bool + Send + Sync + 'static,
) -> Vec<(String, u16)> {
    let next = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let go_on = Arc::new(go_on);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (next, answers, go_on) = (next.clone(), answers.clone(), go_on.clone());
            thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count || !go_on(i) {
                    return;
                }
                let message = format!("message number {i}");
                let status =
                    post_form(web, &[("username", "faults"), ("message", &message)]).status;
                answers.lock().expect("answers").push((message, status));
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("posting thread");
    }
    let answers = answers.lock().expect("answers").clone();
    answers
}

fn count_messages(entries: &[store::Entry]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for entry in entries {
        *counts.entry(entry.message.clone()).or_insert(0) += 1;
    }
    counts
}

/// Waits until the store holds at least `count` entries (bounded) and returns how many it held.
///
/// The server is appending meanwhile, and a reader that takes the file in several reads can get
/// the old closing from one and the new tail from the next; such a torn read is retried. The
/// final checks read the file once the server is quiet.
fn wait_for_entries(path: &std::path::Path, count: usize) -> usize {
    let deadline = Instant::now() + FAULT_TIMEOUT;
    loop {
        let held = std::fs::read(path)
            .ok()
            .and_then(|bytes| store::parse(&bytes).ok());
        match held {
            Some(entries) if entries.len() >= count => return entries.len(),
            _ if Instant::now() >= deadline => panic!("the store never held {count} entries"),
            _ => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn kill_hard(server: &mut Server) {
    let status = Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL failed");
    let deadline = Instant::now() + FAULT_TIMEOUT;
    while server.is_running() {
        assert!(Instant::now() < deadline, "server survived SIGKILL");
        thread::sleep(Duration::from_millis(5));
    }
}

const RELAY_POSTS: usize = 1_000;
const SHARED_POSTS: usize = 100;
/// The largest UDP payload over IPv4.
const MAX_UDP_PAYLOAD: usize = 65_507;
const POSTING_THREADS: usize = 16;
/// Bounds every wait of these tests; a healthy run needs a fraction of it.
const FAULT_TIMEOUT: Duration = Duration::from_secs(20);
