//! Invariant checkers for the parsers that read network bytes; hidden from the documented API.
//!
//! Each `check_*` takes arbitrary bytes, runs a decoder on them and panics if an invariant
//! breaks (a decoded value that does not survive re-encoding, a length that disagrees). The fuzz
//! targets in `fuzz/fuzz_targets/` are one call to one of these, and the proptests call them too,
//! so the same checks run on stable Rust. Not part of ferry's public API: nothing else calls
//! them and they may change at any time.

mod body;
mod chat;
mod cluster;
mod conn_ops;
mod files;
mod http;
mod lines;
mod response;
mod tls;
mod ws;

pub use self::body::check_http_body;
pub use self::chat::check_chat_line;
pub use self::cluster::check_cluster_payload;
pub use self::conn_ops::{check_http_conn_ops, check_http_stream_ops};
pub use self::files::check_file_request;
pub use self::http::{assert_http_responses_match_events, check_http_conn};
pub use self::lines::check_lines;
pub use self::response::check_http_response;
pub use self::tls::{check_tls_http, FixedClock};
#[cfg(test)]
pub(crate) use self::tls::{feed, Pair};
pub use self::ws::check_ws_frames;

use crate::datagram::{self, Datagram};
use crate::form::{self, FormError};

/// Checks the form decoders on `bytes`.
///
/// The bytes are read three ways: as a urlencoded body, as a multipart body with a fixed
/// boundary, and (split at the first `\n`) as a `Content-Type` line followed by a body for
/// [`form::decode_message_form`]. Whatever decodes must re-encode and decode to the same fields
/// or message.
pub fn check_form(bytes: &[u8]) {
    if let Ok(fields) = form::decode_urlencoded(bytes) {
        let mut out = Vec::new();
        form::encode_urlencoded(&borrow(&fields), &mut out);
        assert_eq!(
            form::decode_urlencoded(&out),
            Ok(fields),
            "urlencoded round trip"
        );
    }

    if let Ok(fields) = form::decode_multipart(bytes, CHECK_BOUNDARY.as_bytes()) {
        let mut out = Vec::new();
        form::encode_multipart(&borrow(&fields), CHECK_BOUNDARY, &mut out);
        let again = form::decode_multipart(&out, CHECK_BOUNDARY.as_bytes());
        assert_eq!(again, Ok(fields), "multipart round trip");
    }

    let (content_type, body) = match bytes.iter().position(|&byte| byte == b'\n') {
        Some(newline) => (
            std::str::from_utf8(&bytes[..newline]).ok(),
            &bytes[newline + 1..],
        ),
        None => (None, bytes),
    };
    match form::decode_message_form(content_type, body) {
        Ok(message) => {
            let mut out = Vec::new();
            let fields = [
                ("username", message.username.as_str()),
                ("message", &message.message),
            ];
            form::encode_urlencoded(&fields, &mut out);
            assert_eq!(
                form::decode_message_form(None, &out),
                Ok(message),
                "message round trip"
            );
        }
        Err(error) => {
            let status = error.status();
            assert!(
                status == 400 || status == 415,
                "{error:?} has status {status}"
            );
            assert_eq!(status == 415, error == FormError::UnsupportedContentType);
        }
    }
}

/// Checks the datagram decoder on `bytes`: whatever decodes re-encodes to exactly
/// [`datagram::encoded_len`] bytes, which decode to the same datagram (or are too large to, when
/// escapes grew them past the limit); every error has a kind.
pub fn check_datagram(bytes: &[u8]) {
    match datagram::decode(bytes) {
        Ok(decoded) => {
            let mut out = Vec::new();
            datagram::encode(&decoded, &mut out);
            assert_eq!(out.len(), datagram::encoded_len(&decoded), "encoded length");
            let again = datagram::decode(&out);
            // Escapes can make the JSON of a legacy datagram longer than the datagram was.
            if out.len() > datagram::MAX_DATAGRAM_SIZE {
                assert_eq!(
                    again,
                    Err(datagram::DatagramError::TooLarge),
                    "oversized re-encoding"
                );
            } else {
                assert_eq!(again, Ok(decoded.clone()), "datagram round trip");
            }
            if let Datagram::Message { message, .. } = &decoded {
                assert!(out.len() <= datagram::max_message_datagram_len(message));
            }
        }
        Err(error) => assert!(!error.kind().is_empty()),
    }
}

fn borrow(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// The boundary [`check_form`] reads multipart bodies with. Short, so random input finds it.
const CHECK_BOUNDARY: &str = "b";
