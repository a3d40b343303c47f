//! The one loop of `ferry`: wait for readiness or the earliest core deadline, hand each event to
//! the web app or the socket server, fire expired deadlines, repeat; on SIGINT/SIGTERM, stop
//! accepting and run until in-flight work is done or the grace period ends.

use std::io;
use std::time::Instant;

use ferry_core::settings::SHUTDOWN_GRACE;
use mio::{Events, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::peers::FIRST_PEER;
use crate::socket::SocketServer;
use crate::web::{Web, FIRST_CONNECTION};

pub const SIGNALS: Token = Token(0);
pub const LISTENER: Token = Token(1);
pub const FORWARD: Token = Token(2);
pub const SOCKET: Token = Token(3);
pub const STORE_DONE: Token = Token(4);
/// The web app's stream to the socket server (`--transport tcp`), one connection at a time.
pub const FORWARD_STREAM: Token = Token(5);

pub struct EventLoop {
    pub poll: Poll,
    signals: Signals,
    pub web: Option<Web>,
    pub socket: Option<SocketServer>,
}

impl EventLoop {
    pub fn new() -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, mio::Interest::READABLE)?;
        Ok(EventLoop {
            poll,
            signals,
            web: None,
            socket: None,
        })
    }

    /// Runs until a signal asks to stop and in-flight work is done (or the grace period ends).
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        let mut stop_by: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let deadline = [self.web.as_ref().and_then(Web::next_deadline), stop_by]
                .into_iter()
                .flatten()
                .min();
            let timeout = deadline.map(|d| d.saturating_duration_since(now));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    SIGNALS if self.signals.pending().count() > 0 && stop_by.is_none() => {
                        stop_by = Some(now + SHUTDOWN_GRACE);
                        if let Some(web) = self.web.as_mut() {
                            web.begin_shutdown(self.poll.registry());
                        }
                    }
                    LISTENER => {
                        if let Some(web) = self.web.as_mut() {
                            web.accept(self.poll.registry(), now);
                        }
                    }
                    FORWARD | FORWARD_STREAM => {
                        if let Some(web) = self.web.as_mut() {
                            let (readable, writable) = readiness(event);
                            web.forward_event(now, readable, writable);
                        }
                    }
                    SOCKET => {
                        if let Some(socket) = self.socket.as_mut() {
                            socket.readable(now);
                        }
                    }
                    STORE_DONE => {
                        if let Some(socket) = self.socket.as_mut() {
                            socket.store_done(now);
                        }
                    }
                    token if token.0 >= FIRST_PEER => {
                        if let Some(socket) = self.socket.as_mut() {
                            let (readable, writable) = readiness(event);
                            socket.peer_ready(token, readable, writable, now);
                        }
                    }
                    token if token.0 >= FIRST_CONNECTION => {
                        if let Some(web) = self.web.as_mut() {
                            let (readable, writable) = readiness(event);
                            web.connection_event(token, readable, writable, now);
                        }
                    }
                    _ => {}
                }
            }
            if let Some(web) = self.web.as_mut() {
                web.handle_timeouts(self.poll.registry(), now);
            }
            if let Some(stop_by) = stop_by {
                let web_done = self.web.as_ref().is_none_or(Web::is_idle);
                let socket_done = self.socket.as_ref().is_none_or(SocketServer::is_idle);
                if (web_done && socket_done) || now >= stop_by {
                    if let Some(socket) = self.socket.as_mut() {
                        socket.finish();
                    }
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
