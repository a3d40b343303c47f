//! The file server suite's helpers: a `files` server in a scratch folder, raw transfers that
//! stream from and to disk, pattern data and the peak memory of a process.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::thread;
use std::time::{Duration, Instant};

use crate::child::{forward_stdout, kill_and_reap, take_stderr, take_stdout, wait_until, Capture};
use crate::client::{Client, Response};
use crate::temp::TempDir;

use super::escape::is_temporary;

/// A running `files` server in its own scratch folder: `dir/root` is served, `dir/access.log`
/// holds the log. Killed when dropped.
pub(super) struct FileServer {
    child: Child,
    pub addr: SocketAddr,
    /// `None` only after [`FileServer::kill`] handed it back.
    dir: Option<TempDir>,
    stderr: Capture,
}

impl FileServer {
    pub(super) fn start(bin: &str, label: &str, extra: &[&str]) -> FileServer {
        let dir = TempDir::new(label);
        fs::create_dir(dir.join("root")).unwrap();
        FileServer::start_in(bin, dir, extra)
    }

    /// Starts a server on a scratch folder that already holds `root` (a restart).
    pub(super) fn start_in(bin: &str, dir: TempDir, extra: &[&str]) -> FileServer {
        FileServer::launch(Command::new(bin), dir, extra)
    }

    /// Starts a server that may write no file larger than `limit_kib` KiB (`ulimit -f`, set by
    /// the shell before the server starts, so it cannot raise it): a full disk, as the server
    /// sees it, without root.
    pub(super) fn start_with_file_size_limit(
        bin: &str,
        label: &str,
        limit_kib: u64,
        extra: &[&str],
    ) -> FileServer {
        let dir = TempDir::new(label);
        fs::create_dir(dir.join("root")).unwrap();
        // POSIX sh counts `ulimit -f` in 512-byte blocks.
        let script = format!("ulimit -f {} && exec \"$@\"", limit_kib * 2);
        let mut command = Command::new("sh");
        command.arg("-c").arg(script).arg("sh").arg(bin);
        FileServer::launch(command, dir, extra)
    }

    /// Starts a server listening on `bind` (an address with port 0) instead of loopback; the
    /// tests still reach it over loopback.
    pub(super) fn start_bound(bin: &str, label: &str, bind: &str, extra: &[&str]) -> FileServer {
        let dir = TempDir::new(label);
        fs::create_dir(dir.join("root")).unwrap();
        let mut server = FileServer::launch_at(Command::new(bin), dir, bind, extra);
        if server.addr.ip().is_unspecified() {
            server.addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        server
    }

    fn launch(command: Command, dir: TempDir, extra: &[&str]) -> FileServer {
        FileServer::launch_at(command, dir, "127.0.0.1:0", extra)
    }

    fn launch_at(mut command: Command, dir: TempDir, bind: &str, extra: &[&str]) -> FileServer {
        command
            .current_dir(dir.path())
            .args([
                "files",
                "--bind",
                bind,
                "--root",
                "root",
                "--log",
                "access.log",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("FERRY_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("the server starts");
        let lines = forward_stdout(take_stdout(&mut child));
        let stderr = Capture::spawn(take_stderr(&mut child));
        let addr = match lines.recv_timeout(START_TIMEOUT) {
            Ok(line) => line
                .strip_prefix(LISTENING)
                .and_then(|addr| addr.trim().parse().ok())
                .unwrap_or_else(|| panic!("unexpected first line {line:?}")),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                kill_and_reap(&mut child);
                panic!("the file server did not start: {}", stderr.finish());
            }
        };
        FileServer {
            child,
            addr,
            dir: Some(dir),
            stderr,
        }
    }

    /// Kills the server with SIGKILL, as a crash would, and hands its scratch folder back.
    pub(super) fn kill(mut self) -> TempDir {
        kill_and_reap(&mut self.child);
        // Invariant: `dir` is `Some` until here, and `kill` consumes the server.
        self.dir.take().expect("dir present until kill")
    }

    /// Sends SIGTERM; [`FileServer::wait_exit`] waits for its effect.
    pub(super) fn terminate(&self) {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        assert!(matches!(sent, Ok(s) if s.success()), "kill -TERM: {sent:?}");
    }

    /// Waits (at most [`STOP_TIMEOUT`]) for the server to exit.
    pub(super) fn wait_exit(&mut self) -> ExitStatus {
        wait_until(&mut self.child, STOP_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "no exit within {STOP_TIMEOUT:?} of SIGTERM; stderr: {}",
                self.stderr.text()
            )
        })
    }

    /// Waits until the server refuses new connections (it stopped listening).
    pub(super) fn wait_until_refusing(&self) {
        let deadline = Instant::now() + STOP_TIMEOUT;
        while TcpStream::connect_timeout(&self.addr, IO_TIMEOUT).is_ok() {
            assert!(Instant::now() < deadline, "the server still accepts");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(super) fn dir(&self) -> &Path {
        // Invariant: `dir` is `Some` until `kill`, which consumes the server.
        self.dir.as_ref().expect("dir present until kill").path()
    }

    pub(super) fn root(&self) -> PathBuf {
        self.dir().join("root")
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one raw request on a new connection and reads its response.
    pub(super) fn request(&self, raw: &str, head: bool) -> Response {
        let mut client = Client::connect(self.addr);
        client.send(raw.as_bytes());
        if head {
            client.read_head_response()
        } else {
            client.read_response()
        }
    }

    pub(super) fn get(&self, target: &str, extra: &str) -> Response {
        self.request(
            &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n"),
            false,
        )
    }

    /// Sends `method target` with `extra` header lines and `body` (a `Content-Length` is added
    /// when there is one) on a new connection.
    pub(super) fn send(&self, method: &str, target: &str, extra: &str, body: &[u8]) -> Response {
        let length = if body.is_empty() {
            String::new()
        } else {
            format!("Content-Length: {}\r\n", body.len())
        };
        let mut raw =
            format!("{method} {target} HTTP/1.1\r\nHost: t\r\n{extra}{length}\r\n").into_bytes();
        raw.extend_from_slice(body);
        let mut client = Client::connect(self.addr);
        if method == "HEAD" {
            client.send(&raw);
            return client.read_head_response();
        }
        client.request(&raw)
    }

    /// What the server wrote on stderr so far.
    pub(super) fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// What the server wrote on stderr once it holds `needle`, or after `wait` without it: the
    /// stderr pipe is read on a thread of its own, which a loaded machine may run late.
    pub(super) fn stderr_holding(&self, needle: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let text = self.stderr.text();
            if text.contains(needle) || Instant::now() >= deadline {
                return text;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub(super) fn put(&self, target: &str, body: &[u8]) -> Response {
        let mut raw = format!(
            "PUT {target} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        let mut client = Client::connect(self.addr);
        client.request(&raw)
    }

    /// Uploads a local file by streaming it, and returns the status.
    pub(super) fn upload_file(&self, target: &str, local: &Path) -> u16 {
        let len = fs::metadata(local).unwrap().len();
        let mut stream = self.connect();
        let head = format!("PUT {target} HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        io::copy(&mut File::open(local).unwrap(), &mut stream).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&answer);
        text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// Downloads `target` and compares it with `local` as it arrives, without holding either.
    pub(super) fn download_and_compare(&self, target: &str, local: &Path) {
        let len = fs::metadata(local).unwrap().len();
        let mut stream = self.connect();
        let head = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let mut reader = BufReader::with_capacity(1 << 20, stream);
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            reader.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {len}\r\n")),
            "{head}"
        );
        let mut expected = BufReader::with_capacity(1 << 20, File::open(local).unwrap());
        let (mut got, mut want) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
        let mut compared = 0u64;
        loop {
            let n = reader.read(&mut got).unwrap();
            if n == 0 {
                break;
            }
            expected.read_exact(&mut want[..n]).unwrap();
            assert!(got[..n] == want[..n], "bytes differ after {compared}");
            compared += n as u64;
        }
        assert_eq!(compared, len);
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// Waits until one of the server's temporary files exists (an upload is under way) and
    /// returns its path under the root.
    pub(super) fn wait_for_temporary(&self) -> String {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let found = tree(&self.root())
                .into_iter()
                .find(|path| is_temporary(path));
            if let Some(path) = found {
                return path;
            }
            assert!(Instant::now() < deadline, "no upload started");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log's lines once there are `count` (the server writes each after its answer).
    pub(super) fn wait_for_log_lines(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let text = fs::read_to_string(self.dir().join("access.log")).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.len() >= count || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
        if std::thread::panicking() {
            eprintln!("file server stderr: {}", self.stderr.text());
        }
    }
}

/// Deterministic bytes that differ at every offset and between seeds (xorshift).
pub(super) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `len` pattern bytes to `path` in 1 MiB pieces, each different.
pub(super) fn write_pattern_file(path: &Path, len: u64) {
    let mut file = io::BufWriter::new(File::create(path).unwrap());
    let piece = pattern(1 << 20, 7);
    let mut written = 0u64;
    let mut index = 0u64;
    while written < len {
        let take = (len - written).min(piece.len() as u64) as usize;
        // The piece's index in its first bytes, so no two pieces are alike.
        file.write_all(&index.to_le_bytes()).unwrap();
        file.write_all(&piece[8..take.max(8)]).unwrap();
        written += take.max(8) as u64;
        index += 1;
    }
    file.flush().unwrap();
    let file = file.into_inner().unwrap();
    file.set_len(len).unwrap();
}

/// Whether two files hold the same bytes, read in pieces.
pub(super) fn same_contents(a: &Path, b: &Path) -> bool {
    let (Ok(fa), Ok(fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    if fa.metadata().unwrap().len() != fb.metadata().unwrap().len() {
        return false;
    }
    let mut ra = BufReader::with_capacity(1 << 20, fa);
    let mut rb = BufReader::with_capacity(1 << 20, fb);
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = ra.read(&mut x).unwrap();
        if n == 0 {
            return true;
        }
        rb.read_exact(&mut y[..n]).unwrap();
        if x[..n] != y[..n] {
            return false;
        }
    }
}

/// Every file and folder under `folder`, as sorted paths relative to it (`a/b.txt`).
pub(super) fn tree(folder: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let Ok(entries) = fs::read_dir(folder.join(&relative)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = relative.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path.clone());
            }
            found.push(path.to_string_lossy().into_owned());
        }
    }
    found.sort();
    found
}

/// The sorted names in a folder.
pub(super) fn listing(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const LISTENING: &str = "file server listening on http://";
/// 256 MiB, the size the SPEC's bounded-memory check moves each way.
pub(super) const LARGE: u64 = 256 << 20;
/// 64 MiB: far below the file, so any whole-file buffer would show.
pub(super) const PEAK_RSS_LIMIT_KIB: u64 = 64 * 1024;
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM: the 5 s grace, plus slack for a loaded
/// machine.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Generous for 256 MiB through a debug build on a shared machine.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
