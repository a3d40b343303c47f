//! The opening handshake (RFC 6455 §4.2): whether a request asks for a WebSocket, the
//! `Sec-WebSocket-Accept` answer, and the responses for a request that asks wrongly.
//!
//! Owns the header rules and the key computation; the request arrives through `HttpConn` and
//! the 101 leaves through it (`HttpConn::upgrade`), so nothing here reads or writes bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::http::{Method, RequestHead, Response, Version};

/// Why a request for a WebSocket was refused; [`HandshakeError::response`] is the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// Not `GET`.
    NotGet,
    /// No `Upgrade: websocket` with `Connection: upgrade`: a plain request to the endpoint.
    NoUpgrade,
    /// `Sec-WebSocket-Version` missing or other than 13.
    WrongVersion,
    /// `Sec-WebSocket-Key` missing, repeated, or not 16 bytes in base64.
    BadKey,
    /// HTTP/1.0, or a request with a body.
    BadRequest,
}

impl HandshakeError {
    /// The status and headers that tell the client what to send instead.
    pub fn response(self) -> Response {
        let text = match self {
            HandshakeError::NotGet => "a WebSocket is opened with GET\n",
            HandshakeError::NoUpgrade => "this address speaks WebSocket only\n",
            HandshakeError::WrongVersion => "only WebSocket version 13 is spoken here\n",
            HandshakeError::BadKey => "Sec-WebSocket-Key must be 16 bytes in base64\n",
            HandshakeError::BadRequest => "a WebSocket needs an HTTP/1.1 GET without a body\n",
        };
        let body = crate::http::Body::Shared(text.as_bytes().into());
        let response = Response::new(self.status()).with_body("text/plain; charset=utf-8", body);
        match self {
            HandshakeError::NotGet => response.with_header("Allow", "GET"),
            // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
            HandshakeError::NoUpgrade => response
                .with_header("Upgrade", "websocket")
                .with_header("Connection", "Upgrade"),
            // RFC 6455 §4.2.2: the versions the server speaks.
            HandshakeError::WrongVersion => response.with_header("Sec-WebSocket-Version", "13"),
            _ => response,
        }
    }

    /// The status of the answer.
    pub fn status(self) -> u16 {
        match self {
            HandshakeError::NotGet => 405,
            HandshakeError::NoUpgrade | HandshakeError::WrongVersion => 426,
            HandshakeError::BadKey | HandshakeError::BadRequest => 400,
        }
    }
}

/// Checks a request for a WebSocket and returns the `101 Switching Protocols` to answer it
/// with, or why it cannot be one.
pub fn accept(head: &RequestHead) -> Result<Response, HandshakeError> {
    if head.method != Method::Get {
        return Err(HandshakeError::NotGet);
    }
    let upgrade = has_token(head, "upgrade", "websocket");
    let connection = has_token(head, "connection", "upgrade");
    if !upgrade || !connection {
        return Err(HandshakeError::NoUpgrade);
    }
    if head.version != Version::Http11 || head.framing != crate::http::BodyFraming::Empty {
        return Err(HandshakeError::BadRequest);
    }
    if head.header_str("sec-websocket-version").map(str::trim) != Some("13") {
        return Err(HandshakeError::WrongVersion);
    }
    let mut keys = head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"));
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(HandshakeError::BadKey);
    };
    let key = std::str::from_utf8(&key.value).map_err(|_| HandshakeError::BadKey)?;
    let key = key.trim();
    // RFC 6455 §4.2.1: the key is a random 16-byte value, base64-encoded.
    if STANDARD.decode(key).map(|raw| raw.len()) != Ok(16) {
        return Err(HandshakeError::BadKey);
    }
    Ok(Response::new(101)
        .with_header("Upgrade", "websocket")
        .with_header("Connection", "Upgrade")
        .with_header("Sec-WebSocket-Accept", accept_key(key)))
}

/// The `Sec-WebSocket-Accept` value for a client's key (RFC 6455 §4.2.2, step 5.4): the
/// base64 of the SHA-1 of the key and the protocol's GUID.
pub fn accept_key(key: &str) -> String {
    let mut hash = Sha1::new();
    hash.update(key.as_bytes());
    hash.update(GUID);
    STANDARD.encode(hash.finalize())
}

/// Whether any `name` header lists `token` (comma-separated, any case).
fn has_token(head: &RequestHead, name: &str, token: &str) -> bool {
    head.headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(&h.value).ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// RFC 6455 §1.3: the GUID every server appends to the key.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_head, HeadLimits};

    fn head(extra: &str) -> RequestHead {
        let text = format!("GET /ws HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
        parse_head(text.as_bytes(), &HeadLimits::default()).unwrap()
    }

    const GOOD: &str = "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
                        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    #[test]
    fn computes_the_rfc_example_accept_key() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let response = accept(&head(GOOD)).unwrap();
        assert_eq!(response.status, 101);
        assert!(response
            .headers
            .iter()
            .any(|(name, value)| *name == "Sec-WebSocket-Accept"
                && value == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn refuses_requests_that_ask_wrongly() {
        let cases: &[(&str, HandshakeError)] = &[
            ("", HandshakeError::NoUpgrade),
            (
                "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                HandshakeError::NoUpgrade,
            ),
            (
                "Upgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 8\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                HandshakeError::WrongVersion,
            ),
            (
                "Upgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n",
                HandshakeError::BadKey,
            ),
            (
                "Upgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: c2hvcnQ=\r\n",
                HandshakeError::BadKey,
            ),
        ];
        for (extra, error) in cases {
            assert_eq!(accept(&head(extra)), Err(*error), "{extra:?}");
        }
        assert_eq!(HandshakeError::WrongVersion.status(), 426);
        assert_eq!(HandshakeError::BadKey.status(), 400);
        let text = format!("POST /ws HTTP/1.1\r\nHost: x\r\n{GOOD}\r\n");
        let post = parse_head(text.as_bytes(), &HeadLimits::default()).unwrap();
        assert_eq!(accept(&post), Err(HandshakeError::NotGet));
    }
}
