//! `ferry-std files`: the file server on std threads. One accept thread, one blocking thread per
//! connection; each drives its `HttpConn` and a shared [`FileSession`], and sends download bodies
//! with sendfile(2) on its blocking socket. Every decision is the core's.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use ferry_cli::FilesOptions;
use ferry_core::files;
use ferry_core::http::{HttpConfig, HttpConn};
use ferry_core::limits::{self, SHUTDOWN_GRACE};
use ferry_shell::files::{FileServer, FileSession, Sending};
use ferry_shell::stream::Stream;
use ferry_shell::tls::ServerTls;
use time::OffsetDateTime;

use crate::accept::{Listener, StopConnections};
use crate::signal::Shutdown;

/// Runs the file server until SIGINT or SIGTERM.
pub fn run(options: &FilesOptions) -> Result<(), String> {
    let shutdown = Shutdown::on_signals().map_err(|e| format!("cannot watch signals: {e}"))?;
    let mut server = FileServer::open(options)?;
    let tls = ServerTls::for_port(
        "file server",
        options.tls.files().as_ref(),
        ferry_core::tls::Alpn::Http11,
        options.header_timeout,
    )?;
    crate::signal::reload_on_sighup(tls.iter().cloned().collect())
        .map_err(|e| format!("cannot watch signals: {e}"))?;
    let secure = tls.is_some();
    let listener = ferry_shell::bind_tcp("file server", &options.bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("file server: {e}"))?;
    if let Some(notice) = server.bound(address.ip(), options.allow_anonymous_writes) {
        eprintln!("ferry-std: {notice}");
    }
    let server = Arc::new(server);
    let files = server.clone();
    let http = options.http_config();
    let limit = limits::connection_limit(ferry_shell::raise_fd_limit(), true);
    let stop = shutdown.clone();
    let listener = Listener::start(
        listener,
        shutdown.clone(),
        limit,
        crate::conn::refusal_for(secure),
        move |tcp| {
            if let Ok(stream) = Stream::accept(tcp, tls.as_ref()) {
                let _ = serve(stream, &server, http, &stop);
            }
        },
    )
    .map_err(|e| format!("cannot start: {e}"))?;
    println!(
        "{}",
        crate::conn::secure_if(secure, files::listening(address))
    );
    shutdown.wait();
    listener.stop(SHUTDOWN_GRACE, StopConnections::Notify);
    // Uploads the grace period cut short leave no temporary file.
    files.finish();
    Ok(())
}

/// Serves one connection until the core says it is closed or the socket fails.
fn serve(
    mut stream: Stream,
    server: &FileServer,
    http: HttpConfig,
    stop: &Shutdown,
) -> io::Result<()> {
    stream.tcp().set_nodelay(true)?;
    let remote = stream.tcp().peer_addr()?.ip();
    let mut conn = HttpConn::new(http, Instant::now(), OffsetDateTime::now_utc());
    let mut session = FileSession::new(remote);
    let mut out = Vec::new();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut write_shut = false;
    loop {
        session.drive(server, &mut conn, Instant::now());
        conn.poll_transmit(&mut out);
        if !crate::conn::write_out(&mut stream, &mut conn, &mut out)? || session.broken {
            return Ok(());
        }
        if let Some(mut sending) = session.sending.take() {
            let sent = match &stream {
                Stream::Plain(tcp) => sending.send_blocking(tcp, &mut conn),
                Stream::Tls(_) => copy_body(&mut sending, &mut stream, &mut conn),
            };
            if !matches!(sent, Ok(true)) {
                session.body_cut(server, sending.remaining);
                return sent.map(|_| ());
            }
            session.body_sent(server, &mut conn, Instant::now());
            continue;
        }
        if !crate::conn::read_next(&mut stream, &mut conn, &mut write_shut, &mut buf, stop)? {
            return Ok(());
        }
    }
}

/// Sends a download body over TLS, where sendfile(2) cannot encrypt: piece by piece through
/// the stream, each write bounded by the core's deadlines as any answer is.
fn copy_body(sending: &mut Sending, stream: &mut Stream, conn: &mut HttpConn) -> io::Result<bool> {
    let mut piece = Vec::with_capacity(BODY_PIECE);
    while sending.remaining > 0 {
        piece.clear();
        sending.read_piece(&mut piece, BODY_PIECE)?;
        if !crate::conn::write_out(stream, conn, &mut piece)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A file body over TLS is read this much at a time: four full TLS records.
const BODY_PIECE: usize = 64 * 1024;

/// Bytes read per call: a head, or a good piece of an upload.
const READ_BUFFER: usize = 64 * 1024;
