//! The web app on the loop: each connection's `HttpConn` answered by the core's `MessageApp`,
//! and the `DatagramSender` (in [`Forward`]) that carries messages to the socket server. What
//! to answer, when to close and when a message counts as stored are the core's decisions; this
//! module moves bytes and remembers which connection waits on which message.

use std::collections::HashMap;
use std::time::Instant;

use ferry_core::app::{AppAction, ForwardOutcome, MessageApp};
use ferry_core::datagram::SenderEvent;
use ferry_core::http::{HttpConfig, HttpConn, HttpEvent};
use time::OffsetDateTime;

use crate::conns::{ConnKey, Wakes};
use crate::forward::Forward;
use crate::http::{Answer, HttpSession};

/// What the web app's connections share: the app, their settings and the forwarder.
pub struct WebService {
    app: MessageApp,
    http: HttpConfig,
    pub forward: Forward,
    /// Which connection waits on which message, by the sender's tag.
    waiting: HashMap<u64, ConnKey>,
    next_tag: u64,
    /// Messages settled whose connection has not taken the answer yet.
    settled: HashMap<ConnKey, ForwardOutcome>,
}

/// One connection of the web app.
pub type WebSession = HttpSession<WebAnswer>;

/// The web app's side of one connection: the message its request waits on, if any.
pub struct WebAnswer {
    /// The sender's tag of that message.
    waiting: Option<u64>,
}

impl WebService {
    pub fn new(app: MessageApp, http: HttpConfig, forward: Forward) -> WebService {
        WebService {
            app,
            http,
            forward,
            waiting: HashMap::new(),
            next_tag: 0,
            settled: HashMap::new(),
        }
    }

    pub fn open(&mut self, now: Instant) -> WebSession {
        let http = HttpConn::new(self.http, now, OffsetDateTime::now_utc());
        HttpSession::new(http, WebAnswer { waiting: None })
    }

    /// The forwarder's next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.forward.next_deadline()
    }

    pub fn handle_timeout(&mut self, wakes: &mut Wakes, now: Instant) {
        if self.poll_timeout().is_some_and(|deadline| deadline <= now) {
            self.forward.handle_timeout(now);
        }
        self.settle(wakes);
    }

    /// Readiness of the forwarder's socket or stream: acknowledgements from the socket server,
    /// a connection attempt that ended, room to write.
    pub fn forward_event(&mut self, now: Instant, readable: bool, writable: bool) {
        self.forward.handle_ready(now, readable, writable);
    }

    /// Sends what the sender queued this turn and wakes the connections whose message is
    /// settled.
    pub fn end_of_turn(&mut self, wakes: &mut Wakes, now: Instant) {
        self.forward.flush(now);
        self.settle(wakes);
    }

    /// Whether no connection waits on a message.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty()
    }

    fn settle(&mut self, wakes: &mut Wakes) {
        while let Some(event) = self.forward.sender.poll_event() {
            let (tag, outcome) = match event {
                SenderEvent::Delivered { tag } => (tag, ForwardOutcome::Stored),
                SenderEvent::Failed { tag } => (tag, ForwardOutcome::NotAcknowledged),
            };
            if let Some(key) = self.waiting.remove(&tag) {
                self.settled.insert(key, outcome);
                wakes.wake(key);
            }
        }
    }
}

impl Answer for WebAnswer {
    type Service = WebService;

    fn answer(
        &mut self,
        http: &mut HttpConn,
        service: &mut WebService,
        key: ConnKey,
        now: Instant,
    ) {
        if self.waiting.is_some() {
            if let Some(outcome) = service.settled.remove(&key) {
                self.waiting = None;
                // The connection waits on this message, so a request is pending.
                let _ = http.respond(now, service.app.forwarded(outcome));
            }
        }
        while let Some(event) = http.poll_event() {
            let HttpEvent::Request(request) = event else {
                continue;
            };
            let response = match service.app.handle(&request) {
                AppAction::Respond(response) => response,
                AppAction::Forward(message) => {
                    service.next_tag += 1;
                    let tag = service.next_tag;
                    match service.forward.sender.send(now, message, tag) {
                        Ok(_) => {
                            service.waiting.insert(tag, key);
                            self.waiting = Some(tag);
                            continue;
                        }
                        Err(error) => service.app.forwarded(error.into()),
                    }
                }
            };
            // A request event always leaves a request pending.
            let _ = http.respond(now, response);
        }
    }

    fn closed(&mut self, _: &mut HttpConn, service: &mut WebService, key: ConnKey, _: Instant) {
        if let Some(tag) = self.waiting.take() {
            // The message still settles in the sender; nobody waits for its answer.
            service.waiting.remove(&tag);
        }
        service.settled.remove(&key);
    }
}
