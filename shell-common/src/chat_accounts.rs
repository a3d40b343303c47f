//! [`ChatBackend`]: what the chat hub cannot do itself (issue 14), done the same way for both
//! shells: hash and verify passwords on the bounded [`WorkPool`], store accounts, and keep the
//! history in the store on a thread of its own.
//!
//! The hub decides every answer and every delay; this module carries out its
//! [`AccountWork`] and reports the [`AccountOutcome`] through a callback the shell gives (the
//! mio loop sends it over a channel and wakes itself; the std shell feeds its hub under its
//! lock). Two threads hash at once, so a login storm holds at most ~38 MiB for hashing; 64
//! pieces of work wait at most, beyond which the client is told to try again. A name nobody
//! registered is verified against a hash made at start, so an unknown name takes as long as a
//! wrong password. Passwords never leave this module but as hashes, and nothing here prints
//! one.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use ferry_cli::ChatOptions;
use ferry_core::chat::accounts::{Account, AccountTable};
use ferry_core::chat::{AccountOutcome, AccountWork, ChatHub, ClientId, SaidMessage};
use ferry_storage::chat::{self as store, HistoryStore, UserStore};

use crate::chat_cluster::{ClusterLink, Wake};
use crate::passwords::{hash_password, verify_password};
use crate::pool::WorkPool;

/// How a shell hears the outcome of a client's account work (on a pool thread).
pub type Report = Arc<dyn Fn(ClientId, AccountOutcome) + Send + Sync>;

/// The chat's accounts and history, off the hub's thread.
pub struct ChatBackend {
    pool: WorkPool,
    users: Arc<Mutex<Box<dyn UserStore + Send>>>,
    /// The hash a name nobody registered is verified against.
    dummy: Arc<str>,
    history: Option<HistoryWriter>,
    /// The other nodes of the room, with `--cluster`.
    cluster: Option<ClusterLink>,
}

/// What the store held at start, for the hub.
pub struct Restored {
    pub accounts: AccountTable,
    pub history: Vec<SaidMessage>,
}

/// The thread that writes said messages to the store, and its queue.
struct HistoryWriter {
    queue: SyncSender<SaidMessage>,
    thread: JoinHandle<()>,
}

impl ChatBackend {
    /// Opens the store `options` names, reads its accounts and history, and
    /// starts the hashing threads and the history writer.
    pub fn open(options: &ChatOptions) -> Result<(ChatBackend, Restored), String> {
        let mut stores = store::open(&options.store).map_err(|e| format!("chat store: {e}"))?;
        let accounts = stores
            .users
            .load()
            .map_err(|e| format!("chat store: {e}"))?;
        let mut history = stores
            .history
            .load(options.history)
            .map_err(|e| format!("chat store: {e}"))?;
        if options.cluster.is_some() {
            // In a cluster the shared history comes from Redis, the same on every node.
            history.clear();
        }
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        let dummy = hash_password(&format!("{random:02x?}"))?;
        let pool = WorkPool::new("ferry-chat-passwords", HASH_THREADS, MAX_WAITING_WORK)
            .map_err(|e| format!("cannot start the password threads: {e}"))?;
        let writer = HistoryWriter::start(stores.history, options.history)
            .map_err(|e| format!("cannot start the chat history writer: {e}"))?;
        let backend = ChatBackend {
            pool,
            users: Arc::new(Mutex::new(stores.users)),
            dummy: dummy.into(),
            history: Some(writer),
            cluster: None,
        };
        let restored = Restored {
            accounts: AccountTable::new(accounts),
            history,
        };
        Ok((backend, restored))
    }

    /// With `--cluster`: makes `hub` share its room with the other nodes; `wake` is how the
    /// cluster's threads make the shell call [`ChatBackend::serve`] soon.
    pub fn join_cluster(
        &mut self,
        options: &ChatOptions,
        hub: &mut ChatHub,
        wake: Wake,
    ) -> Result<(), String> {
        let Some(url) = &options.cluster else {
            return Ok(());
        };
        hub.share_events();
        let link = ClusterLink::start(url, options.cluster_ttl, options.history, wake)?;
        self.cluster = Some(link);
        Ok(())
    }

    /// When [`ChatBackend::serve`] must run next at the latest (the cluster's timers).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.cluster.as_ref()?.poll_timeout()
    }

    /// Hands out what `hub` has for the backend: its account work, to the pool (work the pool
    /// has no room for fails at once), its said messages, to the history writer, and its room
    /// events to the cluster (whose deliveries it takes in).
    pub fn serve(&mut self, hub: &mut ChatHub, now: Instant, report: &Report) {
        if let Some(cluster) = &mut self.cluster {
            cluster.serve(hub, now);
        }
        while let Some(work) = hub.poll_account_work() {
            let client = work.client();
            if !self.start(work, now, report.clone()) {
                hub.handle_account(now, client, AccountOutcome::Failed);
            }
        }
        while let Some(said) = hub.poll_said_message() {
            if let Some(writer) = &self.history {
                writer.push(said);
            }
        }
    }

    /// Writes what the history writer still holds and stops it: at a shutdown.
    pub fn finish(&mut self) {
        if let Some(writer) = self.history.take() {
            drop(writer.queue);
            let _ = writer.thread.join();
        }
    }

    /// Queues `work` on the pool; false when the pool is full.
    fn start(&self, work: AccountWork, now: Instant, report: Report) -> bool {
        let due = work.due(now);
        let client = work.client();
        let users = self.users.clone();
        let dummy = self.dummy.clone();
        let job = move || report(client, carry_out(work, &users, &dummy));
        self.pool.submit(due, job).is_ok()
    }
}

/// Does one piece of account work: hashing, verifying, storing.
fn carry_out(
    work: AccountWork,
    users: &Mutex<Box<dyn UserStore + Send>>,
    dummy: &str,
) -> AccountOutcome {
    match work {
        AccountWork::Register {
            key,
            name,
            password,
            ..
        } => {
            let Ok(hash) = hash_password(password.expose()) else {
                return AccountOutcome::Failed;
            };
            let account = Account { name, hash };
            match lock(users).register(&key, &account) {
                Ok(true) => AccountOutcome::Registered { hash: account.hash },
                Ok(false) => AccountOutcome::Taken,
                Err(error) => failed(&error),
            }
        }
        AccountWork::Verify { hash, password, .. } => {
            let against = hash.as_deref().unwrap_or(dummy);
            let matches = verify_password(against, password.expose());
            AccountOutcome::Verified(matches && hash.is_some())
        }
        AccountWork::ChangePassword {
            key,
            hash,
            old,
            new,
            ..
        } => {
            if !verify_password(&hash, old.expose()) {
                return AccountOutcome::Verified(false);
            }
            let Ok(hash) = hash_password(new.expose()) else {
                return AccountOutcome::Failed;
            };
            match lock(users).set_hash(&key, &hash) {
                Ok(()) => AccountOutcome::PasswordChanged { hash },
                Err(error) => failed(&error),
            }
        }
    }
}

fn failed(error: &store::ChatStoreError) -> AccountOutcome {
    eprintln!("ferry: chat store: {error}");
    AccountOutcome::Failed
}

impl HistoryWriter {
    fn start(mut store: Box<dyn HistoryStore + Send>, limit: usize) -> std::io::Result<Self> {
        let (queue, said) = mpsc::sync_channel(MAX_QUEUED_MESSAGES);
        let thread = thread::Builder::new()
            .name("ferry-chat-history".into())
            .spawn(move || write_history(&mut *store, &said, limit))?;
        Ok(HistoryWriter { queue, thread })
    }

    fn push(&self, said: SaidMessage) {
        // A store slower than the room loses history lines, never holds up the room.
        if let Err(TrySendError::Full(_)) = self.queue.try_send(said) {
            eprintln!("ferry: chat store: behind; a message was left out of the kept history");
        }
    }
}

/// Waits for a message, gathers every other one queued meanwhile, writes them in one go.
fn write_history(store: &mut dyn HistoryStore, said: &Receiver<SaidMessage>, limit: usize) {
    while let Ok(first) = said.recv() {
        let mut batch = vec![first];
        batch.extend(said.try_iter());
        if limit == 0 {
            continue;
        }
        let skip = batch.len().saturating_sub(limit);
        if let Err(error) = store.append(&batch[skip..], limit) {
            eprintln!("ferry: chat store: {error}");
        }
    }
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hashes at once: two, so a storm of logins holds at most ~38 MiB for hashing.
const HASH_THREADS: usize = 2;
/// Account work that may wait (each for at most the hub's longest login delay); more is
/// refused with "try again".
const MAX_WAITING_WORK: usize = 64;
/// Messages waiting for the history writer: many seconds of a busy room.
const MAX_QUEUED_MESSAGES: usize = 16 * 1024;
