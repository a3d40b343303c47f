//! The one loop of `ferry`: one `Poll` for every socket of every service the process runs.
//!
//! Each turn: wait for readiness or the earliest deadline (of a connection, a service, the
//! accept pause or the stop); hand each event to its owner (a listener, a connection, a
//! service's own socket, the waker of the services' threads, the signals); fire the deadlines
//! that passed; accept what waits; then let the services hand out what their inputs produced
//! and drive the connections they woke. On SIGINT/SIGTERM: stop accepting, let connections
//! finish (bounded by the grace period), then let the store finish and return.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_core::limits::SHUTDOWN_GRACE;
use ferry_shell::tls::ServerTls;
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::accept::Listeners;
use crate::conns::{Conns, Cx, Wakes};
use crate::session::{ServiceKind, Services};

pub const SIGNALS: Token = Token(0);
/// Threads of the services (the store writer, upload commits) wake the loop through this.
pub const WAKER: Token = Token(1);
/// The web app's socket or stream to the socket server.
pub const FORWARD: Token = Token(2);
/// The socket server's UDP socket.
pub const SOCKET: Token = Token(3);

pub struct EventLoop {
    pub poll: Poll,
    signals: Signals,
    pub waker: Arc<Waker>,
    pub listeners: Listeners,
    pub services: Services,
    conns: Conns,
    wakes: Wakes,
}

impl EventLoop {
    /// A loop holding at most `max_connections` connections at once.
    pub fn new(max_connections: usize) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        // SIGHUP reloads TLS certificates; without a TLS port it changes nothing.
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(EventLoop {
            poll,
            signals,
            waker,
            listeners: Listeners::new(max_connections),
            services: Services::new(max_connections),
            conns: Conns::new(),
            wakes: Wakes::default(),
        })
    }

    /// Adds a listening socket whose connections go to `kind`, over TLS with `tls`.
    pub fn listen(
        &mut self,
        listener: mio::net::TcpListener,
        kind: ServiceKind,
        tls: Option<ServerTls>,
    ) -> io::Result<()> {
        self.listeners
            .add(self.poll.registry(), listener, kind, tls)
    }

    /// Runs until a signal asks to stop and in-flight work is done (or the grace period ends).
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        let mut stop_by: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let timeout = if self.conns.has_unfinished_reads() {
                Some(Duration::ZERO)
            } else {
                [
                    self.conns.next_deadline(),
                    self.services.poll_timeout(),
                    self.listeners.poll_timeout(),
                    stop_by,
                ]
                .into_iter()
                .flatten()
                .min()
                .map(|deadline| deadline.saturating_duration_since(now))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            let registry = self.poll.registry();
            let conns = &mut self.conns;
            let mut cx = Cx {
                registry,
                services: &mut self.services,
                wakes: &mut self.wakes,
            };
            conns.begin_turn(&mut cx, now);
            for event in events.iter() {
                let token = event.token();
                let (readable, writable) = readiness(event);
                match token {
                    SIGNALS => {
                        let mut stop = false;
                        for signal in self.signals.pending() {
                            if signal == SIGHUP {
                                for line in self.listeners.reload_tls() {
                                    match line {
                                        Ok(line) => println!("{line}"),
                                        Err(line) => eprintln!("ferry: {line}"),
                                    }
                                }
                            } else {
                                stop = true;
                            }
                        }
                        if stop && stop_by.is_none() {
                            stop_by = Some(now + SHUTDOWN_GRACE);
                            self.listeners.close(registry);
                            cx.services.begin_shutdown(now);
                            conns.begin_shutdown(&mut cx, now);
                        }
                    }
                    WAKER => cx.services.handle_wake(cx.wakes, now),
                    FORWARD => {
                        if let Some(web) = cx.services.web.as_mut() {
                            web.forward_event(now, readable, writable);
                        }
                    }
                    SOCKET => {
                        if let Some(socket) = cx.services.socket.as_mut() {
                            socket.readable(now);
                        }
                    }
                    token if self.listeners.ready(token) => {}
                    token => {
                        let readiness = (readable, writable, event.is_read_closed());
                        conns.ready(&mut cx, token, readiness, now);
                    }
                }
            }
            conns.handle_timeouts(&mut cx, now);
            if cx
                .services
                .poll_timeout()
                .is_some_and(|deadline| deadline <= now)
            {
                cx.services.handle_timeout(cx.wakes, now);
            }
            while let Some(accepted) = self.listeners.accept(conns.len(), now) {
                let (remote, kind, refuse) = (accepted.remote, accepted.kind, accepted.refuse);
                // A TLS port refuses without a word, as ferry-std's does: the refusal would
                // otherwise cost a handshake, which is what an overloaded server lacks.
                let (kind, tls) = match (refuse, accepted.tls) {
                    (true, Some(_)) => (ServiceKind::Peer, None),
                    (_, tls) => (kind, tls),
                };
                conns.add(
                    &mut cx,
                    accepted.stream,
                    tls.as_ref(),
                    now,
                    |services, key| services.open(kind, refuse, key, remote, now),
                );
            }
            conns.drive_woken(&mut cx, now);
            if let Some(stop_by) = stop_by {
                if (conns.is_idle() && cx.services.is_idle()) || now >= stop_by {
                    cx.services.finish();
                    return Ok(());
                }
            }
        }
    }
}

/// What an event means for a stream: whether to read, whether to write. Errors and hang-ups
/// show up as both, so the next read or write reports them.
fn readiness(event: &mio::event::Event) -> (bool, bool) {
    let readable = event.is_readable() || event.is_read_closed() || event.is_error();
    let writable = event.is_writable() || event.is_write_closed() || event.is_error();
    (readable, writable)
}

/// Readiness events taken per wait; more simply wait for the next turn.
const EVENTS_PER_WAIT: usize = 1024;
