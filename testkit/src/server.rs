//! Starting the binary under test, finding its addresses, and stopping it again.
//!
//! Owns the child process: the command line (subcommand, flags on `127.0.0.1:0`, paths inside a
//! scratch folder), the wait for the listening lines on stdout (with a deadline, never forever),
//! the capture of stderr, signals, and the kill-and-reap on drop so no test leaves a server
//! behind. It never talks HTTP or UDP to the server; the tests do.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::child::{forward_stdout, kill_and_reap, take_stderr, take_stdout, wait_until, Capture};
use crate::fixture;
use crate::temp::TempDir;

/// A command line to start, built up before [`Launch::start`] or [`Launch::run`].
#[derive(Debug)]
pub struct Launch {
    bin: PathBuf,
    subcommand: Option<String>,
    /// `--flag value` pairs; setting a flag again replaces its value, so tests can override the
    /// defaults without passing a flag twice.
    flags: Vec<(String, OsString)>,
    extra: Vec<OsString>,
    env: Vec<(String, OsString)>,
    dir: TempDir,
    expect_web: bool,
    expect_socket: bool,
    file_size_limit: Option<u64>,
}

/// A running server; killed and reaped when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `None` only after [`Server::stop`] moved it out.
    dir: Option<TempDir>,
    web: Option<SocketAddr>,
    socket: Option<SocketAddr>,
    store: Option<PathBuf>,
    stderr: Capture,
}

/// How a [`Launch::run`] ended.
#[derive(Debug)]
pub struct Exit {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

/// How a [`Server::stop`] ended; the scratch folder survives for a restart or a look at the store.
#[derive(Debug)]
pub struct Stopped {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything the server printed on stderr.
    pub stderr: String,
    /// The server's scratch folder, still on disk.
    pub dir: TempDir,
}

/// The signals a test can send with [`Server::stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM, as a service manager sends.
    Term,
    /// SIGINT, as Ctrl-C sends.
    Int,
}

impl Launch {
    /// `serve` with both listeners on port 0, the fixture site and a store file in `dir`.
    ///
    /// `dir` usually comes from [`fixture::sandbox`]; the store is `dir/data.json`.
    pub fn serve(bin: &str, dir: TempDir) -> Launch {
        let static_dir = dir.join(fixture::STATIC_DIR);
        let store = dir.join(fixture::STORE_FILE);
        Launch::new(bin, Some("serve"), dir, true, true)
            .flag("--http", "127.0.0.1:0")
            .flag("--socket", "127.0.0.1:0")
            .flag("--static", static_dir)
            .flag("--store", store)
    }

    /// `http` (the web app alone) on port 0, forwarding to `forward`, with the fixture site.
    pub fn http(bin: &str, dir: TempDir, forward: SocketAddr) -> Launch {
        let static_dir = dir.join(fixture::STATIC_DIR);
        Launch::new(bin, Some("http"), dir, true, false)
            .flag("--http", "127.0.0.1:0")
            .flag("--forward", forward.to_string())
            .flag("--static", static_dir)
    }

    /// `socket` (the socket server alone) on port 0, storing in `dir/data.json`.
    pub fn socket(bin: &str, dir: TempDir) -> Launch {
        let store = dir.join(fixture::STORE_FILE);
        Launch::new(bin, Some("socket"), dir, false, true)
            .flag("--socket", "127.0.0.1:0")
            .flag("--store", store)
    }

    /// The binary with no arguments at all (add them with [`Launch::arg`]); runs in `dir`.
    pub fn bare(bin: &str, dir: TempDir) -> Launch {
        Launch::new(bin, None, dir, false, false)
    }

    /// Sets `--name value`, replacing an earlier value of the same flag.
    pub fn flag(mut self, name: &str, value: impl Into<OsString>) -> Launch {
        let value = value.into();
        match self.flags.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.flags.push((name.to_string(), value)),
        }
        self
    }

    /// Removes a flag set by a constructor, so the binary falls back to its default.
    pub fn without_flag(mut self, name: &str) -> Launch {
        self.flags.retain(|(n, _)| n != name);
        self
    }

    /// Appends one raw argument after the flags (`--help`, an unknown flag).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.extra.push(arg.as_ref().to_os_string());
        self
    }

    /// Sets an environment variable for the child (the inherited `FERRY_*` ones are removed).
    pub fn env(mut self, name: &str, value: impl Into<OsString>) -> Launch {
        self.env.push((name.to_string(), value.into()));
        self
    }

    /// Says which listening lines [`Launch::start`] waits for, for a command line the
    /// constructors do not describe (no subcommand, say).
    pub fn expect_listeners(mut self, web: bool, socket: bool) -> Launch {
        self.expect_web = web;
        self.expect_socket = socket;
        self
    }

    /// Starts the child with a limit on the size of every file it writes (`RLIMIT_FSIZE`), and
    /// with SIGXFSZ ignored so a write past it fails with EFBIG instead of killing the child: a
    /// disk that is full once a file reaches `bytes`.
    pub fn file_size_limit(mut self, bytes: u64) -> Launch {
        self.file_size_limit = Some(bytes);
        self
    }

    /// The scratch folder the child will run in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the child and waits (at most [`START_TIMEOUT`]) for its listening lines.
    ///
    /// Panics, with the child's stderr, when it exits or stays silent instead.
    pub fn start(self) -> Server {
        let store = self.flag_value("--store").map(PathBuf::from);
        let (expect_web, expect_socket) = (self.expect_web, self.expect_socket);
        let (mut child, dir) = self.spawn();
        let lines = forward_stdout(take_stdout(&mut child));
        let stderr = Capture::spawn(take_stderr(&mut child));
        let mut server = Server {
            child,
            dir: Some(dir),
            web: None,
            socket: None,
            store,
            stderr,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let mut seen = Vec::new();
        while (expect_web && server.web.is_none()) || (expect_socket && server.socket.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = address_after(&line, WEB_LINE) {
                        server.web = Some(addr);
                    } else if let Some(addr) = address_after(&line, SOCKET_LINE_UDP)
                        .or_else(|| address_after(&line, SOCKET_LINE_TCP))
                    {
                        server.socket = Some(addr);
                    }
                    seen.push(line);
                }
                Err(RecvTimeoutError::Timeout) => server.fail_start("stayed silent", &seen),
                Err(RecvTimeoutError::Disconnected) => server.fail_start("closed stdout", &seen),
            }
        }
        server
    }

    /// Runs the child to its end (at most [`RUN_TIMEOUT`]) and returns how it ended.
    pub fn run(self) -> Exit {
        let (mut child, _dir) = self.spawn();
        let stdout = Capture::spawn(take_stdout(&mut child));
        let stderr = Capture::spawn(take_stderr(&mut child));
        let status = match wait_until(&mut child, RUN_TIMEOUT) {
            Some(status) => status,
            None => {
                kill_and_reap(&mut child);
                panic!(
                    "still running after {RUN_TIMEOUT:?}; stderr: {}",
                    stderr.finish()
                );
            }
        };
        Exit {
            status,
            stdout: stdout.finish(),
            stderr: stderr.finish(),
        }
    }

    fn new(bin: &str, sub: Option<&str>, dir: TempDir, web: bool, socket: bool) -> Launch {
        Launch {
            bin: PathBuf::from(bin),
            subcommand: sub.map(str::to_string),
            flags: Vec::new(),
            extra: Vec::new(),
            env: Vec::new(),
            dir,
            expect_web: web,
            expect_socket: socket,
            file_size_limit: None,
        }
    }

    fn flag_value(&self, name: &str) -> Option<&OsStr> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_os_str())
    }

    fn spawn(self) -> (Child, TempDir) {
        let mut command = Command::new(&self.bin);
        command.current_dir(self.dir.path());
        command.args(self.subcommand.iter());
        for (name, value) in &self.flags {
            command.arg(name).arg(value);
        }
        command.args(&self.extra);
        // The suite must not depend on the environment it runs in (SPEC: flags read FERRY_*).
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("FERRY_") {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(n, v)| (n, v)));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(bytes) = self.file_size_limit {
            limit_file_size(&mut command, bytes);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        (child, self.dir)
    }
}

impl Server {
    /// Starts `serve` on the fixture site in a fresh sandbox named after `label` (the test).
    pub fn serve(bin: &str, label: &str) -> Server {
        Launch::serve(bin, fixture::sandbox(label)).start()
    }

    /// The web app's address, from its `web app listening on http://...` line.
    pub fn web(&self) -> SocketAddr {
        self.web
            .expect("this server was not started with a web app")
    }

    /// The socket server's address, from its `socket server listening on udp://...` line.
    pub fn socket(&self) -> SocketAddr {
        self.socket
            .expect("this server was not started with a socket server")
    }

    /// The store file given with `--store`.
    pub fn store(&self) -> &Path {
        self.store
            .as_deref()
            .expect("this server was not started with --store")
    }

    /// The scratch folder the server runs in.
    pub fn dir(&self) -> &Path {
        // Invariant: `dir` is `Some` until `stop`, which consumes the server.
        self.dir
            .as_ref()
            .map(TempDir::path)
            .expect("dir present until stop")
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the child has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` and waits (at most [`STOP_TIMEOUT`]) for the child to exit.
    ///
    /// Panics when it does not exit in time (after killing it).
    pub fn stop(mut self, signal: Signal) -> Stopped {
        let name = match signal {
            Signal::Term => "-TERM",
            Signal::Int => "-INT",
        };
        let sent = Command::new("kill")
            .arg(name)
            .arg(self.pid().to_string())
            .status();
        assert!(
            matches!(sent, Ok(s) if s.success()),
            "kill {name} failed: {sent:?}"
        );
        let status = match wait_until(&mut self.child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                kill_and_reap(&mut self.child);
                panic!(
                    "no exit within {STOP_TIMEOUT:?} of {name}; stderr: {}",
                    self.stderr.text()
                );
            }
        };
        let stderr = self.stderr.text();
        // Invariant: `dir` is `Some` until here, and `stop` consumes the server.
        let dir = self.dir.take().expect("dir present until stop");
        Stopped {
            status,
            stderr,
            dir,
        }
    }

    /// What the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    fn fail_start(&mut self, what: &str, seen: &[String]) -> ! {
        let status = wait_until(&mut self.child, Duration::from_millis(200));
        kill_and_reap(&mut self.child);
        panic!(
            "the server {what} before printing its listening lines \
             (exit: {status:?}, stdout lines: {seen:?}, stderr: {:?})",
            self.stderr.text()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// Makes `command`'s child start with a file size limit of `bytes` and SIGXFSZ ignored (an
/// ignored signal stays ignored across exec).
fn limit_file_size(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    let hook = move || {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit, setrlimit and signal are async-signal-safe system calls, as a
        // pre_exec hook requires; they read and write only the struct owned here.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = limit.rlim_max.min(bytes as libc::rlim_t);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook only makes async-signal-safe system calls and allocates nothing.
    unsafe {
        command.pre_exec(hook);
    }
}

/// The address after `prefix` when `line` starts with it (`web app listening on http://`).
fn address_after(line: &str, prefix: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix(prefix)?;
    let addr = rest.split_whitespace().next()?.trim_end_matches('/');
    addr.parse().ok()
}

/// The contract's listening lines, up to the address.
const WEB_LINE: &str = "web app listening on http://";
const SOCKET_LINE_UDP: &str = "socket server listening on udp://";
const SOCKET_LINE_TCP: &str = "socket server listening on tcp://";

/// How long a server may take to print its listening lines; generous because the machine is
/// shared with other builds, and a healthy start takes milliseconds.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a run to completion (`--help`, a start-up error) may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server may take to exit after SIGTERM/SIGINT; the SPEC allows a few seconds to
/// finish in-flight work, plus slack for a loaded machine.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listening_lines() {
        let web = address_after("web app listening on http://127.0.0.1:3000", WEB_LINE);
        assert_eq!(web, Some("127.0.0.1:3000".parse().unwrap()));
        let udp = address_after(
            "socket server listening on udp://127.0.0.1:5000\n",
            SOCKET_LINE_UDP,
        );
        assert_eq!(udp, Some("127.0.0.1:5000".parse().unwrap()));
        assert_eq!(
            address_after("web app listening on http://[::1]:80/", WEB_LINE),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(
            address_after("listening on http://127.0.0.1:1", WEB_LINE),
            None
        );
    }

    #[test]
    fn a_later_flag_replaces_an_earlier_one() {
        let launch = Launch::serve("ferry", TempDir::new("flag_replace")).flag("--store", "x");
        assert_eq!(launch.flag_value("--store"), Some(OsStr::new("x")));
        assert_eq!(
            launch.flags.iter().filter(|(n, _)| n == "--store").count(),
            1
        );
        let launch = launch.without_flag("--store");
        assert_eq!(launch.flag_value("--store"), None);
    }

    #[test]
    fn run_reports_exit_status_and_output() {
        let exit = Launch::bare("sh", TempDir::new("run_sh"))
            .arg("-c")
            .arg("echo out; echo err >&2; exit 3")
            .run();
        assert_eq!(exit.status.code(), Some(3));
        assert_eq!(
            (exit.stdout.as_str(), exit.stderr.as_str()),
            ("out\n", "err\n")
        );
    }

    #[test]
    fn start_finds_addresses_and_stop_signals() {
        // The trap comes first: SIGTERM may arrive as soon as the second line is out.
        let script = "trap 'exit 0' TERM; \
                      echo 'web app listening on http://127.0.0.1:1'; \
                      echo 'socket server listening on udp://127.0.0.1:2'; \
                      while :; do sleep 0.01; done";
        let server = Launch::bare("sh", TempDir::new("start_sh"))
            .arg("-c")
            .arg(script)
            .expect_listeners(true, true)
            .start();
        assert_eq!(server.web().port(), 1);
        assert_eq!(server.socket().port(), 2);
        let stopped = server.stop(Signal::Term);
        assert_eq!(stopped.status.code(), Some(0));
    }
}
