//! The id journal: the ids of recently stored messages, one per line, in a file beside the
//! store (`data.json.ids`), so a socket server restarted after a crash still recognises a message
//! it stored just before and acknowledges the sender's retransmission without storing it again.
//!
//! It is written after each batch's append, without a sync of its own: a process crash loses
//! nothing the kernel already holds, and a power cut can at worst cost the dedup of the last
//! batch (a possible duplicate, never a loss). `data.json` keeps exactly the SPEC's format.
//! The file is compacted to the newest ids once it holds twice as many as are remembered.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ferry_core::datagram::MessageId;

use crate::file::StoreError;

/// The open journal.
#[derive(Debug)]
pub struct IdJournal {
    path: PathBuf,
    file: File,
    /// Ids in the file, counting those past the remembered window.
    lines: usize,
    /// The newest ids, oldest first, at most [`REMEMBERED_IDS`].
    recent: Vec<MessageId>,
}

impl IdJournal {
    /// Opens (or creates) the journal beside the store at `store_path`.
    pub fn open(store_path: &Path) -> Result<IdJournal, StoreError> {
        let path = journal_path(store_path);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(StoreError::journal(&path, &error)),
        };
        let (lines, recent) = parse(&bytes, REMEMBERED_IDS);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|error| StoreError::journal(&path, &error))?;
        // A torn last line from a crash is cut off, never completed: a fragment of an id could
        // be a different, valid id, and remembering it would acknowledge that message unstored.
        let complete = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |end| end + 1);
        if complete < bytes.len() {
            file.set_len(complete as u64)
                .map_err(|error| StoreError::journal(&path, &error))?;
        }
        Ok(IdJournal {
            path,
            file,
            lines,
            recent,
        })
    }

    /// Forces the journal's content to the disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// The ids remembered from before this open, oldest first.
    pub fn recent(&self) -> &[MessageId] {
        &self.recent
    }

    /// Appends `ids` (one write), compacting the file when it has grown past twice the window.
    pub fn record<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a MessageId>,
    ) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        let mut added = 0;
        for id in ids {
            bytes.extend_from_slice(id.as_str().as_bytes());
            bytes.push(b'\n');
            self.recent.push(id.clone());
            added += 1;
        }
        if added == 0 {
            return Ok(());
        }
        self.write(&bytes)?;
        self.lines += added;
        if self.recent.len() > REMEMBERED_IDS {
            self.recent.drain(..self.recent.len() - REMEMBERED_IDS);
        }
        if self.lines > 2 * REMEMBERED_IDS {
            self.compact()?;
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.file
            .write_all(bytes)
            .map_err(|error| StoreError::journal(&self.path, &error))
    }

    /// Rewrites the journal with only the remembered ids: a temporary file renamed over it.
    fn compact(&mut self) -> Result<(), StoreError> {
        let temporary = compaction_path(&self.path);
        let mut bytes = Vec::with_capacity(self.recent.len() * 32);
        for id in &self.recent {
            bytes.extend_from_slice(id.as_str().as_bytes());
            bytes.push(b'\n');
        }
        let fail = |error: std::io::Error| StoreError::journal(&temporary, &error);
        fs::write(&temporary, &bytes).map_err(fail)?;
        fs::rename(&temporary, &self.path).map_err(fail)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        self.lines = self.recent.len();
        Ok(())
    }
}

/// The journal's path for the store at `store_path`: the same name with `.ids` added.
pub fn journal_path(store_path: &Path) -> PathBuf {
    let mut name = store_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".ids");
    store_path.with_file_name(name)
}

/// The temporary file a compaction writes before renaming it over the journal at `journal`;
/// left behind only by a crash in between.
pub fn compaction_path(journal: &Path) -> PathBuf {
    let mut name = journal
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    journal.with_file_name(name)
}

/// Reads a journal's bytes: how many complete lines it has, and the newest `keep` valid ids,
/// oldest first. A torn last line (no newline) and lines that are not valid ids are skipped.
pub fn parse(bytes: &[u8], keep: usize) -> (usize, Vec<MessageId>) {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[][..],
    };
    let lines: Vec<&[u8]> = complete
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let newest = &lines[lines.len().saturating_sub(keep)..];
    let ids = newest
        .iter()
        .filter_map(|line| std::str::from_utf8(line).ok())
        .filter_map(|text| MessageId::new(text.to_string()).ok())
        .collect();
    (lines.len(), ids)
}

/// As many ids as the socket server's dedup window holds (`ReceiverConfig::dedup_window`).
pub const REMEMBERED_IDS: usize = ferry_core::datagram::receiver::DEFAULT_DEDUP_WINDOW;

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> MessageId {
        MessageId::new(text.to_string()).unwrap()
    }

    #[test]
    fn parse_keeps_the_newest_complete_valid_lines() {
        let (lines, ids) = parse(b"a-1\nb-2\n\xff\nc-3\nd-", 2);
        assert_eq!(lines, 4);
        assert_eq!(ids, [id("c-3")]);
        let (_, ids) = parse(b"a-1\nb-2\nc-3\n", 2);
        assert_eq!(ids, [id("b-2"), id("c-3")]);
        assert_eq!(parse(b"", 5), (0, vec![]));
        assert_eq!(parse(b"torn", 5), (0, vec![]));
    }

    #[test]
    fn journal_survives_reopen_and_a_torn_line() {
        let dir = std::env::temp_dir().join(format!("ferry-ids-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let store = dir.join("data.json");
        let mut journal = IdJournal::open(&store).unwrap();
        journal.record(&[id("x-1"), id("x-2")]).unwrap();
        drop(journal);
        let mut file = OpenOptions::new()
            .append(true)
            .open(journal_path(&store))
            .unwrap();
        file.write_all(b"x-3-torn").unwrap();
        let mut journal = IdJournal::open(&store).unwrap();
        assert_eq!(journal.recent(), [id("x-1"), id("x-2")]);
        journal.record(&[id("x-4")]).unwrap();
        let journal = IdJournal::open(&store).unwrap();
        assert_eq!(journal.recent(), [id("x-1"), id("x-2"), id("x-4")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn journal_is_compacted_to_the_window() {
        let dir = std::env::temp_dir().join(format!("ferry-ids-compact-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let store = dir.join("data.json");
        let mut journal = IdJournal::open(&store).unwrap();
        let ids: Vec<MessageId> = (0..2 * REMEMBERED_IDS + 10)
            .map(|i| id(&format!("c-{i}")))
            .collect();
        for chunk in ids.chunks(1000) {
            journal.record(chunk).unwrap();
        }
        let reopened = IdJournal::open(&store).unwrap();
        assert_eq!(reopened.recent().len(), REMEMBERED_IDS);
        assert_eq!(reopened.recent().last(), ids.last());
        assert!(reopened.lines <= 2 * REMEMBERED_IDS);
        fs::remove_dir_all(&dir).unwrap();
    }
}
