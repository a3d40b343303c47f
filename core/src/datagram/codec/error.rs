//! Why a datagram could not be read, with a short stable name per cause for drop counters.
//!
//! Owns the error type of the wire format and nothing else: the codec produces it and the
//! receiver counts it; what to do about one is decided there, never here.

use std::fmt;

use super::{MAX_DATAGRAM_SIZE, MAX_ID_LEN};
use crate::form::FormError;
use crate::message::MessageError;

/// Why a datagram could not be read. The socket server counts drops by [`DatagramError::kind`]
/// and otherwise ignores the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatagramError {
    /// The datagram has no bytes.
    Empty,
    /// The datagram is longer than [`MAX_DATAGRAM_SIZE`].
    TooLarge,
    /// The datagram is not UTF-8 text.
    NotUtf8,
    /// It starts like a JSON object but is not one (bad syntax, trailing data, a repeated key).
    MalformedJson,
    /// It is neither a JSON object nor a urlencoded form with `username` or `message`.
    UnknownFormat,
    /// The JSON object lacks this field (or it is `null`).
    MissingField(&'static str),
    /// This field of the JSON object is not a string.
    WrongFieldType(&'static str),
    /// An `id` or `ack` breaks the [`MessageId`](super::MessageId) rules.
    BadId,
    /// The fields break a rule every message follows.
    Invalid(MessageError),
    /// A legacy urlencoded datagram that does not decode.
    Form(FormError),
    /// An acknowledgement reached the socket server, which only takes messages.
    UnexpectedAck,
}

impl DatagramError {
    /// A short stable name for the kind of error, for drop counters and log lines.
    pub fn kind(&self) -> &'static str {
        KINDS[self.kind_index()]
    }

    /// The position of [`DatagramError::kind`] in [`KINDS`].
    pub(crate) fn kind_index(&self) -> usize {
        match self {
            DatagramError::Empty => 0,
            DatagramError::TooLarge => 1,
            DatagramError::NotUtf8 => 2,
            DatagramError::MalformedJson => 3,
            DatagramError::UnknownFormat => 4,
            DatagramError::MissingField(_) => 5,
            DatagramError::WrongFieldType(_) => 6,
            DatagramError::BadId => 7,
            DatagramError::Invalid(_) => 8,
            DatagramError::Form(_) => 9,
            DatagramError::UnexpectedAck => 10,
        }
    }
}

impl fmt::Display for DatagramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatagramError::Empty => f.write_str("empty datagram"),
            DatagramError::TooLarge => {
                write!(f, "datagram larger than {MAX_DATAGRAM_SIZE} bytes")
            }
            DatagramError::NotUtf8 => f.write_str("datagram is not UTF-8 text"),
            DatagramError::MalformedJson => f.write_str("datagram is not a valid JSON object"),
            DatagramError::UnknownFormat => {
                f.write_str("datagram is neither a JSON object nor a urlencoded message")
            }
            DatagramError::MissingField(name) => write!(f, "datagram has no \"{name}\" field"),
            DatagramError::WrongFieldType(name) => {
                write!(f, "datagram field \"{name}\" is not a string")
            }
            DatagramError::BadId => write!(
                f,
                "datagram id is not 1 to {MAX_ID_LEN} printable ASCII characters"
            ),
            DatagramError::Invalid(error) => write!(f, "invalid message: {error}"),
            DatagramError::Form(error) => write!(f, "invalid urlencoded message: {error}"),
            DatagramError::UnexpectedAck => f.write_str("acknowledgement sent to the receiver"),
        }
    }
}

/// The short names of [`DatagramError::kind`], in the order of `kind_index`.
pub(crate) const KINDS: [&str; 11] = [
    "empty",
    "too_large",
    "not_utf8",
    "malformed_json",
    "unknown_format",
    "missing_field",
    "wrong_field_type",
    "bad_id",
    "invalid_message",
    "bad_form",
    "unexpected_ack",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct() {
        let mut kinds = KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), KINDS.len());
    }
}
