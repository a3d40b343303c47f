//! The streaming half of [`HttpConn`]: request bodies handed out in bounded pieces instead of
//! buffered whole, and response bodies the shell writes itself (a file sent with `sendfile`).
//!
//! Owns the `Deciding` → `Streaming` → `Waiting` path of a streamed request and the `Sending`
//! state of an external response body. It never reads or writes a file and never picks a status:
//! the application decides, the shell moves the bytes.

use std::time::Instant;

use super::{HttpConn, HttpEvent, State};
use crate::http::body::BodyDecoder;
use crate::http::parse::{BodyFraming, Method, RequestHead};
use crate::http::{Body, HttpError, Response, UsageError, Version};

/// How the answer to a streamed request is to be framed, kept from its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reply {
    pub head_only: bool,
    pub keep_alive: bool,
    pub version: Version,
}

impl HttpConn {
    /// Takes the body of the head reported by the last [`HttpEvent::Head`]: sends
    /// `100 Continue` if the client waits for it, then decodes body bytes as they arrive.
    ///
    /// Afterwards drain [`HttpConn::poll_body`] after every input; [`HttpEvent::BodyEnd`] says
    /// the body is complete. A body without framing ends at once.
    pub fn accept_body(&mut self, now: Instant) -> Result<(), UsageError> {
        let State::Deciding {
            reply,
            framing,
            expects_continue,
        } = self.state
        else {
            return Err(UsageError::NoRequestPending);
        };
        // RFC 9110 §10.1.1: a client that already sent body bytes is not waiting for 100.
        if expects_continue && framing != BodyFraming::Empty && self.input.is_empty() {
            self.output
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        self.state = State::Streaming {
            reply,
            decoder: BodyDecoder::new(framing, self.config.max_body),
            last_read: now,
        };
        self.advance(now);
        Ok(())
    }

    /// Appends the decoded body bytes not handed out yet to `out` and returns how many there
    /// were; `None` when none wait.
    ///
    /// Can change after `receive` and `accept_body`. While more than a bounded amount waits
    /// here, [`HttpConn::wants_read`] is false, so a slow disk slows the peer instead of
    /// filling memory.
    pub fn poll_body(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let n = self.streamed.len();
        if n == 0 {
            return None;
        }
        if out.is_empty() {
            *out = std::mem::take(&mut self.streamed);
        } else {
            out.append(&mut self.streamed);
        }
        Some(n)
    }

    /// How many body bytes of an external response body ([`Body::External`]) the shell must
    /// write, after everything [`HttpConn::poll_transmit`] has handed over, before calling
    /// [`HttpConn::handle_body_sent`]. `None` when no such body is owed.
    ///
    /// Can change after `respond` and `handle_body_sent`.
    pub fn external_body(&self) -> Option<u64> {
        match self.state {
            State::Sending { len, .. } => Some(len),
            _ => None,
        }
    }

    /// The shell wrote the whole external body: the connection moves on to the next request or
    /// closes, as the response said.
    pub fn handle_body_sent(&mut self, now: Instant) -> Result<(), UsageError> {
        let State::Sending { keep_alive, .. } = self.state else {
            return Err(UsageError::NoRequestPending);
        };
        let keep_alive = keep_alive && !self.peer_closed && !self.stopping;
        self.finish_response(now, keep_alive);
        Ok(())
    }

    /// Decodes buffered input of a streamed body; on its end moves to `Waiting` and reports
    /// [`HttpEvent::BodyEnd`].
    pub(super) fn advance_stream(&mut self, now: Instant) -> Result<(), HttpError> {
        let State::Streaming {
            reply,
            decoder,
            last_read,
        } = &mut self.state
        else {
            return Ok(());
        };
        let decoded = decoder.decode(&self.input, &mut self.streamed)?;
        self.input.drain(..decoded.consumed);
        if decoded.consumed > 0 {
            *last_read = now;
        }
        if decoded.done {
            self.state = State::Waiting {
                head_only: reply.head_only,
                keep_alive: reply.keep_alive,
                version: reply.version,
            };
            self.events.push_back(HttpEvent::BodyEnd);
        }
        Ok(())
    }
}

/// The state after a streamed head was reported.
pub(super) fn deciding(head: &RequestHead) -> State {
    State::Deciding {
        reply: Reply {
            head_only: head.method == Method::Head,
            keep_alive: head.keep_alive,
            version: head.version,
        },
        framing: head.framing,
        expects_continue: head.expects_continue,
    }
}

/// The length of the external body the shell must send after this response, if any: none for
/// HEAD, for statuses that never carry a body, or for an empty one.
pub(super) fn external_len(response: &Response, head_only: bool) -> Option<u64> {
    match response.body {
        Body::External { len }
            if len > 0 && !head_only && !matches!(response.status, 100..=199 | 204 | 304) =>
        {
            Some(len)
        }
        _ => None,
    }
}

/// Whether a streamed body may take more input: false while the undelivered bytes reach
/// [`STREAMED_BODY_BUFFER`].
pub(super) fn wants_more(streamed: &[u8]) -> bool {
    streamed.len() < STREAMED_BODY_BUFFER
}

/// Decoded body bytes held for the application before reading stops: four 64 KiB reads, enough
/// to keep a disk write and a socket read overlapping without holding much per upload.
pub const STREAMED_BODY_BUFFER: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::http::HttpConfig;
    use crate::testing::ConnHarness;

    fn streaming() -> ConnHarness {
        ConnHarness::new(HttpConfig {
            stream_bodies: true,
            max_body: 1 << 20,
            ..HttpConfig::default()
        })
    }

    /// Feeds `input` in pieces cut at `cuts`, accepting every head and answering every body,
    /// and returns the events, the body bytes per request and everything sent.
    fn run(input: &[u8], cuts: &[usize]) -> (Vec<HttpEvent>, Vec<Vec<u8>>, String) {
        let mut h = streaming();
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        let mut start = 0;
        let mut pieces: Vec<&[u8]> = Vec::new();
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            let cut = cut.clamp(start, input.len());
            pieces.push(&input[start..cut]);
            start = cut;
        }
        let mut seen = 0;
        for piece in pieces {
            h.conn.receive(h.now, piece);
            loop {
                h.conn.poll_transmit(&mut h.sent);
                if let Some(body) = bodies.last_mut() {
                    h.conn.poll_body(body);
                }
                let Some(event) = h.conn.poll_event() else {
                    break;
                };
                h.events.push(event.clone());
                seen += 1;
                match event {
                    HttpEvent::Head(_) => {
                        bodies.push(Vec::new());
                        h.conn.accept_body(h.now).unwrap();
                    }
                    HttpEvent::BodyEnd => {
                        let n = bodies.last().map_or(0, Vec::len);
                        let response = Response::new(200)
                            .with_body("text/plain", Body::Owned(n.to_string().into_bytes()));
                        h.conn.respond(h.now, response).unwrap();
                    }
                    _ => {}
                }
            }
        }
        let _ = seen;
        let sent = h.sent_text();
        (h.events, bodies, sent)
    }

    fn put(body: &[u8], chunked: bool) -> Vec<u8> {
        let mut text = b"PUT /f HTTP/1.1\r\nHost: x\r\n".to_vec();
        if chunked {
            text.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for piece in body.chunks(5) {
                text.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                text.extend_from_slice(piece);
                text.extend_from_slice(b"\r\n");
            }
            text.extend_from_slice(b"0\r\n\r\n");
        } else {
            text.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            text.extend_from_slice(body);
        }
        text
    }

    #[test]
    fn head_is_reported_before_any_body_byte_is_read() {
        let mut h = streaming();
        h.feed(b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab");
        assert!(matches!(h.events.as_slice(), [HttpEvent::Head(head)] if head.target == "/f"));
        assert!(
            !h.conn.wants_read(),
            "nothing is read before the application decides"
        );
        let mut body = Vec::new();
        assert_eq!(h.conn.poll_body(&mut body), None);
        h.conn.accept_body(h.now).unwrap();
        h.conn.poll_body(&mut body);
        assert_eq!(body, b"ab");
        assert!(h.conn.wants_read());
        h.feed(b"cde");
        h.conn.poll_body(&mut body);
        assert_eq!(body, b"abcde");
        assert_eq!(h.events.last(), Some(&HttpEvent::BodyEnd));
        h.respond(Response::new(201));
        assert_eq!(h.statuses(), vec![201]);
        assert!(!h.sent_text().contains("100 Continue"));
    }

    #[test]
    fn continue_is_sent_only_when_the_body_is_accepted() {
        let head =
            b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        let mut accepted = streaming();
        accepted.feed(head);
        assert_eq!(accepted.sent_text(), "");
        accepted.conn.accept_body(accepted.now).unwrap();
        accepted.conn.poll_transmit(&mut accepted.sent);
        assert_eq!(accepted.sent_text(), "HTTP/1.1 100 Continue\r\n\r\n");

        let mut refused = streaming();
        refused.feed(head);
        refused.respond(Response::new(413));
        let text = refused.sent_text();
        assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
        assert!(!text.contains("100 Continue"));
        assert!(
            text.contains("Connection: close"),
            "an unread body ends the connection"
        );
        assert!(refused.conn.is_write_closed());
    }

    #[test]
    fn early_answer_without_a_body_keeps_the_connection() {
        let mut h = streaming();
        h.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(h.events.len(), 1);
        h.respond(Response::new(404));
        assert_eq!(h.events.len(), 2, "the pipelined head follows the answer");
        assert!(!h.sent_text().contains("Connection: close"));
    }

    #[test]
    fn a_slow_consumer_stops_reading() {
        let mut h = streaming();
        h.feed(b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
        h.conn.accept_body(h.now).unwrap();
        let piece = vec![7u8; 64 * 1024];
        let mut fed = 0;
        while h.conn.wants_read() {
            h.conn.receive(h.now, &piece);
            fed += piece.len();
            assert!(fed <= STREAMED_BODY_BUFFER + piece.len());
        }
        let mut body = Vec::new();
        assert_eq!(h.conn.poll_body(&mut body), Some(fed));
        assert!(h.conn.wants_read());
    }

    #[test]
    fn chunked_body_over_the_limit_is_413_mid_stream() {
        let mut h = ConnHarness::new(HttpConfig {
            stream_bodies: true,
            max_body: 4,
            ..HttpConfig::default()
        });
        h.feed(b"PUT /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        h.conn.accept_body(h.now).unwrap();
        h.feed(b"9\r\n123456789\r\n0\r\n\r\n");
        assert_eq!(
            h.events.last(),
            Some(&HttpEvent::Rejected(HttpError::BodyTooLarge))
        );
        assert_eq!(h.statuses(), vec![413]);
    }

    #[test]
    fn a_stalled_body_times_out() {
        let mut h = streaming();
        h.feed(b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n");
        assert_eq!(
            h.conn.poll_timeout(),
            None,
            "no deadline while the application decides"
        );
        h.conn.accept_body(h.now).unwrap();
        h.advance(Duration::from_secs(60));
        assert_eq!(h.statuses(), vec![408]);
    }

    #[test]
    fn external_body_holds_the_next_response_until_sent() {
        let mut h = streaming();
        h.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(200).with_body("text/plain", Body::External { len: 10 }));
        assert!(h.sent_text().contains("Content-Length: 10\r\n"));
        assert!(h.sent_text().ends_with("\r\n\r\n"));
        assert_eq!(h.conn.external_body(), Some(10));
        assert_eq!(h.events.len(), 1, "the next request waits for the body");
        assert!(h.conn.respond(h.now, Response::new(200)).is_err());
        h.conn.handle_body_sent(h.now).unwrap();
        assert_eq!(h.conn.external_body(), None);
        h.conn.poll_transmit(&mut h.sent);
        while let Some(event) = h.conn.poll_event() {
            h.events.push(event);
        }
        assert_eq!(h.events.len(), 2);
    }

    #[test]
    fn head_and_304_owe_no_external_body() {
        let mut h = streaming();
        h.feed(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(200).with_body("text/plain", Body::External { len: 10 }));
        assert_eq!(h.conn.external_body(), None);
        assert!(h.sent_text().contains("Content-Length: 10\r\n"));
        h.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(304).with_body("text/plain", Body::External { len: 10 }));
        assert_eq!(h.conn.external_body(), None);
    }

    #[test]
    fn eof_while_sending_closes_after_the_body() {
        let mut h = streaming();
        h.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
        h.respond(Response::new(200).with_body("text/plain", Body::External { len: 3 }));
        h.eof();
        assert!(!h.conn.is_closed());
        h.conn.handle_body_sent(h.now).unwrap();
        assert!(h.conn.is_closed());
    }

    proptest! {
        #[test]
        fn streamed_bodies_split_anywhere_agree(
            first in prop::collection::vec(any::<u8>(), 0..40),
            second in prop::collection::vec(any::<u8>(), 0..40),
            chunked in any::<(bool, bool)>(),
            mut cuts in prop::collection::vec(0usize..200, 0..6),
        ) {
            let mut input = put(&first, chunked.0);
            input.extend_from_slice(&put(&second, chunked.1));
            let whole = run(&input, &[]);
            prop_assert_eq!(&whole.1, &vec![first.clone(), second.clone()]);
            for split in 0..=input.len() {
                prop_assert_eq!(&run(&input, &[split]), &whole, "split at {}", split);
            }
            let every_byte: Vec<usize> = (1..input.len()).collect();
            prop_assert_eq!(&run(&input, &every_byte), &whole);
            cuts.sort_unstable();
            prop_assert_eq!(&run(&input, &cuts), &whole);
        }
    }
}
