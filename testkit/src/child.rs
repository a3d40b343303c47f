//! The plumbing under [`crate::server`]: reading a child's output on threads, waiting for its
//! exit with a deadline, and killing it.
//!
//! Owns the threads that drain a child's stdout and stderr (so a chatty child never blocks on a
//! full pipe) and the exit polling. It never decides what a child is or what its output means.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, ChildStdout, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The last `MAX_CAPTURE` bytes of a child's stream, read by a thread until EOF.
#[derive(Debug)]
pub(crate) struct Capture {
    text: Arc<Mutex<Vec<u8>>>,
    thread: JoinHandle<()>,
}

impl Capture {
    pub(crate) fn spawn(mut source: impl Read + Send + 'static) -> Capture {
        let text = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&text);
        let thread = thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = source.read(&mut chunk) {
                let mut kept = sink.lock().unwrap_or_else(|p| p.into_inner());
                kept.extend_from_slice(&chunk[..n]);
                let excess = kept.len().saturating_sub(MAX_CAPTURE);
                kept.drain(..excess);
            }
        });
        Capture { text, thread }
    }

    pub(crate) fn text(&self) -> String {
        let kept = self.text.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&kept).into_owned()
    }

    /// Waits for EOF (the child has exited, so it comes) and returns everything read.
    pub(crate) fn finish(self) -> String {
        let _ = self.thread.join();
        let text = self.text.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&text).into_owned()
    }
}

/// Reads stdout line by line on a thread: each line goes to the channel (for the listening
/// lines) and to the test's own output (for the rest, shown when a test fails).
pub(crate) fn forward_stdout(stdout: ChildStdout) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        while let Ok(1..) = reader.read_until(b'\n', &mut line) {
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            println!("[server stdout] {text}");
            // The receiver is gone once the listening lines were found; later lines are only
            // printed.
            let _ = sender.send(text);
            line.clear();
        }
    });
    receiver
}

pub(crate) fn take_stdout(child: &mut Child) -> ChildStdout {
    // Invariant: every child is spawned with `Stdio::piped()` stdout, taken once.
    child.stdout.take().expect("stdout is piped")
}

pub(crate) fn take_stderr(child: &mut Child) -> ChildStderr {
    // Invariant: every child is spawned with `Stdio::piped()` stderr, taken once.
    child.stderr.take().expect("stderr is piped")
}

/// Polls the child until it exits or `timeout` passes; `None` when it is still running.
pub(crate) fn wait_until(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
            _ => return None,
        }
    }
}

pub(crate) fn kill_and_reap(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // Either call fails only when the child is already gone, which is the goal.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// How often a child's exit is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How much of a child's stdout or stderr is kept; enough for any error message.
const MAX_CAPTURE: usize = 64 * 1024;
