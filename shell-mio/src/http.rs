//! An HTTP connection on the loop, whichever app answers it: the `HttpConn` takes the bytes,
//! the time and the writes, and an [`Answer`] (the web app's, the file server's) answers what
//! it reports. Written once, so every HTTP service reads, times out, closes and half-closes the
//! same way.

use std::time::Instant;

use ferry_core::http::HttpConn;
use ferry_shell::files::Sending;

use crate::conns::{ConnKey, Wakes};
use crate::session::{Protocol, Status};

/// What answers the requests of one HTTP connection.
pub trait Answer {
    /// What the connections of the app share.
    type Service;

    /// Answers what `http` reported since the last call (its events), and carries out or
    /// starts the effects they ask for.
    fn answer(
        &mut self,
        http: &mut HttpConn,
        service: &mut Self::Service,
        key: ConnKey,
        now: Instant,
    );
    /// The connection cannot go on (a body is owed that cannot be sent): close it now.
    fn is_broken(&self) -> bool {
        false
    }
    /// A file body to send after the head, straight from the page cache.
    fn body(&mut self) -> Option<&mut Sending> {
        None
    }
    /// The body from [`Answer::body`] was sent whole (`done`) or given up on (the connection
    /// fails next).
    fn body_sent(
        &mut self,
        http: &mut HttpConn,
        service: &mut Self::Service,
        now: Instant,
        done: bool,
    ) {
        let _ = (http, service, now, done);
    }
    /// The connection is gone; whatever waits for it is forgotten.
    fn closed(
        &mut self,
        http: &mut HttpConn,
        service: &mut Self::Service,
        key: ConnKey,
        now: Instant,
    ) {
        let _ = (http, service, key, now);
    }
}

/// One HTTP connection and the app answering it.
pub struct HttpSession<A> {
    http: HttpConn,
    answer: A,
}

impl<A: Answer> HttpSession<A> {
    pub fn new(http: HttpConn, answer: A) -> HttpSession<A> {
        HttpSession { http, answer }
    }
}

impl<A: Answer> Protocol for HttpSession<A> {
    type Service = A::Service;

    fn wants_read(&self, _: &A::Service) -> bool {
        self.http.wants_read()
    }

    fn receive(
        &mut self,
        _: &mut A::Service,
        _: &mut Wakes,
        _: ConnKey,
        now: Instant,
        bytes: &[u8],
    ) {
        self.http.receive(now, bytes);
    }

    fn receive_eof(&mut self, _: &mut A::Service, _: &mut Wakes, _: ConnKey, now: Instant) {
        self.http.receive_eof(now);
    }

    fn handle_timeout(&mut self, _: &mut A::Service, _: &mut Wakes, _: ConnKey, now: Instant) {
        self.http.handle_timeout(now);
    }

    fn poll_transmit(
        &mut self,
        service: &mut A::Service,
        _: &mut Wakes,
        key: ConnKey,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        self.answer.answer(&mut self.http, service, key, now);
        self.http.poll_transmit(out);
    }

    fn handle_written(
        &mut self,
        _: &mut A::Service,
        _: &mut Wakes,
        _: ConnKey,
        now: Instant,
        written: usize,
        pending: bool,
    ) {
        // The core times out a peer that stops taking output (a slow read), a file body
        // included.
        self.http.handle_written(now, written, pending);
    }

    fn handle_acked(&mut self, now: Instant, acked: u64) {
        self.http.handle_acked(now, acked);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.http.poll_timeout()
    }

    fn status(&self) -> Status {
        if self.answer.is_broken() || self.http.is_write_timed_out() {
            Status::Gone
        } else if self.http.is_closed() {
            Status::Closing
        } else if self.http.is_write_closed() {
            Status::WriteClosed
        } else {
            Status::Open
        }
    }

    fn body(&mut self) -> Option<&mut Sending> {
        self.answer.body()
    }

    fn body_sent(&mut self, service: &mut A::Service, _: ConnKey, now: Instant, done: bool) {
        self.answer.body_sent(&mut self.http, service, now, done);
    }

    fn closed(&mut self, service: &mut A::Service, _: &mut Wakes, key: ConnKey, now: Instant) {
        self.answer.closed(&mut self.http, service, key, now);
    }

    fn handle_shutdown(&mut self, _: &mut A::Service, now: Instant) {
        self.http.handle_shutdown(now);
    }
}
