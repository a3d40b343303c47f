//! A small WebSocket client for the suite, over a std `TcpStream` with read timeouts: it sends
//! masked frames (or, to test the server, unmasked and broken ones) and reads the server's.
//! Written here rather than taken from a crate so that it can send what no library would.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// Frame opcodes (RFC 6455 §5.2).
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// The RFC's sample key and the answer it must get (RFC 6455 §1.3).
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// A WebSocket client connection.
pub struct WsClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl WsClient {
    /// Connects to `address`, opens a WebSocket at `path` and checks the `101`.
    pub fn open(address: SocketAddr, path: &str) -> WsClient {
        let (status, head, client) = Self::handshake(address, path, &default_headers());
        assert_eq!(status, 101, "{head}");
        assert!(
            head.to_ascii_lowercase().contains(&format!(
                "sec-websocket-accept: {}",
                ACCEPT.to_ascii_lowercase()
            )),
            "{head}"
        );
        client
    }

    /// Sends a request for `path` with `headers` (each ending in CRLF); returns the status,
    /// the response head and the client.
    pub fn handshake(address: SocketAddr, path: &str, headers: &str) -> (u16, String, WsClient) {
        let mut stream = TcpStream::connect(address).expect("connect to the web port");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("read timeout");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{headers}\r\n");
        stream
            .write_all(request.as_bytes())
            .expect("send the handshake");
        let mut client = WsClient {
            stream,
            buf: Vec::new(),
        };
        let head = client.read_head();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status: {head:?}"));
        (status, head, client)
    }

    fn read_head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8_lossy(&head).into_owned();
            }
            self.fill().expect("the response head");
        }
    }

    /// The next `len` bytes (a response body).
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        while self.buf.len() < len {
            self.fill().expect("the rest of the body");
        }
        self.buf.drain(..len).collect()
    }

    /// Reads more bytes; `None` at EOF.
    fn fill(&mut self) -> Option<usize> {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => None,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(n)
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => None,
            Err(e) => panic!("no bytes from the server: {e}"),
        }
    }

    /// Sends one frame, masked unless `masked` is false.
    pub fn send_frame(&mut self, opcode: u8, fin: bool, payload: &[u8], masked: bool) {
        let frame = encode(
            opcode,
            fin,
            payload,
            masked.then_some([0x12, 0x34, 0x56, 0x78]),
        );
        self.stream.write_all(&frame).expect("send a frame");
    }

    /// Sends a JSON value as one text frame.
    pub fn send_json(&mut self, value: &Value) {
        self.send_frame(TEXT, true, value.to_string().as_bytes(), true);
    }

    /// The next frame; `None` when the server closed TCP first.
    pub fn frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = decode(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            self.fill()?;
        }
    }

    /// The next text frame as JSON, skipping nothing, without the server's `time` of a message
    /// (checked first, as for a TCP client); panics on anything else.
    pub fn json(&mut self) -> Value {
        let frame = self
            .frame()
            .expect("a frame, not the end of the connection");
        assert_eq!(frame.opcode, TEXT, "{frame:?}");
        let value =
            serde_json::from_slice(&frame.payload).unwrap_or_else(|e| panic!("{e}: {frame:?}"));
        crate::chat::harness::without_time(value)
    }

    /// Reads text frames until `expected`; others (joins, history) are skipped.
    pub fn expect(&mut self, expected: &Value) {
        let mut skipped = Vec::new();
        loop {
            let value = self.json();
            if value == *expected {
                return;
            }
            skipped.push(value);
            assert!(skipped.len() < 1000, "never got {expected}: {skipped:?}");
        }
    }

    /// Reads frames until a close frame; returns its code, and checks the server then ends
    /// the TCP connection.
    pub fn expect_close(&mut self) -> u16 {
        loop {
            let frame = self
                .frame()
                .expect("a close frame before the connection ends");
            if frame.opcode == CLOSE {
                assert!(frame.payload.len() >= 2, "{frame:?}");
                let code = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                self.expect_end();
                return code;
            }
        }
    }

    /// Checks that the server closes the TCP connection (within the read timeout).
    pub fn expect_end(&mut self) {
        while self.fill().is_some() {}
    }
}

/// The headers of a valid handshake.
pub fn default_headers() -> String {
    format!(
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n"
    )
}

/// One frame as bytes, masked with `mask` when given.
pub fn encode(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A whole unmasked frame at the start of `bytes`, and its length.
fn decode(bytes: &[u8]) -> Option<(Frame, usize)> {
    let [first, second, ..] = *bytes else {
        return None;
    };
    assert_eq!(second & 0x80, 0, "a server never masks");
    let (len, start) = match second & 0x7F {
        126 => (
            u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        len => (len as usize, 2),
    };
    let payload = bytes.get(start..start + len)?.to_vec();
    let frame = Frame {
        fin: first & 0x80 != 0,
        opcode: first & 0x0F,
        payload,
    };
    Some((frame, start + len))
}

/// How long any expected frame may take; generous for a machine shared with builds.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
