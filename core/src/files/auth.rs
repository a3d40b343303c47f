//! Who may read and write: HTTP Basic credentials (RFC 7617), the password file `--auth` names,
//! and which requests need credentials at all.
//!
//! Owns parsing the `Authorization` header (its base64 included), the password file's format
//! (`user:$argon2id$...` lines, which `ferry passwd` writes), the 401 answer, and the rule for
//! writes without credentials. Checking a password against its hash is the shell's, on threads
//! of its own (it costs tens of milliseconds and megabytes); so is the clock. Never holds a
//! password longer than the request that carried it, and never formats one.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use crate::http::{Body, Response};

/// Which requests need credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthScope {
    /// No `--auth`: nobody is asked.
    #[default]
    Off,
    /// `--auth`: PUT and DELETE need credentials.
    Writes,
    /// `--auth --auth-read`: every request does (the health check excepted).
    Everything,
}

/// A user name and password from an `Authorization: Basic` header. Its `Debug` hides the
/// password, so no log or panic message can print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// The users of a password file and their hashes (PHC strings).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PasswordTable {
    users: HashMap<String, String>,
}

/// Why a password file cannot be used, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordFileError {
    pub line: usize,
    pub reason: &'static str,
}

impl PasswordTable {
    /// Reads a password file: one `user:hash` per line; blank lines and lines starting with `#`
    /// are skipped. Every hash must be an Argon2id PHC string; a user may appear once.
    pub fn parse(text: &str) -> Result<PasswordTable, PasswordFileError> {
        let mut users = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason| PasswordFileError {
                line: index + 1,
                reason,
            };
            let (user, hash) = line.split_once(':').ok_or(error("not a user:hash line"))?;
            check_user(user).map_err(error)?;
            if !hash.starts_with(ARGON2ID_PREFIX) || hash.contains(char::is_whitespace) {
                return Err(error("the hash is not an Argon2id hash ($argon2id$...)"));
            }
            if users.insert(user.to_owned(), hash.to_owned()).is_some() {
                return Err(error("this user is named twice"));
            }
        }
        Ok(PasswordTable { users })
    }

    /// The hash of `user`, if the file names them.
    pub fn hash_of(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// Every hash in the file, for the shell to check it can read them all at start.
    pub fn hashes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.users.iter().map(|(u, h)| (u.as_str(), h.as_str()))
    }

    /// How many users the file names.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file names nobody.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl fmt::Display for PasswordFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Whether a user name can be written to a password file and sent in a Basic header: 1 to 64
/// characters, no `:` (the separator in both), no whitespace or control characters.
pub fn check_user(user: &str) -> Result<(), &'static str> {
    if user.is_empty() {
        return Err("the user name is empty");
    }
    if user.chars().count() > MAX_USER_CHARS {
        return Err("the user name is longer than 64 characters");
    }
    if user.contains(':') {
        return Err("the user name holds a ':'");
    }
    if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the user name holds a space or a control character");
    }
    Ok(())
}

/// The password file `text` with `user`'s line set to `hash`: replaced where it was, appended
/// otherwise; every other line kept as it is.
pub fn with_user(text: &str, user: &str, hash: &str) -> String {
    let mut out = String::with_capacity(text.len() + user.len() + hash.len() + 2);
    let mut replaced = false;
    for line in text.lines() {
        let names_user = line
            .split_once(':')
            .is_some_and(|(name, _)| name == user && !line.starts_with('#'));
        if names_user {
            if !replaced {
                out.push_str(&format!("{user}:{hash}\n"));
                replaced = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !replaced {
        out.push_str(&format!("{user}:{hash}\n"));
    }
    out
}

/// Reads an `Authorization` value: `Basic` (any case), then base64 of `user:password` in UTF-8.
/// `None` for any other scheme or anything malformed; the request then counts as sent without
/// credentials.
pub fn parse_basic(value: &str) -> Option<Credentials> {
    let value = value.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = decode_base64(token.trim_start())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(Credentials {
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

/// Standard base64 (RFC 4648 §4) with `=` padding, which may be left out; `None` for any
/// other character, a misplaced `=`, or bits left over that a proper encoder never leaves.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let data = match bytes.iter().position(|&b| b == b'=') {
        Some(at) => {
            let padding = &bytes[at..];
            if padding.len() > 2
                || padding.iter().any(|&b| b != b'=')
                || !bytes.len().is_multiple_of(4)
            {
                return None;
            }
            &bytes[..at]
        }
        None => bytes,
    };
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in data {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            // The byte is the top eight of the bits held; the mask keeps it in range.
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    // RFC 4648 §3.5: the bits past the last byte must be zero.
    if buffer & ((1 << bits) - 1) != 0 {
        return None;
    }
    Some(out)
}

/// Standard base64 with padding: the inverse of [`decode_base64`], for clients and tests.
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The answer to a request that needs credentials and brought none that hold. The same for a
/// missing header, an unknown user and a wrong password, so nothing tells which it was.
pub fn unauthorized() -> Response {
    let body = b"<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
                 <title>401 Unauthorized</title></head>\n<body>\n<h1>401 Unauthorized</h1>\n\
                 <p>This needs a user name and password.</p>\n</body>\n</html>\n";
    Response::new(401)
        .with_body("text/html; charset=utf-8", Body::Shared(body[..].into()))
        .with_header("WWW-Authenticate", CHALLENGE)
        .with_header("Cache-Control", "no-store")
}

/// Whether a server without `--auth` takes writes from anyone: only where nobody else can
/// reach it (bound to a loopback address), unless the operator said otherwise.
pub fn anonymous_writes_allowed(bound: IpAddr, allow_anonymous_writes: bool) -> bool {
    allow_anonymous_writes || bound.is_loopback()
}

/// The line a server prints at start (on stderr) about anonymous writes beyond loopback, or
/// `None` when there is nothing to say: a warning when anyone on the network may write, a note
/// when writes are refused for want of `--auth`, so an operator who sees 403s knows why.
pub fn anonymous_writes_notice(
    bound: IpAddr,
    scope: AuthScope,
    read_only: bool,
    allow_anonymous_writes: bool,
) -> Option<String> {
    if scope != AuthScope::Off || read_only || bound.is_loopback() {
        return None;
    }
    Some(if allow_anonymous_writes {
        format!(
            "warning: anyone who can reach {bound} may upload and delete files \
             (--allow-anonymous-writes without --auth)"
        )
    } else {
        format!(
            "note: uploads and deletions are refused (403): the server listens on {bound}, \
             beyond loopback, without --auth; give --auth FILE, or --allow-anonymous-writes"
        )
    })
}

/// The challenge of every 401 (RFC 7617 §2.1): one realm for the whole server, UTF-8 names.
pub const CHALLENGE: &str = "Basic realm=\"ferry\", charset=\"UTF-8\"";
/// How every hash in a password file starts: Argon2id, the variant OWASP recommends.
pub const ARGON2ID_PREFIX: &str = "$argon2id$";
/// Long enough for any real name or e-mail address, short enough to keep lines readable.
const MAX_USER_CHARS: usize = 64;

#[cfg(test)]
mod tests;
