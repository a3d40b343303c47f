//! Every listening TCP socket of the process, whichever service it serves: accepting until the
//! socket is empty, the connection limit, and the pause when the process runs out of file
//! descriptors. Written once for all services.
//!
//! A connection beyond the limit is still accepted, to be refused at once (`refuse.rs`) rather
//! than left waiting in the listen backlog with no answer; only past the limit and the room kept
//! for refusals do new clients wait there.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferry_shell::tls::ServerTls;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::session::ServiceKind;

/// The listening sockets and what accepting may do now.
pub struct Listeners {
    entries: Vec<Entry>,
    paused_until: Option<Instant>,
    /// Beyond this many open connections, new ones are refused.
    max_connections: usize,
}

struct Entry {
    listener: TcpListener,
    kind: ServiceKind,
    /// The port's TLS settings, when it speaks TLS.
    tls: Option<ServerTls>,
    /// Edge-triggered readiness: set by an event, cleared on WouldBlock.
    ready: bool,
}

/// A connection taken from a listener.
pub struct Accepted {
    pub stream: TcpStream,
    pub remote: SocketAddr,
    pub kind: ServiceKind,
    /// The port's TLS settings, when it speaks TLS.
    pub tls: Option<ServerTls>,
    /// The connection is beyond the limit: refuse it.
    pub refuse: bool,
}

impl Listeners {
    pub fn new(max_connections: usize) -> Listeners {
        Listeners {
            entries: Vec::new(),
            paused_until: None,
            max_connections,
        }
    }

    /// Adds a listener whose connections go to `kind`, over TLS with `tls`; registers it under
    /// its token.
    pub fn add(
        &mut self,
        registry: &Registry,
        mut listener: TcpListener,
        kind: ServiceKind,
        tls: Option<ServerTls>,
    ) -> io::Result<()> {
        if self.entries.len() == MAX_LISTENERS {
            return Err(io::Error::other("too many listening sockets"));
        }
        let token = Token(FIRST_LISTENER + self.entries.len());
        registry.register(&mut listener, token, Interest::READABLE)?;
        self.entries.push(Entry {
            listener,
            kind,
            tls,
            ready: true,
        });
        Ok(())
    }

    /// Whether `token` is a listener's; marks it ready to accept.
    pub fn ready(&mut self, token: Token) -> bool {
        let Some(index) = token.0.checked_sub(FIRST_LISTENER) else {
            return false;
        };
        match self.entries.get_mut(index) {
            Some(entry) if index < MAX_LISTENERS => {
                entry.ready = true;
                true
            }
            _ => false,
        }
    }

    /// When accepting resumes after running out of descriptors.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Takes the next waiting connection from any ready listener; one beyond the limit (`open`
    /// connections already) is marked to be refused. `None` once every listener is empty (or
    /// accepting must wait).
    pub fn accept(&mut self, open: usize, now: Instant) -> Option<Accepted> {
        if self.paused_until.is_some_and(|until| now < until) {
            return None;
        }
        self.paused_until = None;
        if open >= self.max_connections.saturating_add(REFUSING) {
            return None;
        }
        let refuse = open >= self.max_connections;
        for entry in self.entries.iter_mut().filter(|entry| entry.ready) {
            loop {
                match entry.listener.accept() {
                    Ok((stream, remote)) => {
                        return Some(Accepted {
                            stream,
                            remote,
                            kind: entry.kind,
                            tls: entry.tls.clone(),
                            refuse,
                        })
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        entry.ready = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if matches!(e.raw_os_error(), Some(EMFILE | ENFILE)) => {
                        // Out of file descriptors: retry shortly instead of spinning on the
                        // error.
                        self.paused_until = Some(now + ACCEPT_PAUSE);
                        return None;
                    }
                    // The peer gave up before we accepted (ECONNABORTED): take the next one.
                    Err(_) => {}
                }
            }
        }
        None
    }

    /// SIGHUP: every TLS port reads its certificate and key again; one line per port to print,
    /// an error keeping the pair in use.
    pub fn reload_tls(&self) -> Vec<Result<String, String>> {
        self.entries
            .iter()
            .filter_map(|entry| entry.tls.as_ref())
            .map(ServerTls::reload)
            .collect()
    }

    /// Stops accepting: the listeners close, so new clients are refused by the system.
    pub fn close(&mut self, registry: &Registry) {
        for mut entry in self.entries.drain(..) {
            let _ = registry.deregister(&mut entry.listener);
        }
    }
}

/// Tokens of listeners start here, below the connections' (`conns::FIRST_CONNECTION`).
const FIRST_LISTENER: usize = 16;
/// Room for every service's listener, and more.
const MAX_LISTENERS: usize = 32;
/// Connections beyond the limit that may be in the middle of their refusal at once; they fit in
/// the file descriptors kept aside for everything but connections.
const REFUSING: usize = 32;
/// How long accepting pauses after the process ran out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
const ENFILE: i32 = 23;
const EMFILE: i32 = 24;
