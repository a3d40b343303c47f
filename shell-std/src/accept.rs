//! A listener of the thread-per-connection shell, for every HTTP port (web app, file server):
//! one accept thread, one thread per connection up to a bound, and a shutdown that stops
//! accepting, lets connections finish their request, then returns.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown as SocketShutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferry_core::settings::SHUTDOWN_GRACE;

use crate::signal::{Shutdown, WorkerCount};

/// What a connection thread runs: the connection's whole life.
type Serve = dyn Fn(TcpStream) + Send + Sync;

/// A running listener.
pub struct Listener {
    address: SocketAddr,
    accept_thread: JoinHandle<()>,
    live: Arc<Mutex<HashMap<u64, TcpStream>>>,
    workers: WorkerCount,
}

impl Listener {
    /// Starts accepting on `listener`; each connection, up to `max_connections` at a time, gets
    /// a thread that runs `serve` on it.
    pub fn start(
        listener: TcpListener,
        shutdown: Shutdown,
        max_connections: usize,
        serve: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> io::Result<Listener> {
        let address = listener.local_addr()?;
        let live: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
        let workers = WorkerCount::default();
        let serve: Arc<Serve> = Arc::new(serve);
        let accept_thread = {
            let live = live.clone();
            let workers = workers.clone();
            thread::Builder::new()
                .name("accept".into())
                .spawn(move || {
                    accept_loop(listener, serve, live, workers, shutdown, max_connections)
                })?
        };
        Ok(Listener {
            address,
            accept_thread,
            live,
            workers,
        })
    }

    /// Stops accepting, wakes idle connections so they close, and waits (bounded) for
    /// in-flight requests to be answered.
    pub fn stop(self) {
        // The accept thread is blocked in accept(); a connection to itself wakes it to see the
        // shutdown flag.
        let _ = TcpStream::connect_timeout(&wake_address(self.address), Duration::from_secs(1));
        let _ = self.accept_thread.join();
        for stream in self.live.lock().unwrap_or_else(|e| e.into_inner()).values() {
            // A blocked read returns EOF: an idle connection closes, one whose request is being
            // answered still sends its response first.
            let _ = stream.shutdown(SocketShutdown::Read);
        }
        self.workers.wait_idle(Instant::now() + SHUTDOWN_GRACE);
    }
}

fn accept_loop(
    listener: TcpListener,
    serve: Arc<Serve>,
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
                // Out of file descriptors (EMFILE/ENFILE) or a connection reset before it was
                // accepted: wait a little instead of spinning on the same error.
                if error
                    .raw_os_error()
                    .is_some_and(|code| code == 23 || code == 24)
                {
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
        let serve = serve.clone();
        let live_for_thread = live.clone();
        let workers_for_thread = workers.clone();
        let spawned = thread::Builder::new()
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                serve(stream);
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

/// Where to connect to reach a listener bound to `address` (a wildcard becomes loopback).
fn wake_address(address: SocketAddr) -> SocketAddr {
    ferry_core::datagram::forward_target(address)
}

/// Connection threads parse, answer and copy; 256 KiB of stack is plenty.
const CONNECTION_STACK: usize = 256 * 1024;
