//! The bytes of one datagram between the web app and the socket server, both directions.
//!
//! Owns the wire format: a message `{"id":"…","username":"…","message":"…"}`, an
//! acknowledgement `{"ack":"…"}`, and the two legacy message forms the socket server still reads
//! (JSON without `id`, and a bare urlencoded body as the original app sent it). Pure functions
//! over whole datagrams; never decides what to do with one (see `sender` and `receiver`).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod error;

use crate::form::{self, FormError};
use crate::message::Message;
pub use error::DatagramError;
pub(crate) use error::KINDS;

/// One datagram, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram {
    /// A message to store. Without an `id` (legacy senders) it cannot be acknowledged.
    Message {
        id: Option<MessageId>,
        message: Message,
    },
    /// The socket server has durably stored the message with this id.
    Ack(MessageId),
}

/// The id a sender gives a message so the receiver can acknowledge it and drop copies:
/// 1 to [`MAX_ID_LEN`] printable ASCII characters (space to `~`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// Checks `id` against the id rules; [`DatagramError::BadId`] when it breaks them.
    pub fn new(id: String) -> Result<Self, DatagramError> {
        let printable = id.bytes().all(|byte| (b' '..=b'~').contains(&byte));
        if id.is_empty() || id.len() > MAX_ID_LEN || !printable {
            return Err(DatagramError::BadId);
        }
        Ok(MessageId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Appends the compact JSON of `datagram` to `out`: `{"id":"…","username":"…","message":"…"}`
/// (without `"id"` when there is none) or `{"ack":"…"}`. Exactly [`encoded_len`] bytes.
pub fn encode(datagram: &Datagram, out: &mut Vec<u8>) {
    let result = match datagram {
        Datagram::Message { id, message } => serde_json::to_writer(
            &mut *out,
            &WireMessage {
                id: id.as_ref().map(MessageId::as_str),
                username: &message.username,
                message: &message.message,
            },
        ),
        Datagram::Ack(id) => serde_json::to_writer(&mut *out, &WireAck { ack: id.as_str() }),
    };
    // Serializing structs of strings into a Vec cannot fail: the only errors serde_json can
    // return here come from the writer (a Vec never fails) or from non-string map keys (none).
    debug_assert!(result.is_ok());
}

/// The number of bytes [`encode`] writes for `datagram`, computed without writing them.
pub fn encoded_len(datagram: &Datagram) -> usize {
    match datagram {
        Datagram::Message { id, message } => {
            let id_len = id
                .as_ref()
                .map_or(0, |id| r#""id":,"#.len() + json_string_len(id.as_str()));
            r#"{"username":,"message":}"#.len()
                + id_len
                + json_string_len(&message.username)
                + json_string_len(&message.message)
        }
        Datagram::Ack(id) => r#"{"ack":}"#.len() + json_string_len(id.as_str()),
    }
}

/// The largest datagram `message` can need, whatever id a sender gives it: the web app answers
/// 413 when this exceeds [`MAX_DATAGRAM_SIZE`] before it tries to send.
pub fn max_message_datagram_len(message: &Message) -> usize {
    // The longest id is MAX_ID_LEN characters that each need a two-byte escape (`"` or `\`).
    let longest_id = r#""id":"","#.len() + 2 * MAX_ID_LEN;
    encoded_len(&Datagram::Message {
        id: None,
        message: message.clone(),
    }) + longest_id
}

/// Decodes one whole datagram.
///
/// Takes the two current forms and the two legacy message forms; unknown JSON fields are
/// ignored, a field with the wrong type or missing is an error. An object with `ack` is an
/// acknowledgement whatever else it holds. Never panics; work is linear in the length.
pub fn decode(bytes: &[u8]) -> Result<Datagram, DatagramError> {
    if bytes.is_empty() {
        return Err(DatagramError::Empty);
    }
    if bytes.len() > MAX_DATAGRAM_SIZE {
        return Err(DatagramError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| DatagramError::NotUtf8)?;
    if text.trim_start().starts_with('{') {
        decode_json(text)
    } else {
        decode_legacy_form(bytes)
    }
}

#[derive(Serialize)]
struct WireMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    username: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct WireAck<'a> {
    ack: &'a str,
}

/// Every field the decoder looks at; serde ignores the others and refuses repeated ones.
#[derive(Deserialize)]
struct WireObject {
    id: Option<Value>,
    ack: Option<Value>,
    username: Option<Value>,
    message: Option<Value>,
}

fn decode_json(text: &str) -> Result<Datagram, DatagramError> {
    let object: WireObject =
        serde_json::from_str(text).map_err(|_| DatagramError::MalformedJson)?;
    if let Some(ack) = object.ack {
        return Ok(Datagram::Ack(MessageId::new(string_field(
            Some(ack),
            "ack",
        )?)?));
    }
    let id = match object.id {
        Some(id) => Some(MessageId::new(string_field(Some(id), "id")?)?),
        None => None,
    };
    let username = string_field(object.username, "username")?;
    let message = string_field(object.message, "message")?;
    let message = Message::new(username, message).map_err(DatagramError::Invalid)?;
    Ok(Datagram::Message { id, message })
}

fn string_field(value: Option<Value>, name: &'static str) -> Result<String, DatagramError> {
    match value {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(DatagramError::WrongFieldType(name)),
        None => Err(DatagramError::MissingField(name)),
    }
}

/// The original app sent `username=…&message=…` as the datagram itself.
fn decode_legacy_form(bytes: &[u8]) -> Result<Datagram, DatagramError> {
    let fields = form::decode_urlencoded(bytes).map_err(DatagramError::Form)?;
    let known = |(name, _): &(String, String)| name == form::USERNAME || name == form::MESSAGE;
    if !fields.iter().any(known) {
        return Err(DatagramError::UnknownFormat);
    }
    match form::message_from_fields(fields) {
        Ok(message) => Ok(Datagram::Message { id: None, message }),
        Err(FormError::Invalid(error)) => Err(DatagramError::Invalid(error)),
        Err(error) => Err(DatagramError::Form(error)),
    }
}

/// The length of `text` as serde_json writes it as a JSON string, quotes included: `"` and `\`
/// and the control characters with a short escape take two bytes, other control characters six
/// (`\u00XX`), everything else its UTF-8 length.
fn json_string_len(text: &str) -> usize {
    let escaped: usize = text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum();
    escaped + 2
}

/// The largest UDP payload over IPv4: 65,535 minus the 20-byte IP and 8-byte UDP headers.
pub const MAX_DATAGRAM_SIZE: usize = 65_507;

/// The longest [`MessageId`], in bytes. Long enough for a per-process prefix and a 20-digit
/// counter, short enough that ids cost little in the receiver's dedup window.
pub const MAX_ID_LEN: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageError;
    use proptest::prelude::*;

    fn id(text: &str) -> MessageId {
        MessageId::new(text.into()).unwrap()
    }

    fn message(username: &str, text: &str) -> Message {
        Message::new(username.into(), text.into()).unwrap()
    }

    fn encoded(datagram: &Datagram) -> String {
        let mut out = Vec::new();
        encode(datagram, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodes_compact_json() {
        let with_id = Datagram::Message {
            id: Some(id("web-1")),
            message: message("ann", "a\"b\n"),
        };
        assert_eq!(
            encoded(&with_id),
            r#"{"id":"web-1","username":"ann","message":"a\"b\n"}"#
        );
        let without_id = Datagram::Message {
            id: None,
            message: message("ann", "é"),
        };
        assert_eq!(encoded(&without_id), r#"{"username":"ann","message":"é"}"#);
        assert_eq!(encoded(&Datagram::Ack(id("web-1"))), r#"{"ack":"web-1"}"#);
    }

    #[test]
    fn decodes_every_accepted_form() {
        let ann = || message("ann", "hi there");
        let cases: &[(&str, Datagram)] = &[
            (
                r#"{"id":"web-7","username":"ann","message":"hi there"}"#,
                Datagram::Message {
                    id: Some(id("web-7")),
                    message: ann(),
                },
            ),
            (r#"{"ack":"web-7"}"#, Datagram::Ack(id("web-7"))),
            (
                r#" { "ack" : "web-7", "extra": [1, {"x": null}] } "#,
                Datagram::Ack(id("web-7")),
            ),
            (
                r#"{"ack":"web-7","username":"ann"}"#,
                Datagram::Ack(id("web-7")),
            ),
            (
                r#"{"username":"ann","message":"hi there"}"#,
                Datagram::Message {
                    id: None,
                    message: ann(),
                },
            ),
            (
                r#"{"username":"ann","message":"hi there","id":null,"sent":3}"#,
                Datagram::Message {
                    id: None,
                    message: ann(),
                },
            ),
            (
                r#"{"username":"\u0061nn","message":"hi there"}"#,
                Datagram::Message {
                    id: None,
                    message: ann(),
                },
            ),
            (
                "username=ann&message=hi+there",
                Datagram::Message {
                    id: None,
                    message: ann(),
                },
            ),
            (
                "message=hi%20there&username=ann&submit=Send",
                Datagram::Message {
                    id: None,
                    message: ann(),
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode(bytes.as_bytes()).as_ref(), Ok(expected), "{bytes}");
        }
    }

    #[test]
    fn every_datagram_error_has_its_cause_and_kind() {
        let too_large = format!("username=a&message={}", "x".repeat(MAX_DATAGRAM_SIZE));
        let long_id = format!(r#"{{"ack":"{}"}}"#, "x".repeat(MAX_ID_LEN + 1));
        let cases: &[(&[u8], DatagramError, &str)] = &[
            (b"", DatagramError::Empty, "empty"),
            (too_large.as_bytes(), DatagramError::TooLarge, "too_large"),
            (b"username=\xff", DatagramError::NotUtf8, "not_utf8"),
            (
                b"{\"username\":",
                DatagramError::MalformedJson,
                "malformed_json",
            ),
            (
                b"{\"a\":1} trailing",
                DatagramError::MalformedJson,
                "malformed_json",
            ),
            (
                br#"{"ack":"a","ack":"b"}"#,
                DatagramError::MalformedJson,
                "malformed_json",
            ),
            (b"[1,2]{", DatagramError::UnknownFormat, "unknown_format"),
            (b"hello", DatagramError::UnknownFormat, "unknown_format"),
            (
                br#"{"message":"hi"}"#,
                DatagramError::MissingField("username"),
                "missing_field",
            ),
            (
                br#"{"username":"ann"}"#,
                DatagramError::MissingField("message"),
                "missing_field",
            ),
            (
                br#"{"username":null,"message":"hi"}"#,
                DatagramError::MissingField("username"),
                "missing_field",
            ),
            (
                br#"{"username":7,"message":"hi"}"#,
                DatagramError::WrongFieldType("username"),
                "wrong_field_type",
            ),
            (
                br#"{"username":"a","message":["hi"]}"#,
                DatagramError::WrongFieldType("message"),
                "wrong_field_type",
            ),
            (
                br#"{"ack":5}"#,
                DatagramError::WrongFieldType("ack"),
                "wrong_field_type",
            ),
            (
                br#"{"id":{},"username":"a","message":"b"}"#,
                DatagramError::WrongFieldType("id"),
                "wrong_field_type",
            ),
            (br#"{"ack":""}"#, DatagramError::BadId, "bad_id"),
            (long_id.as_bytes(), DatagramError::BadId, "bad_id"),
            (br#"{"ack":"tab\there"}"#, DatagramError::BadId, "bad_id"),
            (br#"{"ack":"caf\u00e9"}"#, DatagramError::BadId, "bad_id"),
            (
                br#"{"id":"","username":"a","message":"b"}"#,
                DatagramError::BadId,
                "bad_id",
            ),
            (
                br#"{"username":" ","message":"b"}"#,
                DatagramError::Invalid(MessageError::BlankUsername),
                "invalid_message",
            ),
            (
                b"username=ann",
                DatagramError::Invalid(MessageError::MissingMessage),
                "invalid_message",
            ),
            (
                b"username=a&message=%zz",
                DatagramError::Form(FormError::BadPercentEscape),
                "bad_form",
            ),
            (
                b"username=a&message=b&message=c",
                DatagramError::Form(FormError::FieldGivenTwice("message")),
                "bad_form",
            ),
        ];
        for (bytes, error, kind) in cases {
            let got = decode(bytes);
            assert_eq!(
                got.as_ref(),
                Err(error),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            assert_eq!(error.kind(), *kind);
            assert!(!error.to_string().is_empty());
        }
        assert_eq!(DatagramError::UnexpectedAck.kind(), "unexpected_ack");
    }

    #[test]
    fn accepts_a_datagram_of_exactly_the_maximum_size() {
        let prefix = "username=a&message=";
        let body = format!("{prefix}{}", "x".repeat(MAX_DATAGRAM_SIZE - prefix.len()));
        assert!(decode(body.as_bytes()).is_ok());
    }

    #[test]
    fn message_ids_are_printable_ascii_up_to_64() {
        assert!(MessageId::new(" ~".into()).is_ok());
        assert!(MessageId::new("x".repeat(MAX_ID_LEN)).is_ok());
        for bad in [
            String::new(),
            "x".repeat(MAX_ID_LEN + 1),
            "a\u{7f}".into(),
            "é".into(),
        ] {
            assert_eq!(
                MessageId::new(bad.clone()),
                Err(DatagramError::BadId),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn max_message_datagram_len_covers_the_worst_id() {
        let message = message("ann", "hi");
        let worst_id = Some(id(&"\"".repeat(MAX_ID_LEN)));
        let worst = Datagram::Message {
            id: worst_id,
            message: message.clone(),
        };
        assert_eq!(max_message_datagram_len(&message), encoded(&worst).len());
    }

    fn message_id() -> impl Strategy<Value = MessageId> {
        "[ -~]{1,64}".prop_map(|text| MessageId::new(text).unwrap())
    }

    fn valid_message() -> impl Strategy<Value = Message> {
        let text = prop_oneof![any::<String>(), "[\"\\\\\\x00-\\x1f\u{7f}é😀 a]{0,20}"];
        (text.clone(), text).prop_filter_map("not a valid message", |(username, message)| {
            Message::new(username, message).ok()
        })
    }

    fn datagram() -> impl Strategy<Value = Datagram> {
        prop_oneof![
            (proptest::option::of(message_id()), valid_message())
                .prop_map(|(id, message)| Datagram::Message { id, message }),
            message_id().prop_map(Datagram::Ack),
        ]
    }

    proptest! {
        #[test]
        fn encoded_datagrams_decode_to_themselves(datagram in datagram()) {
            let mut out = Vec::new();
            encode(&datagram, &mut out);
            prop_assert_eq!(out.len(), encoded_len(&datagram));
            prop_assert_eq!(decode(&out), Ok(datagram));
        }

        #[test]
        fn decoding_arbitrary_bytes_keeps_the_invariants(
            bytes in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            crate::check::check_datagram(&bytes);
        }

        #[test]
        fn decoding_json_shaped_text_keeps_the_invariants(
            text in r#"\{("(id|ack|username|message|x)":("[a-z\\ ]{0,4}"|1|null|\[\]),?){0,4}\}"#
        ) {
            crate::check::check_datagram(text.as_bytes());
        }
    }
}
