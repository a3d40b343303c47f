//! `ferry-std files`: the file server on std threads. One accept thread, one blocking thread per
//! connection; each drives its `HttpConn` and a shared [`FileSession`], and sends download bodies
//! with sendfile(2) on its blocking socket. Every decision is the core's.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use ferry_cli::FilesOptions;
use ferry_core::files;
use ferry_core::http::{HttpConfig, HttpConn};
use ferry_core::limits::{self, SHUTDOWN_GRACE};
use ferry_shell::files::{FileServer, FileSession};
use time::OffsetDateTime;

use crate::accept::{Listener, StopConnections};
use crate::signal::Shutdown;

/// Runs the file server until SIGINT or SIGTERM.
pub fn run(options: &FilesOptions) -> Result<(), String> {
    let shutdown = Shutdown::on_signals().map_err(|e| format!("cannot watch signals: {e}"))?;
    let server = Arc::new(FileServer::open(options)?);
    let files = server.clone();
    let listener = ferry_shell::bind_tcp("file server", &options.bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("file server: {e}"))?;
    let http = options.http_config();
    let limit = limits::connection_limit(ferry_shell::raise_fd_limit(), true);
    let stop = shutdown.clone();
    let listener = Listener::start(
        listener,
        shutdown.clone(),
        limit,
        crate::conn::refusal,
        move |stream| {
            let _ = serve(stream, &server, http, &stop);
        },
    )
    .map_err(|e| format!("cannot start: {e}"))?;
    println!("{}", files::listening(address));
    shutdown.wait();
    listener.stop(SHUTDOWN_GRACE, StopConnections::Notify);
    // Uploads the grace period cut short leave no temporary file.
    files.finish();
    Ok(())
}

/// Serves one connection until the core says it is closed or the socket fails.
fn serve(
    mut stream: TcpStream,
    server: &FileServer,
    http: HttpConfig,
    stop: &Shutdown,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let remote = stream.peer_addr()?.ip();
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
            let sent = sending.send_blocking(&stream, &mut conn);
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

/// Bytes read per call: a head, or a good piece of an upload.
const READ_BUFFER: usize = 64 * 1024;
