//! `ferry-std chat --web`: the chat's web port on std threads. Each connection's core
//! `WebChatConn` answers the page and the handshake on the connection's thread; once it is a
//! WebSocket, it joins the same [`Room`] as the TCP clients, with the same pair of threads: this
//! thread reads and feeds the conn, then the hub; a writer thread hands the hub's lines and
//! closes to the conn and writes what the conn makes of them (frames). The conn sits behind its
//! own mutex, taken briefly by either thread and never across a socket call. What is framed,
//! refused or closed, and when, is the core's.

use std::io::{self, Read, Write};
use std::net::{Shutdown as SocketShutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferry_cli::ChatOptions;
use ferry_core::chat::{web, ClientId, Peer, WebChatConfig, WebChatConn, WebChatEvent};
use ferry_core::tls::Alpn;
use ferry_shell::stream::Stream;
use ferry_shell::tls::ServerTls;
use ferry_shell::wait::{wait_readable, Woken};
use time::OffsetDateTime;

use super::{spawn_small, Outbox, OutboxState, Room, READ_BUFFER, WRITE_TIMEOUT};
use crate::accept::Listener;
use crate::signal::Shutdown;

/// Starts the web port on `address`; returns its listener and listening line.
pub(super) fn start(
    options: &ChatOptions,
    address: &str,
    room: &Arc<Room>,
    shutdown: &Shutdown,
    limit: usize,
) -> Result<(Listener, String), String> {
    let config = options.web_config();
    let tls = ServerTls::for_port(
        "chat web page",
        options.tls.files().as_ref(),
        Alpn::Http11,
        config.http.header_timeout,
    )?;
    let listener = ferry_shell::bind_tcp("chat web page", address)?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("chat web page: {e}"))?;
    let secure = tls.is_some();
    let room = room.clone();
    let stop = shutdown.clone();
    let listener = Listener::start(
        listener,
        shutdown.clone(),
        limit,
        crate::conn::refusal_for(secure),
        move |tcp: TcpStream| {
            let _ = tcp.set_nodelay(true);
            let Ok(remote) = tcp.peer_addr() else {
                return;
            };
            let peer = Peer {
                address: remote.ip(),
                secure,
            };
            if let Ok(stream) = Stream::accept(tcp, tls.as_ref()) {
                let _ = serve(stream, peer, &room, config, &stop);
            }
        },
    )
    .map_err(|e| format!("cannot start: {e}"))?;
    let line = crate::conn::secure_if(secure, web::listening_line(bound));
    Ok((listener, line))
}

/// One connection of the web port: HTTP on this thread until the conn opens a WebSocket,
/// then the chat client's reader here and its writer beside.
fn serve(
    mut stream: Stream,
    peer: Peer,
    room: &Arc<Room>,
    config: WebChatConfig,
    stop: &Shutdown,
) -> io::Result<()> {
    let mut conn = WebChatConn::new(config, Instant::now(), OffsetDateTime::now_utc());
    let mut buf = vec![0u8; READ_BUFFER];
    let mut out = Vec::new();
    let mut write_shut = false;
    let mut stopping = false;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    loop {
        conn.poll_transmit(&mut out);
        if !out.is_empty() {
            stream.write_all(&out)?;
            stream.flush()?;
            out.clear();
        }
        // The conn reports `Opened` first, before any input of the WebSocket.
        if let Some(event) = conn.poll_event() {
            debug_assert_eq!(event, WebChatEvent::Opened);
            return serve_websocket(stream, conn, peer, room);
        }
        if conn.is_closed() {
            return Ok(());
        }
        if conn.is_write_closed() && !write_shut {
            stream.shutdown(SocketShutdown::Write)?;
            write_shut = true;
        }
        read_once(&mut stream, &mut conn, &mut buf, stop, &mut stopping)?;
    }
}

/// Reads once, waiting no longer than the conn's next deadline or a stop, and feeds the conn.
fn read_once(
    stream: &mut Stream,
    conn: &mut WebChatConn,
    buf: &mut [u8],
    stop: &Shutdown,
    stopping: &mut bool,
) -> io::Result<()> {
    let now = Instant::now();
    if !*stopping && stop.is_requested() {
        *stopping = true;
        conn.handle_shutdown(now);
        return Ok(());
    }
    if conn.poll_timeout().is_some_and(|deadline| deadline <= now) {
        conn.handle_timeout(now);
        return Ok(());
    }
    if !conn.wants_read() {
        // Each request is answered before the next read, so nothing can move it any more.
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    // std refuses a zero timeout.
    let wait = conn.poll_timeout().map(|deadline| {
        deadline
            .saturating_duration_since(now)
            .max(Duration::from_millis(1))
    });
    // A stop already handed over is not watched again: its descriptor stays readable.
    let watch = if *stopping { None } else { stop.wake_fd() };
    if !stream.has_buffered_input() {
        match wait_readable(stream.tcp(), watch, wait)? {
            Woken::Socket => {}
            Woken::Stop => return Ok(()),
            Woken::Timeout => {
                conn.handle_timeout(Instant::now());
                return Ok(());
            }
        }
    }
    stream.set_read_timeout(wait)?;
    match stream.read(buf) {
        Ok(0) => conn.receive_eof(Instant::now()),
        Ok(n) => conn.receive(Instant::now(), &buf[..n]),
        Err(e) if is_retry(&e) => conn.handle_timeout(Instant::now()),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// What the reader and the writer of one WebSocket share.
struct Shared {
    conn: Mutex<WebChatConn>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, WebChatConn> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The WebSocket phase: a hub client, its writer thread, and reading here until the end.
fn serve_websocket(
    stream: Stream,
    conn: WebChatConn,
    peer: Peer,
    room: &Arc<Room>,
) -> io::Result<()> {
    let shared = Arc::new(Shared {
        conn: Mutex::new(conn),
    });
    let outbox = Arc::new(Outbox {
        state: Mutex::new(OutboxState::default()),
        ready: std::sync::Condvar::new(),
        stream: stream.try_clone()?,
    });
    let client = {
        let mut state = room.lock();
        let client = state.hub.connect_from(Instant::now(), peer);
        state.outboxes.insert(client, outbox.clone());
        room.dispatch(&mut state);
        client
    };
    let writer = {
        let (room, shared, outbox) = (room.clone(), shared.clone(), outbox.clone());
        let stream = stream.try_clone()?;
        spawn_small("chat-web-writer", move || {
            write_loop(client, stream, &shared, &outbox, &room)
        })
    };
    let writer = match writer {
        Ok(writer) => writer,
        Err(error) => {
            let mut state = room.lock();
            state.disconnect(client);
            room.dispatch(&mut state);
            return Err(error);
        }
    };
    // Frames that came with the handshake.
    feed_hub(client, &shared, &outbox, room);
    read_loop(stream, client, &shared, &outbox, room);
    let _ = writer.join();
    Ok(())
}

/// Reads and feeds the conn until it is closed or the socket ends.
fn read_loop(mut stream: Stream, client: ClientId, shared: &Shared, outbox: &Outbox, room: &Room) {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let (wait, closed) = {
            let conn = shared.lock();
            let now = Instant::now();
            let wait = conn.poll_timeout().map(|deadline| {
                deadline
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1))
            });
            (wait, conn.is_closed())
        };
        if closed || stream.set_read_timeout(wait).is_err() {
            break;
        }
        let read = stream.read(&mut buf);
        {
            let mut conn = shared.lock();
            let now = Instant::now();
            match &read {
                Ok(0) => conn.receive_eof(now),
                Ok(n) => conn.receive(now, &buf[..*n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    conn.handle_timeout(now)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A reset, or the socket was shut at a close's deadline.
                Err(_) => conn.receive_eof(now),
            }
        }
        feed_hub(client, shared, outbox, room);
        if matches!(read, Ok(0)) || matches!(&read, Err(e) if !is_retry(e)) {
            break;
        }
    }
    // Whatever happened, the writer ends and the hub forgets the client.
    let mut state = room.lock();
    state.disconnect(client);
    room.dispatch(&mut state);
}

/// Hands the conn's events to the hub and wakes the writer for the conn's own output.
fn feed_hub(client: ClientId, shared: &Shared, outbox: &Outbox, room: &Room) {
    let events: Vec<WebChatEvent> = {
        let mut conn = shared.lock();
        std::iter::from_fn(|| conn.poll_event()).collect()
    };
    if !events.is_empty() {
        let mut state = room.lock();
        for event in events {
            match event {
                WebChatEvent::Input(bytes) => state.hub.receive(Instant::now(), client, &bytes),
                WebChatEvent::Gone => state.disconnect(client),
                WebChatEvent::Opened => {}
            }
        }
        room.dispatch(&mut state);
    }
    let mut waiting = outbox.lock();
    waiting.kick = true;
    outbox.ready.notify_one();
}

/// Hands the hub's lines and close to the conn and writes what it makes of them, reporting
/// each batch written, until the conn will send nothing more.
fn write_loop(client: ClientId, mut stream: Stream, shared: &Shared, outbox: &Outbox, room: &Room) {
    let mut lines = Vec::new();
    let mut batch = Vec::new();
    loop {
        let (close, why) = {
            let mut state = outbox.lock();
            while state.lines.is_empty() && !state.close && !state.kick {
                state = outbox.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            state.kick = false;
            std::mem::swap(&mut lines, &mut state.lines);
            (state.close, state.why.take())
        };
        let handed = !lines.is_empty();
        let write_closed = {
            let mut conn = shared.lock();
            conn.send_lines(&lines);
            if let Some(why) = why {
                conn.close(why.reason, why.deadline);
            }
            conn.poll_transmit(&mut batch);
            conn.is_write_closed() || conn.is_closed()
        };
        lines.clear();
        let written = stream.write_all(&batch).and_then(|()| stream.flush());
        batch.clear();
        if close || write_closed || written.is_err() {
            if written.is_ok() && (write_closed || why.is_some()) {
                let _ = stream.shutdown(SocketShutdown::Write);
            }
            if written.is_err() || !write_closed && why.is_none() {
                // The reader ended the client (or the socket failed): nothing more to say.
                let _ = stream.shutdown(SocketShutdown::Both);
            }
            if close || written.is_err() {
                return;
            }
            continue;
        }
        if handed {
            let mut state = room.lock();
            state.hub.handle_drained(Instant::now(), client);
            room.dispatch(&mut state);
        }
    }
}

fn is_retry(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
