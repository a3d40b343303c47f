//! A private `redis-server` for the cluster tests (issue 17): started on a free loopback port
//! with nothing saved to disk, killed when dropped, restartable on the same port.
//!
//! Without `redis-server` installed the tests say so and pass as skipped, except under CI
//! (`CI=true`), where `.ci/run` installs it and a missing one must fail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::child::kill_and_reap;

/// A running private Redis.
pub(crate) struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts one, or returns `None` (after saying why on stderr) when `redis-server` is not
    /// installed outside CI.
    pub(crate) fn start(test: &str) -> Option<Redis> {
        let installed = Command::new(PROGRAM)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            let in_ci = std::env::var("CI").is_ok_and(|value| value == "true");
            assert!(!in_ci, "{PROGRAM} is not installed, and CI must run {test}");
            eprintln!("skipped {test}: {PROGRAM} is not installed (apt-get install redis-server)");
            return None;
        }
        let port = free_port();
        Some(Redis {
            child: spawn(port),
            port,
        })
    }

    /// The URL the nodes are given.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (as a crash would: nothing saved) and starts a new one on the same port.
    pub(crate) fn restart_after(&mut self, down: Duration) {
        self.stop();
        thread::sleep(down);
        self.start_again();
    }

    /// Kills it, as a crash would: nothing saved.
    pub(crate) fn stop(&mut self) {
        kill_and_reap(&mut self.child);
    }

    /// Starts a new one on the same port, after [`Redis::stop`].
    pub(crate) fn start_again(&mut self) {
        self.child = spawn(self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// Starts `redis-server` on `port` and waits until it answers PING.
fn spawn(port: u16) -> Child {
    let mut child = Command::new(PROGRAM)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PROGRAM}: {e}"));
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if answers_ping(port) {
            return child;
        }
        thread::sleep(Duration::from_millis(20));
    }
    kill_and_reap(&mut child);
    panic!("{PROGRAM} did not answer on port {port} within {START_TIMEOUT:?}");
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}

/// A loopback port nothing listens on right now (the kernel's choice, released at once).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

const PROGRAM: &str = "redis-server";
const START_TIMEOUT: Duration = Duration::from_secs(10);
