//! A tiny blocking HTTP/1.1 client over one `TcpStream`, for talking to the server under test.
//!
//! Owns the connection, its read buffer (so pipelined responses are read one at a time, in order)
//! and the framing of responses: status line and headers with httparse, then a body by
//! `Content-Length`, chunked coding or until close. Every read and write has a timeout, so a server
//! that hangs fails the test instead of stalling it. It never builds requests: tests write raw
//! bytes, so they can send exactly the malformed or pipelined input they mean to.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// One open connection to a server.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    /// Bytes received and not yet consumed by a response (the start of a pipelined one).
    buf: Vec<u8>,
}

/// One response as received; the body is de-chunked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The minor version of the status line: 1 for `HTTP/1.1`, 0 for `HTTP/1.0`.
    pub version: u8,
    /// The status code.
    pub status: u16,
    /// The reason phrase, as sent.
    pub reason: String,
    /// Every header in the order received, names as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body after de-chunking; empty for a response to HEAD and for 1xx, 204 and 304.
    pub body: Vec<u8>,
}

impl Client {
    /// Connects to `addr` with read and write timeouts of [`IO_TIMEOUT`].
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        // Unwraps on set-up calls: they fail only for a zero duration, which IO_TIMEOUT is not.
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("write timeout");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes all of `bytes`; panics when the server does not take them.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("cannot send {} bytes: {e}", bytes.len()));
    }

    /// Writes all of `bytes`, reporting failure: for requests the server may refuse and close
    /// before reading them whole (an oversized head, for example).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sends `raw` and reads the response to it (not to be used for HEAD).
    pub fn request(&mut self, raw: &[u8]) -> Response {
        self.send(raw);
        self.read_response()
    }

    /// Reads the next response, with a body framed by its headers.
    pub fn read_response(&mut self) -> Response {
        self.read(true)
    }

    /// Reads the next response to a HEAD request: headers only, whatever they announce.
    pub fn read_head_response(&mut self) -> Response {
        self.read(false)
    }

    /// Waits until the server closes the connection and panics if it sends anything first or
    /// keeps it open beyond [`IO_TIMEOUT`]. A reset counts as closed.
    pub fn expect_closed(&mut self) {
        if !self.buf.is_empty() {
            panic!(
                "expected the connection to close, but got {:?}",
                lossy(&self.buf)
            );
        }
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected the connection to close, but got {:?}",
                lossy(&chunk[..n])
            ),
            Err(e) if is_timeout(&e) => {
                panic!("expected the connection to close, still open after {IO_TIMEOUT:?}")
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the connection to close, read failed: {e}"),
        }
    }

    /// Whether the server starts answering, or closes, within `wait` (which may be shorter than
    /// [`IO_TIMEOUT`]); what arrives is kept for the next read.
    pub fn responds_within(&mut self, wait: Duration) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        self.stream
            .set_read_timeout(Some(wait))
            .expect("read timeout");
        let mut chunk = [0u8; 4096];
        let read = self.stream.read(&mut chunk);
        self.stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("read timeout");
        match read {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if is_timeout(&e) => false,
            Err(_) => true,
        }
    }

    /// Closes the sending half, so the server reads EOF while the answer can still come back.
    pub fn shutdown_write(&mut self) {
        // Fails only when the socket is already gone; the next read reports that.
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    fn read(&mut self, with_body: bool) -> Response {
        let (mut response, head_len, framing) = self.read_head();
        self.buf.drain(..head_len);
        let no_body = !with_body
            || (100..200).contains(&response.status)
            || response.status == 204
            || response.status == 304;
        response.body = if no_body {
            Vec::new()
        } else {
            match framing {
                Framing::Chunked => self.read_chunked(),
                Framing::Length(len) => self.read_exact_body(len),
                Framing::UntilClose => self.read_until_close(),
            }
        };
        response
    }

    /// Reads until a whole head is buffered; returns it (without body), its length and framing.
    fn read_head(&mut self) -> (Response, usize, Framing) {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let response = Response {
                        version: parsed.version.unwrap_or(1),
                        status: parsed.code.unwrap_or(0),
                        reason: parsed.reason.unwrap_or("").to_string(),
                        headers: parsed
                            .headers
                            .iter()
                            .map(|h| (h.name.to_string(), h.value.to_vec()))
                            .collect(),
                        body: Vec::new(),
                    };
                    let framing = framing_of(&response);
                    return (response, head_len, framing);
                }
                Ok(httparse::Status::Partial) => {
                    assert!(
                        self.buf.len() <= MAX_HEAD,
                        "response head over {MAX_HEAD} bytes: {:?}",
                        lossy(&self.buf)
                    );
                    if !self.fill() {
                        panic!(
                            "connection closed before a whole response head; got {:?}",
                            lossy(&self.buf)
                        );
                    }
                }
                Err(e) => panic!("malformed response head ({e}): {:?}", lossy(&self.buf)),
            }
        }
    }

    fn read_exact_body(&mut self, len: usize) -> Vec<u8> {
        while self.buf.len() < len {
            if !self.fill() {
                panic!(
                    "connection closed after {} of {len} body bytes",
                    self.buf.len()
                );
            }
        }
        self.buf.drain(..len).collect()
    }

    fn read_until_close(&mut self) -> Vec<u8> {
        while self.fill() {}
        std::mem::take(&mut self.buf)
    }

    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line();
            let size_text = line.split(|&b| b == b';').next().unwrap_or(&[]);
            let size_text = String::from_utf8_lossy(size_text);
            let size = usize::from_str_radix(size_text.trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {:?}", lossy(&line)));
            if size == 0 {
                // Trailer fields, then the empty line that ends the message.
                while !self.read_line().is_empty() {}
                return body;
            }
            body.extend(self.read_exact_body(size));
            let end = self.read_line();
            assert!(
                end.is_empty(),
                "chunk data not followed by CRLF: {:?}",
                lossy(&end)
            );
        }
    }

    /// Reads one CRLF-terminated line and returns it without the CRLF.
    fn read_line(&mut self) -> Vec<u8> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..at].to_vec();
                self.buf.drain(..at + 2);
                return line;
            }
            assert!(
                self.buf.len() <= MAX_HEAD,
                "chunk line too long: {:?}",
                lossy(&self.buf)
            );
            if !self.fill() {
                panic!("connection closed inside a chunked body");
            }
        }
    }

    /// Reads once into the buffer; false at EOF (or reset). Panics on timeout.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if is_timeout(&e) => panic!(
                "no answer within {IO_TIMEOUT:?}; received so far {:?}",
                lossy(&self.buf)
            ),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

impl Response {
    /// The first header called `name` (case-insensitive) as text, if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).into_iter().next()
    }

    /// Every header called `name` (case-insensitive), as text, in the order received.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .collect()
    }

    /// The media type of `Content-Type` in lower case, parameters dropped (`text/html`).
    pub fn media_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        let media = value.split(';').next().unwrap_or("");
        Some(media.trim().to_ascii_lowercase())
    }

    /// The body as text (invalid UTF-8 replaced), for assertions on pages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True when the response carries a `Connection` header listing `token`.
    pub fn has_connection_token(&self, token: &str) -> bool {
        self.headers_named("connection")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// Sends a `GET` for `path` on a fresh connection (asking to close) and returns the response.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let mut client = Client::connect(addr);
    client.request(
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Sends a `POST /message` with `body` of type `content_type` on a fresh connection.
pub fn post_message(addr: SocketAddr, content_type: &str, body: &[u8]) -> Response {
    let mut client = Client::connect(addr);
    let head = format!(
        "POST /message HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    client.request(&raw)
}

/// How a response body is delimited (RFC 9112 §6.3).
enum Framing {
    Chunked,
    Length(usize),
    UntilClose,
}

fn framing_of(response: &Response) -> Framing {
    let chunked = response
        .headers_named("transfer-encoding")
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return Framing::Chunked;
    }
    match response.header("content-length") {
        Some(value) => Framing::Length(
            value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad Content-Length {value:?}")),
        ),
        None => Framing::UntilClose,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Shows bytes in a panic message, short enough to read.
fn lossy(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(600)];
    String::from_utf8_lossy(shown).into_owned()
}

/// How long any single read or write may block: long enough for a loaded build machine, short
/// enough that a hung server fails the test quickly.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Header slots for parsing a response; the server sends about ten.
const MAX_HEADERS: usize = 64;

/// The largest response head or chunk line accepted before the test fails; far above anything
/// the server should send, so a runaway answer cannot grow the buffer forever.
const MAX_HEAD: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// Serves `reply` to the first connection after reading one chunk, then closes.
    fn one_shot(reply: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            stream.write_all(reply).unwrap();
        });
        addr
    }

    #[test]
    fn reads_pipelined_responses_in_order() {
        let addr = one_shot(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\noneHTTP/1.1 404 Not Found\r\n\
              Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;x=y\r\nc\r\n0\r\nT: 1\r\n\r\n\
              HTTP/1.0 200 OK\r\n\r\nrest",
        );
        let mut client = Client::connect(addr);
        client.send(b"x");
        let first = client.read_response();
        assert_eq!((first.status, first.body.as_slice()), (200, &b"one"[..]));
        let second = client.read_response();
        assert_eq!((second.status, second.body.as_slice()), (404, &b"abc"[..]));
        let third = client.read_response();
        assert_eq!((third.version, third.body.as_slice()), (0, &b"rest"[..]));
    }

    #[test]
    fn head_response_ignores_announced_length() {
        let addr = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n");
        let mut client = Client::connect(addr);
        client.send(b"x");
        let response = client.read_head_response();
        assert!(response.body.is_empty());
        assert!(response.has_connection_token("close"));
        client.expect_closed();
    }

    #[test]
    fn header_lookup_is_case_insensitive() {
        let response = Response {
            version: 1,
            status: 200,
            reason: "OK".into(),
            headers: vec![("Content-TYPE".into(), b"Text/HTML; charset=utf-8".to_vec())],
            body: Vec::new(),
        };
        assert_eq!(response.media_type().as_deref(), Some("text/html"));
        assert_eq!(
            response.header("content-type"),
            Some("Text/HTML; charset=utf-8")
        );
        assert_eq!(response.header("date"), None);
    }
}
