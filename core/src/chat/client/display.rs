//! How the terminal client shows what others say: names escaped and coloured, batches of joins
//! and leaves as one short phrase, the server's time as `[HH:MM]`. Pure text; no state but the
//! client's own name and whether the output is a terminal.

use super::{ChatClient, State};

impl ChatClient {
    /// A batch of names (and `unnamed` more) as one short phrase ("ann, bob and cid", "ann,
    /// bob, cid, dan, eve and 95 others"), leaving out this client's own name (it was told its
    /// join apart); `None` when nobody else is in it.
    pub(super) fn others(&self, usernames: &[String], unnamed: u64) -> Option<String> {
        let mine = match &self.state {
            State::Joining { username } | State::Joined { username } => Some(username.as_str()),
            State::AskingName | State::AwaitingPassword { .. } | State::Ended(_) => None,
        };
        let others: Vec<String> = usernames
            .iter()
            .filter(|name| Some(name.as_str()) != mine)
            .map(|name| escaped(name))
            .collect();
        let count = |shown: usize| (others.len() - shown) as u64 + unnamed;
        let (last, shown) = match (others.len(), unnamed) {
            (0, 0) => return None,
            (1, 0) => return others.into_iter().next(),
            (0, n) => return Some(more(n)),
            (n, 0) if n <= MAX_NAMES_SHOWN + 1 => (others[n - 1].clone(), &others[..n - 1]),
            (n, _) if n <= MAX_NAMES_SHOWN => (more(count(n)), &others[..]),
            _ => (more(count(MAX_NAMES_SHOWN)), &others[..MAX_NAMES_SHOWN]),
        };
        Some(format!("{} and {last}", shown.join(", ")))
    }

    /// `name` as shown: escaped, and in its colour when the output is a terminal.
    pub(super) fn name(&self, name: &str) -> String {
        if !self.colour {
            return escaped(name);
        }
        // FNV-1a: the same name gets the same colour in every client, without a hash seed.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        let colour = COLOURS[(hash % COLOURS.len() as u64) as usize];
        format!("\x1b[{colour}m{}\x1b[0m", escaped(name))
    }
}

/// "1 other", "12 others".
fn more(count: u64) -> String {
    match count {
        1 => "1 other".to_string(),
        n => format!("{n} others"),
    }
}

/// `text` with control characters escaped, so it prints on one line and moves no cursor.
pub(super) fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `[HH:MM] ` from a server time (`2026-12-05T17:20:00Z`); `None` for a text of another shape.
pub(super) fn clock(time: &str) -> Option<String> {
    let hours = time.get(11..13)?;
    let minutes = time.get(14..16)?;
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    (time.get(13..14) == Some(":") && digits(hours) && digits(minutes))
        .then(|| format!("[{hours}:{minutes}] "))
}

/// SGR foreground colours for names: the six that read on dark and light backgrounds alike
/// (red, green, yellow, blue, magenta, cyan), in their plain form.
const COLOURS: [u8; 6] = [31, 32, 33, 34, 35, 36];
/// A batch of joins or leaves names at most this many people (six when that is all); the rest
/// are counted.
const MAX_NAMES_SHOWN: usize = 5;
