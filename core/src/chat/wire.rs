//! The JSON of the chat, both ways: the objects a client sends and the lines the server sends.
//!
//! Owns field names, which fields each line carries and how a JSON text maps to a value. Every
//! encoder writes one compact JSON object and a `\n`; every decoder takes one object's text as
//! [`super::ObjectFramer`] cuts it. It never decides whether a value is acceptable (the hub does)
//! and never frames a stream.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::error::Category;

use super::ChatError;

/// One object a client sent, its fields not yet checked against the rules of the room. Its
/// `Debug` leaves the passwords out.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ClientObject<'a> {
    /// `type`, when present: `register`, `login` or `password` (issue 14); a message has none.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// `username`, when present.
    #[serde(borrow, default)]
    pub username: Option<Cow<'a, str>>,
    /// `message`, when present.
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
    /// `password` of a register or login, when present.
    #[serde(borrow, default)]
    pub password: Option<Cow<'a, str>>,
    /// `old` password of a password change, when present.
    #[serde(borrow, default)]
    pub old: Option<Cow<'a, str>>,
    /// `new` password of a password change, when present.
    #[serde(borrow, default)]
    pub new: Option<Cow<'a, str>>,
}

/// What a client asks for with an account object (issue 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRequest<'a> {
    /// `{"type":"register","username":..,"password":..}`
    Register {
        username: &'a str,
        password: &'a str,
    },
    /// `{"type":"login","username":..,"password":..}`
    Login {
        username: &'a str,
        password: &'a str,
    },
    /// `{"type":"password","old":..,"new":..}`
    Password { old: &'a str, new: &'a str },
}

/// One line the server sends, as the client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLine {
    /// Somebody's message; `history` when it is replayed to a newcomer; `time` when the server
    /// received it (UTC, RFC 3339), from servers that say.
    Message {
        username: String,
        message: String,
        history: bool,
        time: Option<String>,
    },
    /// This client registered or logged in as `username` (issue 14).
    Welcome { username: String },
    /// `username` joined the room (also sent to the one who joined, as confirmation).
    Join { username: String },
    /// `username` left the room.
    Leave { username: String },
    /// These joined the room, in order, and `others` more after them: a large room announces
    /// joins in batches.
    Joins { usernames: Vec<String>, others: u64 },
    /// These left the room, in order, and `others` more after them: a large room announces
    /// leaves in batches.
    Leaves { usernames: Vec<String>, others: u64 },
    /// Something this client sent was refused, or it is being disconnected; says why.
    Error { error: String },
}

/// Reads one object a client sent. Unknown fields are ignored.
pub fn decode_client_object(text: &[u8]) -> Result<ClientObject<'_>, ChatError> {
    serde_json::from_slice(text).map_err(|error| match error.classify() {
        // Well-formed JSON whose fields have the wrong type or repeat.
        Category::Data => ChatError::InvalidFields,
        Category::Io | Category::Syntax | Category::Eof => ChatError::MalformedJson,
    })
}

impl ClientObject<'_> {
    /// The account request this object makes, if it has a `type`: `Ok(None)` for a plain
    /// message object, an error for an unknown type or a missing field.
    pub fn account_request(&self) -> Result<Option<AccountRequest<'_>>, ChatError> {
        let Some(kind) = self.kind.as_deref() else {
            return Ok(None);
        };
        match kind {
            "register" | "login" => {
                let username = self.username.as_deref().ok_or(ChatError::MissingUsername)?;
                let password = required(&self.password)?;
                Ok(Some(if kind == "register" {
                    AccountRequest::Register { username, password }
                } else {
                    AccountRequest::Login { username, password }
                }))
            }
            "password" => Ok(Some(AccountRequest::Password {
                old: required(&self.old)?,
                new: required(&self.new)?,
            })),
            _ => Err(ChatError::UnknownType),
        }
    }
}

impl std::fmt::Debug for ClientObject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |value: &Option<Cow<'_, str>>| value.as_ref().map(|_| "<hidden>");
        f.debug_struct("ClientObject")
            .field("kind", &self.kind)
            .field("username", &self.username)
            .field("message", &self.message)
            .field("password", &hidden(&self.password))
            .field("old", &hidden(&self.old))
            .field("new", &hidden(&self.new))
            .finish()
    }
}

/// Appends a client's object: `{"username": ..}` to join, with `"message"` to speak.
pub fn encode_client_object(username: &str, message: Option<&str>, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct Wire<'a> {
        username: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<&'a str>,
    }
    write_line(&Wire { username, message }, out);
}

/// Appends a client's account object (issue 14): register, login or password change.
pub fn encode_account_request(request: &AccountRequest<'_>, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct Wire<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        username: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        password: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        old: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        new: Option<&'a str>,
    }
    let wire = match *request {
        AccountRequest::Register { username, password } => Wire {
            kind: "register",
            username: Some(username),
            password: Some(password),
            old: None,
            new: None,
        },
        AccountRequest::Login { username, password } => Wire {
            kind: "login",
            username: Some(username),
            password: Some(password),
            old: None,
            new: None,
        },
        AccountRequest::Password { old, new } => Wire {
            kind: "password",
            username: None,
            password: None,
            old: Some(old),
            new: Some(new),
        },
    };
    write_line(&wire, out);
}

/// Appends a message line; `history` marks it as replayed to a newcomer; `time` is when the
/// server received it (UTC, RFC 3339), left out when `None`.
pub fn encode_message(
    username: &str,
    message: &str,
    history: bool,
    time: Option<&str>,
    out: &mut Vec<u8>,
) {
    #[derive(Serialize)]
    struct Wire<'a> {
        username: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        history: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        time: Option<&'a str>,
    }
    write_line(
        &Wire {
            username,
            message,
            history,
            time,
        },
        out,
    );
}

/// Appends the answer to a successful register or login: `{"type":"welcome","username":..}`.
pub fn encode_welcome(username: &str, out: &mut Vec<u8>) {
    write_announcement("welcome", username, out);
}

/// Appends a join announcement.
pub fn encode_join(username: &str, out: &mut Vec<u8>) {
    write_announcement("join", username, out);
}

/// Appends a leave announcement.
pub fn encode_leave(username: &str, out: &mut Vec<u8>) {
    write_announcement("leave", username, out);
}

/// Appends a batch of join announcements: `usernames` in the order they joined, then `others`
/// more, not named (`"others"` is left out when 0).
pub fn encode_joins(usernames: &[&str], others: usize, out: &mut Vec<u8>) {
    write_batch("joins", usernames, others, out);
}

/// Appends a batch of leave announcements: `usernames` in the order they left, then `others`
/// more, not named.
pub fn encode_leaves(usernames: &[&str], others: usize, out: &mut Vec<u8>) {
    write_batch("leaves", usernames, others, out);
}

/// How many bytes `text` takes as a JSON string in a line, quotes included: what a name adds
/// to a batch line (and one more for its comma).
pub fn json_string_len(text: &str) -> usize {
    let mut out = Vec::with_capacity(text.len() + 2);
    // As in `write_line`: serializing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, text);
    out.len()
}

/// Appends an error line with `text` as its reason.
pub fn encode_error(text: &str, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct Wire<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        error: &'a str,
    }
    write_line(
        &Wire {
            kind: "error",
            error: text,
        },
        out,
    );
}

/// Appends the one line a client beyond the server's connection limit (`limit` clients) gets
/// before its connection is closed: an error line, so every client shows it like any refusal.
pub fn encode_server_full(limit: usize, out: &mut Vec<u8>) {
    encode_error(
        &format!("the server is full ({limit} clients); try again later"),
        out,
    );
}

/// Appends any server line.
pub fn encode_server_line(line: &ServerLine, out: &mut Vec<u8>) {
    match line {
        ServerLine::Message {
            username,
            message,
            history,
            time,
        } => encode_message(username, message, *history, time.as_deref(), out),
        ServerLine::Welcome { username } => encode_welcome(username, out),
        ServerLine::Join { username } => encode_join(username, out),
        ServerLine::Leave { username } => encode_leave(username, out),
        ServerLine::Joins { usernames, others } => {
            encode_joins(&borrowed(usernames), to_usize(*others), out)
        }
        ServerLine::Leaves { usernames, others } => {
            encode_leaves(&borrowed(usernames), to_usize(*others), out)
        }
        ServerLine::Error { error } => encode_error(error, out),
    }
}

/// Reads one line the server sent. An error line without `"type"` (`{"error": ".."}`) is read
/// as an error too; unknown fields are ignored.
pub fn decode_server_line(text: &[u8]) -> Result<ServerLine, ChatError> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(rename = "type", default)]
        kind: Option<String>,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        history: Option<bool>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        usernames: Option<Vec<String>>,
        #[serde(default)]
        others: u64,
        #[serde(default)]
        time: Option<String>,
    }
    let wire: Wire = serde_json::from_slice(text).map_err(|_| ChatError::UnreadableServerLine)?;
    match (
        wire.kind.as_deref(),
        wire.username,
        wire.message,
        wire.error,
    ) {
        (Some("join"), Some(username), _, _) => Ok(ServerLine::Join { username }),
        (Some("welcome"), Some(username), _, _) => Ok(ServerLine::Welcome { username }),
        (Some("leave"), Some(username), _, _) => Ok(ServerLine::Leave { username }),
        (Some("joins"), _, _, _) => match wire.usernames {
            Some(usernames) => Ok(ServerLine::Joins {
                usernames,
                others: wire.others,
            }),
            None => Err(ChatError::UnreadableServerLine),
        },
        (Some("leaves"), _, _, _) => match wire.usernames {
            Some(usernames) => Ok(ServerLine::Leaves {
                usernames,
                others: wire.others,
            }),
            None => Err(ChatError::UnreadableServerLine),
        },
        (Some("error") | None, _, None, Some(error)) => Ok(ServerLine::Error { error }),
        (None, Some(username), Some(message), None) => Ok(ServerLine::Message {
            username,
            message,
            history: wire.history.unwrap_or(false),
            time: wire.time,
        }),
        _ => Err(ChatError::UnreadableServerLine),
    }
}

fn required<'a>(value: &'a Option<Cow<'_, str>>) -> Result<&'a str, ChatError> {
    value.as_deref().ok_or(ChatError::MissingField)
}

fn write_announcement(kind: &str, username: &str, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct Wire<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        username: &'a str,
    }
    write_line(&Wire { kind, username }, out);
}

fn write_batch(kind: &str, usernames: &[&str], others: usize, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct Wire<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        usernames: &'a [&'a str],
        #[serde(skip_serializing_if = "is_zero")]
        others: usize,
    }
    write_line(
        &Wire {
            kind,
            usernames,
            others,
        },
        out,
    );
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A count read from a peer, as a count to write; saturates on 32-bit targets.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn borrowed(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

fn write_line(value: &impl Serialize, out: &mut Vec<u8>) {
    // Serializing structs of strings and bools into a Vec cannot fail: serde_json errs only on
    // I/O errors (a Vec has none) and on non-string map keys (these are structs).
    let _ = serde_json::to_writer(&mut *out, value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests;
