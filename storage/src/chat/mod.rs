//! The chat's store (issue 14): registered accounts and the history that survives a restart,
//! in two JSON files (`users.json`, `chat.json`) in a folder or in two MongoDB collections
//! (`users`, `chat`), as `--store` names.
//!
//! Owns the contract both backends meet ([`UserStore`], [`HistoryStore`]) and which backend a
//! location opens ([`open`]). The files' content is pure functions over bytes ([`format`]);
//! [`file`] makes the system calls (every change an atomic replace, never a torn file);
//! [`mongo`] talks to the server. What is a valid name or password, and who may register, is
//! the core's; a store only keeps what it is given and says whether a name was free.

pub mod file;
pub mod format;
pub mod mongo;

use std::fmt;

use ferry_core::chat::accounts::Account;
use ferry_core::chat::SaidMessage;

use crate::location::StoreLocation;

/// Where the chat's accounts live.
pub trait UserStore {
    /// Every account, by key (the name's compared form).
    fn load(&mut self) -> Result<Vec<(String, Account)>, ChatStoreError>;

    /// Stores a new account under `key`: `Ok(false)` when the store holds `key` already.
    fn register(&mut self, key: &str, account: &Account) -> Result<bool, ChatStoreError>;

    /// Replaces the password hash of the account under `key`.
    fn set_hash(&mut self, key: &str, hash: &str) -> Result<(), ChatStoreError>;
}

/// Where the chat's recent messages live.
pub trait HistoryStore {
    /// The last `limit` messages, oldest first.
    fn load(&mut self, limit: usize) -> Result<Vec<SaidMessage>, ChatStoreError>;

    /// Adds `messages` (oldest first); only the last `limit` need to be kept.
    fn append(&mut self, messages: &[SaidMessage], limit: usize) -> Result<(), ChatStoreError>;
}

/// The chat's two stores, opened.
pub struct ChatStores {
    pub users: Box<dyn UserStore + Send>,
    pub history: Box<dyn HistoryStore + Send>,
    /// Where they are, for the start-up line (no credentials).
    pub target: String,
}

/// Why the chat's store failed: one line naming the store and the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatStoreError(pub String);

impl fmt::Display for ChatStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChatStoreError {}

/// Opens the chat's stores at `location`: a folder for `users.json` and `chat.json` (created
/// when missing), or a MongoDB database.
pub fn open(location: &StoreLocation) -> Result<ChatStores, ChatStoreError> {
    match location {
        StoreLocation::File(folder) => {
            let users = file::FileUsers::open(&folder.join(USERS_FILE))?;
            let history = file::FileHistory::open(&folder.join(HISTORY_FILE))?;
            Ok(ChatStores {
                users: Box::new(users),
                history: Box::new(history),
                target: folder.display().to_string(),
            })
        }
        StoreLocation::MongoDb(url) => {
            let (users, history, target) = mongo::open(url)?;
            Ok(ChatStores {
                users: Box::new(users),
                history: Box::new(history),
                target,
            })
        }
    }
}

/// The folder `ferry chat` keeps its files in unless told: the one the message store uses.
pub const DEFAULT_FOLDER: &str = "storage";
/// The accounts file in that folder.
pub const USERS_FILE: &str = "users.json";
/// The history file in that folder.
pub const HISTORY_FILE: &str = "chat.json";
