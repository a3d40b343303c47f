//! The client side of HTTP/1.1: reading a server's response, for `ferry client`.
//!
//! [`ResponseReader`] takes the bytes a socket delivers, in any pieces, and reports the response
//! head (skipping interim `1xx` answers, which it reports as [`ResponseEvent::Continue`]), hands
//! the decoded body to the caller's buffer and says when the response is complete. Heads are
//! parsed by httparse inside this module; no httparse type leaves it. It never touches a socket
//! or a file.

use std::collections::VecDeque;
use std::fmt;

use super::body::BodyDecoder;
use super::parse::{BodyFraming, Header, Version};

/// A response's status line and headers, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub version: Version,
    /// Header fields in the order received.
    pub headers: Vec<Header>,
}

/// How a response body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: HEAD, 1xx, 204, 304.
    Empty,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body runs until the server closes the connection.
    UntilClose,
}

/// What the reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// `100 Continue`: the server waits for the request body.
    Continue,
    /// The final response's head; its body follows.
    Head(ResponseHead),
    /// The response is complete.
    End,
}

/// A response the client cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// The status line or a header does not follow RFC 9112.
    MalformedHead,
    /// The head did not end within [`MAX_RESPONSE_HEAD`] bytes.
    HeadTooLarge,
    /// A `Content-Length` that is not one plain decimal number.
    BadContentLength,
    /// A transfer coding other than chunked.
    UnknownTransferCoding,
    /// A chunked body that does not follow RFC 9112 §7.1.
    MalformedBody,
    /// The connection closed before the response was complete.
    Truncated,
}

/// Reads one response from a stream of bytes.
#[derive(Debug)]
pub struct ResponseReader {
    head_request: bool,
    input: Vec<u8>,
    state: State,
    events: VecDeque<ResponseEvent>,
}

#[derive(Debug)]
enum State {
    Head,
    Body(BodyDecoder),
    UntilClose,
    Done,
}

impl ResponseReader {
    /// A reader for the response to a request; `head_request` for HEAD, whose response has no
    /// body whatever its headers say.
    pub fn new(head_request: bool) -> Self {
        ResponseReader {
            head_request,
            input: Vec::new(),
            state: State::Head,
            events: VecDeque::new(),
        }
    }

    /// Takes bytes from the server; body bytes are appended to `body`.
    pub fn receive(&mut self, bytes: &[u8], body: &mut Vec<u8>) -> Result<(), ResponseError> {
        self.input.extend_from_slice(bytes);
        loop {
            match &mut self.state {
                State::Head => {
                    let Some((head, used)) = parse_response_head(&self.input)? else {
                        return Ok(());
                    };
                    self.input.drain(..used);
                    if (100..200).contains(&head.status) {
                        if head.status == 100 {
                            self.events.push_back(ResponseEvent::Continue);
                        }
                        continue;
                    }
                    let framing = head.framing(self.head_request)?;
                    self.events.push_back(ResponseEvent::Head(head));
                    self.state = match framing {
                        ResponseFraming::Empty => State::Done,
                        ResponseFraming::Length(n) => {
                            State::Body(BodyDecoder::new(BodyFraming::Length(n), u64::MAX))
                        }
                        ResponseFraming::Chunked => {
                            State::Body(BodyDecoder::new(BodyFraming::Chunked, u64::MAX))
                        }
                        ResponseFraming::UntilClose => State::UntilClose,
                    };
                    if matches!(self.state, State::Done) {
                        self.events.push_back(ResponseEvent::End);
                    }
                }
                State::Body(decoder) => {
                    let decoded = decoder
                        .decode(&self.input, body)
                        .map_err(|_| ResponseError::MalformedBody)?;
                    self.input.drain(..decoded.consumed);
                    if decoded.done {
                        self.state = State::Done;
                        self.events.push_back(ResponseEvent::End);
                    }
                    return Ok(());
                }
                State::UntilClose => {
                    body.append(&mut self.input);
                    return Ok(());
                }
                State::Done => return Ok(()),
            }
        }
    }

    /// The server closed the connection: ends a body delimited by the close, or fails.
    pub fn receive_eof(&mut self) -> Result<(), ResponseError> {
        match self.state {
            State::UntilClose => {
                self.state = State::Done;
                self.events.push_back(ResponseEvent::End);
                Ok(())
            }
            State::Done => Ok(()),
            State::Head | State::Body(_) => Err(ResponseError::Truncated),
        }
    }

    /// The next thing found, if any. Can change after `receive` and `receive_eof`.
    pub fn poll_event(&mut self) -> Option<ResponseEvent> {
        self.events.pop_front()
    }

    /// Whether the whole response has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl ResponseHead {
    /// The value of the first header with this name (ignoring ASCII case), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(&h.value).ok())
    }

    /// How the body is delimited, for the response to a HEAD request or another one.
    pub fn framing(&self, head_request: bool) -> Result<ResponseFraming, ResponseError> {
        // RFC 9112 §6.3: these never have a body, whatever the headers say.
        if head_request || matches!(self.status, 100..=199 | 204 | 304) {
            return Ok(ResponseFraming::Empty);
        }
        let mut chunked = false;
        let mut length = None;
        for header in &self.headers {
            if header.name.eq_ignore_ascii_case("transfer-encoding") {
                let value = String::from_utf8_lossy(&header.value);
                let last = value.rsplit(',').next().unwrap_or("").trim();
                if !last.eq_ignore_ascii_case("chunked") {
                    return Err(ResponseError::UnknownTransferCoding);
                }
                chunked = true;
            } else if header.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(&header.value)
                    .ok()
                    .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|text| text.parse::<u64>().ok())
                    .ok_or(ResponseError::BadContentLength)?;
                if length.is_some_and(|known| known != n) {
                    return Err(ResponseError::BadContentLength);
                }
                length = Some(n);
            }
        }
        Ok(match (chunked, length) {
            (true, _) => ResponseFraming::Chunked,
            (false, Some(0)) => ResponseFraming::Empty,
            (false, Some(n)) => ResponseFraming::Length(n),
            (false, None) => ResponseFraming::UntilClose,
        })
    }
}

/// Parses a response head at the start of `buf`: the head and the bytes it used, or `None` when
/// more bytes are needed.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, ResponseError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    // Only the bytes a head may use are parsed, so the outcome never depends on how the bytes
    // past the limit arrived: a head that is still open at the limit is too large, whatever
    // follows it.
    let within = buf.get(..MAX_RESPONSE_HEAD).unwrap_or(buf);
    let used = match response.parse(within) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) if buf.len() > MAX_RESPONSE_HEAD => {
            return Err(ResponseError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ResponseError::MalformedHead),
    };
    if used > MAX_RESPONSE_HEAD {
        return Err(ResponseError::HeadTooLarge);
    }
    // Complete means httparse filled these in.
    let (Some(status), Some(minor)) = (response.code, response.version) else {
        return Err(ResponseError::MalformedHead);
    };
    let head = ResponseHead {
        status,
        reason: response.reason.unwrap_or("").to_owned(),
        version: if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        },
        headers: response
            .headers
            .iter()
            .map(|h| Header {
                name: h.name.to_owned(),
                value: h.value.to_vec(),
            })
            .collect(),
    };
    Ok(Some((head, used)))
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseError::MalformedHead => "the server's response is not valid HTTP",
            ResponseError::HeadTooLarge => "the server's response head is too large",
            ResponseError::BadContentLength => "the server's Content-Length is invalid",
            ResponseError::UnknownTransferCoding => "the server used an unknown transfer coding",
            ResponseError::MalformedBody => "the server's chunked body is malformed",
            ResponseError::Truncated => "the connection closed before the response was complete",
        })
    }
}

/// 64 KiB of response head: servers send far less; the bound keeps a broken one from growing
/// the buffer forever.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Header fields read per response; more fail as malformed.
const MAX_RESPONSE_HEADERS: usize = 100;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Reads `input` in pieces cut at `cuts` (then EOF) and returns the events and the body.
    fn read(
        input: &[u8],
        cuts: &[usize],
        head_request: bool,
    ) -> Result<(Vec<ResponseEvent>, Vec<u8>), ResponseError> {
        let mut reader = ResponseReader::new(head_request);
        let mut body = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            let cut = cut.clamp(start, input.len());
            reader.receive(&input[start..cut], &mut body)?;
            start = cut;
        }
        reader.receive_eof()?;
        let mut events = Vec::new();
        while let Some(event) = reader.poll_event() {
            events.push(event);
        }
        Ok((events, body))
    }

    fn head_of(events: &[ResponseEvent]) -> &ResponseHead {
        events
            .iter()
            .find_map(|e| match e {
                ResponseEvent::Head(head) => Some(head),
                _ => None,
            })
            .expect("a head")
    }

    #[test]
    fn reads_length_chunked_and_close_delimited_bodies() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
                b"hello",
            ),
            (b"HTTP/1.0 200 OK\r\n\r\nhello", b"hello"),
            (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        ];
        for (input, body) in cases {
            let (events, got) = read(input, &[], false).unwrap();
            assert_eq!(got, body);
            assert_eq!(events.last(), Some(&ResponseEvent::End));
        }
    }

    #[test]
    fn interim_continue_is_reported_and_skipped() {
        let input =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
        let (events, _) = read(input, &[], false).unwrap();
        assert_eq!(events[0], ResponseEvent::Continue);
        assert_eq!(head_of(&events).status, 201);
    }

    #[test]
    fn head_response_has_no_body_whatever_its_length() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        let (events, body) = read(input, &[], true).unwrap();
        assert_eq!(head_of(&events).header("content-length"), Some("99"));
        assert!(body.is_empty());
    }

    #[test]
    fn a_broken_byte_past_the_head_limit_gives_one_error_whatever_the_reads() {
        let mut input = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        input.resize(MAX_RESPONSE_HEAD + 1000, b'a');
        input.extend_from_slice(b"\x01\r\n\r\n");
        let whole = read(&input, &[], false);
        assert_eq!(whole, Err(ResponseError::HeadTooLarge));
        assert_eq!(read(&input, &[MAX_RESPONSE_HEAD + 500], false), whole);
    }

    #[test]
    fn short_and_broken_responses_are_errors() {
        let cases: [(&[u8], ResponseError); 4] = [
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
                ResponseError::Truncated,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Len", ResponseError::Truncated),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                ResponseError::BadContentLength,
            ),
            (b"SSH-2.0\r\n\r\n", ResponseError::MalformedHead),
        ];
        for (input, error) in cases {
            assert_eq!(read(input, &[], false), Err(error), "{input:?}");
        }
    }

    #[test]
    fn an_endless_head_is_refused() {
        let mut reader = ResponseReader::new(false);
        let mut body = Vec::new();
        reader
            .receive(b"HTTP/1.1 200 OK\r\nX: ", &mut body)
            .unwrap();
        let filler = vec![b'a'; MAX_RESPONSE_HEAD];
        assert_eq!(
            reader.receive(&filler, &mut body),
            Err(ResponseError::HeadTooLarge)
        );
    }

    fn response_strategy() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec![100u16, 200, 201, 204, 206, 304, 404]),
            prop::collection::vec(any::<u8>(), 0..60),
            0u8..3,
        )
            .prop_map(|(status, body, framing)| {
                let mut text = Vec::new();
                if status == 100 {
                    text.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                let status = if status == 100 { 200 } else { status };
                text.extend_from_slice(format!("HTTP/1.1 {status} X\r\nServer: t\r\n").as_bytes());
                let body = if matches!(status, 204 | 304) {
                    Vec::new()
                } else {
                    body
                };
                match framing {
                    0 => {
                        text.extend_from_slice(
                            format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                        );
                        text.extend_from_slice(&body);
                    }
                    1 => {
                        text.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                        for piece in body.chunks(6) {
                            text.extend_from_slice(format!("{:X}\r\n", piece.len()).as_bytes());
                            text.extend_from_slice(piece);
                            text.extend_from_slice(b"\r\n");
                        }
                        text.extend_from_slice(b"0\r\n\r\n");
                    }
                    _ => {
                        text.extend_from_slice(b"\r\n");
                        text.extend_from_slice(&body);
                    }
                }
                text
            })
    }

    proptest! {
        #[test]
        fn any_split_reads_the_same_response(input in response_strategy(), mut cuts in prop::collection::vec(0usize..200, 0..6)) {
            let whole = read(&input, &[], false);
            prop_assert!(whole.is_ok());
            for split in 0..=input.len() {
                prop_assert_eq!(&read(&input, &[split], false), &whole, "split at {}", split);
            }
            let every_byte: Vec<usize> = (1..input.len()).collect();
            prop_assert_eq!(&read(&input, &every_byte, false), &whole);
            cuts.sort_unstable();
            prop_assert_eq!(&read(&input, &cuts, false), &whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = read(&bytes, &[], false);
            let _ = read(&bytes, &[bytes.len() / 2], true);
        }
    }
}
