//! The chat system (SPEC "Chat server (port 7072) and client"), as sans-io machines.
//!
//! - [`framing`]: cuts a byte stream into JSON objects, one per line or back to back.
//! - [`wire`]: the JSON lines both ways: what a client sends, what the server sends back.
//! - [`hub`]: [`ChatHub`], the whole room on the server: clients connect, send and leave; it
//!   says what lines each client gets, when each is closed and why.
//! - [`line`]: [`Line`], one encoded server line, shared by every client it goes to.
//! - [`client`]: [`ChatClient`], the terminal client's logic: typed lines in, JSON out; server
//!   lines in, text to print out.
//! - [`web`]: [`WebChatConn`], a connection of the chat's web port (`--web`): the page, and
//!   WebSockets that join the same room.
//!
//! This module owns the rules both sides share: what a valid username is ([`check_username`]),
//! the errors a peer can cause ([`ChatError`]) and the limits. It never touches a socket or a
//! terminal; the shells move the bytes.

pub mod accounts;
pub mod client;
pub mod client_id;
pub mod cluster;
pub mod flood;
pub mod framing;
pub mod hub;
pub mod line;
pub mod peer;
pub mod record;
pub mod web;
pub mod wire;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use accounts::{AccountOutcome, AccountWork, AccountsMode, Secret};
pub use client::{ChatClient, ClientEnd, ClientEvent};
pub use client_id::{ClientId, ClientIdHasher, ClientMap};
pub use framing::ObjectFramer;
pub use hub::{ChatEvent, ChatHub, Close, CloseReason, Transmit};
pub use line::Line;
pub use peer::Peer;
pub use record::SaidMessage;
pub use web::{WebChatConfig, WebChatConn, WebChatEvent};

/// Limits and timeouts of a chat room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatConfig {
    /// How many recent messages a newcomer is sent; 0 sends none.
    pub history: usize,
    /// The longest JSON object a client may send, in bytes.
    pub max_line: usize,
    /// How far a client may fall behind before it is disconnected as too slow: the bytes of
    /// room lines the room keeps for clients that have not taken them (one log for everyone),
    /// and the bytes of its own lines (errors) that may wait for one client.
    pub max_queue: usize,
    /// A client that sends nothing (not even an empty line) for this long is disconnected.
    pub idle_timeout: Duration,
    /// How long a disconnected client's last bytes may take to reach it (see [`Close`]).
    pub close_linger: Duration,
    /// In a room of more than this many clients, joins and leaves are announced in batches.
    pub announce_limit: usize,
    /// How often a room that batches announcements sends a batch.
    pub announce_interval: Duration,
    /// A client is handed output at most once per this interval; what arrives meanwhile goes
    /// out in the same write. Zero hands out everything at once.
    pub write_interval: Duration,
    /// Whether the room has accounts and insists on them (`--accounts`).
    pub accounts: AccountsMode,
    /// Logins (and password changes) over a connection that is neither TLS nor from this
    /// machine are accepted (`--allow-insecure-login`); otherwise refused, so passwords do not
    /// cross a network in clear.
    pub allow_insecure_login: bool,
    /// How fast one connection may send objects (`None`: as fast as it likes).
    pub flood: Option<flood::Rate>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            history: DEFAULT_HISTORY,
            max_line: MAX_LINE,
            max_queue: DEFAULT_MAX_QUEUE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            close_linger: CLOSE_LINGER,
            announce_limit: DEFAULT_ANNOUNCE_LIMIT,
            announce_interval: ANNOUNCE_INTERVAL,
            write_interval: WRITE_INTERVAL,
            accounts: AccountsMode::default(),
            allow_insecure_login: false,
            flood: flood::Rate::per_second(flood::DEFAULT_BURST, flood::DEFAULT_PER_SECOND),
        }
    }
}

/// Something a chat peer sent that cannot be used. The `Display` text is what the peer is told,
/// in an error line; the connection stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatError {
    /// A JSON object longer than the line limit.
    LineTooLong,
    /// Not a JSON object, or a line that ended inside one.
    MalformedJson,
    /// `username` or `message` is not a string, or is given twice.
    InvalidFields,
    /// No `username` field.
    MissingUsername,
    /// No `message` field, after the username was claimed.
    MissingMessage,
    /// An empty or all-blank username.
    BlankUsername,
    /// A username over [`MAX_USERNAME_CHARS`] characters.
    UsernameTooLong,
    /// A username with a control character (a newline, an escape sequence).
    UsernameControlCharacter,
    /// A username that starts or ends with whitespace, so it could pass for another.
    UsernameEdgeWhitespace,
    /// A username another connected client holds.
    UsernameTaken,
    /// A username other than the one this client claimed.
    UsernameChanged,
    /// An empty or all-blank message.
    BlankMessage,
    /// A line from the server the client cannot read.
    UnreadableServerLine,
    /// An account object without a field its type needs (`password`, `old`, `new`).
    MissingField,
    /// A `type` the server does not know.
    UnknownType,
    /// An account name over [`accounts::MAX_ACCOUNT_NAME_CHARS`] characters.
    AccountNameTooLong,
    /// A new password shorter or longer than the rules allow.
    PasswordLength,
    /// An account object on a server run with `--accounts off`.
    AccountsOff,
    /// A login with an unknown name or a wrong password: the same answer for both, so nobody
    /// learns which names exist by guessing.
    LoginFailed,
    /// A guest asked for a name someone registered.
    NameRegistered,
    /// Registering a name that is registered already.
    NameAlreadyRegistered,
    /// Anything but register or login before logging in, on a server with `--accounts
    /// required`.
    LoginRequired,
    /// Register or login after the client joined under a name.
    AlreadyJoined,
    /// A password change before logging in.
    NotLoggedIn,
    /// Another account object while the last one is still being answered.
    RequestPending,
    /// A login over a connection neither TLS nor local, without `--allow-insecure-login`.
    InsecureLogin,
    /// Too many failed logins from this address: it waits out a lockout.
    TooManyAttempts,
    /// Too many new accounts from this address lately.
    TooManyRegistrations,
    /// Objects faster than the flood limit.
    TooFast,
    /// The server had no room to check a password now, or could not store the account.
    AccountsUnavailable,
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChatError::LineTooLong => "the line is longer than 16 KiB",
            ChatError::MalformedJson => {
                "expected one JSON object per line, like {\"username\": \"ann\", \"message\": \"hi\"}"
            }
            ChatError::InvalidFields => "username and message must each be a string, given once",
            ChatError::MissingUsername => "the username field is missing",
            ChatError::MissingMessage => "the message field is missing",
            ChatError::BlankUsername => "the username is empty",
            ChatError::UsernameTooLong => "the username is longer than 100 characters",
            ChatError::UsernameControlCharacter => "the username has a control character",
            ChatError::UsernameEdgeWhitespace => "the username starts or ends with a space",
            ChatError::UsernameTaken => "that username is taken by someone connected",
            ChatError::UsernameChanged => "you cannot change your username while connected",
            ChatError::BlankMessage => "the message is empty",
            ChatError::UnreadableServerLine => "the server sent a line this client cannot read",
            ChatError::MissingField => "a field this request needs is missing",
            ChatError::UnknownType => {
                "unknown type; expected \"register\", \"login\" or \"password\""
            }
            ChatError::AccountNameTooLong => "an account name is at most 32 characters",
            ChatError::PasswordLength => "a password is 8 to 1024 bytes long",
            ChatError::AccountsOff => "this server has no accounts",
            ChatError::LoginFailed => "wrong username or password",
            ChatError::NameRegistered => "that username is registered; log in to use it",
            ChatError::NameAlreadyRegistered => "that username is registered already",
            ChatError::LoginRequired => "this server needs you to register or log in first",
            ChatError::AlreadyJoined => "you already chose a name; reconnect to log in",
            ChatError::NotLoggedIn => "log in before changing your password",
            ChatError::RequestPending => "wait for the answer to your last request",
            ChatError::InsecureLogin => {
                "passwords are accepted only over TLS or from this machine"
            }
            ChatError::TooManyAttempts => "too many failed logins; try again later",
            ChatError::TooManyRegistrations => "too many new accounts from your address; try later",
            ChatError::TooFast => "too many messages too fast; this one was not sent",
            ChatError::AccountsUnavailable => "the server cannot check accounts now; try again",
        })
    }
}

/// Checks a username against the rules of the room: not blank, at most
/// [`MAX_USERNAME_CHARS`] characters, no control characters, no whitespace at either end.
pub fn check_username(name: &str) -> Result<(), ChatError> {
    if name.trim().is_empty() {
        return Err(ChatError::BlankUsername);
    }
    if name.chars().count() > MAX_USERNAME_CHARS {
        return Err(ChatError::UsernameTooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(ChatError::UsernameControlCharacter);
    }
    if name.trim() != name {
        return Err(ChatError::UsernameEdgeWhitespace);
    }
    Ok(())
}

/// The line `ferry chat` prints once it listens.
pub fn listening_line(address: SocketAddr) -> String {
    format!("chat server listening on tcp://{address}")
}

/// The line `ferry chat` prints after its listening line: how many clients it holds at once
/// (`limit`, from [`crate::limits::connection_limit`]), so whoever runs it knows before a
/// crowd finds out.
pub fn capacity_line(limit: usize) -> String {
    format!(
        "chat server holds at most {limit} clients at once; one more gets an error line and is \
         closed"
    )
}

/// The longest JSON object either side accepts: 16 KiB, as the SPEC's other line-based limits
/// (an HTTP head), is far more than anyone types, and bounds each connection's input buffer.
pub const MAX_LINE: usize = 16 * 1024;
/// The longest username, in characters: the same bound the message web app sets, so a name
/// fits wherever ferry shows one.
pub const MAX_USERNAME_CHARS: usize = 100;
/// Recent messages replayed to a newcomer (the SPEC's `--history` default).
pub const DEFAULT_HISTORY: usize = 20;
/// How far a client may fall behind: 1 MiB is some 10,000 ordinary messages, and many times
/// what a flooding sender brings in between two writes to a reader that keeps up (a shell reads
/// a client 64 KiB at a time), so only a client that really stopped keeping up reaches it. The
/// room keeps one log of this size for all clients, so it costs 1 MiB however many there are.
pub const DEFAULT_MAX_QUEUE: usize = 1024 * 1024;
/// Rooms of more clients than this announce joins and leaves in batches: at 500, a join
/// still costs everyone one line, and a storm of 500 reconnects 250,000 lines, which the
/// server writes in well under a second; beyond it, one line per newcomer per client grows
/// with the square of the room.
pub const DEFAULT_ANNOUNCE_LIMIT: usize = 500;
/// How often a batch of joins and leaves goes out: soon enough to read as "just now", rare
/// enough that a storm of thousands costs each client a line or two per second.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(1);
/// A client gets at most one write per millisecond. A write to a socket costs the server
/// several microseconds whatever it carries (most of it the kernel's work for the peer), so in
/// a busy room gathering the lines of one millisecond into one write saves most of that, while
/// a reader waits at most a millisecond more; a quiet room's lines still go out at once.
pub const WRITE_INTERVAL: Duration = Duration::from_millis(1);
/// A client silent this long is gone in all but name (the issue sets 10 minutes).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// A disconnected client gets this long to take its last bytes: the patience the web app shows
/// a client that takes no byte of its answer (`--write-timeout`). What is owed is at most a
/// queue's worth, which a client that reads at all takes in far less; one that does not read
/// holds its socket and those bytes no longer than this.
pub const CLOSE_LINGER: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        let cases: &[(&str, Result<(), ChatError>)] = &[
            ("ann", Ok(())),
            ("Ann Lee", Ok(())),
            ("été", Ok(())),
            ("", Err(ChatError::BlankUsername)),
            ("  ", Err(ChatError::BlankUsername)),
            (" ann", Err(ChatError::UsernameEdgeWhitespace)),
            ("ann\t", Err(ChatError::UsernameControlCharacter)),
            ("ann ", Err(ChatError::UsernameEdgeWhitespace)),
            ("a\nb", Err(ChatError::UsernameControlCharacter)),
            ("\u{1b}[31mred", Err(ChatError::UsernameControlCharacter)),
        ];
        for (name, expected) in cases {
            assert_eq!(check_username(name), *expected, "{name:?}");
        }
        assert_eq!(check_username(&"é".repeat(100)), Ok(()));
        assert_eq!(
            check_username(&"é".repeat(101)),
            Err(ChatError::UsernameTooLong)
        );
    }

    #[test]
    fn error_texts_are_one_line() {
        use ChatError::*;
        for error in [
            LineTooLong,
            MalformedJson,
            InvalidFields,
            MissingUsername,
            MissingMessage,
            BlankUsername,
            UsernameTooLong,
            UsernameControlCharacter,
            UsernameEdgeWhitespace,
            UsernameTaken,
            UsernameChanged,
            BlankMessage,
            UnreadableServerLine,
            MissingField,
            UnknownType,
            AccountNameTooLong,
            PasswordLength,
            AccountsOff,
            LoginFailed,
            NameRegistered,
            NameAlreadyRegistered,
            LoginRequired,
            AlreadyJoined,
            NotLoggedIn,
            RequestPending,
            InsecureLogin,
            TooManyAttempts,
            TooManyRegistrations,
            TooFast,
            AccountsUnavailable,
        ] {
            let text = error.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{error:?}");
        }
    }

    #[test]
    fn the_capacity_line_names_the_limit_as_the_refusal_does() {
        assert_eq!(
            capacity_line(1024),
            "chat server holds at most 1024 clients at once; one more gets an error line and is \
             closed"
        );
        let mut refusal = Vec::new();
        wire::encode_server_full(1024, &mut refusal);
        assert!(String::from_utf8(refusal)
            .unwrap()
            .contains("(1024 clients)"));
    }

    #[test]
    fn the_line_limit_is_16_kib_as_the_error_says() {
        assert_eq!(MAX_LINE, 16 * 1024);
        assert!(ChatError::LineTooLong.to_string().contains("16 KiB"));
    }
}
