//! [`HttpConn`]: the server side of one HTTP/1.1 connection as a sans-io state machine.
//!
//! # Theory of operation
//!
//! A connection handles one request at a time, in order, which is all HTTP/1.1 pipelining
//! allows. It moves through these states:
//!
//! - `Idle`: waiting for the first byte of the next request (idle timeout: close quietly).
//! - `Head`: part of a head has arrived (header timeout: answer 408 and close).
//! - `Body`: the head was accepted; body bytes are decoded until the framing says it is done
//!   (body timeout between reads: 408 and close). `100 Continue` is sent on entry when asked.
//! - `Waiting`: the whole request was reported as [`HttpEvent::Request`]; pipelined bytes stay
//!   buffered until the application calls [`HttpConn::respond`], which returns to `Idle` (or
//!   `Lingering` when the connection is not kept alive).
//! - `Lingering`: the last response is queued; whatever the peer still sends is discarded until it
//!   closes or a short deadline passes, so closing never resets the connection before the peer
//!   has read the answer (RFC 9112 §9.6).
//! - `Closed`: nothing more will happen; the shell closes the socket once output is written.
//!
//! With [`HttpConfig::stream_bodies`] a request's body is not buffered; see the `stream` module:
//! after the head the connection reports [`HttpEvent::Head`] and waits in `Deciding` until the
//! application answers at once ([`HttpConn::respond`]) or takes the body
//! ([`HttpConn::accept_body`]); `Streaming` then hands body bytes out through
//! [`HttpConn::poll_body`] in bounded pieces and ends with [`HttpEvent::BodyEnd`]. A response
//! whose body the shell supplies ([`Body::External`]) holds the connection in `Sending` until
//! [`HttpConn::handle_body_sent`].
//!
//! Peer errors queue their own answer with `Connection: close`, are reported as
//! [`HttpEvent::Rejected`], and end in `Lingering`; input after that is ignored.
//!
//! When the server stops, [`HttpConn::handle_shutdown`] closes an `Idle` connection at once; any
//! other finishes the request it is in (its head, its body, its answer), answers it with
//! `Connection: close` and reads no further request.
//!
//! Apart from the states, a [`WriteWatch`] follows the shell's writes: output that the peer takes
//! no byte of for the write timeout closes the connection from any state, and the shell drops
//! what is still unwritten ([`HttpConn::is_write_timed_out`]).
//!
//! Only the peer's bytes, EOF, time and the application's responses move the machine.

use std::collections::VecDeque;
use std::mem;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::body::BodyDecoder;
use super::parse::{parse_head, BodyFraming, HeadLimits, HeadScanner, Method, RequestHead, Scan};
use super::write::{encode_response, reason_phrase, ConnectionHeader};
use super::{Body, HttpError, Response, UsageError, Version};
use crate::http::page::{Page, PageKind, HTML};
use clock::WallClock;
use stream::Reply;
pub use stream::STREAMED_BODY_BUFFER;

mod clock;
mod shutdown;
mod stream;

mod write_watch;

use self::write_watch::WriteWatch;

/// Limits and timeouts of an HTTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    pub limits: HeadLimits,
    /// Report each head as [`HttpEvent::Head`] and stream its body out through
    /// [`HttpConn::poll_body`] instead of buffering it whole (the file server's uploads).
    pub stream_bodies: bool,
    /// Largest request body accepted; a larger one is answered 413.
    pub max_body: u64,
    /// How long a client may take to send a whole head once it started one.
    pub header_timeout: Duration,
    /// How long a body may stall between two reads.
    pub body_timeout: Duration,
    /// How long a whole request (head and body) may take from its first byte, however steadily
    /// it arrives: a client dripping a byte now and then holds a connection no longer than this.
    pub request_timeout: Duration,
    /// How long a keep-alive connection may stay quiet between requests.
    pub idle_timeout: Duration,
    /// How long a closing connection waits for the peer to stop sending.
    pub linger_timeout: Duration,
    /// How long output may stay pending without the peer taking a byte of it.
    pub write_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            limits: HeadLimits::default(),
            stream_bodies: false,
            max_body: DEFAULT_MAX_BODY,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            linger_timeout: LINGER_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// A complete request: head and the whole decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub head: RequestHead,
    pub body: Vec<u8>,
}

/// What happened on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpEvent {
    /// A whole request arrived; answer it with [`HttpConn::respond`].
    Request(Request),
    /// The peer sent something refused; the error answer is already queued. For logging only.
    Rejected(HttpError),
    /// Streaming mode: a head arrived; answer it with [`HttpConn::respond`] or take its body
    /// with [`HttpConn::accept_body`].
    Head(RequestHead),
    /// Streaming mode: the accepted body is complete once [`HttpConn::poll_body`] has handed out
    /// what it still holds; answer with [`HttpConn::respond`].
    BodyEnd,
}

/// The server side of one HTTP/1.1 connection.
#[derive(Debug)]
pub struct HttpConn {
    config: HttpConfig,
    state: State,
    /// Peer bytes not yet consumed by a head or body.
    input: Vec<u8>,
    /// Bytes to send, handed over by `poll_transmit`.
    output: Vec<u8>,
    events: VecDeque<HttpEvent>,
    /// The peer sent EOF: nothing more will arrive.
    peer_closed: bool,
    clock: WallClock,
    /// Whether the peer takes what the shell writes; see [`HttpConn::handle_written`].
    write_watch: WriteWatch,
    /// Streaming mode: decoded body bytes not yet taken by `poll_body`.
    streamed: Vec<u8>,
    /// The server is stopping: the request in flight is the last.
    stopping: bool,
    /// When the first byte of the current (or last) request arrived.
    request_started: Instant,
}

#[derive(Debug)]
enum State {
    Idle {
        since: Instant,
    },
    Head {
        scanner: HeadScanner,
        started: Instant,
    },
    Body {
        head: RequestHead,
        decoder: BodyDecoder,
        body: Vec<u8>,
        last_read: Instant,
    },
    Waiting {
        head_only: bool,
        keep_alive: bool,
        version: Version,
    },
    Lingering {
        until: Instant,
        discarded: usize,
    },
    Closed,
    /// Streaming mode: a head was reported; the application has not chosen yet.
    Deciding {
        reply: Reply,
        framing: BodyFraming,
        expects_continue: bool,
    },
    /// Streaming mode: the body is being decoded and handed out.
    Streaming {
        reply: Reply,
        decoder: BodyDecoder,
        last_read: Instant,
    },
    /// A response is out except its `len` body bytes, which the shell writes.
    Sending {
        len: u64,
        keep_alive: bool,
    },
}

impl HttpConn {
    /// A connection that was just accepted at `now`.
    ///
    /// `wall` is the wall-clock time at `now`; `Date` headers are derived from it and the
    /// monotonic clock, so no later call needs a wall-clock value.
    pub fn new(config: HttpConfig, now: Instant, wall: OffsetDateTime) -> Self {
        HttpConn {
            config,
            state: State::Idle { since: now },
            input: Vec::new(),
            output: Vec::new(),
            events: VecDeque::new(),
            peer_closed: false,
            clock: WallClock::new(now, wall),
            write_watch: WriteWatch::default(),
            streamed: Vec::new(),
            stopping: false,
            request_started: now,
        }
    }

    /// Takes bytes read from the peer. An empty slice is an empty read, not EOF.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        match &mut self.state {
            State::Closed => {}
            State::Lingering { discarded, .. } => {
                *discarded += bytes.len();
                if *discarded > MAX_LINGER_DISCARD {
                    self.state = State::Closed;
                }
            }
            _ if self.peer_closed => {}
            _ => {
                self.input.extend_from_slice(bytes);
                self.advance(now);
                self.release_idle_input();
            }
        }
    }

    /// The peer closed its sending side.
    pub fn receive_eof(&mut self, now: Instant) {
        self.peer_closed = true;
        match self.state {
            // The answer to a complete request is still owed; it is sent, then the connection
            // closes.
            State::Waiting { .. } | State::Deciding { .. } | State::Sending { .. } => {}
            // A request cut short: nobody is left to read an answer.
            _ => {
                self.input.clear();
                self.state = State::Closed;
            }
        }
        let _ = now;
    }

    /// Handles the deadline returned by [`HttpConn::poll_timeout`], if it has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.write_watch.expire(now, self.config.write_timeout) {
            // The peer stopped reading: nothing more is sent or read.
            self.input = Vec::new();
            self.output = Vec::new();
            self.state = State::Closed;
            return;
        }
        let Some(deadline) = self.state_deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        let whole_request_late = now >= self.request_started + self.config.request_timeout;
        match self.state {
            State::Idle { .. } | State::Lingering { .. } => self.state = State::Closed,
            State::Head { .. } | State::Body { .. } | State::Streaming { .. }
                if whole_request_late =>
            {
                self.fail(now, HttpError::RequestTimeout)
            }
            State::Head { .. } => self.fail(now, HttpError::HeadTimeout),
            State::Body { .. } | State::Streaming { .. } => self.fail(now, HttpError::BodyTimeout),
            State::Waiting { .. } | State::Deciding { .. } | State::Sending { .. } => {}
            State::Closed => {}
        }
    }

    /// Reports one write attempt by the shell at `now`: `written` bytes of the output went to the
    /// socket, and `pending` says whether any the shell holds are still unwritten.
    ///
    /// Call it after every write (also one that wrote nothing). Pending output that makes no
    /// progress for the write timeout shows in [`HttpConn::poll_timeout`]; once that passes,
    /// [`HttpConn::handle_timeout`] closes the connection and [`HttpConn::is_write_timed_out`]
    /// tells the shell to drop what is unwritten and close the socket.
    pub fn handle_written(&mut self, now: Instant, written: usize, pending: bool) {
        self.write_watch.record(now, written, pending);
    }

    /// Reports at `now` how many bytes the peer has acknowledged on this connection so far, a
    /// running count the OS keeps (`tcpi_bytes_acked` on Linux).
    ///
    /// Call it after writes that leave output pending and before [`HttpConn::handle_timeout`]
    /// when a deadline passes: bytes the peer takes show as progress even while the socket
    /// buffer is too full for any write to show it (see `write_watch` for the rule). A shell
    /// that cannot tell never calls it and only its writes count.
    pub fn handle_acked(&mut self, now: Instant, acked: u64) {
        self.write_watch.record_acked(now, acked);
    }

    /// Answers the request reported by the last [`HttpEvent::Request`] (or, streaming,
    /// [`HttpEvent::Head`] or [`HttpEvent::BodyEnd`]).
    ///
    /// An answer to a head whose body was never accepted closes the connection: the unread body
    /// cannot be told apart from a next request. A [`Body::External`] body leaves the connection
    /// waiting for [`HttpConn::handle_body_sent`]; otherwise the next pipelined request, if
    /// buffered, is parsed at once.
    pub fn respond(&mut self, now: Instant, response: Response) -> Result<(), UsageError> {
        let (head_only, keep_alive, version) = match self.state {
            State::Waiting {
                head_only,
                keep_alive,
                version,
            } => (head_only, keep_alive, version),
            State::Deciding { reply, framing, .. } => (
                reply.head_only,
                reply.keep_alive && framing == BodyFraming::Empty,
                reply.version,
            ),
            _ => return Err(UsageError::NoRequestPending),
        };
        let keep_alive = keep_alive && !self.peer_closed && !self.stopping;
        let connection = match (keep_alive, version) {
            (false, _) => ConnectionHeader::Close,
            (true, Version::Http11) => ConnectionHeader::None,
            (true, Version::Http10) => ConnectionHeader::KeepAlive,
        };
        let date = self.clock.date(now);
        encode_response(&response, &date, connection, !head_only, &mut self.output);
        if let Some(len) = stream::external_len(&response, head_only) {
            self.state = State::Sending { len, keep_alive };
            return Ok(());
        }
        self.finish_response(now, keep_alive);
        Ok(())
    }

    /// Answers the request reported by the last [`HttpEvent::Request`] with `response` (a `101
    /// Switching Protocols`) and hands the connection over to another protocol: returns the
    /// bytes the peer sent after the request, which belong to that protocol.
    ///
    /// Drain [`HttpConn::poll_transmit`] once more for the response; after that the connection
    /// is closed to HTTP and reports nothing further.
    pub fn upgrade(&mut self, now: Instant, response: Response) -> Result<Vec<u8>, UsageError> {
        if !matches!(self.state, State::Waiting { .. }) {
            return Err(UsageError::NoRequestPending);
        }
        let date = self.clock.date(now);
        encode_response(
            &response,
            &date,
            ConnectionHeader::None,
            false,
            &mut self.output,
        );
        self.state = State::Closed;
        Ok(mem::take(&mut self.input))
    }

    /// After a response is out: the next request, or closing.
    fn finish_response(&mut self, now: Instant, keep_alive: bool) {
        if keep_alive {
            self.state = State::Idle { since: now };
            self.advance(now);
            self.release_idle_input();
        } else {
            self.start_closing(now);
        }
    }

    /// Appends the bytes to send to `out` and returns how many there were; `None` when nothing
    /// waits.
    ///
    /// Can change after every input. Bytes handed over here are the shell's to write; keep
    /// whatever the socket did not take and write it first next time.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let n = self.output.len();
        if n == 0 {
            return None;
        }
        if out.is_empty() {
            // Handed over whole, not swapped: the shell's empty buffer is not kept here, so a
            // connection holds no output buffer between responses.
            *out = mem::take(&mut self.output);
        } else {
            out.append(&mut self.output);
        }
        Some(n)
    }

    /// The next deadline, if any; call [`HttpConn::handle_timeout`] once it has passed.
    ///
    /// Can change after every input, including [`HttpConn::handle_written`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let write = self.write_watch.deadline(self.config.write_timeout);
        match (self.state_deadline(), write) {
            (Some(state), Some(write)) => Some(state.min(write)),
            (state, write) => state.or(write),
        }
    }

    /// The deadline of the current state, apart from the write timeout.
    fn state_deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Idle { since } => Some(*since + self.config.idle_timeout),
            State::Head { started, .. } => {
                Some((*started + self.config.header_timeout).min(self.request_deadline()))
            }
            State::Body { last_read, .. } | State::Streaming { last_read, .. } => {
                Some((*last_read + self.config.body_timeout).min(self.request_deadline()))
            }
            State::Lingering { until, .. } => Some(*until),
            State::Waiting { .. } | State::Deciding { .. } | State::Sending { .. } => None,
            State::Closed => None,
        }
    }

    /// When the request being received must be complete.
    fn request_deadline(&self) -> Instant {
        self.request_started + self.config.request_timeout
    }

    /// The next thing that happened, if any.
    ///
    /// Can change after `receive`, `receive_eof`, `handle_timeout` and `respond`.
    pub fn poll_event(&mut self) -> Option<HttpEvent> {
        let event = self.events.pop_front();
        if self.events.is_empty() && self.events.capacity() > 0 {
            // An idle connection keeps no event queue (a few hundred bytes each).
            self.events = VecDeque::new();
        }
        event
    }

    /// Drops the input buffer once everything in it is consumed: most of a busy server's
    /// connections are idle keep-alives, and each would otherwise keep its last request's
    /// buffer. The next request costs one allocation, far less than parsing it.
    fn release_idle_input(&mut self) {
        if self.input.is_empty() && self.input.capacity() > 0 {
            self.input = Vec::new();
        }
    }

    /// Whether the shell should read from the peer now. False while a request waits for its
    /// answer and enough pipelined bytes are buffered, so a client cannot make the server buffer
    /// without bound.
    pub fn wants_read(&self) -> bool {
        match self.state {
            State::Closed => false,
            State::Lingering { .. } => true,
            State::Waiting { .. } | State::Sending { .. } => {
                !self.peer_closed && self.input.len() < PIPELINE_BUFFER
            }
            // The application chooses before any body byte is read.
            State::Deciding { .. } => false,
            State::Streaming { .. } => !self.peer_closed && stream::wants_more(&self.streamed),
            _ => !self.peer_closed,
        }
    }

    /// Whether no bytes will follow what `poll_transmit` has handed over: once they are written,
    /// the shell shuts down the sending side and keeps reading until [`HttpConn::is_closed`].
    pub fn is_write_closed(&self) -> bool {
        matches!(self.state, State::Lingering { .. } | State::Closed)
    }

    /// Whether the connection is finished: once its output is written, close the socket.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether the peer took no output for the write timeout: close the socket now, without
    /// writing what is left. Implies [`HttpConn::is_closed`].
    pub fn is_write_timed_out(&self) -> bool {
        self.write_watch.is_timed_out()
    }

    /// Parses as far as the buffered input allows.
    fn advance(&mut self, now: Instant) {
        loop {
            match &mut self.state {
                State::Idle { .. } => {
                    // RFC 9112 §2.2: ignore empty lines before a request line.
                    let mut skip = 0;
                    while self.input[skip..].starts_with(b"\r\n") {
                        skip += 2;
                    }
                    self.input.drain(..skip);
                    if self.input.is_empty() || self.input == b"\r" {
                        return;
                    }
                    self.state = State::Head {
                        scanner: HeadScanner::default(),
                        started: now,
                    };
                    self.request_started = now;
                }
                State::Head { scanner, .. } => {
                    let end = match scanner.scan(&self.input, &self.config.limits) {
                        Ok(Scan::Partial) => return,
                        Ok(Scan::Complete(end)) => end,
                        Err(error) => return self.fail(now, error),
                    };
                    let head = match parse_head(&self.input[..end], &self.config.limits) {
                        Ok(head) => head,
                        Err(error) => return self.fail(now, error),
                    };
                    self.input.drain(..end);
                    if self.config.stream_bodies {
                        self.state = stream::deciding(&head);
                        self.events.push_back(HttpEvent::Head(head));
                        return;
                    }
                    if let BodyFraming::Length(n) = head.framing {
                        // Refused before reading the body, so a client that waits for
                        // 100 Continue never sends it.
                        if n > self.config.max_body {
                            return self.fail(now, HttpError::BodyTooLarge);
                        }
                    }
                    if head.expects_continue
                        && head.framing != BodyFraming::Empty
                        && self.input.is_empty()
                    {
                        self.output
                            .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    let decoder = BodyDecoder::new(head.framing, self.config.max_body);
                    self.state = State::Body {
                        head,
                        decoder,
                        body: Vec::new(),
                        last_read: now,
                    };
                }
                State::Body {
                    decoder,
                    body,
                    last_read,
                    ..
                } => {
                    let decoded = match decoder.decode(&self.input, body) {
                        Ok(decoded) => decoded,
                        Err(error) => return self.fail(now, error),
                    };
                    self.input.drain(..decoded.consumed);
                    if decoded.consumed > 0 {
                        *last_read = now;
                    }
                    if !decoded.done {
                        return;
                    }
                    let State::Body { head, body, .. } =
                        mem::replace(&mut self.state, State::Closed)
                    else {
                        unreachable!("matched State::Body above")
                    };
                    self.state = State::Waiting {
                        head_only: head.method == Method::Head,
                        keep_alive: head.keep_alive,
                        version: head.version,
                    };
                    self.events
                        .push_back(HttpEvent::Request(Request { head, body }));
                    return;
                }
                State::Streaming { .. } => {
                    if let Err(error) = self.advance_stream(now) {
                        return self.fail(now, error);
                    }
                    return;
                }
                State::Waiting { .. }
                | State::Deciding { .. }
                | State::Sending { .. }
                | State::Lingering { .. }
                | State::Closed => return,
            }
        }
    }

    /// Answers a peer error with its status and closes.
    fn fail(&mut self, now: Instant, error: HttpError) {
        self.events.push_back(HttpEvent::Rejected(error));
        let status = error.status();
        let detail = error.to_string();
        let page = Page {
            kind: PageKind::Problem,
            title: reason_phrase(status),
            lead: "The server could not read this request.",
            detail: Some(&detail),
            extra: None,
            action: ("/", "Home"),
        };
        let response = Response::new(status).with_body(HTML, Body::Owned(page.render()));
        let date = self.clock.date(now);
        encode_response(
            &response,
            &date,
            ConnectionHeader::Close,
            true,
            &mut self.output,
        );
        self.input = Vec::new();
        self.streamed = Vec::new();
        match error {
            // A client too slow to finish its request is not worth waiting for any longer.
            HttpError::HeadTimeout | HttpError::BodyTimeout | HttpError::RequestTimeout => {
                self.state = State::Closed
            }
            _ => self.start_closing(now),
        }
    }

    fn start_closing(&mut self, now: Instant) {
        self.input = Vec::new();
        self.state = if self.peer_closed {
            State::Closed
        } else {
            State::Lingering {
                until: now + self.config.linger_timeout,
                discarded: 0,
            }
        };
    }
}

/// 64 KiB, the SPEC's default for the message form: far above any message a person types.
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024;
/// 10 s for a head, the SPEC's default (nginx uses 60 s; a slow mobile link sends a head in far
/// less than a second).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// 10 s without a byte of a started body, like the head: a client that has its body ready sends
/// it at once, and a stalled upload holds its buffer no longer than a stalled head.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// 10 s without the peer taking a byte of pending output: a reading client on the slowest link
/// takes some bytes every round trip, so only a client that stopped reading waits that long.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// 15 s of keep-alive idleness, the SPEC's default (browsers keep idle connections ~60-300 s
/// but reconnect cheaply).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// `--request-timeout` of the web app: a form post is a few KiB, sent in well under a second;
/// a minute leaves room for a slow phone link and still frees a connection a dripping client
/// holds (nginx's `client_header_timeout` + `client_body_timeout` default to 60 s each).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// 2 s to let a closing peer finish sending, long enough for a round trip on slow links.
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// A closing peer that keeps sending past this is cut off without waiting for the deadline.
const MAX_LINGER_DISCARD: usize = 256 * 1024;
/// Pipelined bytes buffered while a request waits for its answer: one full head's worth.
const PIPELINE_BUFFER: usize = super::parse::DEFAULT_MAX_HEAD;

#[cfg(test)]
mod tests;
