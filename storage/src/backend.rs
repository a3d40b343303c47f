//! `MessageStore`: what a socket server needs from a store, whichever backend holds the
//! messages (the `data.json` file or a MongoDB collection).
//!
//! Owns only the shape of that contract; each backend keeps its own I/O and its own way of
//! making a retried message land once. Never opens anything itself.

use ferry_core::datagram::MessageId;
use ferry_core::Message;
use time::OffsetDateTime;

use crate::file::{FileStore, StoreError};

/// A place the socket server stores messages in batches.
///
/// The shells hold a `Box<dyn MessageStore + Send>`, so nothing in them differs by backend.
pub trait MessageStore {
    /// Stores `messages`, received at `now`, as one batch. `ids[i]` is the id of
    /// `messages[i]` (missing or `None` for a message without one): a backend uses it so that a
    /// message stored before, and sent again because its ack was lost, is not stored twice.
    ///
    /// `Ok` means every message is durably stored (or was already); only then may the socket
    /// server acknowledge them. An error means none may be acknowledged yet; some may have been
    /// stored, which a retry with the same ids recognises.
    fn store_batch(
        &mut self,
        now: OffsetDateTime,
        messages: &[Message],
        ids: &[Option<MessageId>],
    ) -> Result<(), StoreError>;

    /// Ids stored before this open, oldest first, to seed the receiver's dedup window. Empty
    /// for a backend that recognises a repeated id by itself.
    fn recent_ids(&self) -> &[MessageId];

    /// Makes everything stored so far durable; called once when the socket server stops. A
    /// backend whose every store is already acknowledged as durable has nothing to do.
    fn close(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl MessageStore for FileStore {
    fn store_batch(
        &mut self,
        now: OffsetDateTime,
        messages: &[Message],
        ids: &[Option<MessageId>],
    ) -> Result<(), StoreError> {
        self.append_identified(now, messages, ids).map(|_| ())
    }

    fn recent_ids(&self) -> &[MessageId] {
        FileStore::recent_ids(self)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.sync()
    }
}
