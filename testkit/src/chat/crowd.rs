//! Suite: a crowd (issue 18). Ten thousand clients connect and claim names while a talker
//! speaks and a probe client measures how late each message reaches it: the names are all
//! confirmed in bounded time, the server's memory stays bounded, the probe hears the room
//! promptly, and every client that keeps reading gets every message said after it joined.
//!
//! The crowd is read on one mio loop (a thread per client would measure the test, not the
//! server). `ferry-std` holds fewer clients than that (a thread each): there the crowd is as
//! large as the server says it holds, and one more client is refused with an error line.

use crate::proc_status::peak_rss_kib;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde_json::json;

use super::harness::{ChatServer, Peer};

/// 10,000 clients (or as many as the server holds, if fewer) connect and claim names in under
/// 20 s, with the server's peak RSS under 256 MiB, a probe client's delivery p99 under 50 ms
/// meanwhile, and nothing lost for clients that keep reading.
///
/// The probe's p99 is timed on a two-core machine where this test's own 10,000 clients share
/// the cores with the server: one run over the bound is measured once more, on a fresh server,
/// and both runs over it fail the test. Every other bound holds on the first run.
pub fn ten_thousand_clients_claim_names_in_bounded_time_and_memory(bin: &str) {
    let Some(first) = crowd_run(bin) else {
        return;
    };
    eprintln!("{first}; measuring once more");
    if let Some(second) = crowd_run(bin) {
        panic!("{first}; and again: {second}");
    }
}

/// One run of the crowd test: panics on any bound but the probe's p99, which it returns as the
/// failure's text when over.
fn crowd_run(bin: &str) -> Option<String> {
    // The server raises its own descriptor limit to the hard limit; this process needs as many
    // for its end of every connection, so a machine that cannot give them fails here, loudly.
    raise_own_fd_limit(CROWD + FD_HEADROOM);
    let server = ChatServer::start(bin, "crowd", &[]);
    // Since the hard limit allows the crowd, only a thread-per-client cap (ferry-std's) can make
    // the server hold fewer: then the crowd fills the server exactly.
    let crowd = CROWD.min(server.capacity.saturating_sub(TALKER_AND_PROBE));
    assert!(
        crowd >= MIN_CROWD,
        "{bin} holds only {} clients at once; the crowd test needs {MIN_CROWD}",
        server.capacity
    );
    let origin = Instant::now();
    // The number of the talker's last message, once it knows it.
    let last = Arc::new(AtomicU64::new(u64::MAX));
    let probe = Probe::start(&server, origin, last.clone());
    let talker = Talker::start(&server, origin, last);

    let started = Instant::now();
    let mut members = Crowd::new(server.address, crowd);
    members.join_all(started + JOIN_DEADLINE);
    let joined_in = started.elapsed();

    // Kept connected until the end: its leave would be one more line for everyone.
    let (last, _talker) = talker.stop();
    members.read_until_every_member_has(last, Instant::now() + DRAIN_TIMEOUT);
    // The probe stays connected too, so the server holds as many clients as before.
    let (mut latencies, _probe) = probe.finish();
    latencies.sort_unstable();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    let peak_mib = peak_rss_kib(server.pid()) / 1024;
    if crowd + TALKER_AND_PROBE == server.capacity {
        let mut one_more = server.connect();
        let line = one_more.line_within(REFUSAL_WAIT);
        let refused = line.as_ref().is_some_and(|line| {
            line["type"] == "error" && line["error"].as_str().unwrap_or("").contains("full")
        });
        assert!(
            refused,
            "a client beyond the server's {} got {line:?}",
            server.capacity
        );
    }
    assert!(
        joined_in < JOIN_DEADLINE,
        "{crowd} clients took {joined_in:?} to claim their names"
    );
    assert!(
        peak_mib < MAX_PEAK_RSS_MIB,
        "{crowd} clients took the server to {peak_mib} MiB"
    );
    (p99 >= MAX_PROBE_P99).then(|| {
        format!(
            "the probe's p99 was {p99:?} over {} messages while {crowd} clients joined (worst {:?})",
            latencies.len(),
            latencies.last()
        )
    })
}

/// The crowd: every member's socket, read on one poll loop.
struct Crowd {
    address: SocketAddr,
    size: usize,
    poll: Poll,
    members: Vec<Member>,
    confirmed: usize,
    buf: Vec<u8>,
}

struct Member {
    stream: TcpStream,
    /// The server's confirmation of this member's name, as it sends it.
    confirmation: Vec<u8>,
    confirmed: bool,
    /// A line begun in one read and not finished yet.
    partial: Vec<u8>,
    /// The last message of the talker this member heard live.
    last_heard: Option<u64>,
}

impl Crowd {
    fn new(address: SocketAddr, size: usize) -> Crowd {
        Crowd {
            address,
            size,
            poll: Poll::new().expect("a poll for the crowd"),
            members: Vec::with_capacity(size),
            confirmed: 0,
            buf: vec![0; 64 * 1024],
        }
    }

    /// Connects every member and claims its name, a window of them at a time (a crowd of real
    /// clients does not arrive in one instant either), reading everything the server sends,
    /// until every name is confirmed or `deadline` passes.
    fn join_all(&mut self, deadline: Instant) {
        let mut events = Events::with_capacity(1024);
        while self.confirmed < self.size {
            assert!(
                Instant::now() < deadline,
                "{} of {} clients had their names confirmed in {JOIN_DEADLINE:?}",
                self.confirmed,
                self.size
            );
            while self.members.len() < self.size
                && self.members.len() - self.confirmed < JOINING_AT_ONCE
            {
                self.connect_one();
            }
            self.turn(&mut events);
        }
    }

    /// Reads until every member heard the talker's message `last`.
    fn read_until_every_member_has(&mut self, last: u64, deadline: Instant) {
        let mut events = Events::with_capacity(1024);
        loop {
            let behind = self
                .members
                .iter()
                .filter(|member| member.last_heard != Some(last))
                .count();
            if behind == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{behind} clients that kept reading never got message {last}"
            );
            self.turn(&mut events);
        }
    }

    fn connect_one(&mut self) {
        let index = self.members.len();
        let name = format!("c{index}");
        let mut stream = std::net::TcpStream::connect(self.address)
            .unwrap_or_else(|e| panic!("client {index} cannot connect: {e}"));
        stream
            .write_all(format!("{}\n", json!({ "username": name })).as_bytes())
            .expect("claim a name");
        stream.set_nonblocking(true).expect("non-blocking");
        let mut stream = TcpStream::from_std(stream);
        self.poll
            .registry()
            .register(&mut stream, Token(index), Interest::READABLE)
            .expect("register a client");
        let confirmation = json!({"type": "join", "username": name}).to_string();
        self.members.push(Member {
            stream,
            confirmation: confirmation.into_bytes(),
            confirmed: false,
            partial: Vec::new(),
            last_heard: None,
        });
    }

    /// Waits a little for readiness, then reads every ready member dry.
    fn turn(&mut self, events: &mut Events) {
        match self.poll.poll(events, Some(TURN_WAIT)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return,
            Err(e) => panic!("poll: {e}"),
        }
        for event in events.iter() {
            let index = event.token().0;
            let member = &mut self.members[index];
            loop {
                match member.stream.read(&mut self.buf) {
                    Ok(0) => panic!("the server closed client {index}, which kept reading"),
                    Ok(n) => {
                        if member.take(&self.buf[..n], index) {
                            self.confirmed += 1;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => panic!("client {index}: {e}"),
                }
            }
        }
    }
}

impl Member {
    /// Takes bytes from the server; true when they confirmed the member's name.
    fn take(&mut self, bytes: &[u8], index: usize) -> bool {
        let mut confirmed_now = false;
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let line = if self.partial.is_empty() {
                &rest[..end]
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                &self.partial[..]
            };
            confirmed_now |= judge(
                line,
                index,
                &self.confirmation,
                &mut self.confirmed,
                &mut self.last_heard,
            );
            rest = &rest[end + 1..];
            self.partial.clear();
        }
        self.partial.extend_from_slice(rest);
        confirmed_now
    }
}

/// Looks at one line a member got; true when it is the member's confirmation.
fn judge(
    line: &[u8],
    index: usize,
    confirmation: &[u8],
    confirmed: &mut bool,
    last_heard: &mut Option<u64>,
) -> bool {
    let text = String::from_utf8_lossy(line);
    if line == confirmation {
        assert!(!*confirmed, "client {index} was confirmed twice");
        *confirmed = true;
        return true;
    }
    assert!(
        !text.contains("\"type\":\"error\""),
        "client {index}, which kept reading, got {text}"
    );
    // The history a newcomer gets is marked; only live messages count.
    if let Some(seq) = talker_seq(&text).filter(|_| !text.contains("\"history\":true")) {
        assert!(
            *confirmed,
            "client {index} heard the room before it joined: {text}"
        );
        if let Some(previous) = *last_heard {
            assert_eq!(seq, previous + 1, "client {index} missed a message");
        }
        *last_heard = Some(seq);
    }
    false
}

/// The talker's message number, if `line` is one of its messages.
fn talker_seq(line: &str) -> Option<u64> {
    let rest = line.strip_prefix(TALKER_PREFIX)?;
    rest.split(' ').next()?.parse().ok()
}

/// A client that speaks every [`TALK_INTERVAL`], each message holding its number and when it
/// was sent.
struct Talker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u64, Peer)>,
}

impl Talker {
    /// Starts talking; `last` is set to the number of the last message before it is sent.
    fn start(server: &ChatServer, origin: Instant, last: Arc<AtomicU64>) -> Talker {
        let mut peer = server.join("talker");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::spawn({
            let stop = stop.clone();
            move || {
                let mut seq = 0;
                loop {
                    seq += 1;
                    let is_last = seq >= MIN_SAMPLES && stop.load(Ordering::Relaxed);
                    if is_last {
                        last.store(seq, Ordering::Relaxed);
                    }
                    let sent = origin.elapsed().as_micros();
                    peer.say("talker", &format!("{seq} {sent}"));
                    if is_last {
                        return (seq, peer);
                    }
                    thread::sleep(TALK_INTERVAL);
                }
            }
        });
        Talker { stop, thread }
    }

    /// Stops after at least [`MIN_SAMPLES`] messages; returns the number of the last, and the
    /// talker's connection.
    fn stop(self) -> (u64, Peer) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the talker failed")
    }
}

/// A client that only listens, timing every message of the talker.
struct Probe {
    thread: JoinHandle<(Vec<Duration>, Peer)>,
}

impl Probe {
    /// Listens until it has the talker's message number `last` (once the talker set it).
    fn start(server: &ChatServer, origin: Instant, last: Arc<AtomicU64>) -> Probe {
        let mut peer: Peer = server.join("probe");
        let thread = thread::spawn({
            move || {
                let mut latencies = Vec::new();
                loop {
                    let line = peer.raw_line();
                    let Some(seq) = talker_seq(&line) else {
                        continue;
                    };
                    let sent = line[TALKER_PREFIX.len()..]
                        .split(' ')
                        .nth(1)
                        // The message ends at its closing quote; the server's time may follow.
                        .and_then(|sent| sent.split('"').next())
                        .and_then(|sent| sent.parse().ok())
                        .map(Duration::from_micros)
                        .expect("the send time");
                    latencies.push(origin.elapsed().saturating_sub(sent));
                    if seq >= last.load(Ordering::Relaxed) {
                        return (latencies, peer);
                    }
                }
            }
        });
        Probe { thread }
    }

    /// Once the probe heard the talker's last message: how late each message reached it, and
    /// the probe's connection.
    fn finish(self) -> (Vec<Duration>, Peer) {
        self.thread.join().expect("the probe failed")
    }
}

/// Raises this process's soft descriptor limit to its hard limit; fails the test, saying so,
/// when even that is below `needed`.
fn raise_own_fd_limit(needed: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by reference.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    assert!(ok, "getrlimit: {}", io::Error::last_os_error());
    let hard = limit.rlim_max;
    assert!(
        hard == libc::RLIM_INFINITY || hard >= needed as libc::rlim_t,
        "the crowd test needs {needed} file descriptors and the hard limit is {hard}: raise it \
         (ulimit -Hn, or LimitNOFILE= for a service) and run it again"
    );
    limit.rlim_cur = hard;
    // SAFETY: as above.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == 0;
    assert!(ok, "setrlimit: {}", io::Error::last_os_error());
}

const CROWD: usize = 10_000;
/// Below this the test would say little; a server holds more unless its host is tiny.
const MIN_CROWD: usize = 1000;
/// The talker and the probe, beside the crowd.
const TALKER_AND_PROBE: usize = 2;
/// Descriptors this process needs besides the crowd's: the talker's, the probe's, pipes, files.
const FD_HEADROOM: usize = 256;
const JOIN_DEADLINE: Duration = Duration::from_secs(20);
const MAX_PEAK_RSS_MIB: u64 = 256;
const MAX_PROBE_P99: Duration = Duration::from_millis(50);
/// Members connected but not yet confirmed at any time: enough to keep the server busy,
/// few enough for any listen backlog.
const JOINING_AT_ONCE: usize = 100;
/// The talker's pace: 20 messages a second, each a delivery to every member that joined (up
/// to 200,000 a second), so the room is busy but the machine is not only this test.
const TALK_INTERVAL: Duration = Duration::from_millis(50);
/// The probe's p99 is taken over at least this many messages.
const MIN_SAMPLES: u64 = 100;
const TURN_WAIT: Duration = Duration::from_millis(5);
/// How long the last message may take to reach every member once the crowd is in.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refusal may take: it is written as the connection is accepted.
const REFUSAL_WAIT: Duration = Duration::from_secs(2);
const TALKER_PREFIX: &str = "{\"username\":\"talker\",\"message\":\"";
