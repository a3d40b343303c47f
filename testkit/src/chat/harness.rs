//! The chat suite's harness: a `chat` server started from the binary under test, and a raw
//! client speaking the JSON lines itself, with read timeouts so a hang fails instead of blocking.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::child::{forward_stdout, kill_and_reap, take_stderr, take_stdout, wait_until, Capture};
use crate::temp::TempDir;

/// A running `chat` server; killed and reaped when dropped.
pub(crate) struct ChatServer {
    child: Child,
    pub(crate) address: SocketAddr,
    /// How many clients the server said it holds at once.
    pub(crate) capacity: usize,
    /// The web port's address (with `--web`).
    pub(crate) web: Option<SocketAddr>,
    /// The server's working folder, where its store is; `None` only while it restarts.
    dir: Option<TempDir>,
}

impl ChatServer {
    pub(crate) fn start(bin: &str, label: &str, flags: &[&str]) -> ChatServer {
        let dir = TempDir::new(label);
        ChatServer::spawn(command(bin, &dir), bin, dir, ANY_PORT, flags)
    }

    /// Starts the server under the fd limit `fd_limit`, set by the shell before the server
    /// starts so it cannot raise it: its connection limit follows.
    pub(crate) fn start_with_fd_limit(
        bin: &str,
        label: &str,
        flags: &[&str],
        fd_limit: u32,
    ) -> ChatServer {
        let dir = TempDir::new(label);
        let mut shell = command("sh", &dir);
        shell
            .arg("-c")
            .arg(format!("ulimit -n {fd_limit} && exec \"$@\""))
            .arg("sh")
            .arg(bin);
        ChatServer::spawn(shell, bin, dir, ANY_PORT, flags)
    }

    /// The server's process id, to look at what it holds.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn spawn(
        mut command: Command,
        bin: &str,
        dir: TempDir,
        bind: &str,
        flags: &[&str],
    ) -> ChatServer {
        // The suite's tests of delivery send far faster than anyone types: unless a test sets
        // the flood limit (as the flood test does), it is off.
        let unlimited: &[&str] = if flags.iter().any(|f| f.starts_with("--flood")) {
            &[]
        } else {
            &["--flood-rate", "0"]
        };
        let mut child = command
            .args(["chat", "--bind", bind])
            .args(unlimited)
            .args(flags)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let lines = forward_stdout(take_stdout(&mut child));
        let stderr = Capture::spawn(take_stderr(&mut child));
        let address = match lines.recv_timeout(START_TIMEOUT) {
            Ok(line) => line
                .strip_prefix(LISTENING_LINE)
                .and_then(|address| address.parse().ok()),
            Err(_) => None,
        };
        // The next line says how many clients it holds.
        let capacity = address.and_then(|_| match lines.recv_timeout(START_TIMEOUT) {
            Ok(line) => line
                .strip_prefix(CAPACITY_LINE)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|count| count.parse().ok()),
            Err(_) => None,
        });
        // With --web, the web port's line follows.
        let wants_web = flags.contains(&"--web");
        let web =
            capacity
                .filter(|_| wants_web)
                .and_then(|_| match lines.recv_timeout(START_TIMEOUT) {
                    Ok(line) => line
                        .strip_prefix(WEB_LINE)
                        .or_else(|| line.strip_prefix(WEB_TLS_LINE))
                        .and_then(|address| address.parse().ok()),
                    Err(_) => None,
                });
        let (Some(address), Some(capacity), true) = (address, capacity, web.is_some() == wants_web)
        else {
            kill_and_reap(&mut child);
            panic!(
                "no listening line and capacity line from {bin} chat; stderr: {}",
                stderr.finish()
            );
        };
        ChatServer {
            child,
            address,
            capacity,
            web,
            dir: Some(dir),
        }
    }

    pub(crate) fn connect(&self) -> Peer {
        let stream = TcpStream::connect(self.address).expect("connect to the chat server");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("read timeout");
        Peer {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    /// The server's working folder (its store is `storage/` in it).
    pub(super) fn folder(&self) -> &std::path::Path {
        self.dir
            .as_ref()
            .map(TempDir::path)
            .expect("a running server's folder")
    }

    /// Stops the server (with SIGTERM, or with SIGKILL when `hard`) and starts it again in the
    /// same folder with `flags`, as after a restart or a crash.
    pub(super) fn restart(mut self, bin: &str, flags: &[&str], hard: bool) -> ChatServer {
        if hard {
            kill_and_reap(&mut self.child);
        } else {
            self.terminate();
            assert!(
                wait_until(&mut self.child, CLOSE_TIMEOUT).is_some(),
                "the chat server did not exit within {CLOSE_TIMEOUT:?}"
            );
        }
        let dir = self.dir.take().expect("a running server's folder");
        ChatServer::spawn(command(bin, &dir), bin, dir, ANY_PORT, flags)
    }

    /// Kills the server (SIGKILL) and starts it again in the same folder on the same port, as
    /// a service manager restarts a crashed server.
    pub(super) fn restart_on_the_same_port(mut self, bin: &str, flags: &[&str]) -> ChatServer {
        kill_and_reap(&mut self.child);
        let dir = self.dir.take().expect("a running server's folder");
        let bind = self.address.to_string();
        ChatServer::spawn(command(bin, &dir), bin, dir, &bind, flags)
    }

    /// Sends SIGTERM, as a service manager stops a server.
    pub(crate) fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "kill -TERM failed");
    }

    /// Waits (at most [`CLOSE_TIMEOUT`]) for the server to exit.
    pub(crate) fn exit_status(mut self) -> ExitStatus {
        match wait_until(&mut self.child, CLOSE_TIMEOUT) {
            Some(status) => status,
            None => panic!("the chat server did not exit within {CLOSE_TIMEOUT:?}"),
        }
    }

    /// Connects and claims `name`, reading up to the server's confirmation of it.
    pub(crate) fn join(&self, name: &str) -> Peer {
        let mut peer = self.connect();
        peer.send(&json!({"username": name}));
        peer.expect(&json!({"type": "join", "username": name}));
        peer
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// A raw client speaking the JSON lines itself.
pub(crate) struct Peer {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    pub(crate) fn send(&mut self, value: &Value) {
        self.send_raw(format!("{value}\n").as_bytes());
    }

    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .expect("send to the chat server");
    }

    pub(crate) fn say(&mut self, name: &str, text: &str) {
        self.send(&message(name, text));
    }

    /// The next line, as JSON, without the server's `time` of a message (checked to be UTC
    /// RFC 3339 first), so tests compare what was said; panics on a timeout, EOF or a line that
    /// is not JSON.
    pub(crate) fn line(&mut self) -> Value {
        without_time(self.timed_line())
    }

    /// The next line, as JSON, as the server sent it.
    pub(crate) fn timed_line(&mut self) -> Value {
        let line = self.raw_line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// The first line the server sends, if it sends one within `wait` (which may be shorter
    /// than [`READ_TIMEOUT`]); panics on EOF or a line that is not JSON.
    pub(crate) fn line_within(&mut self, wait: Duration) -> Option<Value> {
        let stream = self.reader.get_ref();
        stream.set_read_timeout(Some(wait)).expect("read timeout");
        let mut line = String::new();
        let read = self.reader.read_line(&mut line);
        let stream = self.reader.get_ref();
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("read timeout");
        match read {
            Ok(0) => panic!("the server closed the connection without a line"),
            Ok(_) => Some(without_time(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")),
            )),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("no line from the server: {e}"),
        }
    }

    /// Waits (up to [`READ_TIMEOUT`]) until bytes from the server wait in this client's socket,
    /// without taking them: true once some do.
    pub(crate) fn has_unread_bytes(&self) -> bool {
        matches!(self.reader.get_ref().peek(&mut [0u8; 1]), Ok(1..))
    }

    /// The next line as text; panics on a timeout or EOF.
    pub(crate) fn raw_line(&mut self) -> String {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(_) => line,
            Err(e) => panic!("no line from the server: {e}"),
        }
    }

    /// Reads lines until `expected`; other lines (joins, say) in between are skipped.
    pub(crate) fn expect(&mut self, expected: &Value) {
        let mut skipped = Vec::new();
        loop {
            let line = self.line();
            if line == *expected {
                return;
            }
            skipped.push(line);
            assert!(skipped.len() < 1000, "never got {expected}: {skipped:?}");
        }
    }

    /// Reads lines until each of `expected` was seen, in any order.
    pub(crate) fn expect_all(&mut self, expected: &[Value]) {
        let mut missing: Vec<&Value> = expected.iter().collect();
        let mut skipped = Vec::new();
        while !missing.is_empty() {
            let line = self.line();
            match missing.iter().position(|value| **value == line) {
                Some(index) => {
                    missing.swap_remove(index);
                }
                None => skipped.push(line),
            }
            assert!(skipped.len() < 1000, "never got {missing:?}: {skipped:?}");
        }
    }

    /// Reads lines (the history a newcomer gets, say) until an error line.
    pub(crate) fn expect_error(&mut self) {
        for _ in 0..1000 {
            if self.line()["type"] == "error" {
                return;
            }
        }
        panic!("no error line");
    }

    /// This client's end of the connection.
    pub(crate) fn local_address(&self) -> SocketAddr {
        self.writer.local_addr().expect("local address")
    }

    /// Tells the server this client will send nothing more, keeping the reading side open.
    pub(crate) fn shutdown_write(&mut self) {
        self.writer
            .shutdown(Shutdown::Write)
            .expect("shut the sending side");
    }

    /// Every line the server sends until it closes the connection in order (within
    /// [`CLOSE_TIMEOUT`]), as text; panics on a reset, which can destroy lines before they are
    /// read, and on a connection left open.
    pub(crate) fn lines_until_closed(mut self) -> Vec<String> {
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let mut lines = Vec::new();
        // A read that times out keeps the part of a line it got; the next read goes on.
        let mut line = String::new();
        loop {
            match self.reader.read_line(&mut line) {
                Ok(0) => return lines,
                Ok(_) => lines.push(std::mem::take(&mut line)),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("{e} after {} lines: {:?}", lines.len(), lines.last()),
            }
            assert!(
                Instant::now() < deadline,
                "the server did not close the connection within {CLOSE_TIMEOUT:?}"
            );
        }
    }

    /// Reads until the server closes the connection (within [`CLOSE_TIMEOUT`]).
    pub(crate) fn expect_closed(mut self) {
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let mut buf = vec![0u8; 64 * 1024];
        while Instant::now() < deadline {
            match self.reader.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
                Err(e) => panic!("reading a client the server should close: {e}"),
            }
        }
        panic!("the server did not close the connection within {CLOSE_TIMEOUT:?}");
    }
}

fn command(bin: &str, dir: &TempDir) -> Command {
    let mut command = Command::new(bin);
    command.current_dir(dir.path());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FERRY_") {
            command.env_remove(name);
        }
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// `value` without the server's `time` of a message, checked to be UTC RFC 3339 first.
pub(crate) fn without_time(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        if let Some(time) = object.remove("time") {
            let text = time.as_str().unwrap_or_default();
            assert!(is_utc_rfc3339(text), "not a UTC RFC 3339 time: {time}");
        }
    }
    value
}

/// `2026-12-05T17:20:00Z`: what ferry writes (whole seconds, UTC).
pub(super) fn is_utc_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    bytes.len() == 20
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && digits(11..13)
        && digits(14..16)
        && digits(17..19)
        && &text[4..5] == "-"
        && &text[7..8] == "-"
        && &text[10..11] == "T"
        && &text[13..14] == ":"
        && &text[16..17] == ":"
        && text.ends_with('Z')
}

pub(crate) fn message(name: &str, text: &str) -> Value {
    json!({"username": name, "message": text})
}

const LISTENING_LINE: &str = "chat server listening on tcp://";
/// The line after it: `chat server holds at most N clients at once; ...`.
const CAPACITY_LINE: &str = "chat server holds at most ";
/// With `--web`, the line after that (plain or TLS).
const WEB_LINE: &str = "chat web page listening on http://";
const WEB_TLS_LINE: &str = "chat web page listening on https://";
/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Where a server listens unless a test needs its port again: any free port on loopback.
const ANY_PORT: &str = "127.0.0.1:0";
/// How long any expected line may take; generous for a machine shared with builds.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to disconnect a client (one that never reads, say).
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(20);
