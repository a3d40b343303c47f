//! Stopping a server gracefully, one connection at a time: [`HttpConn::handle_shutdown`].
//!
//! The decision is the same for every shell and every HTTP service: a connection with no request
//! in flight closes at once; one with a request in flight (a head or body still arriving, an
//! answer owed or being sent) finishes that request, answers it with `Connection: close`, and
//! reads nothing after it. A shell never half-closes a socket to stop it, which would cut an
//! upload's body in flight; it calls this and goes on driving the connection until it closes or
//! the shell's grace period ends.

use std::time::Instant;

use super::{HttpConn, State};

impl HttpConn {
    /// The server is stopping at `now`: with no request in flight the connection closes at once
    /// ([`HttpConn::is_closed`]); otherwise the request in flight is finished and answered with
    /// `Connection: close`, and no further request is read. Time limits apply as before.
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.stopping = true;
        if let State::Idle { .. } = self.state {
            // Pipelined bytes not yet parsed are a request nobody has started to answer.
            self.input = Vec::new();
            self.state = State::Closed;
        }
        let _ = now;
    }

    /// Whether [`HttpConn::handle_shutdown`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::http::{Body, HttpConfig, HttpEvent, Response};
    use crate::testing::ConnHarness;

    fn streaming() -> ConnHarness {
        ConnHarness::new(HttpConfig {
            stream_bodies: true,
            max_body: 1 << 20,
            ..HttpConfig::default()
        })
    }

    #[test]
    fn an_idle_connection_closes_at_once() {
        let mut h = ConnHarness::new(HttpConfig::default());
        h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(200));
        h.conn.handle_shutdown(h.now);
        assert!(h.conn.is_closed());
        assert_eq!(h.statuses(), vec![200]);
    }

    #[test]
    fn a_request_whose_answer_is_owed_is_answered_with_close() {
        let mut h = ConnHarness::new(HttpConfig::default());
        h.feed(b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
        h.conn.handle_shutdown(h.now);
        assert!(!h.conn.is_closed());
        h.respond(Response::new(303));
        assert!(h.sent_text().contains("Connection: close\r\n"));
        assert!(h.conn.is_write_closed());
    }

    #[test]
    fn a_body_in_flight_is_taken_whole_then_answered_with_close() {
        let mut h = streaming();
        h.feed(b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
        h.conn.accept_body(h.now).unwrap();
        h.conn.handle_shutdown(h.now);
        assert!(h.conn.wants_read(), "the rest of the body is still read");
        h.feed(b"56789GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut body = Vec::new();
        h.conn.poll_body(&mut body);
        assert_eq!(body, b"0123456789");
        assert_eq!(h.events.last(), Some(&HttpEvent::BodyEnd));
        h.respond(Response::new(201));
        assert!(h.sent_text().contains("HTTP/1.1 201 "));
        assert!(h.sent_text().contains("Connection: close\r\n"));
        assert_eq!(h.events.len(), 2, "the pipelined request is not read");
    }

    #[test]
    fn a_head_in_flight_is_finished_and_answered() {
        let mut h = ConnHarness::new(HttpConfig::default());
        h.feed(b"GET / HTTP/1.1\r\nHo");
        h.conn.handle_shutdown(h.now);
        assert!(!h.conn.is_closed());
        h.feed(b"st: x\r\n\r\n");
        assert_eq!(h.requests().len(), 1);
        h.respond(Response::new(200));
        assert!(h.sent_text().contains("Connection: close\r\n"));
    }

    #[test]
    fn a_download_being_sent_closes_after_its_body() {
        let mut h = streaming();
        h.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(200).with_body("text/plain", Body::External { len: 3 }));
        h.conn.handle_shutdown(h.now);
        assert_eq!(h.conn.external_body(), Some(3));
        h.conn.handle_body_sent(h.now).unwrap();
        assert!(h.conn.is_write_closed());
    }

    #[test]
    fn a_stopping_connection_still_times_out() {
        let mut h = streaming();
        h.feed(b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
        h.conn.accept_body(h.now).unwrap();
        h.conn.handle_shutdown(h.now);
        h.advance(Duration::from_secs(60));
        assert_eq!(h.statuses(), vec![408]);
        assert!(h.conn.is_closed());
    }
}
