//! `MongoStore`: the thin layer that talks to a MongoDB server for the socket server, one
//! document per message in collection `messages` (`--store mongodb://HOST:PORT/DB`).
//!
//! Owns the driver client and the order of calls: one unordered `insert_many` per batch, with
//! write concern majority and journaled unless the URL names its own. What a document holds is
//! [`document`]'s; what an answer means and when to try again is [`outcome`]'s. A batch that
//! fails is tried again with a backoff for up to [`outcome::RETRY_WINDOW`], then reported as not
//! stored: the socket server keeps running, acknowledges nothing, and the web app answers 503
//! or, over UDP, retransmits (a later batch). While the server stays down, a batch whose next
//! try is not due within the window fails at once. Never decides what is acknowledged: it only
//! says stored or not.

pub mod document;
pub mod outcome;

use std::thread;
use std::time::{Duration, Instant};

use ferry_core::datagram::MessageId;
use ferry_core::Message;
use mongodb::bson::doc;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::Document;
use mongodb::error::ErrorKind;
use mongodb::options::{Acknowledgment, ClientOptions, WriteConcern};
use mongodb::sync::{Client, Collection, Database};
use time::OffsetDateTime;

use crate::backend::MessageStore;
use crate::file::StoreError;
use document::{document_key, message_document};
use outcome::{batch_outcome, short_error, Backoff, WriteFailure, RETRY_WINDOW};

/// A MongoDB collection of messages, reached through the official driver's blocking API.
pub struct MongoStore {
    collection: Collection<Document>,
    /// The server and database without credentials, for messages.
    target: String,
    backoff: Backoff,
}

impl MongoStore {
    /// Connects to the database `url` names (`ferry` when it names none) and checks once
    /// that the server answers.
    ///
    /// An unparsable URL is an error. A server that does not answer is not: the store is
    /// returned with a one-line note saying so, and every batch fails (unacknowledged) until the
    /// server answers, so the socket server can start before its database does.
    pub fn open(url: &str) -> Result<(MongoStore, Option<String>), StoreError> {
        let (db, target) = connect(url)?;
        let collection = db.collection::<Document>(COLLECTION);
        let note = match db.run_command(doc! { "ping": 1 }).run() {
            Ok(_) => None,
            Err(error) => Some(format!(
                "MongoDB at {target} is not reachable yet ({}); starting anyway, messages are \
                 acknowledged once it answers",
                short_error(&error.kind.to_string())
            )),
        };
        let store = MongoStore {
            collection,
            target,
            backoff: Backoff::default(),
        };
        Ok((store, note))
    }

    /// The server(s) and database, as `mongodb://HOST:PORT/DB` without credentials.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn insert(&self, documents: &[Document]) -> Result<(), String> {
        match self.collection.insert_many(documents).ordered(false).run() {
            Ok(_) => Ok(()),
            Err(error) => match *error.kind {
                ErrorKind::InsertMany(ref answer) => {
                    let failures: Vec<WriteFailure> = answer
                        .write_errors
                        .iter()
                        .flatten()
                        .map(|e| WriteFailure {
                            index: e.index,
                            code: e.code,
                            message: e.message.clone(),
                        })
                        .collect();
                    let concern = answer.write_concern_error.as_ref();
                    batch_outcome(&failures, concern.map(|c| c.message.as_str()))
                }
                _ => Err(short_error(&error.kind.to_string())),
            },
        }
    }
}

impl MessageStore for MongoStore {
    fn store_batch(
        &mut self,
        now: OffsetDateTime,
        messages: &[Message],
        ids: &[Option<MessageId>],
    ) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let Some(wait) = self.backoff.wait_within(started, started + RETRY_WINDOW) else {
            return Err(StoreError::MongoWaiting {
                target: self.target.clone(),
                retry_in: self.backoff.remaining(started),
            });
        };
        let documents: Vec<Document> = messages
            .iter()
            .enumerate()
            .map(|(i, message)| {
                let id = ids.get(i).and_then(Option::as_ref);
                message_document(now, message, document_key(id, ObjectId::new()))
            })
            .collect();
        // Tries until one succeeds or the window is spent; every try inserts the same
        // documents (same keys), so one that landed unseen makes the next a duplicate.
        let mut wait = wait;
        loop {
            thread::sleep(wait);
            match self.insert(&documents) {
                Ok(()) => {
                    self.backoff.handle_success();
                    return Ok(());
                }
                Err(detail) => {
                    let now = Instant::now();
                    self.backoff.handle_failure(now);
                    match self.backoff.wait_within(now, started + RETRY_WINDOW) {
                        Some(next) => wait = next,
                        None => {
                            return Err(StoreError::Mongo {
                                target: self.target.clone(),
                                detail,
                            })
                        }
                    }
                }
            }
        }
    }

    /// None: the collection's unique `_id` recognises a repeated id across restarts.
    fn recent_ids(&self) -> &[MessageId] {
        &[]
    }
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// A client of the database `url` names (`ferry` when it names none), with ferry's timeouts
/// and durable writes unless the URL says otherwise, and the target as
/// `mongodb://HOST:PORT/DB` without credentials. Nothing is sent to the server yet.
pub(crate) fn connect(url: &str) -> Result<(Database, String), StoreError> {
    let mut options = ClientOptions::parse(url)
        .run()
        .map_err(|error| StoreError::MongoUrl {
            detail: short_error(&error.kind.to_string()),
        })?;
    options
        .server_selection_timeout
        .get_or_insert(SERVER_SELECTION_TIMEOUT);
    options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
    options.app_name.get_or_insert_with(|| APP_NAME.to_string());
    if options.write_concern.is_none() {
        options.write_concern = Some(durable_write_concern());
    }
    let database = options
        .default_database
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let hosts: Vec<String> = options.hosts.iter().map(ToString::to_string).collect();
    let target = format!("mongodb://{}/{database}", hosts.join(","));
    let client = Client::with_options(options).map_err(|error| StoreError::MongoUrl {
        detail: short_error(&error.kind.to_string()),
    })?;
    Ok((client.database(&database), target))
}

/// Majority and journaled: an acknowledged message survives a crash and a failover. A
/// stand-alone server is its own majority.
fn durable_write_concern() -> WriteConcern {
    WriteConcern::builder()
        .w(Acknowledgment::Majority)
        .journal(true)
        .w_timeout(WRITE_CONCERN_TIMEOUT)
        .build()
}

/// The collection the SPEC names.
pub const COLLECTION: &str = "messages";

/// The database when the URL names none.
pub const DEFAULT_DATABASE: &str = "ferry";

/// How the socket server introduces itself to the server (seen in its logs and `currentOp`).
const APP_NAME: &str = "ferry";

/// How long a try waits for a usable server (the driver's default is 30 s): two tries fit in
/// a batch's retry window (`outcome::RETRY_WINDOW`) while the server is down.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_millis(500);

/// How long opening one connection may take; as above.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long the server may take to replicate and journal a batch before the try fails (and is
/// retried by id, so nothing is inserted twice).
const WRITE_CONCERN_TIMEOUT: Duration = Duration::from_secs(5);
