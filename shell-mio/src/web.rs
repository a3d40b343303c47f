//! The web app on the loop: each connection's `HttpConn` answered by the core's `MessageApp`,
//! and the `DatagramSender` (in [`Forward`]) that carries messages to the socket server. What
//! to answer, when to close and when a message counts as stored are the core's decisions; this
//! module moves bytes; the core's `Waiters` joins each connection to its message.

use std::collections::HashMap;
use std::time::Instant;

use ferry_core::http::{HttpConfig, HttpConn, HttpEvent};
use ferry_core::web::{AppAction, ForwardOutcome, MessageApp, Ticket, Waiters};
use time::OffsetDateTime;

use crate::conns::{ConnKey, Wakes};
use crate::forward::Forward;
use crate::http::{Answer, HttpSession};

/// What the web app's connections share: the app, their settings and the forwarder.
pub struct WebService {
    app: MessageApp,
    http: HttpConfig,
    pub forward: Forward,
    /// Which connection waits on which message.
    waiters: Waiters<ConnKey>,
    /// Messages settled whose connection has not taken the answer yet.
    settled: HashMap<ConnKey, ForwardOutcome>,
}

/// One connection of the web app.
pub type WebSession = HttpSession<WebAnswer>;

/// The web app's side of one connection: the message its request waits on, if any.
pub struct WebAnswer {
    waiting: Option<Ticket>,
}

impl WebService {
    pub fn new(app: MessageApp, http: HttpConfig, forward: Forward) -> WebService {
        WebService {
            app,
            http,
            forward,
            waiters: Waiters::default(),
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
        self.waiters.is_empty()
    }

    fn settle(&mut self, wakes: &mut Wakes) {
        while let Some((key, outcome)) = self.waiters.poll_settled(&mut self.forward.sender) {
            self.settled.insert(key, outcome);
            wakes.wake(key);
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
                let _ = http.respond(now, service.app.forwarded(&outcome));
            }
        }
        while let Some(event) = http.poll_event() {
            let HttpEvent::Request(request) = event else {
                continue;
            };
            let response = match service.app.handle(&request) {
                AppAction::Respond(response) => response,
                AppAction::Forward(submission) => {
                    let sender = &mut service.forward.sender;
                    match service.waiters.submit(sender, now, submission, key) {
                        Ok(ticket) => {
                            self.waiting = Some(ticket);
                            continue;
                        }
                        Err(outcome) => service.app.forwarded(&outcome),
                    }
                }
            };
            // A request event always leaves a request pending.
            let _ = http.respond(now, response);
        }
    }

    fn closed(&mut self, _: &mut HttpConn, service: &mut WebService, key: ConnKey, _: Instant) {
        if let Some(ticket) = self.waiting.take() {
            // The message still settles in the sender; nobody waits for its answer.
            service.waiters.cancel(ticket);
        }
        service.settled.remove(&key);
    }
}
