//! Suite: the chat server and its client (SPEC "Chat server (port 7072) and client").
//!
//! Each test starts `chat --bind 127.0.0.1:0` from the binary under test, reads the address from
//! its listening line, and talks to it over real sockets with read timeouts, so a hang fails
//! instead of blocking. The interactive client is driven through a pseudo-terminal by a small
//! python3 script (its `pty` module), as a person at a terminal would drive it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::child::{forward_stdout, kill_and_reap, take_stderr, take_stdout, wait_until, Capture};
use crate::temp::TempDir;

/// Three clients: each one's messages reach the other two, never itself.
pub fn three_clients_exchange_messages(bin: &str) {
    let server = ChatServer::start(bin, "three_clients", &[]);
    let mut ann = server.join("ann");
    let mut bob = server.join("bob");
    let mut cid = server.join("cid");
    ann.expect(&json!({"type": "join", "username": "bob"}));
    ann.expect(&json!({"type": "join", "username": "cid"}));
    bob.expect(&json!({"type": "join", "username": "cid"}));
    for (sender, name) in [(&mut ann, "ann"), (&mut bob, "bob"), (&mut cid, "cid")] {
        sender.say(name, &format!("hello from {name}"));
    }
    // Messages from different clients may arrive in either order.
    let from = |name: &str| message(name, &format!("hello from {name}"));
    ann.expect_all(&[from("bob"), from("cid")]);
    bob.expect_all(&[from("ann"), from("cid")]);
    cid.expect_all(&[from("ann"), from("bob")]);
    // A name already held is refused, and the connection stays usable.
    let mut impostor = server.connect();
    impostor.send(&json!({"username": "ann", "message": "I am ann"}));
    impostor.expect_error();
    impostor.send_raw(b"not json\n");
    impostor.expect_error();
    drop(bob);
    ann.expect(&json!({"type": "leave", "username": "bob"}));
    cid.say("cid", "still here");
    ann.expect(&message("cid", "still here"));
}

/// A newcomer is sent the last `--history` messages first, marked as history.
pub fn newcomer_gets_history(bin: &str) {
    let server = ChatServer::start(bin, "newcomer_history", &["--history", "3"]);
    let mut ann = server.join("ann");
    let mut bob = server.join("bob");
    for n in 1..=5 {
        ann.say("ann", &format!("m{n}"));
    }
    // Once bob has the last one, the server has taken all five.
    bob.expect(&message("ann", "m5"));
    let mut newcomer = server.connect();
    for n in 3..=5 {
        newcomer.expect(&json!({"username": "ann", "message": format!("m{n}"), "history": true}));
    }
    ann.say("ann", "live");
    newcomer.expect(&message("ann", "live"));
}

/// A client that never reads, while another sends 20,000 messages, delays nobody: a third
/// client gets every message promptly, and the stuck client is disconnected.
pub fn a_client_that_never_reads_does_not_delay_the_others(bin: &str) {
    const MESSAGES: usize = 20_000;
    const BATCH: usize = 20;
    const SEND_INTERVAL: Duration = Duration::from_millis(2);
    let server = ChatServer::start(bin, "never_reads", &[]);
    let stuck = server.join("stuck");
    let mut sender = server.join("sender");
    let mut third = server.join("third");
    sender.expect(&json!({"type": "join", "username": "third"}));
    // Lines of about 1 KiB, so 20 MiB in all: far more than the stuck client's socket buffers
    // (which grow only while it reads) and its queue in the server can hold.
    let padding = "x".repeat(1000);
    let start = Instant::now();
    let reader = thread::spawn(move || {
        let mut worst = Duration::ZERO;
        let mut got = 0;
        let prefix = "{\"username\":\"sender\",\"message\":\"";
        while got < MESSAGES {
            // Read cheaply, as a real client would: this one must keep up with a flood.
            let line = third.raw_line();
            let Some(text) = line.strip_prefix(prefix) else {
                continue;
            };
            let sent_at: u64 = text.split(' ').next().unwrap_or("").parse().unwrap_or(0);
            let late = start
                .elapsed()
                .saturating_sub(Duration::from_micros(sent_at));
            worst = worst.max(late);
            got += 1;
        }
        worst
    });
    let mut batch = Vec::new();
    for n in 0..MESSAGES {
        let text = format!("{} {n} {padding}", start.elapsed().as_micros());
        batch.extend_from_slice(
            json!({"username": "sender", "message": text})
                .to_string()
                .as_bytes(),
        );
        batch.push(b'\n');
        if n % BATCH == BATCH - 1 {
            sender.send_raw(&batch);
            batch.clear();
            // Paced at 10,000 messages a second: a flood any reading client keeps up with
            // even on a busy machine, which only the client that never reads cannot.
            let due = SEND_INTERVAL * u32::try_from(n / BATCH + 1).unwrap_or(u32::MAX);
            if let Some(early) = due.checked_sub(start.elapsed()) {
                thread::sleep(early);
            }
        }
    }
    let worst = reader.join().expect("the third client's reader failed");
    let total = start.elapsed();
    assert!(
        total < Duration::from_secs(30),
        "20,000 messages took {total:?}"
    );
    assert!(
        worst < MAX_DELAY,
        "a message reached the third client {worst:?} late"
    );
    // The stuck client was disconnected: once it reads, its stream ends.
    stuck.expect_closed();
}

/// 500 clients each send one message; each receives all 499 others.
pub fn five_hundred_clients_each_receive_all_others(bin: &str) {
    const CLIENTS: usize = 500;
    let server = ChatServer::start(bin, "five_hundred", &[]);
    let start = Instant::now();
    let mut clients: Vec<Peer> = (0..CLIENTS).map(|_| server.connect()).collect();
    for (n, client) in clients.iter_mut().enumerate() {
        client.send(&json!({"username": format!("user{n}")}));
    }
    // Once the first client has seen every join, every client is in the room.
    let mut joined = 0;
    while joined < CLIENTS {
        if clients[0].line()["type"] == "join" {
            joined += 1;
        }
    }
    for (n, client) in clients.iter_mut().enumerate() {
        client.say(&format!("user{n}"), &format!("message {n}"));
    }
    for (n, client) in clients.iter_mut().enumerate() {
        let mut from = HashSet::new();
        while from.len() < CLIENTS - 1 {
            let line = client.line();
            if let Some(text) = line["message"].as_str() {
                assert_eq!(line["username"], format!("user{}", &text[8..]), "{line}");
                assert!(from.insert(text.to_string()), "twice: {line}");
            }
        }
        assert!(
            !from.contains(&format!("message {n}")),
            "echoed to its sender"
        );
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "500 clients took {took:?}");
}

/// The terminal client, in a pseudo-terminal: it asks for a name, shows what others say as
/// `username: message`, sends typed lines, leaves on Ctrl-D and on Ctrl-C with exit code 0, and
/// says so (exit code 1) when the server goes away.
pub fn interactive_client_in_a_pseudo_terminal(bin: &str) {
    let server = ChatServer::start(bin, "pty_client", &[]);
    let mut bob = server.join("bob");
    bob.say("bob", "said before ann came");
    for (key, label) in [("\u{4}", "ctrl-d"), ("\u{3}", "ctrl-c")] {
        let mut terminal = Terminal::start(bin, server.address, &[]);
        // The prompt comes first; the history arrives as soon as the connection is up.
        terminal.expect("username: ");
        terminal.expect("(earlier) bob: said before ann came");
        terminal.type_line("ann");
        terminal.expect("* you joined as ann");
        bob.expect(&json!({"type": "join", "username": "ann"}));
        let greeting = format!("hi ann ({label})");
        bob.say("bob", &greeting);
        terminal.expect(&format!("\nbob: {greeting}"));
        let answer = format!("hello bob ({label})");
        terminal.type_line(&answer);
        bob.expect(&message("ann", &answer));
        terminal.type_raw(key);
        terminal.expect("* you left the chat");
        assert_eq!(
            terminal.exit_code(),
            0,
            "{label}: {}",
            terminal.transcript()
        );
        bob.expect(&json!({"type": "leave", "username": "ann"}));
    }
    let mut terminal = Terminal::start(bin, server.address, &["--username", "cid"]);
    terminal.expect("* you joined as cid");
    drop(server);
    terminal.expect("* the server closed the connection");
    assert_eq!(terminal.exit_code(), 1, "{}", terminal.transcript());
}

/// A running `chat` server; killed and reaped when dropped.
struct ChatServer {
    child: Child,
    address: SocketAddr,
    _dir: TempDir,
}

impl ChatServer {
    fn start(bin: &str, label: &str, flags: &[&str]) -> ChatServer {
        let dir = TempDir::new(label);
        let mut child = command(bin, &dir)
            .args(["chat", "--bind", "127.0.0.1:0"])
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
        let Some(address) = address else {
            kill_and_reap(&mut child);
            panic!(
                "no listening line from {bin} chat; stderr: {}",
                stderr.finish()
            );
        };
        ChatServer {
            child,
            address,
            _dir: dir,
        }
    }

    fn connect(&self) -> Peer {
        let stream = TcpStream::connect(self.address).expect("connect to the chat server");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("read timeout");
        Peer {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    /// Connects and claims `name`, reading up to the server's confirmation of it.
    fn join(&self, name: &str) -> Peer {
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
struct Peer {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn send(&mut self, value: &Value) {
        self.send_raw(format!("{value}\n").as_bytes());
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .expect("send to the chat server");
    }

    fn say(&mut self, name: &str, text: &str) {
        self.send(&message(name, text));
    }

    /// The next line, as JSON; panics on a timeout, EOF or a line that is not JSON.
    fn line(&mut self) -> Value {
        let line = self.raw_line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// The next line as text; panics on a timeout or EOF.
    fn raw_line(&mut self) -> String {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(_) => line,
            Err(e) => panic!("no line from the server: {e}"),
        }
    }

    /// Reads lines until `expected`; other lines (joins, say) in between are skipped.
    fn expect(&mut self, expected: &Value) {
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
    fn expect_all(&mut self, expected: &[Value]) {
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
    fn expect_error(&mut self) {
        for _ in 0..1000 {
            if self.line()["type"] == "error" {
                return;
            }
        }
        panic!("no error line");
    }

    /// Reads until the server closes the connection (within [`CLOSE_TIMEOUT`]).
    fn expect_closed(mut self) {
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let mut buf = vec![0u8; 64 * 1024];
        while Instant::now() < deadline {
            match self.reader.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
                Err(e) => panic!("reading the stuck client: {e}"),
            }
        }
        panic!("the client that never read was not disconnected");
    }
}

/// `chat-client` running in a pseudo-terminal under the python script below.
struct Terminal {
    child: Child,
    output: Receiver<String>,
    transcript: String,
}

impl Terminal {
    fn start(bin: &str, address: SocketAddr, flags: &[&str]) -> Terminal {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PTY_SCRIPT)
            .arg(bin)
            .args([
                "chat-client",
                &address.ip().to_string(),
                &address.port().to_string(),
            ])
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the pseudo-terminal");
        let mut stdout = take_stdout(&mut child);
        let (sender, output) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                if sender
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
                {
                    return;
                }
            }
        });
        Terminal {
            child,
            output,
            transcript: String::new(),
        }
    }

    /// Waits until the terminal has shown `text` (after what earlier expectations consumed).
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            if let Some(at) = self.transcript.find(text) {
                self.transcript.drain(..at + text.len());
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.transcript.push_str(&chunk),
                Err(_) => panic!("the terminal never showed {text:?}: {:?}", self.transcript),
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        self.type_raw(&format!("{line}\n"));
    }

    /// Sends keys to the terminal: the script passes its stdin to the pseudo-terminal.
    fn type_raw(&mut self, keys: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin
            .write_all(keys.as_bytes())
            .expect("type into the terminal");
        stdin.flush().expect("flush the keys");
    }

    /// The client's exit code, which the script prints last as `exit N`.
    fn exit_code(&mut self) -> i32 {
        self.expect("exit ");
        let deadline = Instant::now() + READ_TIMEOUT;
        while !self.transcript.contains('\n') && Instant::now() < deadline {
            if let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(100)) {
                self.transcript.push_str(&chunk);
            }
        }
        let code = self
            .transcript
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let _ = wait_until(&mut self.child, READ_TIMEOUT);
        code.parse()
            .unwrap_or_else(|_| panic!("no exit code: {code:?}"))
    }

    fn transcript(&self) -> &str {
        &self.transcript
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
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

fn message(name: &str, text: &str) -> Value {
    json!({"username": name, "message": text})
}

/// Runs argv[1:] in a pseudo-terminal: bytes on the script's stdin are typed into it, what it
/// shows goes to the script's stdout, and the exit code follows as a last line `exit N`.
const PTY_SCRIPT: &str = r#"
import os, pty, select, sys
pid, master = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
stdin = sys.stdin.fileno()
status = None
while status is None:
    ready, _, _ = select.select([master, stdin], [], [], 0.05)
    if master in ready:
        try:
            data = os.read(master, 4096)
        except OSError:
            data = b""
        if data:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
    if stdin in ready:
        keys = os.read(stdin, 4096)
        if keys:
            os.write(master, keys)
    done, code = os.waitpid(pid, os.WNOHANG)
    if done:
        status = code
try:
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        data = os.read(master, 4096) if ready else b""
        if not data:
            break
        sys.stdout.buffer.write(data)
except OSError:
    pass
code = os.waitstatus_to_exitcode(status)
sys.stdout.write("\nexit %d\n" % code)
sys.stdout.flush()
"#;

const LISTENING_LINE: &str = "chat server listening on tcp://";
/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any expected line may take; generous for a machine shared with builds.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to disconnect a client that never reads.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(20);
/// The most a message to the third client may lag its sending, while another client is stuck.
const MAX_DELAY: Duration = Duration::from_secs(2);
