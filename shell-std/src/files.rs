//! `ferry-std files`: the file server on std threads. One accept thread, one blocking thread per
//! connection; each drives its `HttpConn` and a shared [`FileSession`], and sends download bodies
//! with sendfile(2) on its blocking socket. Every decision is the core's.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown as SocketShutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ferry_core::cli::FilesOptions;
use ferry_core::files;
use ferry_core::http::{HttpConfig, HttpConn};
use ferry_core::settings::{self, SHUTDOWN_GRACE};
use ferry_shell::files::{FileServer, FileSession};
use time::OffsetDateTime;

use crate::signal::{Shutdown, WorkerCount};

/// Runs the file server until SIGINT or SIGTERM.
pub fn run(options: &FilesOptions) -> Result<(), String> {
    let shutdown = Shutdown::on_signals().map_err(|e| format!("cannot watch signals: {e}"))?;
    let server = Arc::new(FileServer::open(options)?);
    let listener = ferry_shell::bind_tcp("file server", &options.bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("file server: {e}"))?;
    let http = files::http_config(options);
    let limit = settings::connection_limit(ferry_shell::raise_fd_limit(), true);
    let live: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
    let workers = WorkerCount::default();
    let accept_thread = {
        let (live, workers, shutdown) = (live.clone(), workers.clone(), shutdown.clone());
        thread::Builder::new()
            .name("files-accept".into())
            .spawn(move || accept_loop(listener, server, http, live, workers, shutdown, limit))
            .map_err(|e| format!("cannot start: {e}"))?
    };
    println!("{}", files::listening(address));
    shutdown.wait();
    let _ = TcpStream::connect_timeout(
        &ferry_core::cli::forward_target(address),
        Duration::from_secs(1),
    );
    let _ = accept_thread.join();
    for stream in live.lock().unwrap_or_else(|e| e.into_inner()).values() {
        let _ = stream.shutdown(SocketShutdown::Read);
    }
    workers.wait_idle(Instant::now() + SHUTDOWN_GRACE);
    Ok(())
}

fn accept_loop(
    listener: TcpListener,
    server: Arc<FileServer>,
    http: HttpConfig,
    live: Arc<Mutex<HashMap<u64, TcpStream>>>,
    workers: WorkerCount,
    shutdown: Shutdown,
    max_connections: usize,
) {
    let mut next_id: u64 = 0;
    loop {
        if !workers.acquire(max_connections, &shutdown) {
            return;
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(error) => {
                workers.release();
                if shutdown.is_requested() {
                    return;
                }
                // Out of file descriptors: wait a little instead of spinning on the error.
                if matches!(error.raw_os_error(), Some(23 | 24)) {
                    thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
        };
        if shutdown.is_requested() {
            workers.release();
            return;
        }
        next_id += 1;
        let id = next_id;
        if let Ok(clone) = stream.try_clone() {
            live.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, clone);
        }
        let (server, live_for_thread, workers_for_thread) =
            (server.clone(), live.clone(), workers.clone());
        let spawned = thread::Builder::new()
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let _ = serve(stream, &server, http);
                live_for_thread
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                workers_for_thread.release();
            });
        if spawned.is_err() {
            live.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            workers.release();
        }
    }
}

/// Serves one connection until the core says it is closed or the socket fails.
fn serve(mut stream: TcpStream, server: &FileServer, http: HttpConfig) -> io::Result<()> {
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
            let completed = matches!(sent, Ok(true));
            session.body_sent(server, &mut conn, Instant::now(), completed);
            if !completed {
                return sent.map(|_| ());
            }
            continue;
        }
        if !crate::conn::read_next(&mut stream, &mut conn, &mut write_shut, &mut buf)? {
            return Ok(());
        }
    }
}

/// Bytes read per call: a head, or a good piece of an upload.
const READ_BUFFER: usize = 64 * 1024;
/// Connection threads parse and copy; 256 KiB of stack is plenty.
const CONNECTION_STACK: usize = 256 * 1024;
