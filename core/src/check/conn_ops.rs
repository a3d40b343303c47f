//! Invariants of the HTTP connection machine under an arbitrary sequence of inputs: peer bytes in
//! random pieces, time passing, the application answering or not, EOF, and the shell's writes
//! stalling or progressing.

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
///
/// and at the end, that answering what waits and letting time pass closes it.
pub fn check_http_conn_ops(start: Instant, script: &[u8]) {
    let config = HttpConfig {
        max_body: 256,
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
    };
    let mut ops = script;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let arg = take_byte(&mut ops);
        match op % 8 {
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
            _ => {
                let written = usize::from(arg >> 1);
                run.conn.handle_written(run.now, written, arg & 1 == 1);
            }
        }
        run.drain();
        run.check();
    }
    run.finish();
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
}

impl Run {
    /// Answers the waiting request, if any, with an empty response chosen by `arg`.
    fn respond(&mut self, arg: u8) {
        let status = RESPONSE_STATUSES[usize::from(arg) % RESPONSE_STATUSES.len()];
        let response = Response::new(status);
        let waiting = self.requests > self.answered;
        let result = self.conn.respond(self.now, response);
        // After a write timeout the connection is closed and the request is never answered.
        if waiting && !self.conn.is_write_timed_out() {
            assert!(result.is_ok(), "a waiting request could not be answered");
            self.answered += 1;
        } else {
            assert!(result.is_err(), "answered a request that was not waiting");
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
                HttpEvent::Rejected(_) => self.rejections += 1,
            }
        }
    }

    fn check(&self) {
        assert!(self.rejections <= 1, "more than one rejection");
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
        let waiting = self.requests > self.answered;
        if !self.conn.is_closed() && !waiting {
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
    fn finish(mut self) {
        let mut steps = 0;
        while !self.conn.is_closed() && steps < MAX_FINAL_STEPS {
            if self.requests > self.answered {
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
        stalled.extend([7, 1, 3, 255, 5, 0]);
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
        for script in scripts {
            check_http_conn_ops(epoch(), &script);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_scripts_keep_the_invariants(script in prop::collection::vec(any::<u8>(), 0..400)) {
            check_http_conn_ops(epoch(), &script);
        }
    }
}
