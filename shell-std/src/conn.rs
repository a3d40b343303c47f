//! One HTTP connection, driven on its own thread with blocking reads bounded by the core's
//! deadlines and woken by a stop. Every decision (parsing, status, keep-alive, timeouts, what a
//! stop does to the connection) is the core's.

use std::io::{self, Read, Write};
use std::net::Shutdown as SocketShutdown;
use std::time::{Duration, Instant};

use ferry_core::http::{self, HttpConfig, HttpConn, HttpEvent};
use ferry_core::web::app::{AppAction, MessageApp};
use ferry_shell::stream::Stream;
use ferry_shell::tcp_progress::bytes_acked;
use ferry_shell::wait::{wait_readable, Woken};
use time::OffsetDateTime;

use crate::forward::Forwarder;
use crate::signal::Shutdown;

/// What every connection of the web app shares.
pub struct WebContext {
    pub app: MessageApp,
    pub http: HttpConfig,
    pub forwarder: Forwarder,
    /// The server's stop, which each connection hands to its core.
    pub stop: Shutdown,
}

/// Serves one connection until the core says it is closed or the socket fails.
pub fn serve(mut stream: Stream, context: &WebContext) -> io::Result<()> {
    // Each response goes out in one write; without this, a response written after a partial
    // write would wait for the peer's delayed ACK (Nagle's algorithm).
    stream.tcp().set_nodelay(true)?;
    let mut conn = HttpConn::new(context.http, Instant::now(), OffsetDateTime::now_utc());
    let mut out = Vec::new();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut write_shut = false;
    loop {
        while let Some(event) = conn.poll_event() {
            if let HttpEvent::Request(request) = event {
                let response = match context.app.handle(&request) {
                    AppAction::Respond(response) => response,
                    AppAction::Forward(submission) => context
                        .app
                        .forwarded(&context.forwarder.forward(submission)),
                };
                // A request event always leaves one request pending.
                let _ = conn.respond(Instant::now(), response);
            }
        }
        conn.poll_transmit(&mut out);
        if !out.is_empty() && !write_out(&mut stream, &mut conn, &mut out)? {
            // The peer stopped reading: the core gave up on it.
            return Ok(());
        }
        if !read_next(
            &mut stream,
            &mut conn,
            &mut write_shut,
            &mut buf,
            &context.stop,
        )? {
            return Ok(());
        }
    }
}

/// The step of a connection thread once its output is written: closes what the core closed,
/// hands the core a stop, handles a deadline that passed, or reads once, waiting no longer than
/// the core's next deadline or the stop. False when the connection is finished.
pub fn read_next(
    stream: &mut Stream,
    conn: &mut HttpConn,
    write_shut: &mut bool,
    buf: &mut [u8],
    stop: &Shutdown,
) -> io::Result<bool> {
    if conn.is_closed() {
        return Ok(false);
    }
    if conn.is_write_closed() && !*write_shut {
        stream.shutdown(SocketShutdown::Write)?;
        *write_shut = true;
    }
    let now = Instant::now();
    if !conn.is_stopping() && stop.is_requested() {
        conn.handle_shutdown(now);
        return Ok(true);
    }
    if conn.poll_timeout().is_some_and(|deadline| deadline <= now) {
        conn.handle_timeout(now);
        return Ok(true);
    }
    if !conn.wants_read() {
        // A thread answers each request before reading again, so a connection that wants no
        // input has nothing left to do.
        return Ok(false);
    }
    let wait = conn.poll_timeout().map(|deadline| {
        // std refuses a zero read timeout.
        deadline
            .saturating_duration_since(now)
            .max(Duration::from_millis(1))
    });
    // A stop already handed over is not watched again: its descriptor stays readable.
    let watch = if conn.is_stopping() {
        None
    } else {
        stop.wake_fd()
    };
    // Plaintext a TLS session decrypted already is read without waiting on the socket.
    if !stream.has_buffered_input() {
        match wait_readable(stream.tcp(), watch, wait)? {
            Woken::Socket => {}
            Woken::Stop => return Ok(true),
            Woken::Timeout => {
                conn.handle_timeout(Instant::now());
                return Ok(true);
            }
        }
    }
    // Readable now; the timeout only guards against a spurious wake-up.
    stream.set_read_timeout(wait)?;
    match stream.read(buf) {
        Ok(0) => conn.receive_eof(Instant::now()),
        Ok(n) => conn.receive(Instant::now(), &buf[..n]),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            conn.handle_timeout(Instant::now())
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        Err(e) => return Err(e),
    }
    Ok(true)
}

/// What every HTTP port sends a connection beyond its limit: the core's 503, dated now.
pub fn refusal(out: &mut Vec<u8>) {
    http::encode_server_full(OffsetDateTime::now_utc(), out);
}

/// The refusal of an HTTP port: the 503, or nothing on a TLS port, where it would need a
/// handshake the accept thread cannot spend.
pub fn refusal_for(tls: bool) -> fn(&mut Vec<u8>) {
    if tls {
        |_| {}
    } else {
        refusal
    }
}

/// A listening line with the secure scheme when the port speaks TLS.
pub fn secure_if(tls: bool, line: String) -> String {
    if tls {
        ferry_core::tls::listening_line(&line)
    } else {
        line
    }
}

/// Writes `out` whole, each blocking write bounded by the core's next deadline, reporting every
/// write and what the peer acknowledged to the core; false when the core gave up on a peer that
/// takes no bytes.
pub fn write_out(stream: &mut Stream, conn: &mut HttpConn, out: &mut Vec<u8>) -> io::Result<bool> {
    let mut written = 0;
    let mut progress = 0;
    let mut flushed = false;
    loop {
        let now = Instant::now();
        let pending = written < out.len() || !flushed;
        conn.handle_written(now, progress, pending);
        if !pending {
            out.clear();
            return Ok(true);
        }
        if let Some(acked) = bytes_acked(stream.tcp()) {
            conn.handle_acked(now, acked);
        }
        if conn.poll_timeout().is_some_and(|deadline| deadline <= now) {
            // Other deadlines (idle, linger) may pass while a long answer is written; only the
            // write timeout ends the writing.
            conn.handle_timeout(now);
            if conn.is_write_timed_out() {
                return Ok(false);
            }
        }
        let wait = conn.poll_timeout().map(|deadline| {
            // std refuses a zero timeout.
            deadline
                .saturating_duration_since(now)
                .max(Duration::from_millis(1))
        });
        stream.set_write_timeout(wait)?;
        progress = 0;
        if written == out.len() {
            // Over TLS, records the socket did not take yet; nothing to do for plain TCP.
            match stream.flush() {
                Ok(()) => flushed = true,
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
            continue;
        }
        match stream.write(&out[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                written += n;
                progress = n;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Bytes read per call: a typical request head fits with room for a small form.
const READ_BUFFER: usize = 16 * 1024;
