//! The chat's collections in MongoDB (`--store mongodb://HOST:PORT/DB`): `users`, one document
//! per account `{"key", "name", "hash"}` with a unique index on `key` (the name's compared
//! form), so two servers sharing the database cannot both register one name; and `chat`, one
//! document per message `{"username", "message", "time"}`, read back newest first by `_id`
//! (an ObjectId rises with the time it was made).

use ferry_core::chat::accounts::Account;
use ferry_core::chat::SaidMessage;
use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::sync::Collection;
use mongodb::IndexModel;

use super::{ChatStoreError, HistoryStore, UserStore};
use crate::mongo::connect;
use crate::mongo::outcome::{is_duplicate_key, short_error};

/// Accounts in collection `users`.
pub struct MongoUsers {
    collection: Collection<Document>,
    target: String,
}

/// Recent messages in collection `chat`.
pub struct MongoHistory {
    collection: Collection<Document>,
    target: String,
}

/// Connects to the database `url` names and makes sure `users` has its unique index. Unlike
/// the message store, the chat needs its accounts at start: a server that does not answer is
/// an error.
pub fn open(url: &str) -> Result<(MongoUsers, MongoHistory, String), ChatStoreError> {
    let (db, target) = connect(url).map_err(|e| ChatStoreError(e.to_string()))?;
    let users = db.collection::<Document>(USERS);
    let index = IndexModel::builder()
        .keys(doc! { "key": 1 })
        .options(IndexOptions::builder().unique(true).build())
        .build();
    users
        .create_index(index)
        .run()
        .map_err(|e| failed(&target, &e))?;
    let history = db.collection::<Document>(HISTORY);
    Ok((
        MongoUsers {
            collection: users,
            target: target.clone(),
        },
        MongoHistory {
            collection: history,
            target: target.clone(),
        },
        target,
    ))
}

impl UserStore for MongoUsers {
    fn load(&mut self) -> Result<Vec<(String, Account)>, ChatStoreError> {
        let cursor = self
            .collection
            .find(doc! {})
            .run()
            .map_err(|e| failed(&self.target, &e))?;
        let mut accounts = Vec::new();
        for document in cursor {
            let document = document.map_err(|e| failed(&self.target, &e))?;
            let field = |name: &str| document.get_str(name).map(str::to_owned);
            // A document some other program left without these fields is no account of ours.
            if let (Ok(key), Ok(name), Ok(hash)) = (field("key"), field("name"), field("hash")) {
                accounts.push((key, Account { name, hash }));
            }
        }
        Ok(accounts)
    }

    fn register(&mut self, key: &str, account: &Account) -> Result<bool, ChatStoreError> {
        let document = doc! { "key": key, "name": &account.name, "hash": &account.hash };
        match self.collection.insert_one(document).run() {
            Ok(_) => Ok(true),
            Err(error) => match *error.kind {
                ErrorKind::Write(WriteFailure::WriteError(ref write))
                    if is_duplicate_key(write.code) =>
                {
                    Ok(false)
                }
                _ => Err(failed(&self.target, &error)),
            },
        }
    }

    fn set_hash(&mut self, key: &str, hash: &str) -> Result<(), ChatStoreError> {
        self.collection
            .update_one(doc! { "key": key }, doc! { "$set": { "hash": hash } })
            .run()
            .map(|_| ())
            .map_err(|e| failed(&self.target, &e))
    }
}

impl HistoryStore for MongoHistory {
    fn load(&mut self, limit: usize) -> Result<Vec<SaidMessage>, ChatStoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .collection
            .find(doc! {})
            .sort(doc! { "_id": -1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .run()
            .map_err(|e| failed(&self.target, &e))?;
        let mut messages = Vec::new();
        for document in cursor {
            let document = document.map_err(|e| failed(&self.target, &e))?;
            let (Ok(username), Ok(message)) =
                (document.get_str("username"), document.get_str("message"))
            else {
                continue;
            };
            messages.push(SaidMessage {
                username: username.to_owned(),
                message: message.to_owned(),
                time: document.get_str("time").ok().map(str::to_owned),
            });
        }
        messages.reverse();
        Ok(messages)
    }

    fn append(&mut self, messages: &[SaidMessage], _limit: usize) -> Result<(), ChatStoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let documents = messages.iter().map(|said| {
            let mut document = doc! { "username": &said.username, "message": &said.message };
            if let Some(time) = &said.time {
                document.insert("time", time.as_str());
            }
            document
        });
        self.collection
            .insert_many(documents)
            .run()
            .map(|_| ())
            .map_err(|e| failed(&self.target, &e))
    }
}

fn failed(target: &str, error: &mongodb::error::Error) -> ChatStoreError {
    ChatStoreError(format!(
        "MongoDB at {target}: {}",
        short_error(&error.kind.to_string())
    ))
}

/// The collection of accounts the issue names.
pub const USERS: &str = "users";
/// The collection of the chat's history the issue names.
pub const HISTORY: &str = "chat";
