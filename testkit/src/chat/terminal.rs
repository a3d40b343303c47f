//! `chat-client` driven through a pseudo-terminal by a small python3 script (its `pty` module),
//! as a person at a terminal would drive it.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use super::harness::READ_TIMEOUT;
use crate::child::{kill_and_reap, take_stdout, wait_until};

/// `chat-client` running in a pseudo-terminal under the python script below.
pub(super) struct Terminal {
    child: Child,
    output: Receiver<String>,
    transcript: String,
}

impl Terminal {
    pub(super) fn start(bin: &str, address: SocketAddr, flags: &[&str]) -> Terminal {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PTY_SCRIPT)
            .arg(bin)
            .arg("chat-client")
            // The client takes HOST PORT or --server, not both.
            .args(if flags.contains(&"--server") {
                vec![]
            } else {
                vec![address.ip().to_string(), address.port().to_string()]
            })
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
    pub(super) fn expect(&mut self, text: &str) {
        self.shown_until(text);
    }

    /// Waits until the terminal shows `text`; returns everything shown up to and with it.
    pub(super) fn shown_until(&mut self, text: &str) -> String {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            if let Some(at) = self.transcript.find(text) {
                return self.transcript.drain(..at + text.len()).collect();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.transcript.push_str(&chunk),
                Err(_) => panic!("the terminal never showed {text:?}: {:?}", self.transcript),
            }
        }
    }

    pub(super) fn type_line(&mut self, line: &str) {
        self.type_raw(&format!("{line}\n"));
    }

    /// Sends keys to the terminal: the script passes its stdin to the pseudo-terminal.
    pub(super) fn type_raw(&mut self, keys: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin
            .write_all(keys.as_bytes())
            .expect("type into the terminal");
        stdin.flush().expect("flush the keys");
    }

    /// The client's exit code, which the script prints last as `exit N`.
    pub(super) fn exit_code(&mut self) -> i32 {
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

    pub(super) fn transcript(&self) -> &str {
        &self.transcript
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
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
