//! Responses: the value an application hands to a connection, and its encoding on the wire.
//!
//! The writer owns the framing headers (`Date`, `Content-Length`, `Connection`) so no caller can
//! get them wrong: a response names its status, content type, extra headers and body; the
//! connection decides keep-alive and whether the body is sent (not for HEAD).

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

/// A response to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    /// Headers besides the framing ones the writer adds itself.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    pub body: Body,
}

/// A response body; shared bytes let every connection serve a cached file without copying it
/// first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Empty,
    Shared(Arc<[u8]>),
    Owned(Vec<u8>),
    /// `len` bytes the shell writes itself after the head (a file sent with `sendfile`); the
    /// connection waits for them, see [`HttpConn::external_body`](super::HttpConn::external_body).
    External {
        len: u64,
    },
}

impl Body {
    /// The body's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Shared(bytes) => bytes,
            Body::Owned(bytes) => bytes,
            Body::External { .. } => &[],
        }
    }

    /// The body's length as `Content-Length` states it.
    pub fn len(&self) -> u64 {
        match self {
            Body::External { len } => *len,
            other => other.as_bytes().len() as u64,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Response {
    /// A response with this status, no headers and no body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// Sets the body and its content type.
    pub fn with_body(mut self, content_type: &'static str, body: Body) -> Self {
        self.content_type = Some(content_type);
        self.body = body;
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// How the connection is to be described in the `Connection` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionHeader {
    /// HTTP/1.1 keep-alive, the default: no header.
    None,
    /// An HTTP/1.0 client asked for keep-alive and gets it.
    KeepAlive,
    Close,
}

/// Appends `response` to `out`: status line, framing headers, the response's headers, and the
/// body unless `send_body` is false (HEAD).
pub(crate) fn encode_response(
    response: &Response,
    date: &HttpDate,
    connection: ConnectionHeader,
    send_body: bool,
    out: &mut Vec<u8>,
) {
    let body = response.body.as_bytes();
    out.reserve(STATUS_LINE_AND_FRAMING + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(response.status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(response.status).as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(&date.0);
    // RFC 9110 §8.6: no Content-Length on 1xx, 204 and 304.
    if !matches!(response.status, 100..=199 | 204 | 304) {
        out.extend_from_slice(b"\r\nContent-Length: ");
        push_decimal(out, response.body.len());
    }
    if let Some(content_type) = response.content_type {
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(content_type.as_bytes());
    }
    for (name, value) in &response.headers {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    match connection {
        ConnectionHeader::None => {}
        ConnectionHeader::KeepAlive => out.extend_from_slice(b"\r\nConnection: keep-alive"),
        ConnectionHeader::Close => out.extend_from_slice(b"\r\nConnection: close"),
    }
    out.extend_from_slice(b"\r\n\r\n");
    if send_body {
        out.extend_from_slice(body);
    }
}

/// An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, formatted once and
/// reused for every response within the same second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpDate([u8; 29]);

impl HttpDate {
    /// Formats a wall-clock time (converted to UTC).
    pub fn new(when: OffsetDateTime) -> Self {
        let utc = when.to_offset(time::UtcOffset::UTC);
        let mut text = [0u8; 29];
        let weekday = WEEKDAYS[utc.weekday().number_days_from_monday() as usize];
        let month = MONTHS[utc.month() as usize - 1];
        text[..5].copy_from_slice(weekday);
        two_digits(&mut text[5..7], utc.day());
        text[7] = b' ';
        text[8..11].copy_from_slice(month);
        text[11] = b' ';
        let year = utc.year().clamp(0, 9999) as u16;
        two_digits(&mut text[12..14], (year / 100) as u8);
        two_digits(&mut text[14..16], (year % 100) as u8);
        text[16] = b' ';
        two_digits(&mut text[17..19], utc.hour());
        text[19] = b':';
        two_digits(&mut text[20..22], utc.minute());
        text[22] = b':';
        two_digits(&mut text[23..25], utc.second());
        text[25..].copy_from_slice(b" GMT");
        HttpDate(text)
    }

    /// The formatted date.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// The reason phrase sent with a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

fn two_digits(out: &mut [u8], value: u8) {
    out[0] = b'0' + value / 10 % 10;
    out[1] = b'0' + value % 10;
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

const WEEKDAYS: [&[u8; 5]; 7] = [
    b"Mon, ", b"Tue, ", b"Wed, ", b"Thu, ", b"Fri, ", b"Sat, ", b"Sun, ",
];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
/// Room reserved for everything but the body and extra headers, to avoid regrowing `out`.
const STATUS_LINE_AND_FRAMING: usize = 160;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_status_ferry_sends_has_its_reason_phrase() {
        // The statuses the file server, the web app and the connection machine answer with;
        // 401 came with --auth and was once sent as "401 Unknown".
        let sent = [
            100, 200, 201, 204, 206, 301, 303, 304, 400, 401, 403, 404, 405, 408, 409, 411, 413,
            414, 415, 416, 417, 431, 500, 501, 503, 505, 507,
        ];
        for status in sent {
            assert_ne!(reason_phrase(status), "Unknown", "{status}");
        }
    }

    #[test]
    fn formats_imf_fixdate() {
        let date = HttpDate::new(datetime!(1994-11-06 08:49:37 UTC));
        assert_eq!(date.as_str(), "Sun, 06 Nov 1994 08:49:37 GMT");
        let date = HttpDate::new(datetime!(2026-01-01 00:00:00 +02:00));
        assert_eq!(date.as_str(), "Wed, 31 Dec 2025 22:00:00 GMT");
    }

    #[test]
    fn encodes_framing_headers() {
        let date = HttpDate::new(datetime!(1994-11-06 08:49:37 UTC));
        let response = Response::new(200)
            .with_body("text/plain", Body::Owned(b"hi".to_vec()))
            .with_header("Allow", "GET");
        let mut out = Vec::new();
        encode_response(&response, &date, ConnectionHeader::Close, true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 2\r\n\
             Content-Type: text/plain\r\nAllow: GET\r\nConnection: close\r\n\r\nhi"
        );
    }

    #[test]
    fn head_keeps_length_but_not_body() {
        let date = HttpDate::new(datetime!(1994-11-06 08:49:37 UTC));
        let response = Response::new(200).with_body("text/plain", Body::Owned(b"hello".to_vec()));
        let mut out = Vec::new();
        encode_response(&response, &date, ConnectionHeader::None, false, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 5\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn no_content_length_on_204_and_304() {
        let date = HttpDate::new(datetime!(1994-11-06 08:49:37 UTC));
        for status in [204, 304] {
            let mut out = Vec::new();
            encode_response(
                &Response::new(status),
                &date,
                ConnectionHeader::None,
                true,
                &mut out,
            );
            assert!(!String::from_utf8(out).unwrap().contains("Content-Length"));
        }
    }
}
