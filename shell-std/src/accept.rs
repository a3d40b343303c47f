//! The listener of the thread-per-connection shell, for every TCP service of `ferry-std` (web app,
//! file server, chat server, the socket server's `--transport tcp` side): one accept thread, one
//! thread per connection up to a bound, an immediate refusal beyond it, and a shutdown that stops
//! accepting, lets connections finish, then returns.
//!
//! A connection beyond the bound is accepted, sent the service's refusal (bytes the core wrote)
//! and closed at once, so a crowd of idle or slow clients never locks the others out of the
//! listen backlog. Which bytes a refusal is, is the caller's core call; this module only moves
//! them.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown as SocketShutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::signal::{Shutdown, WorkerCount};

/// What a connection thread runs: the connection's whole life.
type Serve = dyn Fn(TcpStream) + Send + Sync;
/// Appends what a connection beyond the bound is sent before it is closed (nothing: just close).
type Refuse = dyn FnMut(&mut Vec<u8>) + Send;
/// The connections being served, for waking them at shutdown.
type Live = Arc<Mutex<HashMap<u64, TcpStream>>>;

/// How a stop reaches the connections still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopConnections {
    /// Half-close their reading side, so a blocked read sees EOF (the socket server's streams).
    HalfClose,
    /// Leave their sockets alone: their threads watch the [`Shutdown`] and let the core decide
    /// (HTTP: an idle connection closes, one with a request in flight finishes it; the chat:
    /// each client's goodbye has its deadline).
    Notify,
}

/// A running listener.
pub struct Listener {
    address: SocketAddr,
    accept_thread: JoinHandle<()>,
    live: Live,
    workers: WorkerCount,
    shutdown: Shutdown,
}

impl Listener {
    /// Starts accepting on `listener`. Each connection, up to `max_connections` at a time, gets
    /// a thread that runs `serve` on it; one beyond is sent what `refuse` appends and closed.
    /// Accepting ends with [`Listener::stop`], or once `shutdown` is requested and a
    /// connection comes.
    pub fn start(
        listener: TcpListener,
        shutdown: Shutdown,
        max_connections: usize,
        refuse: impl FnMut(&mut Vec<u8>) + Send + 'static,
        serve: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> io::Result<Listener> {
        let address = listener.local_addr()?;
        let live = Live::default();
        let workers = WorkerCount::default();
        let accept = Accept {
            listener,
            serve: Arc::new(serve),
            refuse: Box::new(refuse),
            live: live.clone(),
            workers: workers.clone(),
            shutdown: shutdown.clone(),
            max_connections,
        };
        let accept_thread = thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept.run())?;
        Ok(Listener {
            address,
            accept_thread,
            live,
            workers,
            shutdown,
        })
    }

    /// Stops accepting (requesting `shutdown`, if nobody has), lets the connections know as
    /// `connections` says, and waits at most `grace` for the connections' threads to end.
    pub fn stop(self, grace: Duration, connections: StopConnections) {
        self.shutdown.request();
        // The accept thread is blocked in accept(); a connection to itself wakes it to see the
        // shutdown flag.
        let _ = TcpStream::connect_timeout(&wake_address(self.address), Duration::from_secs(1));
        let _ = self.accept_thread.join();
        if connections == StopConnections::HalfClose {
            for stream in self.live.lock().unwrap_or_else(|e| e.into_inner()).values() {
                // A blocked read returns EOF, and the connection's thread ends it.
                let _ = stream.shutdown(SocketShutdown::Read);
            }
        }
        self.workers.wait_idle(Instant::now() + grace);
    }
}

/// Everything the accept thread owns.
struct Accept {
    listener: TcpListener,
    serve: Arc<Serve>,
    refuse: Box<Refuse>,
    live: Live,
    workers: WorkerCount,
    shutdown: Shutdown,
    max_connections: usize,
}

impl Accept {
    fn run(mut self) {
        let mut next_id: u64 = 0;
        let mut refusal = Vec::new();
        loop {
            let accepted = self.listener.accept();
            if self.shutdown.is_requested() {
                return;
            }
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors (EMFILE/ENFILE): wait a little instead of spinning
                    // on the same error; the connection stays in the backlog until then.
                    if matches!(error.raw_os_error(), Some(23 | 24)) {
                        thread::sleep(OUT_OF_DESCRIPTORS_PAUSE);
                    }
                    continue;
                }
            };
            if !self.workers.try_acquire(self.max_connections) {
                refusal.clear();
                (self.refuse)(&mut refusal);
                refuse(stream, &refusal);
                continue;
            }
            next_id += 1;
            self.spawn(next_id, stream);
        }
    }

    /// Serves `stream` on a thread of its own; the caller has counted it.
    fn spawn(&self, id: u64, stream: TcpStream) {
        if let Ok(clone) = stream.try_clone() {
            self.live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, clone);
        }
        let serve = self.serve.clone();
        let live = self.live.clone();
        let workers = self.workers.clone();
        let spawned = thread::Builder::new()
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                serve(stream);
                live.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                workers.release();
            });
        if spawned.is_err() {
            self.live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            self.workers.release();
        }
    }
}

/// Sends `refusal` and closes, without ever blocking the accept thread.
fn refuse(stream: TcpStream, refusal: &[u8]) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    // A new connection's send buffer takes a refusal of a few hundred bytes whole; a peer that
    // would not take it gets less, and is closed all the same.
    if !refusal.is_empty() {
        let _ = (&stream).write(refusal);
    }
    // Closing with unread input resets the connection, and a reset can destroy the refusal
    // before the client reads it (RFC 9112 §9.6): take what the client already sent first.
    let mut buf = [0u8; 4096];
    let mut drained = 0;
    while drained < REFUSAL_DRAIN {
        match (&stream).read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    let _ = stream.shutdown(SocketShutdown::Write);
}

/// Where to connect to reach a listener bound to `address` (a wildcard becomes loopback).
fn wake_address(address: SocketAddr) -> SocketAddr {
    ferry_core::datagram::forward_target(address)
}

/// Connection threads parse, answer and copy; 256 KiB of stack is plenty.
const CONNECTION_STACK: usize = 256 * 1024;
/// How long accepting pauses when the process is out of file descriptors: long enough not to
/// spin, short enough that a freed descriptor is used at once for a person's eye.
const OUT_OF_DESCRIPTORS_PAUSE: Duration = Duration::from_millis(50);
/// The most of a refused client's input read before closing: a request head or two. A client
/// that sent more loses its refusal to the reset, which it brought on itself.
const REFUSAL_DRAIN: usize = 64 * 1024;
