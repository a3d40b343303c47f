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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn server_lines_have_the_documented_shape() {
        let cases: &[(String, &str)] = &[
            (
                line(|o| encode_message("ann", "hi", false, None, o)),
                "{\"username\":\"ann\",\"message\":\"hi\"}\n",
            ),
            (
                line(|o| encode_message("ann", "hi", true, None, o)),
                "{\"username\":\"ann\",\"message\":\"hi\",\"history\":true}\n",
            ),
            (
                line(|o| encode_message("ann", "hi", true, Some("2026-12-05T17:20:00Z"), o)),
                "{\"username\":\"ann\",\"message\":\"hi\",\"history\":true,\
                 \"time\":\"2026-12-05T17:20:00Z\"}\n",
            ),
            (
                line(|o| encode_welcome("ann", o)),
                "{\"type\":\"welcome\",\"username\":\"ann\"}\n",
            ),
            (
                line(|o| {
                    let request = AccountRequest::Login {
                        username: "ann",
                        password: "secret12",
                    };
                    encode_account_request(&request, o)
                }),
                "{\"type\":\"login\",\"username\":\"ann\",\"password\":\"secret12\"}\n",
            ),
            (
                line(|o| {
                    let request = AccountRequest::Password {
                        old: "a",
                        new: "b",
                    };
                    encode_account_request(&request, o)
                }),
                "{\"type\":\"password\",\"old\":\"a\",\"new\":\"b\"}\n",
            ),
            (
                line(|o| encode_join("ann", o)),
                "{\"type\":\"join\",\"username\":\"ann\"}\n",
            ),
            (
                line(|o| encode_leave("ann", o)),
                "{\"type\":\"leave\",\"username\":\"ann\"}\n",
            ),
            (
                line(|o| encode_joins(&["ann", "bob"], 0, o)),
                "{\"type\":\"joins\",\"usernames\":[\"ann\",\"bob\"]}\n",
            ),
            (
                line(|o| encode_joins(&["ann"], 12, o)),
                "{\"type\":\"joins\",\"usernames\":[\"ann\"],\"others\":12}\n",
            ),
            (
                line(|o| encode_leaves(&["a\"b"], 0, o)),
                "{\"type\":\"leaves\",\"usernames\":[\"a\\\"b\"]}\n",
            ),
            (
                line(|o| encode_error("no", o)),
                "{\"type\":\"error\",\"error\":\"no\"}\n",
            ),
            (
                line(|o| encode_server_full(21, o)),
                "{\"type\":\"error\",\"error\":\"the server is full (21 clients); try again later\"}\n",
            ),
            (
                line(|o| encode_client_object("a\"b", Some("x\ny"), o)),
                "{\"username\":\"a\\\"b\",\"message\":\"x\\ny\"}\n",
            ),
            (
                line(|o| encode_client_object("ann", None, o)),
                "{\"username\":\"ann\"}\n",
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn client_objects_decode_or_say_what_is_wrong() {
        let object = |u: Option<&str>, m: Option<&str>| ClientObject {
            username: u.map(|u| Cow::Owned(u.to_string())),
            message: m.map(|m| Cow::Owned(m.to_string())),
            ..ClientObject::default()
        };
        let cases: &[(&str, Result<ClientObject, ChatError>)] = &[
            (
                r#"{"username":"ann","message":"hi"}"#,
                Ok(object(Some("ann"), Some("hi"))),
            ),
            (r#"{"username":"ann"}"#, Ok(object(Some("ann"), None))),
            (r#"{"message":"hi","x":[1]}"#, Ok(object(None, Some("hi")))),
            (r#"{"username":"\u00e9"}"#, Ok(object(Some("é"), None))),
            ("{}", Ok(object(None, None))),
            (r#"{"username":1}"#, Err(ChatError::InvalidFields)),
            (r#"{"username":null}"#, Ok(object(None, None))),
            (
                r#"{"message":"a","message":"b"}"#,
                Err(ChatError::InvalidFields),
            ),
            (r#"{"username":"ann""#, Err(ChatError::MalformedJson)),
            (r#"{"username" "ann"}"#, Err(ChatError::MalformedJson)),
            ("[1]", Err(ChatError::InvalidFields)),
        ];
        for (text, expected) in cases {
            assert_eq!(&decode_client_object(text.as_bytes()), expected, "{text}");
        }
    }

    #[test]
    fn account_objects_say_what_they_ask_or_what_is_missing() {
        let request = |text: &str| {
            let object = decode_client_object(text.as_bytes()).unwrap();
            let request = object
                .account_request()
                .map(|r| r.map(|r| format!("{r:?}")));
            request
        };
        assert_eq!(request(r#"{"username":"ann","message":"hi"}"#), Ok(None));
        assert_eq!(
            request(r#"{"type":"register","username":"ann","password":"p"}"#),
            Ok(Some(
                r#"Register { username: "ann", password: "p" }"#.to_string()
            ))
        );
        assert_eq!(
            request(r#"{"type":"login","password":"p"}"#),
            Err(ChatError::MissingUsername)
        );
        assert_eq!(
            request(r#"{"type":"login","username":"ann"}"#),
            Err(ChatError::MissingField)
        );
        assert_eq!(
            request(r#"{"type":"password","old":"a","new":"b"}"#),
            Ok(Some(r#"Password { old: "a", new: "b" }"#.to_string()))
        );
        assert_eq!(request(r#"{"type":"dance"}"#), Err(ChatError::UnknownType));
        assert_eq!(
            decode_client_object(br#"{"type":1}"#),
            Err(ChatError::InvalidFields)
        );
        let object = decode_client_object(br#"{"type":"login","password":"hunter22"}"#).unwrap();
        assert!(!format!("{object:?}").contains("hunter22"));
    }

    #[test]
    fn server_full_reads_back_as_an_error_line() {
        let mut out = Vec::new();
        encode_server_full(1024, &mut out);
        let text = out.strip_suffix(b"\n").expect("one line");
        assert_eq!(
            decode_server_line(text),
            Ok(ServerLine::Error {
                error: "the server is full (1024 clients); try again later".into()
            })
        );
    }

    #[test]
    fn server_lines_decode_including_a_bare_error() {
        let cases: &[(&str, Result<ServerLine, ChatError>)] = &[
            (
                r#"{"error":"no"}"#,
                Ok(ServerLine::Error { error: "no".into() }),
            ),
            (
                r#"{"username":"a","message":"b","history":false}"#,
                Ok(ServerLine::Message {
                    username: "a".into(),
                    message: "b".into(),
                    history: false,
                    time: None,
                }),
            ),
            (r#"{"type":"join"}"#, Err(ChatError::UnreadableServerLine)),
            (
                r#"{"type":"dance","username":"a"}"#,
                Err(ChatError::UnreadableServerLine),
            ),
            (r#"{"username":"a"}"#, Err(ChatError::UnreadableServerLine)),
            (r#"{"type":"joins"}"#, Err(ChatError::UnreadableServerLine)),
            (
                r#"{"type":"leaves","usernames":[]}"#,
                Ok(ServerLine::Leaves {
                    usernames: vec![],
                    others: 0,
                }),
            ),
            ("nonsense", Err(ChatError::UnreadableServerLine)),
        ];
        for (text, expected) in cases {
            assert_eq!(&decode_server_line(text.as_bytes()), expected, "{text}");
        }
    }

    fn server_line() -> impl Strategy<Value = ServerLine> {
        prop_oneof![
            (".*", ".*", any::<bool>(), proptest::option::of(".*")).prop_map(
                |(username, message, history, time)| ServerLine::Message {
                    username,
                    message,
                    history,
                    time,
                }
            ),
            ".*".prop_map(|username| ServerLine::Welcome { username }),
            ".*".prop_map(|username| ServerLine::Join { username }),
            ".*".prop_map(|username| ServerLine::Leave { username }),
            (prop::collection::vec(".*", 0..5), 0u64..1_000_000)
                .prop_map(|(usernames, others)| ServerLine::Joins { usernames, others }),
            (prop::collection::vec(".*", 0..5), 0u64..1_000_000)
                .prop_map(|(usernames, others)| ServerLine::Leaves { usernames, others }),
            ".*".prop_map(|error| ServerLine::Error { error }),
        ]
    }

    proptest! {
        #[test]
        fn server_lines_round_trip(line in server_line()) {
            let mut out = Vec::new();
            encode_server_line(&line, &mut out);
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert_eq!(out.last(), Some(&b'\n'));
            prop_assert_eq!(decode_server_line(&out[..out.len() - 1]), Ok(line));
        }

        #[test]
        fn a_json_string_is_as_long_as_json_string_len_says(text in ".*") {
            let mut with = Vec::new();
            encode_joins(&[text.as_str()], 0, &mut with);
            let mut without = Vec::new();
            encode_joins(&[], 0, &mut without);
            prop_assert_eq!(with.len() - without.len(), json_string_len(&text));
        }

        #[test]
        fn account_objects_round_trip(username in ".*", password in ".*", kind in 0..3u8) {
            let request = match kind {
                0 => AccountRequest::Register { username: &username, password: &password },
                1 => AccountRequest::Login { username: &username, password: &password },
                _ => AccountRequest::Password { old: &username, new: &password },
            };
            let mut out = Vec::new();
            encode_account_request(&request, &mut out);
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            let decoded = decode_client_object(&out[..out.len() - 1]).unwrap();
            prop_assert_eq!(decoded.account_request(), Ok(Some(request)));
        }

        #[test]
        fn client_objects_round_trip(username in ".*", message in proptest::option::of(".*")) {
            let mut out = Vec::new();
            encode_client_object(&username, message.as_deref(), &mut out);
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            let decoded = decode_client_object(&out[..out.len() - 1]).unwrap();
            prop_assert_eq!(decoded.username.as_deref(), Some(username.as_str()));
            prop_assert_eq!(decoded.message.as_deref(), message.as_deref());
        }
    }
}
