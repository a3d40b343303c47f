//! The answer to a connection a server will not serve because it already holds as many as it may:
//! a whole `503` response, written before any byte of the request is read, after which the shell
//! closes the connection. Both shells and every HTTP port send these same bytes; the shell only
//! decides that the limit is reached.

use std::borrow::Cow;

use time::OffsetDateTime;

use super::write::{encode_response, Body, ConnectionHeader, HttpDate, Response};

/// Appends the whole `503 Service Unavailable` for a connection beyond the server's connection
/// limit: `Date` (from `when`, the wall-clock time now), `Content-Length`, `Retry-After`,
/// `Connection: close` and a short text body.
///
/// Call on accepting a connection that will not be served; write the bytes, then close. The
/// request is never read, so the body goes out whatever the method: the connection ends with it,
/// so a client that asked with HEAD and stops at the head is not misled about what follows.
pub fn encode_server_full(when: OffsetDateTime, out: &mut Vec<u8>) {
    let response = Response::new(503)
        .with_body(
            "text/plain; charset=utf-8",
            Body::Owned(SERVER_FULL_BODY.as_bytes().to_vec()),
        )
        .with_header("Retry-After", Cow::Borrowed(RETRY_AFTER_SECONDS));
    encode_response(
        &response,
        &HttpDate::new(when),
        ConnectionHeader::Close,
        true,
        out,
    );
}

/// What a refused client reads: says why, and that waiting a moment helps.
const SERVER_FULL_BODY: &str =
    "503 Service Unavailable: the server is at its connection limit; try again in a moment.\n";
/// RFC 9110 §10.2.3: seconds before trying again. Connections are held for a request or an idle
/// timeout at most, so slots free up within seconds; one second spreads retries without making a
/// person wait.
const RETRY_AFTER_SECONDS: &str = "1";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_response_head, ResponseFraming};
    use time::macros::datetime;

    #[test]
    fn server_full_is_a_whole_503_that_closes() {
        let mut out = Vec::new();
        encode_server_full(datetime!(1994-11-06 08:49:37 UTC), &mut out);
        let text = String::from_utf8(out).unwrap();
        let expected = format!(
            "HTTP/1.1 503 Service Unavailable\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Content-Length: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Retry-After: 1\r\nConnection: close\r\n\r\n{SERVER_FULL_BODY}",
            SERVER_FULL_BODY.len()
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn server_full_reads_back_as_one_framed_response() {
        let mut out = b"kept".to_vec();
        encode_server_full(datetime!(2026-11-21 19:22:22 +01:00), &mut out);
        assert_eq!(&out[..4], b"kept", "appends, never overwrites");
        let (head, used) = parse_response_head(&out[4..]).unwrap().unwrap();
        assert_eq!(head.status, 503);
        assert_eq!(head.header("date"), Some("Sat, 21 Nov 2026 18:22:22 GMT"));
        assert_eq!(head.header("retry-after"), Some("1"));
        assert_eq!(head.header("connection"), Some("close"));
        let body = &out[4 + used..];
        assert_eq!(
            head.framing(false),
            Ok(ResponseFraming::Length(body.len() as u64))
        );
        assert!(std::str::from_utf8(body)
            .unwrap()
            .contains("connection limit"));
    }
}
