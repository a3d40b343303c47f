//! An in-memory harness that drives an [`HttpConn`] with a simulated clock: feed bytes, drain
//! what it sends, jump time to its next deadline, collect events. No sockets, no sleeps.

use std::time::{Duration, Instant};

use time::macros::datetime;

use crate::http::{HttpConfig, HttpConn, HttpEvent, Request, Response};

/// The base of every simulated time in core's tests.
///
/// `Instant` has no public constructor, so tests read the clock here, once per test, and from
/// then on only add offsets: the machines under test never see a time that did not come from it.
pub(crate) fn epoch() -> Instant {
    Instant::now()
}

pub(crate) struct ConnHarness {
    pub conn: HttpConn,
    pub now: Instant,
    pub sent: Vec<u8>,
    pub events: Vec<HttpEvent>,
    answered: usize,
}

impl ConnHarness {
    pub fn new(config: HttpConfig) -> Self {
        let now = epoch();
        let conn = HttpConn::new(config, now, datetime!(2026-11-21 12:00:00 UTC));
        ConnHarness {
            conn,
            now,
            sent: Vec::new(),
            events: Vec::new(),
            answered: 0,
        }
    }

    /// Feeds bytes, then drains output and events as a shell would.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.conn.receive(self.now, bytes);
        self.drain();
    }

    pub fn eof(&mut self) {
        self.conn.receive_eof(self.now);
        self.drain();
    }

    /// Moves the clock forward by `by` and fires any deadline that passed.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.conn.handle_timeout(self.now);
        self.drain();
    }

    /// Jumps the clock to the next deadline and fires it; false when there is none.
    pub fn jump_to_deadline(&mut self) -> bool {
        let Some(deadline) = self.conn.poll_timeout() else {
            return false;
        };
        self.now = self.now.max(deadline);
        self.conn.handle_timeout(self.now);
        self.drain();
        true
    }

    pub fn respond(&mut self, response: Response) {
        self.conn
            .respond(self.now, response)
            .expect("a request is pending");
        self.answered += 1;
        self.drain();
    }

    /// Answers every request not answered yet, in order, with `answer`.
    pub fn respond_all(&mut self, answer: impl Fn(&Request) -> Response) {
        while let Some(request) = self.requests().get(self.answered).cloned() {
            self.answered += 1;
            if self.conn.respond(self.now, answer(&request)).is_err() {
                return;
            }
            self.drain();
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.events
            .iter()
            .filter_map(|e| match e {
                HttpEvent::Request(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn sent_text(&self) -> String {
        String::from_utf8_lossy(&self.sent).into_owned()
    }

    /// The status codes of every response sent so far, in order.
    pub fn statuses(&self) -> Vec<u16> {
        let text = self.sent_text();
        text.match_indices("HTTP/1.1 ")
            .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
            .collect()
    }

    fn drain(&mut self) {
        self.conn.poll_transmit(&mut self.sent);
        while let Some(event) = self.conn.poll_event() {
            self.events.push(event);
        }
    }
}
