//! What runs over a connection, by service, and the services one process hosts.
//!
//! Each service (web app, file server, chat, the socket server's stream side) plugs into the
//! loop with two parts: a service value holding what its connections share (the app, the file
//! root, the chat hub, the store), and a per-connection session implementing [`Protocol`]. The
//! loop's one driver (`conns.rs`) calls the same methods on every session: bytes in, output
//! out, written, timed out, closed. A session reaches its service through the `service`
//! argument, never through a global, and wakes other connections through [`Wakes`].

use std::net::SocketAddr;
use std::time::Instant;

use ferry_shell::files::Sending;

use crate::chat::{ChatService, ChatSession};
use crate::conns::{ConnKey, Wakes};
use crate::files::{FilesService, FilesSession};
use crate::outbox::LineOutbox;
use crate::refuse::{Refusals, RefusedSession};
use crate::socket::{PeerSession, SocketServer};
use crate::web::{WebService, WebSession};
use crate::webchat::WebChatSession;

/// How a session's connection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPolicy {
    /// Read until the socket is empty or the session wants no more.
    Drain,
    /// One read per turn, from a budget all such connections share (the chat: each message
    /// read multiplies into copies, so reading is what must slow down when writing cannot
    /// keep up).
    Budgeted,
}

/// What the connection should do once its output is handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Keep reading and writing.
    Open,
    /// No more output follows: shut the sending side once it is written, keep reading.
    WriteClosed,
    /// Finished: close once the output is written.
    Closing,
    /// Finished: close now, dropping what is unwritten.
    Gone,
}

/// One connection's side of a service. Every input method may queue output; the driver calls
/// [`Protocol::poll_transmit`] after each.
pub trait Protocol {
    /// What the connections of this service share.
    type Service;

    /// How the connection reads.
    fn read_policy(&self) -> ReadPolicy {
        ReadPolicy::Drain
    }
    /// Whether the session takes input now.
    fn wants_read(&self, service: &Self::Service) -> bool;
    /// Bytes from the peer.
    fn receive(
        &mut self,
        service: &mut Self::Service,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        bytes: &[u8],
    );
    /// The peer will send nothing more.
    fn receive_eof(
        &mut self,
        service: &mut Self::Service,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
    );
    /// The deadline from [`Protocol::poll_timeout`] passed.
    fn handle_timeout(
        &mut self,
        service: &mut Self::Service,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
    ) {
        let _ = (service, wakes, key, now);
    }
    /// Carries out what the last inputs asked for and appends the bytes to send to `out`.
    fn poll_transmit(
        &mut self,
        service: &mut Self::Service,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        out: &mut Vec<u8>,
    );
    /// One write attempt moved `written` bytes; `pending` says whether any are still owed.
    fn handle_written(
        &mut self,
        service: &mut Self::Service,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        written: usize,
        pending: bool,
    ) {
        let _ = (service, wakes, key, now, written, pending);
    }
    /// The peer has acknowledged `acked` bytes so far (a running count); reported while output
    /// is pending and before a deadline is handled.
    fn handle_acked(&mut self, now: Instant, acked: u64) {
        let _ = (now, acked);
    }
    /// When the session next needs [`Protocol::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// What the connection should do once its output is written.
    fn status(&self) -> Status;
    /// A file body to send after the output, straight from the page cache.
    fn body(&mut self) -> Option<&mut Sending> {
        None
    }
    /// Output held as shared lines (the chat's room), written after the bytes of
    /// [`Protocol::poll_transmit`] straight from the lines; [`Protocol::poll_transmit`] fills it.
    fn lines(&mut self) -> Option<&mut LineOutbox> {
        None
    }
    /// Bytes waiting in [`Protocol::lines`].
    fn pending_lines(&self) -> usize {
        0
    }
    /// The body from [`Protocol::body`] was sent whole (`completed`) or given up on.
    fn body_sent(&mut self, service: &mut Self::Service, key: ConnKey, now: Instant, done: bool) {
        let _ = (service, key, now, done);
    }
    /// The connection is gone (closed by the session, the peer or an error).
    fn closed(
        &mut self,
        service: &mut Self::Service,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
    ) {
        let _ = (service, wakes, key, now);
    }
    /// The process is stopping: the session decides what that means for its connection (HTTP:
    /// an idle one closes, one with a request in flight finishes it). Sessions whose service
    /// ends them itself (the chat says goodbye) ignore it.
    fn handle_shutdown(&mut self, service: &mut Self::Service, now: Instant) {
        let _ = (service, now);
    }
    /// Whether a stop waits for this connection to end.
    fn holds_a_stop(&self) -> bool {
        true
    }
}

/// The session of one connection, by service.
// Web connections are the most numerous and are kept inline: boxing them would cost an
// allocation per accepted connection to save memory on the rarer chat clients and peers.
#[allow(clippy::large_enum_variant)]
pub enum Session {
    Web(WebSession),
    // Boxed: an HTTP connection and a file session together are twice a web connection.
    Files(Box<FilesSession>),
    Chat(ChatSession),
    /// A connection of the chat's web port: its page, then a WebSocket in the room. Boxed as
    /// the file sessions are: it holds an HTTP connection until its handshake.
    WebChat(Box<WebChatSession>),
    Peer(PeerSession),
    /// A connection beyond the limit, being refused.
    Refused(RefusedSession),
}

/// Which service a listener's connections belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    Web,
    Files,
    Chat,
    /// The chat's web port (`--web`).
    WebChat,
    Peer,
}

/// The services this process runs; any subset.
pub struct Services {
    pub web: Option<WebService>,
    pub files: Option<FilesService>,
    pub chat: Option<ChatService>,
    pub socket: Option<SocketServer>,
    pub refusals: Refusals,
}

/// Calls `$body` with the session's own value as `$session` and its service as `$service`.
/// A session is only ever opened by its service ([`Services::open`]), and services live as long
/// as the loop, so the service of an existing session is always there.
macro_rules! with_service {
    ($self:expr, $services:expr, |$session:ident, $service:ident| $body:expr) => {
        match $self {
            Session::Web($session) => {
                let $service = service_of(&mut $services.web);
                $body
            }
            Session::Files($session) => {
                let $service = service_of(&mut $services.files);
                $body
            }
            Session::Chat($session) => {
                let $service = service_of(&mut $services.chat);
                $body
            }
            Session::WebChat($session) => {
                let $service = service_of(&mut $services.chat);
                $body
            }
            Session::Peer($session) => {
                let $service = service_of(&mut $services.socket);
                $body
            }
            Session::Refused($session) => {
                let $service = &mut $services.refusals;
                $body
            }
        }
    };
}

/// Calls `$body` with the session's own value as `$session`, whatever its service.
macro_rules! each_session {
    ($self:expr, |$session:ident| $body:expr) => {
        match $self {
            Session::Web($session) => $body,
            Session::Files($session) => $body,
            Session::Chat($session) => $body,
            Session::WebChat($session) => $body,
            Session::Peer($session) => $body,
            Session::Refused($session) => $body,
        }
    };
}

impl Session {
    pub fn read_policy(&self) -> ReadPolicy {
        each_session!(self, |s| s.read_policy())
    }

    pub fn wants_read(&self, services: &Services) -> bool {
        match self {
            Session::Web(s) => services.web.as_ref().is_some_and(|v| s.wants_read(v)),
            Session::Files(s) => services.files.as_ref().is_some_and(|v| s.wants_read(v)),
            Session::Chat(s) => services.chat.as_ref().is_some_and(|v| s.wants_read(v)),
            Session::WebChat(s) => services.chat.as_ref().is_some_and(|v| s.wants_read(v)),
            Session::Peer(s) => services.socket.as_ref().is_some_and(|v| s.wants_read(v)),
            Session::Refused(s) => s.wants_read(&services.refusals),
        }
    }

    pub fn receive(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        bytes: &[u8],
    ) {
        with_service!(self, services, |s, service| s
            .receive(service, wakes, key, now, bytes))
    }

    pub fn receive_eof(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
    ) {
        with_service!(self, services, |s, service| s
            .receive_eof(service, wakes, key, now))
    }

    pub fn handle_timeout(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
    ) {
        with_service!(self, services, |s, service| s
            .handle_timeout(service, wakes, key, now))
    }

    pub fn poll_transmit(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        with_service!(self, services, |s, service| s
            .poll_transmit(service, wakes, key, now, out))
    }

    pub fn handle_written(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
        written: usize,
        pending: bool,
    ) {
        with_service!(self, services, |s, service| s
            .handle_written(service, wakes, key, now, written, pending))
    }

    pub fn handle_acked(&mut self, now: Instant, acked: u64) {
        each_session!(self, |s| s.handle_acked(now, acked))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        each_session!(self, |s| s.poll_timeout())
    }

    pub fn status(&self) -> Status {
        each_session!(self, |s| s.status())
    }

    pub fn body(&mut self) -> Option<&mut Sending> {
        match self {
            Session::Files(s) => s.body(),
            _ => None,
        }
    }

    pub fn lines(&mut self) -> Option<&mut LineOutbox> {
        match self {
            Session::Chat(s) => s.lines(),
            _ => None,
        }
    }

    pub fn pending_lines(&self) -> usize {
        each_session!(self, |s| s.pending_lines())
    }

    pub fn body_sent(&mut self, services: &mut Services, key: ConnKey, now: Instant, done: bool) {
        with_service!(self, services, |s, service| s
            .body_sent(service, key, now, done))
    }

    pub fn closed(
        &mut self,
        services: &mut Services,
        wakes: &mut Wakes,
        key: ConnKey,
        now: Instant,
    ) {
        with_service!(self, services, |s, service| s
            .closed(service, wakes, key, now))
    }

    pub fn handle_shutdown(&mut self, services: &mut Services, now: Instant) {
        with_service!(self, services, |s, service| s.handle_shutdown(service, now))
    }

    pub fn holds_a_stop(&self) -> bool {
        each_session!(self, |s| s.holds_a_stop())
    }
}

/// The service of an existing session (see [`with_service!`] for why it is always there).
fn service_of<T>(service: &mut Option<T>) -> &mut T {
    service
        .as_mut()
        .expect("a session's service lives as long as the loop")
}

impl Services {
    /// No service yet; connections beyond `limit` are refused.
    pub fn new(limit: usize) -> Services {
        Services {
            web: None,
            files: None,
            chat: None,
            socket: None,
            refusals: Refusals { limit },
        }
    }

    /// The session for a new connection of `kind` (refusing it when `refuse`), or `None` when
    /// its service will not take it.
    pub fn open(
        &mut self,
        kind: ServiceKind,
        refuse: bool,
        key: ConnKey,
        remote: SocketAddr,
        now: Instant,
    ) -> Option<Session> {
        if refuse {
            return Some(Session::Refused(self.refusals.open(kind, now)));
        }
        match kind {
            ServiceKind::Web => Some(Session::Web(self.web.as_mut()?.open(now))),
            ServiceKind::Files => Some(Session::Files(Box::new(
                self.files.as_mut()?.open(remote, now),
            ))),
            ServiceKind::Chat => Some(Session::Chat(self.chat.as_mut()?.open(key, remote, now))),
            ServiceKind::WebChat => Some(Session::WebChat(Box::new(
                self.chat.as_mut()?.open_web(remote, now),
            ))),
            ServiceKind::Peer => Some(Session::Peer(self.socket.as_mut()?.open(key, remote)?)),
        }
    }

    /// The earliest deadline of the services themselves (not of their connections).
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.web.as_ref().and_then(WebService::poll_timeout),
            self.chat.as_ref().and_then(ChatService::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires the services' own deadlines.
    pub fn handle_timeout(&mut self, wakes: &mut Wakes, now: Instant) {
        if let Some(web) = self.web.as_mut() {
            web.handle_timeout(wakes, now);
        }
        if let Some(chat) = self.chat.as_mut() {
            chat.handle_timeout(now);
        }
    }

    /// A thread woke the loop: collects what the services' threads finished.
    pub fn handle_wake(&mut self, wakes: &mut Wakes, now: Instant) {
        if let Some(files) = self.files.as_mut() {
            files.handle_wake(wakes);
        }
        if let Some(socket) = self.socket.as_mut() {
            socket.handle_wake(wakes, now);
        }
        if let Some(chat) = self.chat.as_mut() {
            chat.handle_wake(now);
        }
    }

    /// A new turn of the loop begins.
    pub fn begin_turn(&mut self) {
        if let Some(chat) = self.chat.as_mut() {
            chat.begin_turn();
        }
    }

    /// Whether a service has output left over from its share of this turn: the loop should
    /// turn again without waiting.
    pub fn has_more_output(&self) -> bool {
        self.chat.as_ref().is_some_and(ChatService::has_more)
    }

    /// After a batch of inputs: sends what was queued on the services' shared sockets and
    /// hands out output for connections, waking them.
    pub fn end_of_turn(&mut self, wakes: &mut Wakes, now: Instant) {
        if let Some(web) = self.web.as_mut() {
            web.end_of_turn(wakes, now);
        }
        if let Some(chat) = self.chat.as_mut() {
            chat.end_of_turn(wakes, now);
        }
        if let Some(socket) = self.socket.as_mut() {
            socket.end_of_turn(wakes, now);
        }
    }

    /// A stop began: the chat says goodbye to everyone.
    pub fn begin_shutdown(&mut self, now: Instant) {
        if let Some(chat) = self.chat.as_mut() {
            chat.begin_shutdown(now);
        }
    }

    /// Whether the services have nothing left in flight (messages to settle, stores to write).
    pub fn is_idle(&self) -> bool {
        self.web.as_ref().is_none_or(WebService::is_idle)
            && self.socket.as_ref().is_none_or(SocketServer::is_idle)
    }

    /// The last step of a stop: lets the stores finish what they hold (the chat's history
    /// too), and removes what uploads the grace period cut short were writing.
    pub fn finish(&mut self) {
        if let Some(socket) = self.socket.as_mut() {
            socket.finish();
        }
        if let Some(files) = self.files.as_ref() {
            files.finish();
        }
        if let Some(chat) = self.chat.as_mut() {
            chat.finish();
        }
    }
}
