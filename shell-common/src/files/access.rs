//! [`Access`]: checking the credentials a request brings against the `--auth` password file,
//! off the caller's thread, slowed per address after failures, and remembered briefly once
//! verified.
//!
//! Which requests need credentials, the 401, the delays (the core's [`Throttle`]) and how long
//! a verification is trusted (its [`VerifiedCache`]) are the core's decisions; this module
//! runs them with the clock and the password hashes. Each check runs on the shared
//! [`WorkPool`] (two threads, so at most two hashes, ~38 MiB, at once; 64 waiting at most,
//! beyond which the request gets 503), never on an event loop. A user the file does not name
//! costs the same check, against a hash made at start, so timing does not tell names apart.
//! The cache holds keyed BLAKE2b digests of the credentials (the key random per process),
//! never a password.

use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Instant;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac;
use ferry_core::files::throttle::{Admission, Throttle, VerifiedCache};
use ferry_core::files::{Credentials, PasswordTable};

use crate::passwords::{check_hash, hash_password, verify_password};
use crate::pool::WorkPool;

/// The password file and everything that checks against it.
pub struct Access {
    table: Arc<PasswordTable>,
    /// The hash an unknown user is checked against.
    dummy: Arc<str>,
    key: [u8; 32],
    throttle: Arc<Mutex<Throttle>>,
    verified: Arc<Mutex<VerifiedCache>>,
    pool: WorkPool,
}

/// How a check started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// Answered at once (verified lately).
    Known(bool),
    /// Not taken: too many checks wait (for this address, or in all).
    Busy,
    /// Running or waiting; the report comes later.
    Pending,
}

impl Access {
    /// Reads and checks the password file at `path` (every line must hold a hash this server
    /// can verify) and starts the threads that check passwords.
    pub fn open(path: &Path) -> Result<Access, String> {
        let named = |what: String| format!("password file '{}': {what}", path.display());
        let text = fs::read_to_string(path).map_err(|e| named(e.to_string()))?;
        let table = PasswordTable::parse(&text).map_err(|e| named(e.to_string()))?;
        for (user, hash) in table.hashes() {
            check_hash(hash).map_err(|e| named(format!("the hash of {user} is unusable: {e}")))?;
        }
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        let dummy = hash_password(&format!("{random:02x?}")).map_err(named)?;
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let pool = WorkPool::new("ferry-passwords", HASH_THREADS, MAX_WAITING_CHECKS)
            .map_err(|e| format!("cannot start the password threads: {e}"))?;
        Ok(Access {
            table: Arc::new(table),
            dummy: dummy.into(),
            key,
            throttle: Arc::default(),
            verified: Arc::default(),
            pool,
        })
    }

    /// Starts checking `credentials` from `remote`; unless answered at once, `report` is called
    /// with the verdict on a pool thread (or dropped unrun when the pool stops).
    pub fn start(
        &self,
        remote: IpAddr,
        credentials: Credentials,
        now: Instant,
        report: impl FnOnce(bool) + Send + 'static,
    ) -> Started {
        let digest = self.digest(&credentials);
        if lock(&self.verified).holds(&digest, now) {
            return Started::Known(true);
        }
        let due = match lock(&self.throttle).admit(remote, now) {
            Admission::At(due) => due,
            Admission::Refused => return Started::Busy,
        };
        let known = self.table.hash_of(&credentials.user).map(Arc::<str>::from);
        let hash = known.clone().unwrap_or_else(|| self.dummy.clone());
        let (throttle, verified) = (self.throttle.clone(), self.verified.clone());
        let job = move || {
            let ok = verify_password(&hash, &credentials.password) && known.is_some();
            let now = Instant::now();
            lock(&throttle).record(remote, ok, now);
            if ok {
                lock(&verified).insert(digest, now);
            }
            report(ok);
        };
        match self.pool.submit(due, job) {
            Ok(()) => Started::Pending,
            Err(_) => {
                // Admitted but never checked: counted as neither a failure nor a success.
                lock(&self.throttle).abandon(remote);
                Started::Busy
            }
        }
    }

    /// Checks `credentials` and waits for the verdict (a thread per connection may block):
    /// `None` when the server is too busy to check them now.
    pub fn check_blocking(
        &self,
        remote: IpAddr,
        credentials: Credentials,
        now: Instant,
    ) -> Option<bool> {
        let (sender, verdict) = mpsc::channel();
        match self.start(remote, credentials, now, move |ok| {
            let _ = sender.send(ok);
        }) {
            Started::Known(ok) => Some(ok),
            Started::Busy => None,
            Started::Pending => verdict.recv().ok(),
        }
    }

    /// A digest of the credentials under this process's random key: equal credentials give
    /// equal digests, and nothing about the password can be learned from one.
    fn digest(&self, credentials: &Credentials) -> [u8; 32] {
        // A 32-byte key is within BLAKE2b's 64: this cannot fail.
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("a 32-byte BLAKE2b key"));
        mac.update(&(credentials.user.len() as u64).to_le_bytes());
        mac.update(credentials.user.as_bytes());
        mac.update(credentials.password.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hashes at once: two, so a storm of sign-ins holds at most ~38 MiB for hashing.
const HASH_THREADS: usize = 2;
/// Checks that may wait (each for at most the throttle's 10 s); more get 503 at once.
const MAX_WAITING_CHECKS: usize = 64;
