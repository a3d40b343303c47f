//! The chat benchmark's load generator: many clients on one mio loop, sending JSON lines paced at
//! a total rate, reading every copy the server delivers and timing it by the send timestamp
//! inside the message.
//!
//! Phases: connect every client (and, for ferry, claim a username each and wait until every
//! client has the server's confirmation of its own name: the join time), settle, warm up at
//! the paced rate, measure for the window, then stop sending and drain until every copy of the
//! window's messages arrived or nothing has arrived for a while. Prints one JSON object, with
//! the server's peak resident memory (VmHWM) when given its pid.
//!
//! With `--websocket` every client speaks WebSocket to ferry's chat web port (`/ws`) instead:
//! the same JSON objects, one per masked text frame, each frame read back as one line.
//!
//! Works with any server that relays each line to every other client: a JSON-aware one (ferry)
//! or one that prefixes lines (`ncat --chat` sends `<user5> {...}`); it only looks for the
//! `"message":"` field in what it reads.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Args {
    /// The servers: client `i` connects to `addrs[i % addrs.len()]` (`--addr` repeated for
    /// the nodes of a chat cluster).
    addrs: Vec<SocketAddr>,
    clients: usize,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    drain: Duration,
    claim_names: bool,
    /// How long clients may wait for the server to confirm their names.
    join_timeout: Duration,
    server_pid: Option<u32>,
    clk_tck: f64,
    padding: usize,
    /// Speak WebSocket at `/ws` (ferry's `chat --web`) instead of JSON lines.
    websocket: bool,
    /// Log every client in to its account `cN` with this password instead of joining as a
    /// guest (the accounts must exist on the server).
    login: Option<String>,
}

struct Client {
    stream: TcpStream,
    /// Which of the `--addr` servers it is connected to.
    node: usize,
    /// The server's confirmation of this client's name, until it arrives.
    awaited: Option<Vec<u8>>,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    write_ready: bool,
    closed: bool,
    /// WebSocket: bytes read that are not yet whole frames (`None` for a line client).
    frames: Option<Vec<u8>>,
    /// WebSocket: the server's `101` head has not all arrived yet.
    handshaking: bool,
}

#[derive(Default)]
struct Stats {
    /// Copies received while the window was open, whenever they were sent.
    received_in_window: u64,
    /// Delivery latency in microseconds of every copy of a message sent in the window.
    latencies: Vec<u32>,
    /// The same for the copies that crossed from one node to another (with several --addr).
    cross_latencies: Vec<u32>,
    /// How many servers (`--addr`) the clients are spread over.
    nodes: usize,
    /// Messages created in the window.
    sent_in_window: u64,
    /// Messages created in all.
    sent: u64,
    error_lines: u64,
    closed_clients: u64,
    /// Clients whose name the server confirmed.
    confirmed: usize,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("loadgen: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let origin = Instant::now();
    let mut poll = Poll::new()?;
    let mut clients = Vec::with_capacity(args.clients);
    let mut stats = Stats {
        nodes: args.addrs.len(),
        ..Stats::default()
    };
    let mut events = Events::with_capacity(1024);
    // ferry checks at most 8 logins of one address at once and refuses more.
    let join_window = if args.login.is_some() {
        LOGIN_WINDOW
    } else {
        JOIN_WINDOW
    };
    for index in 0..args.clients {
        // What the server says to the clients already in (announcements of each newcomer) is
        // read as they connect: a server that writes with blocking calls would otherwise stall
        // on a full socket and stop accepting. At most JOIN_WINDOW names wait for their
        // confirmation at a time, as a crowd does not arrive in one instant either.
        loop {
            let answered = stats.confirmed + stats.closed_clients as usize;
            let waiting = if args.claim_names {
                index - answered.min(index)
            } else {
                0
            };
            let wait = if waiting >= join_window {
                JOIN_WAIT
            } else {
                Duration::ZERO
            };
            // ncat announces every newcomer to everyone with blocking writes: read after each.
            if wait.is_zero() && args.claim_names && index % join_window != 0 {
                break;
            }
            turn(
                &mut poll,
                &mut events,
                &mut clients,
                &mut stats,
                origin,
                None,
                wait,
            )?;
            if wait.is_zero() {
                break;
            }
        }
        let node = index % args.addrs.len();
        let addr = args.addrs[node];
        let stream = std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(stream);
        poll.registry().register(
            &mut stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let awaited = args
            .claim_names
            .then(|| format!("{{\"type\":\"join\",\"username\":\"c{index}\"}}").into_bytes());
        let mut client = Client {
            stream,
            node,
            awaited,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            write_ready: true,
            closed: false,
            frames: args.websocket.then(Vec::new),
            handshaking: args.websocket,
        };
        if args.websocket {
            // The first frames may follow the request at once: the server keeps what comes
            // after the handshake for the WebSocket.
            client.output.extend_from_slice(
                format!(
                    "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                     Sec-WebSocket-Version: 13\r\n\r\n",
                    addr
                )
                .as_bytes(),
            );
        }
        if args.claim_names {
            let claim = match &args.login {
                Some(password) => format!(
                    "{{\"type\":\"login\",\"username\":\"c{index}\",\"password\":\"{password}\"}}\n"
                ),
                None => format!("{{\"username\":\"c{index}\"}}\n"),
            };
            client.queue(claim.as_bytes());
        }
        clients.push(client);
    }
    let padding = "x".repeat(args.padding);
    let mut line = Vec::new();

    // Joining: until every client has its own name confirmed (ncat confirms nothing).
    let join_deadline = Instant::now() + args.join_timeout;
    while args.claim_names
        && stats.confirmed + (stats.closed_clients as usize) < args.clients
        && Instant::now() < join_deadline
    {
        turn(
            &mut poll,
            &mut events,
            &mut clients,
            &mut stats,
            origin,
            None,
            SETTLE_WAIT,
        )?;
    }
    let join_seconds = origin.elapsed().as_secs_f64();
    let confirmed = stats.confirmed;

    // Settle: joins are answered and announced before any load.
    let settle_end = Instant::now() + SETTLE;
    while Instant::now() < settle_end {
        turn(
            &mut poll,
            &mut events,
            &mut clients,
            &mut stats,
            origin,
            None,
            SETTLE_WAIT,
        )?;
    }
    stats = Stats {
        closed_clients: stats.closed_clients,
        confirmed: stats.confirmed,
        nodes: stats.nodes,
        ..Stats::default()
    };

    let send_start = Instant::now();
    let window_start = send_start + args.warmup;
    let window_end = window_start + args.duration;
    let window = (micros(origin, window_start), micros(origin, window_end));
    let mut cpu_start = None;
    let mut own_cpu_start = 0.0;
    let mut cpu_clock = window_start;
    loop {
        let now = Instant::now();
        if now >= window_end {
            break;
        }
        if cpu_start.is_none() && now >= window_start {
            cpu_start = Some(args.server_pid.map(|pid| cpu_seconds(pid, args.clk_tck)));
            own_cpu_start = cpu_seconds_self(args.clk_tck);
            cpu_clock = now;
        }
        let due = (now.duration_since(send_start).as_secs_f64() * args.rate) as u64;
        while stats.sent < due {
            let index = (stats.sent % args.clients as u64) as usize;
            let sent_at = micros(origin, Instant::now());
            line.clear();
            write_message(
                &mut line,
                index,
                sent_at,
                stats.sent,
                &padding,
                args.claim_names,
            );
            stats.sent += 1;
            let client = &mut clients[index];
            if !client.closed {
                if sent_at >= window.0 {
                    stats.sent_in_window += 1;
                }
                client.queue(&line);
                if client.flush().is_err() {
                    client.closed = true;
                    stats.closed_clients += 1;
                }
            }
        }
        let next = send_start + Duration::from_secs_f64((stats.sent + 1) as f64 / args.rate);
        let wait = next
            .min(window_end)
            .saturating_duration_since(Instant::now());
        turn(
            &mut poll,
            &mut events,
            &mut clients,
            &mut stats,
            origin,
            Some(window),
            wait,
        )?;
    }
    // A busy turn can end past the window: CPU is read over the time that really passed and
    // scaled to the window, as the deliveries are counted in it.
    let scale = args.duration.as_secs_f64() / cpu_clock.elapsed().as_secs_f64().max(1e-9);
    let server_cpu = match (cpu_start.flatten(), args.server_pid) {
        (Some(start), Some(pid)) => Some((cpu_seconds(pid, args.clk_tck) - start) * scale),
        _ => None,
    };
    let own_cpu = (cpu_seconds_self(args.clk_tck) - own_cpu_start) * scale;

    // Drain: the window's copies still on their way.
    // Every other client should get a copy; one the server dropped counts as copies lost.
    let expected = stats.sent_in_window * (args.clients as u64 - 1);
    let drain_end = Instant::now() + args.drain;
    let mut last_progress = Instant::now();
    let mut seen = stats.latencies.len();
    while (stats.latencies.len() as u64) < expected && Instant::now() < drain_end {
        turn(
            &mut poll,
            &mut events,
            &mut clients,
            &mut stats,
            origin,
            Some(window),
            SETTLE_WAIT,
        )?;
        if stats.latencies.len() > seen {
            seen = stats.latencies.len();
            last_progress = Instant::now();
        } else if last_progress.elapsed() > QUIET_DRAIN {
            break;
        }
    }

    let seconds = args.duration.as_secs_f64();
    let delivered = stats.latencies.len() as u64;
    stats.latencies.sort_unstable();
    stats.cross_latencies.sort_unstable();
    let percentile = |p: f64| percentile_ms(&stats.latencies, p);
    let cross = |p: f64| {
        let ms = percentile_ms(&stats.cross_latencies, p);
        json_number((stats.nodes > 1).then_some(ms))
    };
    let peak_rss_mib = args.server_pid.and_then(peak_rss_mib);
    let cpu_per_delivery = server_cpu
        .filter(|_| stats.received_in_window > 0)
        .map(|cpu| cpu * 1e6 / stats.received_in_window as f64);
    println!(
        "{{\"clients\":{},\"rate\":{},\"sent_per_s\":{:.1},\"deliveries_per_s\":{:.1},\
         \"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"server_cpu_s\":{},\
         \"cpu_us_per_delivery\":{},\"server_cpu_share\":{},\"loadgen_cpu_share\":{:.3},\
         \"expected\":{},\"delivered\":{},\"lost\":{},\"error_lines\":{},\"closed_clients\":{},\
         \"join_s\":{},\"confirmed\":{},\"peak_rss_mib\":{},\"nodes\":{},\
         \"cross_p50_ms\":{},\"cross_p99_ms\":{}}}",
        args.clients,
        args.rate,
        stats.sent_in_window as f64 / seconds,
        stats.received_in_window as f64 / seconds,
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
        json_number(server_cpu),
        json_number(cpu_per_delivery),
        json_number(server_cpu.map(|cpu| cpu / seconds)),
        own_cpu / seconds,
        expected,
        delivered,
        expected.saturating_sub(delivered),
        stats.error_lines,
        stats.closed_clients,
        json_number(args.claim_names.then_some(join_seconds)),
        confirmed,
        json_number(peak_rss_mib),
        stats.nodes,
        cross(0.50),
        cross(0.99),
    );
    Ok(())
}

/// The `p` quantile of `sorted` latencies (µs), in milliseconds; NaN when there are none.
fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[rank]) / 1000.0
}

/// One wait for readiness (at most `wait`), then every ready client read and written.
fn turn(
    poll: &mut Poll,
    events: &mut Events,
    clients: &mut [Client],
    stats: &mut Stats,
    origin: Instant,
    window: Option<(u64, u64)>,
    wait: Duration,
) -> io::Result<()> {
    match poll.poll(events, Some(wait)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
        Err(e) => return Err(e),
    }
    let mut buf = [0u8; 64 * 1024];
    for event in events.iter() {
        let Some(client) = clients.get_mut(event.token().0) else {
            continue;
        };
        if client.closed {
            continue;
        }
        if event.is_writable() {
            client.write_ready = true;
        }
        let mut failed = client.flush().is_err();
        while !failed {
            match client.stream.read(&mut buf) {
                Ok(0) => failed = true,
                Ok(n) => {
                    client.receive(&buf[..n]);
                    let now = micros(origin, Instant::now());
                    take_lines(client, now, window, stats);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => failed = true,
            }
        }
        if failed {
            client.closed = true;
            stats.closed_clients += 1;
        }
    }
    Ok(())
}

/// Counts every complete line in the client's input and drops it.
fn take_lines(client: &mut Client, now: u64, window: Option<(u64, u64)>, stats: &mut Stats) {
    let input = &mut client.input;
    let mut start = 0;
    while let Some(end) = input[start..].iter().position(|&b| b == b'\n') {
        let line = &input[start..start + end];
        start += end + 1;
        if client.awaited.as_deref() == Some(line) {
            client.awaited = None;
            stats.confirmed += 1;
            continue;
        }
        if find(line, b"\"error\"").is_some() {
            stats.error_lines += 1;
            continue;
        }
        let Some(at) = find(line, MESSAGE_FIELD) else {
            continue;
        };
        let Some((window_start, window_end)) = window else {
            continue;
        };
        let sent_at = line[at + MESSAGE_FIELD.len()..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
        if now >= window_start && now < window_end {
            stats.received_in_window += 1;
        }
        if sent_at >= window_start && sent_at < window_end {
            let latency = u32::try_from(now.saturating_sub(sent_at)).unwrap_or(u32::MAX);
            stats.latencies.push(latency);
            let sender_node = sender_index(line).map(|index| index % stats.nodes);
            if stats.nodes > 1 && sender_node.is_some_and(|node| node != client.node) {
                stats.cross_latencies.push(latency);
            }
        }
    }
    input.drain(..start);
}

/// The index `N` of the client named `cN` that sent `line`, if it says.
fn sender_index(line: &[u8]) -> Option<usize> {
    let at = find(line, USERNAME_FIELD)? + USERNAME_FIELD.len();
    let digits: Vec<u8> = line[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

fn write_message(
    out: &mut Vec<u8>,
    index: usize,
    sent_at: u64,
    seq: u64,
    padding: &str,
    named: bool,
) {
    // ncat relays raw lines, so the same JSON works for both; only ferry checks the name.
    let name = if named {
        format!("c{index}")
    } else {
        "load".to_string()
    };
    let _ = writeln!(
        out,
        "{{\"username\":\"{name}\",\"message\":\"{sent_at} {seq} {padding}\"}}"
    );
}

impl Client {
    /// Queues one line (with its newline) to send: as it is, or as a masked text frame.
    fn queue(&mut self, line: &[u8]) {
        if self.frames.is_none() {
            self.output.extend_from_slice(line);
            return;
        }
        let payload = line.strip_suffix(b"\n").unwrap_or(line);
        self.output.push(0x81);
        match payload.len() {
            len @ 0..=125 => self.output.push(0x80 | len as u8),
            len @ 126..=0xFFFF => {
                self.output.push(0x80 | 126);
                self.output.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                self.output.push(0x80 | 127);
                self.output.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        self.output.extend_from_slice(&MASK);
        self.output
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    }

    /// Takes bytes read: lines as they are, or each whole text frame as one line.
    fn receive(&mut self, bytes: &[u8]) {
        let Some(frames) = self.frames.as_mut() else {
            self.input.extend_from_slice(bytes);
            return;
        };
        frames.extend_from_slice(bytes);
        if self.handshaking {
            let Some(end) = find(frames, b"\r\n\r\n") else {
                return;
            };
            frames.drain(..end + 4);
            self.handshaking = false;
        }
        let mut start = 0;
        loop {
            let rest = &frames[start..];
            let Some((len, head)) = frame_length(rest) else {
                break;
            };
            if rest.len() < head + len {
                break;
            }
            if rest[0] & 0x0F == 0x1 {
                self.input.extend_from_slice(&rest[head..head + len]);
                self.input.push(b'\n');
            }
            start += head + len;
        }
        frames.drain(..start);
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.write_ready && self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.write_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
        }
        Ok(())
    }
}

/// The payload length and head length of the server frame (unmasked) at the start of `bytes`.
fn frame_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let second = *bytes.get(1)?;
    Some(match second & 0x7F {
        126 => (
            usize::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (
            usize::try_from(u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)).ok()?,
            10,
        ),
        len => (usize::from(len), 2),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn micros(origin: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(origin).as_micros()).unwrap_or(u64::MAX)
}

/// utime + stime of process `pid` (all its threads), in seconds.
fn cpu_seconds(pid: u32, clk_tck: f64) -> f64 {
    proc_cpu(&format!("/proc/{pid}/stat"), clk_tck)
}

fn cpu_seconds_self(clk_tck: f64) -> f64 {
    proc_cpu("/proc/self/stat", clk_tck)
}

fn proc_cpu(path: &str, clk_tck: f64) -> f64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // proc(5): utime and stime are fields 14 and 15; `fields[0]` is field 3.
    (ticks(11) + ticks(12)) / clk_tck
}

/// The peak resident set size of process `pid` (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    let kib: f64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

fn json_number(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.4}"),
        _ => "null".to_string(),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addrs: Vec::new(),
        clients: 100,
        rate: 2000.0,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(5),
        drain: Duration::from_secs(10),
        claim_names: true,
        join_timeout: Duration::from_secs(60),
        server_pid: None,
        clk_tck: 100.0,
        padding: 40,
        websocket: false,
        login: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let bad = |what: &str| format!("bad value for {what}");
        match flag.as_str() {
            "--addr" => args
                .addrs
                .push(value()?.parse().map_err(|_| bad("--addr"))?),
            "--clients" => args.clients = value()?.parse().map_err(|_| bad("--clients"))?,
            "--rate" => args.rate = value()?.parse().map_err(|_| bad("--rate"))?,
            "--warmup" => args.warmup = seconds(&value()?).ok_or(bad("--warmup"))?,
            "--duration" => args.duration = seconds(&value()?).ok_or(bad("--duration"))?,
            "--drain" => args.drain = seconds(&value()?).ok_or(bad("--drain"))?,
            "--raw" => args.claim_names = false,
            "--websocket" => args.websocket = true,
            "--login" => args.login = Some(value()?),
            "--join-timeout" => {
                args.join_timeout = seconds(&value()?).ok_or(bad("--join-timeout"))?
            }
            "--server-pid" => args.server_pid = Some(value()?.parse().map_err(|_| bad("pid"))?),
            "--clk-tck" => args.clk_tck = value()?.parse().map_err(|_| bad("--clk-tck"))?,
            "--padding" => args.padding = value()?.parse().map_err(|_| bad("--padding"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.addrs.is_empty() {
        args.addrs
            .push("127.0.0.1:7072".parse().map_err(|_| "default address")?);
    }
    if args.clients < 2 || args.rate <= 0.0 {
        return Err("need at least 2 clients and a rate above 0".into());
    }
    Ok(args)
}

fn seconds(text: &str) -> Option<Duration> {
    text.parse::<f64>().ok().map(Duration::from_secs_f64)
}

/// The field whose value starts with the send timestamp, as both servers relay it.
const MESSAGE_FIELD: &[u8] = b"\"message\":\"";
/// Where a named client's index starts in a line it sent (`"username":"c17"`).
const USERNAME_FIELD: &[u8] = b"\"username\":\"c";
/// The masking key of every frame the clients send (RFC 6455 asks for a fresh one per frame
/// against proxies; none sits between the load generator and the server).
const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];
/// Clients whose name waits for the server's confirmation at once, while connecting.
const JOIN_WINDOW: usize = 100;
/// Logins waiting at once: ferry's limit of logins in flight from one address.
const LOGIN_WINDOW: usize = 8;
const JOIN_WAIT: Duration = Duration::from_millis(1);
/// Time for every client's join to be answered and announced before the load starts.
const SETTLE: Duration = Duration::from_secs(1);
const SETTLE_WAIT: Duration = Duration::from_millis(10);
/// A server that has not accepted a connection in this long is not going to.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The drain ends once nothing has arrived for this long.
const QUIET_DRAIN: Duration = Duration::from_secs(2);
