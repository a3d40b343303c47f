//! Decoding of the message form that the web app receives on `POST /message`.
//!
//! Owns the two body formats a browser sends for an HTML form (RFC 7578 `multipart/form-data`
//! and `application/x-www-form-urlencoded`), the choice between them by `Content-Type`, and the
//! step from decoded fields to a validated [`Message`]. It works on a whole body already in memory
//! and never reads a socket, never limits the body size (the HTTP layer does) and never chooses a
//! response beyond the status hint of [`FormError::status`].

mod content_type;
mod multipart;
mod urlencoded;

use std::fmt;

use crate::message::{Message, MessageError};

pub use multipart::{decode_multipart, encode_multipart};
pub use urlencoded::{decode_urlencoded, encode_urlencoded};

use content_type::BodyFormat;

/// Why a submitted form was refused. The web app shows the `Display` text on its error page and
/// answers with [`FormError::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A `%` in a urlencoded body is not followed by two hexadecimal digits.
    BadPercentEscape,
    /// A field name or value is not UTF-8 text once decoded.
    NotUtf8,
    /// A `multipart/form-data` body does not follow RFC 7578 (no delimiter, no closing delimiter,
    /// a part without `Content-Disposition: form-data; name=...`).
    MalformedMultipart,
    /// The `Content-Type` says `multipart/form-data` but names no valid boundary.
    MissingBoundary,
    /// The field named here appears more than once.
    FieldGivenTwice(&'static str),
    /// The body is neither urlencoded nor multipart (for example `application/json`).
    UnsupportedContentType,
    /// The fields decoded but break a rule every message follows.
    Invalid(MessageError),
}

impl FormError {
    /// The HTTP status the web app answers with: 415 for a body format it does not read, 400 for
    /// every other problem.
    pub fn status(&self) -> u16 {
        match self {
            FormError::UnsupportedContentType => 415,
            _ => 400,
        }
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::BadPercentEscape => f.write_str(
                "the form contains a broken %-escape (a % must be followed by two hex digits)",
            ),
            FormError::NotUtf8 => f.write_str("the form is not valid UTF-8 text"),
            FormError::MalformedMultipart => f.write_str("the multipart form is malformed"),
            FormError::MissingBoundary => {
                f.write_str("the multipart form does not give a valid boundary")
            }
            FormError::FieldGivenTwice(name) => {
                write!(f, "the {name} field is given more than once")
            }
            FormError::UnsupportedContentType => f.write_str(
                "the form was sent in an unsupported format; send it URL-encoded or as multipart",
            ),
            FormError::Invalid(error) => error.fmt(f),
        }
    }
}

impl From<MessageError> for FormError {
    fn from(error: MessageError) -> Self {
        FormError::Invalid(error)
    }
}

/// Decodes the body of `POST /message` into a validated message.
///
/// `content_type` is the request's `Content-Type` header value: urlencoded when it is missing or
/// `application/x-www-form-urlencoded`, multipart for `multipart/form-data; boundary=...` (the
/// boundary may be quoted). Only the fields `username` and `message` are used; any other field is
/// ignored, and either one given twice is an error.
pub fn decode_message_form(content_type: Option<&str>, body: &[u8]) -> Result<Message, FormError> {
    decode_submission(content_type, body).map(|(message, _)| message)
}

/// Like [`decode_message_form`], and also the `retry` field, if the form has one: the id of an
/// earlier try of the same message, which the page answering a failed post carries (see
/// `web::app`). Its value is not checked here; an id the web app does not know is ignored there.
pub fn decode_submission(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(Message, Option<String>), FormError> {
    let mut fields = match content_type::classify(content_type)? {
        BodyFormat::Urlencoded => decode_urlencoded(body)?,
        BodyFormat::Multipart { boundary } => decode_multipart(body, boundary.as_bytes())?,
    };
    let mut retry = None;
    for (name, value) in &mut fields {
        if name == RETRY {
            if retry.is_some() {
                return Err(FormError::FieldGivenTwice(RETRY));
            }
            retry = Some(std::mem::take(value));
        }
    }
    Ok((message_from_fields(fields)?, retry))
}

/// Picks `username` and `message` out of decoded fields and validates them with
/// [`Message::new`]. Shared with the datagram codec, whose legacy format is a urlencoded body.
pub(crate) fn message_from_fields(fields: Vec<(String, String)>) -> Result<Message, FormError> {
    let mut username = None;
    let mut message = None;
    for (name, value) in fields {
        let (slot, field) = match name.as_str() {
            USERNAME => (&mut username, USERNAME),
            MESSAGE => (&mut message, MESSAGE),
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(FormError::FieldGivenTwice(field));
        }
    }
    let username = username.ok_or(MessageError::MissingUsername)?;
    let message = message.ok_or(MessageError::MissingMessage)?;
    Ok(Message::new(username, message)?)
}

/// Name of the form field holding the user name, as `message.html` writes it.
pub(crate) const USERNAME: &str = "username";
/// Name of the form field holding the message text, as `message.html` writes it.
pub(crate) const MESSAGE: &str = "message";
/// Name of the form field holding the id of an earlier try, as the retry page writes it.
pub const RETRY: &str = "retry";

#[cfg(test)]
mod tests {
    use super::*;

    fn message(username: &str, text: &str) -> Message {
        Message {
            username: username.into(),
            message: text.into(),
        }
    }

    #[test]
    fn decodes_urlencoded_form_with_or_without_content_type() {
        let body = b"username=ann&message=hello+there";
        let expected = Ok(message("ann", "hello there"));
        assert_eq!(decode_message_form(None, body), expected);
        let content_type = Some("application/x-www-form-urlencoded");
        assert_eq!(decode_message_form(content_type, body), expected);
        let content_type = Some("Application/X-WWW-Form-Urlencoded ; charset=UTF-8");
        assert_eq!(decode_message_form(content_type, body), expected);
    }

    #[test]
    fn decodes_multipart_form() {
        let body = b"--XyZ\r\n\
            Content-Disposition: form-data; name=\"username\"\r\n\r\n\
            ann\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"message\"\r\n\r\n\
            two\r\nlines\r\n\
            --XyZ--\r\n";
        let expected = Ok(message("ann", "two\r\nlines"));
        assert_eq!(
            decode_message_form(Some("multipart/form-data; boundary=XyZ"), body),
            expected
        );
        let quoted = Some("multipart/form-data; boundary=\"XyZ\"");
        assert_eq!(decode_message_form(quoted, body), expected);
    }

    #[test]
    fn ignores_other_fields() {
        let body = b"submit=Send&username=ann&csrf=1&message=hi";
        assert_eq!(decode_message_form(None, body), Ok(message("ann", "hi")));
    }

    #[test]
    fn every_form_error_has_its_cause_and_status() {
        let multipart = Some("multipart/form-data; boundary=b");
        let cases: &[(Option<&str>, &[u8], FormError, u16)] = &[
            (
                None,
                b"username=%zz&message=x",
                FormError::BadPercentEscape,
                400,
            ),
            (None, b"username=%FF&message=x", FormError::NotUtf8, 400),
            (
                multipart,
                b"no delimiter here",
                FormError::MalformedMultipart,
                400,
            ),
            (
                Some("multipart/form-data"),
                b"",
                FormError::MissingBoundary,
                400,
            ),
            (
                None,
                b"username=a&message=x&username=b",
                FormError::FieldGivenTwice("username"),
                400,
            ),
            (
                None,
                b"message=a&username=b&message=x",
                FormError::FieldGivenTwice("message"),
                400,
            ),
            (
                Some("application/json"),
                b"{}",
                FormError::UnsupportedContentType,
                415,
            ),
            (
                None,
                b"message=hi",
                FormError::Invalid(MessageError::MissingUsername),
                400,
            ),
            (
                None,
                b"username=ann",
                FormError::Invalid(MessageError::MissingMessage),
                400,
            ),
            (
                None,
                b"username=+&message=x",
                FormError::Invalid(MessageError::BlankUsername),
                400,
            ),
            (
                None,
                b"username=a&message=%20",
                FormError::Invalid(MessageError::BlankMessage),
                400,
            ),
        ];
        for (content_type, body, error, status) in cases {
            let got = decode_message_form(*content_type, body);
            assert_eq!(
                got.as_ref(),
                Err(error),
                "{content_type:?} {:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(error.status(), *status, "{error:?}");
        }
    }

    #[test]
    fn refuses_username_over_the_limit() {
        let body = format!("username={}&message=x", "a".repeat(101));
        let got = decode_message_form(None, body.as_bytes());
        assert_eq!(got, Err(FormError::Invalid(MessageError::UsernameTooLong)));
    }

    #[test]
    fn error_text_speaks_to_the_user() {
        let cases = [
            (FormError::BadPercentEscape, "%-escape"),
            (FormError::NotUtf8, "UTF-8"),
            (FormError::MalformedMultipart, "malformed"),
            (FormError::MissingBoundary, "boundary"),
            (
                FormError::FieldGivenTwice("message"),
                "message field is given more than once",
            ),
            (FormError::UnsupportedContentType, "unsupported format"),
            (
                FormError::Invalid(MessageError::BlankMessage),
                "the message is empty",
            ),
        ];
        for (error, words) in cases {
            assert!(error.to_string().contains(words), "{error}");
        }
    }
}
