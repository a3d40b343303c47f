//! Suite: the last lines of a connection (issue 12, item 10). A client whose connection the
//! server closes gets every line the server sent it before the close, its error or goodbye line
//! last, however far behind reading it was.

use std::fs;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::harness::{message, ChatServer, Peer, CLOSE_TIMEOUT};

/// A client that sends a line too long for the server and then shuts its sending side, while
/// more lines than the kernel's buffers hold wait for it unread, reads them all and then the
/// error line saying the line was too long, before the server closes the connection.
pub fn a_closing_client_gets_its_error_line_after_its_backlog(bin: &str) {
    let server = ChatServer::start(bin, "farewell_too_long", &[]);
    let (mut slow, _others) = backlogged(&server);
    let long = "x".repeat(20 * 1024);
    slow.say("slow", &long);
    slow.shutdown_write();
    let lines = slow.lines_until_closed();
    assert_backlog_then(&lines, "the line is longer than 16 KiB");
}

/// A client that falls silent while more lines than the kernel's buffers hold wait for it is
/// disconnected as idle, and still reads what was on its way and the error line saying why.
pub fn an_idle_client_gets_its_error_line_after_its_backlog(bin: &str) {
    let server = ChatServer::start(bin, "farewell_idle", &["--idle-timeout", "3s"]);
    // The witness keeps sending while the backlog builds, so `slow` is the first to be idle.
    let (slow, [_talker, mut witness]) = backlogged(&server);
    witness.expect(&json!({"type": "leave", "username": "slow"}));
    let lines = slow.lines_until_closed();
    assert_backlog_then(&lines, "nothing received for too long");
}

/// SIGTERM: a client far behind reading still gets the server's goodbye after what was on its
/// way, and the server exits 0.
pub fn sigterm_goodbye_reaches_a_client_behind_on_reading(bin: &str) {
    let server = ChatServer::start(bin, "farewell_sigterm", &[]);
    let (slow, _others) = backlogged(&server);
    server.terminate();
    let lines = slow.lines_until_closed();
    assert_backlog_then(&lines, "the server is shutting down");
    let status = server.exit_status();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
}

/// Joins `slow` and has another client send it messages it does not read, 200 KiB at a time,
/// until the kernel's buffers between it and the server are full (seen in `/proc/net/tcp`),
/// and then one more batch: so the server holds lines for it that no write can take now, but
/// far less than the 1 MiB that would disconnect it as too slow. Returns it once a third client
/// has every message, so the server has taken them all, with the talker and that witness: kept
/// connected, their leaves cannot come after the line a test waits for last.
fn backlogged(server: &ChatServer) -> (Peer, [Peer; 2]) {
    let slow = server.join("slow");
    let mut talker = server.join("talker");
    let mut witness = server.join("witness");
    let padding = "y".repeat(BACKLOG_LINE);
    let mut sent = 0;
    let mut in_kernel = 0;
    let mut full = false;
    loop {
        let mut burst = Vec::new();
        for _ in 0..BACKLOG_BATCH {
            let line = message("talker", &format!("{sent} {padding}"));
            burst.extend_from_slice(format!("{line}\n").as_bytes());
            sent += 1;
        }
        talker.send_raw(&burst);
        witness.expect(&message("talker", &format!("{} {padding}", sent - 1)));
        // The witness would be idle as long as `slow`; it stays the later one to go.
        witness.send_raw(b"\n");
        if full {
            println!("backlog: {sent} messages, {in_kernel} bytes in the kernel");
            return (slow, [talker, witness]);
        }
        let now_in_kernel = settled_in_kernel(server.address, slow.local_address());
        // A batch the kernel did not take (most of it) means its buffers are full.
        full = now_in_kernel < in_kernel + burst.len() / 2;
        in_kernel = now_in_kernel;
        assert!(
            sent < BACKLOG_MAX_MESSAGES,
            "the kernel took {in_kernel} bytes for a client that never reads and still more"
        );
    }
}

/// [`queued_in_kernel`] once it stops changing: the server may still be writing what the
/// witness already got.
fn settled_in_kernel(server: SocketAddr, client: SocketAddr) -> usize {
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    let mut last = queued_in_kernel(server, client);
    loop {
        thread::sleep(SETTLE_INTERVAL);
        let now = queued_in_kernel(server, client);
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Bytes in the kernel on their way from `server` to `client` over loopback: the server's
/// socket's send queue and the client's receive queue, as `/proc/net/tcp` lists them.
fn queued_in_kernel(server: SocketAddr, client: SocketAddr) -> usize {
    let table = fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let (server, client) = (proc_address(server), proc_address(client));
    let mut total = 0;
    for row in table.lines().skip(1) {
        let fields: Vec<&str> = row.split_whitespace().collect();
        let (Some(local), Some(remote), Some(queues)) =
            (fields.get(1), fields.get(2), fields.get(4))
        else {
            continue;
        };
        let Some((tx, rx)) = queues.split_once(':') else {
            continue;
        };
        let hex = |text: &str| usize::from_str_radix(text, 16).unwrap_or(0);
        if *local == server && *remote == client {
            total += hex(tx);
        } else if *local == client && *remote == server {
            total += hex(rx);
        }
    }
    total
}

/// An IPv4 address as `/proc/net/tcp` writes it: the address's bytes in host order, then the
/// port, both in hex.
fn proc_address(address: SocketAddr) -> String {
    let SocketAddr::V4(address) = address else {
        panic!("the suite binds 127.0.0.1, not {address}");
    };
    let ip = u32::from_ne_bytes(address.ip().octets());
    format!("{ip:08X}:{:04X}", address.port())
}

/// Checks that `lines` are the backlog's messages in order (a prefix: the hub may drop what it
/// had not handed out yet when it closes a client), ending with an error line containing
/// `reason`.
fn assert_backlog_then(lines: &[String], reason: &str) {
    let Some((last, before)) = lines.split_last() else {
        panic!("the server closed the connection without a line");
    };
    assert!(
        last.ends_with('\n'),
        "the stream ended inside line {} ({} bytes of it), with no error line after",
        lines.len(),
        last.len()
    );
    let last: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last:?}"));
    assert_eq!(
        last["type"],
        "error",
        "after {} lines: {last}",
        before.len()
    );
    let text = last["error"].as_str().unwrap_or("");
    assert!(text.contains(reason), "{last}");
    let mut next = 0;
    for line in before {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        if line["type"] == "join" || line["type"] == "leave" {
            continue;
        }
        let text = line["message"].as_str().unwrap_or("");
        assert!(
            text.starts_with(&format!("{next} ")),
            "message {next} expected: {line}"
        );
        next += 1;
    }
    // The backlog filled the kernel's buffers on the way: at least that much came first.
    assert!(next > 0, "none of the backlog arrived");
}

/// Messages sent to a backlogged client per batch, and the padding of each: about 200 KiB a
/// batch, a fifth of what the server queues for a client before it disconnects it.
const BACKLOG_BATCH: usize = 200;
const BACKLOG_LINE: usize = 960;
/// Far more than the kernel's largest buffers (4 MiB send, 32 MiB receive by default) take for
/// a client that never reads, whose receive window never opens.
const BACKLOG_MAX_MESSAGES: usize = 64 * 1024;
/// How often the kernel's queues are read until they stop changing.
const SETTLE_INTERVAL: Duration = Duration::from_millis(10);
