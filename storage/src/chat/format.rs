//! The content of `users.json` and `chat.json`: pure functions over bytes, tested without files.
//!
//! `users.json` is one JSON object, by key: `{"ann": {"name": "Ann", "hash": "$argon2id$..."}}`.
//! `chat.json` is one JSON array of the last messages, oldest first:
//! `[{"username": "ann", "message": "hi", "time": "2026-12-05T17:20:00Z"}]`. Both are written
//! whole (the file layer replaces them atomically), one entry per line so a person can read
//! them; an empty file reads as empty.

use std::collections::BTreeMap;

use ferry_core::chat::accounts::Account;
use ferry_core::chat::SaidMessage;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct UserEntry {
    name: String,
    hash: String,
}

#[derive(Serialize, Deserialize)]
struct MessageEntry {
    username: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time: Option<String>,
}

/// Reads `users.json`.
pub fn decode_users(bytes: &[u8]) -> Result<BTreeMap<String, Account>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(BTreeMap::new());
    }
    let entries: BTreeMap<String, UserEntry> =
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    Ok(entries
        .into_iter()
        .map(|(key, entry)| {
            let account = Account {
                name: entry.name,
                hash: entry.hash,
            };
            (key, account)
        })
        .collect())
}

/// Writes `users.json`.
pub fn encode_users(accounts: &BTreeMap<String, Account>) -> Vec<u8> {
    let mut out = b"{".to_vec();
    for (index, (key, account)) in accounts.iter().enumerate() {
        out.extend_from_slice(if index == 0 { b"\n  " } else { b",\n  " });
        let entry = UserEntry {
            name: account.name.clone(),
            hash: account.hash.clone(),
        };
        push_json(&mut out, key);
        out.extend_from_slice(b": ");
        push_json(&mut out, &entry);
    }
    out.extend_from_slice(b"\n}\n");
    out
}

/// Reads `chat.json`.
pub fn decode_history(bytes: &[u8]) -> Result<Vec<SaidMessage>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let entries: Vec<MessageEntry> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    Ok(entries
        .into_iter()
        .map(|entry| SaidMessage {
            username: entry.username,
            message: entry.message,
            time: entry.time,
        })
        .collect())
}

/// Writes `chat.json`.
pub fn encode_history<'a>(messages: impl IntoIterator<Item = &'a SaidMessage>) -> Vec<u8> {
    let mut out = b"[".to_vec();
    for (index, said) in messages.into_iter().enumerate() {
        out.extend_from_slice(if index == 0 { b"\n  " } else { b",\n  " });
        let entry = MessageEntry {
            username: said.username.clone(),
            message: said.message.clone(),
            time: said.time.clone(),
        };
        push_json(&mut out, &entry);
    }
    out.extend_from_slice(b"\n]\n");
    out
}

fn push_json(out: &mut Vec<u8>, value: &impl Serialize) {
    // Strings and structs of strings into a Vec: serde_json cannot fail on these.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn files_have_the_documented_shape() {
        let mut accounts = BTreeMap::new();
        accounts.insert(
            "ann".to_string(),
            Account {
                name: "Ann".into(),
                hash: "$argon2id$x".into(),
            },
        );
        assert_eq!(
            String::from_utf8(encode_users(&accounts)).unwrap(),
            "{\n  \"ann\": {\"name\":\"Ann\",\"hash\":\"$argon2id$x\"}\n}\n"
        );
        let said = SaidMessage {
            username: "ann".into(),
            message: "hi".into(),
            time: Some("2026-12-05T17:20:00Z".into()),
        };
        assert_eq!(
            String::from_utf8(encode_history([&said])).unwrap(),
            "[\n  {\"username\":\"ann\",\"message\":\"hi\",\"time\":\"2026-12-05T17:20:00Z\"}\n]\n"
        );
        assert_eq!(decode_users(b"").unwrap().len(), 0);
        assert_eq!(decode_history(b" \n").unwrap().len(), 0);
        assert_eq!(encode_users(&BTreeMap::new()), b"{\n}\n");
        assert!(decode_users(b"{\"ann\": 1}").is_err());
        assert!(decode_history(b"[{\"username\":\"a\"").is_err());
    }

    proptest! {
        #[test]
        fn both_files_read_back_what_was_written(
            names in prop::collection::btree_map(".{0,8}", (".{0,8}", ".{0,20}"), 0..5),
            messages in prop::collection::vec((".{0,8}", ".{0,20}", proptest::option::of(".{0,8}")), 0..5),
        ) {
            let accounts: BTreeMap<String, Account> = names
                .into_iter()
                .map(|(key, (name, hash))| (key, Account { name, hash }))
                .collect();
            let again = decode_users(&encode_users(&accounts)).unwrap();
            prop_assert_eq!(again, accounts);
            let said: Vec<SaidMessage> = messages
                .into_iter()
                .map(|(username, message, time)| SaidMessage { username, message, time })
                .collect();
            prop_assert_eq!(decode_history(&encode_history(&said)).unwrap(), said);
        }
    }
}
