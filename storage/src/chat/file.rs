//! The chat's files: `users.json` and `chat.json`, each replaced whole and atomically on every
//! change (a temporary file beside it, synced, renamed over it, the folder synced), so a crash
//! at any point leaves the old file or the new one, never a torn one. Content is [`super::format`]'s.
//!
//! A replace costs the whole file, which suits both: accounts change rarely (registration is
//! limited per address), and the history is at most `--history` messages, written by a thread
//! of its own that gathers what was said meanwhile into one replace.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ferry_core::chat::accounts::Account;
use ferry_core::chat::SaidMessage;

use super::format::{decode_history, decode_users, encode_history, encode_users};
use super::{ChatStoreError, HistoryStore, UserStore};

/// Accounts in `users.json`.
pub struct FileUsers {
    path: PathBuf,
    accounts: BTreeMap<String, Account>,
}

/// Recent messages in `chat.json`.
pub struct FileHistory {
    path: PathBuf,
    kept: VecDeque<SaidMessage>,
}

impl FileUsers {
    /// Reads `path` (missing: no accounts yet), creating its folder, and checks it can be
    /// replaced.
    pub fn open(path: &Path) -> Result<FileUsers, ChatStoreError> {
        let bytes = read_or_create(path)?;
        let accounts = decode_users(&bytes).map_err(|e| invalid(path, &e))?;
        Ok(FileUsers {
            path: path.to_path_buf(),
            accounts,
        })
    }
}

impl UserStore for FileUsers {
    fn load(&mut self) -> Result<Vec<(String, Account)>, ChatStoreError> {
        Ok(self
            .accounts
            .iter()
            .map(|(key, account)| (key.clone(), account.clone()))
            .collect())
    }

    fn register(&mut self, key: &str, account: &Account) -> Result<bool, ChatStoreError> {
        if self.accounts.contains_key(key) {
            return Ok(false);
        }
        self.accounts.insert(key.to_owned(), account.clone());
        if let Err(error) = replace(&self.path, &encode_users(&self.accounts)) {
            self.accounts.remove(key);
            return Err(error);
        }
        Ok(true)
    }

    fn set_hash(&mut self, key: &str, hash: &str) -> Result<(), ChatStoreError> {
        let Some(account) = self.accounts.get_mut(key) else {
            return Err(ChatStoreError(format!("no account {key:?} to change")));
        };
        let old = std::mem::replace(&mut account.hash, hash.to_owned());
        let result = replace(&self.path, &encode_users(&self.accounts));
        if result.is_err() {
            if let Some(account) = self.accounts.get_mut(key) {
                account.hash = old;
            }
        }
        result
    }
}

impl FileHistory {
    /// Reads `path` (missing: no history yet), creating its folder.
    pub fn open(path: &Path) -> Result<FileHistory, ChatStoreError> {
        let bytes = read_or_create(path)?;
        let kept = decode_history(&bytes).map_err(|e| invalid(path, &e))?;
        Ok(FileHistory {
            path: path.to_path_buf(),
            kept: kept.into(),
        })
    }
}

impl HistoryStore for FileHistory {
    fn load(&mut self, limit: usize) -> Result<Vec<SaidMessage>, ChatStoreError> {
        let skip = self.kept.len().saturating_sub(limit);
        Ok(self.kept.iter().skip(skip).cloned().collect())
    }

    fn append(&mut self, messages: &[SaidMessage], limit: usize) -> Result<(), ChatStoreError> {
        self.kept.extend(messages.iter().cloned());
        let excess = self.kept.len().saturating_sub(limit);
        self.kept.drain(..excess);
        replace(&self.path, &encode_history(&self.kept))
    }
}

/// The file's bytes, or none when it does not exist yet (its folder is created then). A
/// temporary file a crash left behind is removed.
fn read_or_create(path: &Path) -> Result<Vec<u8>, ChatStoreError> {
    let _ = fs::remove_file(temporary_path(path));
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(folder).map_err(|e| failed(folder, "create", &e))?;
            }
            // Written now, so an unwritable folder stops the server at start, not at the first
            // registration.
            replace(path, b"")?;
            Ok(Vec::new())
        }
        Err(error) => Err(failed(path, "read", &error)),
    }
}

/// Replaces the file at `path` with `bytes`, atomically and durably.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), ChatStoreError> {
    let temporary = temporary_path(path);
    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        sync_folder(path)
    };
    write().map_err(|error| {
        let _ = fs::remove_file(&temporary);
        failed(path, "write", &error)
    })
}

/// POSIX makes a rename durable only once the folder is synced too.
#[cfg(unix)]
fn sync_folder(path: &Path) -> io::Result<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    File::open(folder)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// The temporary file beside `path` a replace writes first.
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

fn invalid(path: &Path, detail: &str) -> ChatStoreError {
    ChatStoreError(format!("{} is not valid: {detail}", path.display()))
}

fn failed(path: &Path, what: &str, error: &io::Error) -> ChatStoreError {
    ChatStoreError(format!("cannot {what} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(label: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("ferry-chat-store-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        path
    }

    #[test]
    fn accounts_survive_a_reopen_and_a_name_registers_once() {
        let dir = folder("users");
        let path = dir.join("users.json");
        let mut users = FileUsers::open(&path).unwrap();
        let ann = Account {
            name: "Ann".into(),
            hash: "h1".into(),
        };
        assert_eq!(users.register("ann", &ann), Ok(true));
        assert_eq!(users.register("ann", &ann), Ok(false));
        users.set_hash("ann", "h2").unwrap();
        let mut again = FileUsers::open(&path).unwrap();
        let loaded = again.load().unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].1.hash, "h2");
        assert!(!temporary_path(&path).exists());
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn the_history_keeps_the_last_messages_across_a_reopen() {
        let dir = folder("history");
        let path = dir.join("chat.json");
        let mut history = FileHistory::open(&path).unwrap();
        let said = |n: usize| SaidMessage {
            username: "ann".into(),
            message: format!("m{n}"),
            time: None,
        };
        let batch: Vec<SaidMessage> = (0..5).map(said).collect();
        history.append(&batch, 3).unwrap();
        let mut again = FileHistory::open(&path).unwrap();
        let loaded = again.load(2).unwrap();
        assert_eq!(loaded, [said(3), said(4)]);
        // A crash between writing the temporary file and the rename leaves it behind: ignored.
        fs::write(temporary_path(&path), b"[{").unwrap();
        assert_eq!(FileHistory::open(&path).unwrap().load(9).unwrap().len(), 3);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_broken_file_stops_the_open() {
        let dir = folder("broken");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.json");
        fs::write(&path, b"{\"ann\":").unwrap();
        let error = FileUsers::open(&path).err().unwrap();
        assert!(error.0.contains("users.json is not valid"), "{error}");
        let _ = fs::remove_dir_all(dir);
    }
}
