//! Invariants of the HTTP connection machine under an arbitrary sequence of inputs: peer bytes in
//! random pieces, time passing, the application answering or not, EOF, and the shell's writes
//! stalling or progressing; in whole-body mode (the web app) and in streaming mode (the file
//! server, where the application also accepts bodies and takes them in pieces).

use std::time::{Duration, Instant};

use time::macros::datetime;

use super::http::count_final_responses;
use crate::http::{HttpConfig, HttpConn, HttpEvent, Response};

/// Reads `script` as a sequence of operations on one connection and checks after every step that:
/// - there is at most one response per request: the complete responses sent are exactly the
///   requests answered plus the rejections, and `respond` succeeds only while a request waits;
/// - output stays bounded by the input;
/// - the connection never stalls: unless closed or waiting for the application, it has a
///   deadline;
/// - a write timeout closes it, after which nothing is read or sent;
/// - after a shutdown at most the request in flight is reported, and an idle connection closes;
///
/// and at the end, that answering what waits and letting time pass closes it.
pub fn check_http_conn_ops(start: Instant, script: &[u8]) {
    run_ops(start, script, false);
}

/// [`check_http_conn_ops`] with streamed request bodies: besides the same invariants, a body is
/// only handed out after the application accepted its head, `accept_body` succeeds exactly when
/// a head waits for a decision, and an open body always has a deadline.
pub fn check_http_stream_ops(start: Instant, script: &[u8]) {
    run_ops(start, script, true);
}

/// Runs `script` and returns how many requests were answered (by the application, not by a
/// rejection), so tests can tell a script did what it was written for.
fn run_ops(start: Instant, script: &[u8], stream_bodies: bool) -> usize {
    let config = HttpConfig {
        max_body: 256,
        stream_bodies,
        ..HttpConfig::default()
    };
    let mut run = Run {
        conn: HttpConn::new(config, start, datetime!(2026-01-01 00:00:00 UTC)),
        now: start,
        sent: Vec::new(),
        input_len: 0,
        requests: 0,
        answered: 0,
        rejections: 0,
        head_pending: false,
        body_open: false,
        body: Vec::new(),
        body_rejected: false,
        acked: 0,
        requests_at_shutdown: None,
    };
    let mut ops = script;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let arg = take_byte(&mut ops);
        match op % 10 {
            0..=2 => {
                let len = usize::from(arg).min(ops.len());
                let (bytes, rest) = ops.split_at(len);
                ops = rest;
                run.input_len += bytes.len();
                run.conn.receive(run.now, bytes);
            }
            3 => {
                run.now += Duration::from_millis(u64::from(arg) * 250);
                run.conn.handle_timeout(run.now);
            }
            4 => {
                if let Some(deadline) = run.conn.poll_timeout() {
                    run.now = run.now.max(deadline);
                    run.conn.handle_timeout(run.now);
                }
            }
            5 => run.respond(arg),
            6 => run.conn.receive_eof(run.now),
            7 if arg & 0x80 != 0 => run.shut_down(),
            7 => {
                run.acked += u64::from(arg) * 1000;
                run.conn.handle_acked(run.now, run.acked);
            }
            8 => run.accept(),
            _ => {
                let written = usize::from(arg >> 1);
                run.conn.handle_written(run.now, written, arg & 1 == 1);
            }
        }
        run.drain();
        run.check();
    }
    run.finish()
}

/// The connection and what the checker knows about it.
struct Run {
    conn: HttpConn,
    now: Instant,
    sent: Vec<u8>,
    input_len: usize,
    requests: usize,
    answered: usize,
    rejections: usize,
    /// Streaming: a head was reported and the application has neither accepted nor answered it.
    head_pending: bool,
    /// Streaming: a body was accepted and has not ended.
    body_open: bool,
    /// Streaming: body bytes handed out, dropped as the application would store them.
    body: Vec<u8>,
    /// Streaming: an accepted body was rejected, which answered its request.
    body_rejected: bool,
    /// The running count of bytes the peer acknowledged, as the shell would report it.
    acked: u64,
    /// Requests reported when the shutdown came, counting the one in flight if any.
    requests_at_shutdown: Option<usize>,
}

impl Run {
    /// Answers the waiting request, if any, with an empty response chosen by `arg`.
    fn respond(&mut self, arg: u8) {
        let status = RESPONSE_STATUSES[usize::from(arg) % RESPONSE_STATUSES.len()];
        let response = Response::new(status);
        // A request whose body is still arriving cannot be answered yet.
        let waiting = self.waiting();
        let result = self.conn.respond(self.now, response);
        // After a write timeout the connection is closed and the request is never answered.
        if waiting && !self.conn.is_write_timed_out() {
            assert!(result.is_ok(), "a waiting request could not be answered");
            self.answered += 1;
            self.head_pending = false;
        } else {
            assert!(result.is_err(), "answered a request that was not waiting");
        }
    }

    /// Whether a request waits for the application's answer: reported, not answered, its body
    /// (when streamed) complete, and not answered by a rejection of that body.
    fn waiting(&self) -> bool {
        self.requests > self.answered && !self.body_open && !self.body_rejected
    }

    /// Stops the server: from then on at most the request in flight (or a head still arriving)
    /// may be reported.
    fn shut_down(&mut self) {
        if self.requests_at_shutdown.is_none() {
            self.conn.handle_shutdown(self.now);
            self.requests_at_shutdown = Some(self.requests + 1);
        }
    }

    /// Accepts the body of the head that waits, if any.
    fn accept(&mut self) {
        let result = self.conn.accept_body(self.now);
        if self.head_pending && !self.conn.is_closed() {
            assert!(
                result.is_ok(),
                "a waiting head's body could not be accepted"
            );
        }
        if result.is_ok() {
            assert!(self.head_pending, "accepted a body no head announced");
            self.head_pending = false;
            self.body_open = true;
        }
    }

    fn drain(&mut self) {
        let before = self.sent.len();
        self.conn.poll_transmit(&mut self.sent);
        if self.conn.is_write_timed_out() {
            assert_eq!(self.sent.len(), before, "output after the write timeout");
        }
        while let Some(event) = self.conn.poll_event() {
            match event {
                HttpEvent::Request(_) => self.requests += 1,
                HttpEvent::Rejected(_) => {
                    self.rejections += 1;
                    // A body that breaks (malformed, too large, stalled) is answered by the
                    // rejection: its request no longer waits for the application.
                    if self.body_open {
                        self.body_open = false;
                        self.body_rejected = true;
                    }
                }
                HttpEvent::Head(_) => {
                    self.requests += 1;
                    self.head_pending = true;
                }
                HttpEvent::BodyEnd => {
                    assert!(self.body_open, "a body ended that was never accepted");
                    self.body_open = false;
                }
            }
        }
        self.body.clear();
        if self.conn.poll_body(&mut self.body).is_some() {
            assert!(
                self.body_open || self.body.len() <= 256,
                "body bytes nobody accepted"
            );
        }
    }

    fn check(&self) {
        assert!(self.rejections <= 1, "more than one rejection");
        if let Some(limit) = self.requests_at_shutdown {
            assert!(self.requests <= limit, "a request read after the shutdown");
        }
        assert!(
            self.requests <= self.answered + 1,
            "a second request was reported before the first was answered"
        );
        if !self.conn.is_write_timed_out() {
            assert_eq!(
                count_final_responses(&self.sent),
                self.answered + self.rejections,
                "responses vs requests answered and rejections"
            );
        }
        assert!(
            self.sent.len() <= OUTPUT_PER_INPUT_BYTE * self.input_len + OUTPUT_SLACK,
            "output grew without bound"
        );
        if !self.conn.is_closed() && !self.waiting() {
            assert!(
                self.conn.poll_timeout().is_some(),
                "stalled: open, nothing waiting for the application, and no deadline"
            );
        }
        if self.conn.is_write_timed_out() {
            assert!(self.conn.is_closed(), "write timeout without closing");
            assert!(!self.conn.wants_read(), "reads after the write timeout");
        }
    }

    /// Answers whatever waits and lets the deadlines pass: the connection must close.
    fn finish(mut self) -> usize {
        let mut steps = 0;
        while !self.conn.is_closed() && steps < MAX_FINAL_STEPS {
            if self.head_pending {
                self.accept();
            } else if self.waiting() {
                self.respond(0);
            } else if let Some(deadline) = self.conn.poll_timeout() {
                self.now = self.now.max(deadline) + Duration::from_millis(1);
                self.conn.handle_timeout(self.now);
            } else {
                panic!("stalled without a deadline at the end");
            }
            self.drain();
            self.check();
            steps += 1;
        }
        assert!(self.conn.is_closed(), "did not close after its deadlines");
        let (sent, requests) = (self.sent.len(), self.requests);
        self.conn
            .receive(self.now, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        self.drain();
        assert_eq!(self.sent.len(), sent, "output after close");
        assert_eq!(self.requests, requests, "a request after close");
        self.answered
    }
}

fn take_byte(ops: &mut &[u8]) -> u8 {
    match ops.split_first() {
        Some((&byte, rest)) => {
            *ops = rest;
            byte
        }
        None => 0,
    }
}

/// Statuses the simulated application answers with; all carry no body, so every response's
/// length is its head (HEAD requests included).
const RESPONSE_STATUSES: [u16; 4] = [200, 204, 303, 404];
/// As in the whole-input checker: each response needs input that asked for it.
const OUTPUT_PER_INPUT_BYTE: usize = 200;
const OUTPUT_SLACK: usize = 4096;
/// Answers and deadlines at the end: pipelined requests each need an answer, then a handful of
/// deadlines close any state.
const MAX_FINAL_STEPS: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::epoch;
    use proptest::prelude::*;

    fn receive(bytes: &[u8]) -> Vec<u8> {
        let mut op = vec![0, bytes.len() as u8];
        op.extend_from_slice(bytes);
        op
    }

    #[test]
    fn scripted_sessions_keep_the_invariants() {
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut pipelined = receive(get);
        pipelined.extend(receive(get));
        pipelined.extend([5, 0, 5, 1]);
        let mut stalled = receive(get);
        stalled.extend([9, 1, 7, 0, 3, 255, 7, 9, 3, 255, 5, 0]);
        let mut slow_head = receive(b"GET / HTTP/1.1\r\n");
        slow_head.extend([3, 100, 4, 0]);
        let scripts: Vec<Vec<u8>> = vec![
            vec![],
            pipelined,
            stalled,
            slow_head,
            [receive(get), vec![6, 0, 5, 0]].concat(),
            [receive(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999\r\n\r\n",
            )]
            .concat(),
        ];
        for script in &scripts {
            check_http_conn_ops(epoch(), script);
            check_http_stream_ops(epoch(), script);
        }
    }

    #[test]
    fn streamed_uploads_keep_the_invariants() {
        let put = b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let chunked = b"PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                        5\r\nhello\r\n0\r\n\r\n";
        let expect = b"PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\
                       Content-Length: 3\r\n\r\n";
        // Each script with the number of requests the application answers.
        let scripts: Vec<(Vec<u8>, usize)> = vec![
            // Accepted, read, answered; then the next request on the same connection.
            (
                [
                    receive(put),
                    vec![8, 0, 5, 1],
                    receive(put),
                    vec![8, 0, 5, 0],
                ]
                .concat(),
                2,
            ),
            // Answered early without reading the body: the connection closes.
            ([receive(put), vec![5, 3]].concat(), 1),
            ([receive(chunked), vec![8, 0, 5, 1]].concat(), 1),
            // Accepted before the body arrives, then the body stalls past its timeout: 408.
            ([receive(expect), vec![8, 0, 3, 100]].concat(), 0),
            (
                [receive(expect), vec![8, 0], receive(b"abc"), vec![5, 0]].concat(),
                1,
            ),
            // The server stops mid-body: the body is still taken and answered.
            (
                [
                    receive(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe"),
                    vec![8, 0, 7, 0x80],
                    receive(b"llo"),
                    receive(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                    vec![5, 0],
                ]
                .concat(),
                1,
            ),
            // The server stops between requests: nothing more is read.
            ([receive(put), vec![8, 0, 5, 0, 7, 0x80], receive(put)].concat(), 1),
            // The accepted chunked body is malformed: the 400 answers the request, which no
            // longer waits for the application (found by the http_conn_stream fuzz target).
            (
                [
                    receive(b"PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX"),
                    vec![8, 0],
                    receive(b"\n0\r\n\r\n"),
                    vec![5, 1],
                ]
                .concat(),
                0,
            ),
        ];
        for (script, answered) in &scripts {
            assert_eq!(run_ops(epoch(), script, true), *answered);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_scripts_keep_the_invariants(script in prop::collection::vec(any::<u8>(), 0..400)) {
            check_http_conn_ops(epoch(), &script);
        }

        #[test]
        fn arbitrary_streaming_scripts_keep_the_invariants(
            script in prop::collection::vec(any::<u8>(), 0..400)
        ) {
            check_http_stream_ops(epoch(), &script);
        }
    }
}
