//! The message a user submits through the web app: a username and a text.
//!
//! Owns the validation rules every entry point shares (web form, datagram, stream transport), so
//! the web app and the socket server agree on what a valid message is.

use std::fmt;

/// A submitted message, validated: both fields non-blank, the username at most
/// [`MAX_USERNAME_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub username: String,
    pub message: String,
}

impl Message {
    /// Builds a message after checking the rules shared by every entry point.
    pub fn new(username: String, message: String) -> Result<Self, MessageError> {
        if username.trim().is_empty() {
            return Err(MessageError::BlankUsername);
        }
        if message.trim().is_empty() {
            return Err(MessageError::BlankMessage);
        }
        if username.chars().count() > MAX_USERNAME_CHARS {
            return Err(MessageError::UsernameTooLong);
        }
        Ok(Message { username, message })
    }
}

/// Why a message was refused; the web app shows the `Display` text to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    MissingUsername,
    MissingMessage,
    BlankUsername,
    BlankMessage,
    UsernameTooLong,
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageError::MissingUsername => "the username field is missing",
            MessageError::MissingMessage => "the message field is missing",
            MessageError::BlankUsername => "the username is empty",
            MessageError::BlankMessage => "the message is empty",
            MessageError::UsernameTooLong => "the username is longer than 100 characters",
        })
    }
}

/// The longest username accepted, in Unicode scalar values. The SPEC sets it; it keeps a
/// name readable in one line of the chat and the stored file.
pub const MAX_USERNAME_CHARS: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_plain_message() {
        let m = Message::new("ann".into(), "hi".into()).unwrap();
        assert_eq!(m.username, "ann");
    }

    #[test]
    fn refuses_blank_fields() {
        assert_eq!(
            Message::new(" \t".into(), "hi".into()),
            Err(MessageError::BlankUsername)
        );
        assert_eq!(
            Message::new("ann".into(), "\n".into()),
            Err(MessageError::BlankMessage)
        );
    }

    #[test]
    fn counts_username_length_in_characters_not_bytes() {
        let hundred = "é".repeat(100);
        assert!(Message::new(hundred.clone(), "x".into()).is_ok());
        let over = format!("{hundred}a");
        assert_eq!(
            Message::new(over, "x".into()),
            Err(MessageError::UsernameTooLong)
        );
    }
}
