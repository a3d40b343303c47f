//! The TLS suite's helpers: a certificate from the binary's own `cert`, a server started with
//! it, and TLS clients from outside ferry (curl, openssl, Python's ssl), each bounded in time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::child::{forward_stdout, kill_and_reap, take_stderr, take_stdout, wait_until, Capture};
use crate::temp::TempDir;

/// A running TLS server; killed when dropped.
pub(super) struct TlsServer {
    child: Child,
    pub addr: SocketAddr,
    pub dir: TempDir,
    lines: Receiver<String>,
    stderr: Capture,
}

impl TlsServer {
    /// Runs `bin cert --out DIR` in a new folder, then `bin ARGS --tls-cert --tls-key` there,
    /// and waits for its line with `scheme` (`https://`, `tls://`).
    pub(super) fn start(bin: &str, label: &str, args: &[&str], scheme: &str) -> TlsServer {
        let dir = TempDir::new(label);
        make_cert(bin, dir.path(), &[]);
        TlsServer::start_in(bin, dir, args, scheme)
    }

    pub(super) fn start_in(bin: &str, dir: TempDir, args: &[&str], scheme: &str) -> TlsServer {
        let mut child = command(bin, dir.path())
            .args(args)
            .args(["--tls-cert", "cert.pem", "--tls-key", "key.pem"])
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let lines = forward_stdout(take_stdout(&mut child));
        let stderr = Capture::spawn(take_stderr(&mut child));
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, rest)) = line.split_once(scheme) {
                        break rest.trim().parse().expect("an address");
                    }
                }
                Err(_) => {
                    kill_and_reap(&mut child);
                    panic!("no {scheme} line: {}", stderr.finish());
                }
            }
        };
        TlsServer {
            child,
            addr,
            dir,
            lines,
            stderr,
        }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `https://localhost:PORT`.
    pub(super) fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// Sends SIGHUP and waits for the line it prints on stdout or stderr.
    pub(super) fn reload(&self, expect_ok: bool) -> String {
        signal(self.pid(), "HUP");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if expect_ok {
                if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(50)) {
                    if line.contains("reloaded") {
                        return line;
                    }
                }
            } else {
                let text = self.stderr.text();
                if let Some(line) = text.lines().find(|l| l.contains("keeping")) {
                    return line.to_string();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(Instant::now() < deadline, "no reload line");
        }
    }

    pub(super) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// `bin cert --out dir EXTRA`, which must succeed.
pub(super) fn make_cert(bin: &str, dir: &Path, extra: &[&str]) {
    let output = run(
        command(bin, dir).args(["cert", "--out", "."]).args(extra),
        RUN_LIMIT,
    );
    assert!(output.status.success(), "cert: {}", text(&output.stderr));
}

/// A command for `bin` in `dir`, with no `FERRY_*` variable from the environment.
pub(super) fn command(bin: &str, dir: &Path) -> Command {
    let mut command = Command::new(bin);
    command.current_dir(dir);
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

/// Runs `command` to its end, killing it after `limit`.
pub(super) fn run(command: &mut Command, limit: Duration) -> Output {
    let mut child = command.spawn().expect("the command starts");
    let stdout = Capture::spawn(take_stdout(&mut child));
    let stderr = Capture::spawn(take_stderr(&mut child));
    let status = match wait_until(&mut child, limit) {
        Some(status) => status,
        None => {
            kill_and_reap(&mut child);
            panic!("still running after {limit:?}: {}", stderr.finish());
        }
    };
    Output {
        status,
        stdout: stdout.finish().into_bytes(),
        stderr: stderr.finish().into_bytes(),
    }
}

/// curl with the server's certificate as its CA; returns (exit ok, stdout).
pub(super) fn curl(server: &TlsServer, args: &[&str]) -> (bool, String) {
    let cacert = server.path("cert.pem");
    let output = run(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&cacert)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        RUN_LIMIT,
    );
    (output.status.success(), text(&output.stdout))
}

/// Runs a Python script with the server's port and CA file as `PORT` and `CAFILE`; returns
/// its stdout, failing the test if it fails.
pub(super) fn python(server: &TlsServer, script: &str) -> String {
    let prelude = format!(
        "import socket, ssl, sys, time\nPORT = {}\nCAFILE = {:?}\n",
        server.addr.port(),
        server.path("cert.pem").display().to_string()
    );
    let output = run(
        Command::new("python3")
            .arg("-c")
            .arg(prelude + script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        RUN_LIMIT,
    );
    assert!(output.status.success(), "python: {}", text(&output.stderr));
    text(&output.stdout)
}

pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(super) fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

const START_TIMEOUT: Duration = Duration::from_secs(20);
/// No command of this suite runs longer.
pub(super) const RUN_LIMIT: Duration = Duration::from_secs(60);
