//! Request heads: finding where a head ends in a growing buffer, and turning its bytes into an
//! owned [`RequestHead`].
//!
//! [`HeadScanner`] walks new bytes only once, remembering how far it got, and rejects what must
//! never be read as HTTP (NUL, bare CR or LF, obs-fold, a first byte that cannot start a method)
//! as soon as the offending byte arrives. [`parse_head`] then hands the complete head to httparse
//! and checks what httparse lets through (Host rules, body framing, Expect). No httparse type or
//! lifetime leaves this module.

use super::HttpError;

/// A request head, owned, with the framing and connection facts the connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The request target exactly as sent (origin-form, absolute-form or `*`).
    pub target: String,
    pub version: Version,
    /// Header fields in the order received; names keep their case, compare them ignoring it.
    pub headers: Vec<Header>,
    /// How the body is delimited (RFC 9112 §6.3).
    pub framing: BodyFraming,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    pub expects_continue: bool,
}

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Vec<u8>,
}

/// The request method; `Other` keeps an unknown token so it can be answered 501.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Trace,
    Patch,
    Connect,
    Other(String),
}

/// The protocol version of a request; other versions are refused with 505.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body at all.
    Empty,
    /// `Content-Length: n` (n > 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The outcome of scanning a buffer for the end of a head, in httparse's manner: partial input
/// is not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The head ends after this many bytes (counting the final empty line).
    Complete(usize),
    /// More bytes are needed.
    Partial,
}

/// Size limits on a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    pub max_head: usize,
    pub max_target: usize,
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head: DEFAULT_MAX_HEAD,
            max_target: DEFAULT_MAX_TARGET,
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }
}

impl Method {
    fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            "CONNECT" => Method::Connect,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method's token as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Connect => "CONNECT",
            Method::Other(token) => token,
        }
    }
}

impl RequestHead {
    /// The value of the first header with this name (compared ignoring ASCII case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }

    /// The first header with this name as text, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// Finds the end of a request head in a buffer that grows between calls, looking at each byte
/// once.
///
/// Create one per request; after [`Scan::Complete`] make a new one for the next request.
#[derive(Debug, Clone, Default)]
pub struct HeadScanner {
    /// Bytes before this index have been checked.
    scanned: usize,
    /// Where the line being scanned starts.
    line_start: usize,
    /// Whether the request line has ended.
    past_request_line: bool,
}

impl HeadScanner {
    /// Checks the bytes of `buf` not yet seen and says whether the head is complete.
    ///
    /// `buf` must start at the first byte of the request and only ever grow between calls.
    pub fn scan(&mut self, buf: &[u8], limits: &HeadLimits) -> Result<Scan, HttpError> {
        if self.scanned == 0 {
            if let Some(&first) = buf.first() {
                if !is_token_byte(first) {
                    return Err(HttpError::NotHttp);
                }
            }
        }
        let mut i = self.scanned;
        while i < buf.len() {
            match buf[i] {
                0 => return Err(HttpError::NotHttp),
                b'\n' => return Err(HttpError::BadLineEnding),
                b'\r' => {
                    let Some(&next) = buf.get(i + 1) else { break };
                    if next != b'\n' {
                        return Err(HttpError::BadLineEnding);
                    }
                    let line_len = i - self.line_start;
                    if !self.past_request_line {
                        self.past_request_line = true;
                        if line_len > limits.max_target + REQUEST_LINE_OVERHEAD {
                            return Err(HttpError::TargetTooLong);
                        }
                    } else if line_len == 0 {
                        let end = i + 2;
                        self.scanned = end;
                        return if end > limits.max_head {
                            Err(HttpError::HeadTooLarge)
                        } else {
                            Ok(Scan::Complete(end))
                        };
                    } else if matches!(buf[self.line_start], b' ' | b'\t') {
                        return Err(HttpError::ObsoleteLineFolding);
                    }
                    i += 2;
                    self.line_start = i;
                }
                _ => i += 1,
            }
        }
        self.scanned = i;
        // The limits are checked on every partial scan so an endless line fails instead of
        // growing the buffer forever.
        if !self.past_request_line && buf.len() > limits.max_target + REQUEST_LINE_OVERHEAD {
            return Err(HttpError::TargetTooLong);
        }
        if buf.len() > limits.max_head {
            return Err(HttpError::HeadTooLarge);
        }
        Ok(Scan::Partial)
    }
}

/// Parses a complete head (as found by [`HeadScanner`]) into an owned [`RequestHead`].
pub fn parse_head(bytes: &[u8], limits: &HeadLimits) -> Result<RequestHead, HttpError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
    let slot_count = limits.max_headers.min(MAX_HEADER_SLOTS);
    let mut request = httparse::Request::new(&mut slots[..slot_count]);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        // The scanner saw the empty line that ends the head, so httparse must see it too.
        Ok(httparse::Status::Partial) => return Err(HttpError::MalformedHead),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(version_error(bytes)),
        Err(_) => return Err(HttpError::MalformedHead),
    }
    // Complete means httparse filled these in.
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Err(HttpError::MalformedHead);
    };
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    if target.len() > limits.max_target {
        return Err(HttpError::TargetTooLong);
    }
    let method = Method::from_token(method);
    check_target(&method, target)?;
    let headers: Vec<Header> = request
        .headers
        .iter()
        .map(|h| Header {
            name: h.name.to_owned(),
            value: h.value.to_vec(),
        })
        .collect();
    let mut head = RequestHead {
        method,
        target: target.to_owned(),
        version,
        headers,
        framing: BodyFraming::Empty,
        keep_alive: false,
        expects_continue: false,
    };
    check_host(&head)?;
    head.framing = body_framing(&head)?;
    head.keep_alive = wants_keep_alive(&head);
    head.expects_continue = expects_continue(&head)?;
    Ok(head)
}

/// httparse reports any version it does not know as one error; a well-formed `HTTP/x.y` other
/// than 1.0 and 1.1 deserves 505, anything else is a malformed request line.
fn version_error(bytes: &[u8]) -> HttpError {
    let line_end = bytes
        .iter()
        .position(|&b| b == b'\r')
        .unwrap_or(bytes.len());
    let line = &bytes[..line_end];
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or(&[]);
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            HttpError::UnsupportedVersion
        }
        _ => HttpError::MalformedHead,
    }
}

fn check_target(method: &Method, target: &str) -> Result<(), HttpError> {
    let valid = match target.as_bytes().first() {
        Some(b'/') => true,
        Some(b'*') => target == "*" && *method == Method::Options,
        _ => {
            // RFC 9112 §3.2.2: servers must accept absolute-form; authority-form is for CONNECT,
            // which this server never tunnels, so it gets the usual 405/501 from the router.
            let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
            lower.starts_with("http://")
                || lower.starts_with("https://")
                || *method == Method::Connect
        }
    };
    if valid {
        Ok(())
    } else {
        Err(HttpError::BadTarget)
    }
}

fn check_host(head: &RequestHead) -> Result<(), HttpError> {
    let count = head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"))
        .count();
    // RFC 9112 §3.2: a 1.1 request without Host, or with more than one, is answered 400.
    match (head.version, count) {
        (_, 0) if head.version == Version::Http10 => Ok(()),
        (_, 1) => Ok(()),
        _ => Err(HttpError::BadHost),
    }
}

fn body_framing(head: &RequestHead) -> Result<BodyFraming, HttpError> {
    let mut length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    let mut saw_transfer_encoding = false;
    for header in &head.headers {
        if header.name.eq_ignore_ascii_case("content-length") {
            if length.is_some() {
                return Err(HttpError::DuplicateContentLength);
            }
            length = Some(parse_content_length(&header.value)?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            saw_transfer_encoding = true;
            let value =
                std::str::from_utf8(&header.value).map_err(|_| HttpError::BadTransferEncoding)?;
            for coding in value.split(',') {
                let coding = coding.trim_matches([' ', '\t']);
                if coding.is_empty() {
                    continue;
                }
                codings.push(coding.to_ascii_lowercase());
            }
        }
    }
    if !saw_transfer_encoding {
        return Ok(match length {
            None | Some(0) => BodyFraming::Empty,
            Some(n) => BodyFraming::Length(n),
        });
    }
    // RFC 9112 §6.3: Transfer-Encoding with Content-Length is a smuggling shape; answer 400 and
    // close rather than guess which one the sender meant.
    if length.is_some() {
        return Err(HttpError::ContentLengthWithTransferEncoding);
    }
    // RFC 9112 §6.1: a 1.0 request with Transfer-Encoding has faulty framing.
    if head.version == Version::Http10 {
        return Err(HttpError::BadTransferEncoding);
    }
    match codings.as_slice() {
        [only] if only == "chunked" => Ok(BodyFraming::Chunked),
        [] => Err(HttpError::BadTransferEncoding),
        list => {
            if list.iter().all(|c| c == "chunked") {
                // chunked applied twice is never valid (RFC 9112 §6.1).
                Err(HttpError::BadTransferEncoding)
            } else if list.last().map(String::as_str) != Some("chunked") {
                // Without chunked last the body can only end at close, which a request cannot do.
                if list.iter().any(|c| c == "chunked") {
                    Err(HttpError::BadTransferEncoding)
                } else {
                    Err(HttpError::UnknownTransferCoding)
                }
            } else {
                Err(HttpError::UnknownTransferCoding)
            }
        }
    }
}

fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    let value = trim_ows(value);
    if value.is_empty() || value.len() > MAX_CONTENT_LENGTH_DIGITS {
        return Err(HttpError::BadContentLength);
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return Err(HttpError::BadContentLength);
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Ok(n)
}

fn wants_keep_alive(head: &RequestHead) -> bool {
    let mut close = false;
    let mut keep_alive = false;
    for header in head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
    {
        for option in header.value.split(|&b| b == b',') {
            let option = trim_ows(option);
            if option.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                keep_alive = true;
            }
        }
    }
    match head.version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive && !close,
    }
}

fn expects_continue(head: &RequestHead) -> Result<bool, HttpError> {
    let Some(value) = head.header("expect") else {
        return Ok(false);
    };
    if !trim_ows(value).eq_ignore_ascii_case(b"100-continue") {
        return Err(HttpError::UnknownExpectation);
    }
    // RFC 9110 §10.1.1: a 1.0 client does not understand 100 Continue; ignore the expectation.
    Ok(head.version == Version::Http11)
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// RFC 9110 §5.6.2 tchar: the bytes a method token may hold.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// 16 KiB of head, as the SPEC sets: comfortably above what browsers send with cookies
/// (nginx's default large buffer is 8 KiB, Node.js allows 16 KiB).
pub const DEFAULT_MAX_HEAD: usize = 16 * 1024;
/// 8 KiB of request target, the SPEC's limit and what RFC 9112 §3 recommends supporting at least.
pub const DEFAULT_MAX_TARGET: usize = 8 * 1024;
/// 100 header fields, the SPEC's limit; browsers send around 10-20.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// httparse needs a header array; no configuration may ask for more than this.
const MAX_HEADER_SLOTS: usize = 128;
/// Room for the method, two spaces and `HTTP/1.1` around a target of the maximum length.
const REQUEST_LINE_OVERHEAD: usize = 32;
/// Nineteen digits always fit in a u64 (its maximum has twenty).
const MAX_CONTENT_LENGTH_DIGITS: usize = 19;

#[cfg(test)]
mod tests;
