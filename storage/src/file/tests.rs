//! `FileStore` against real files in a private temporary folder per test.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use ferry_core::Message;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::format::ScanError;
use crate::record::StoredRecord;

/// A folder under the system temporary folder, removed with everything in it on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "ferry-storage-{}-{test}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const T: OffsetDateTime = datetime!(2024-09-09 12:00:00 UTC);

fn message(username: &str, text: &str) -> Message {
    Message {
        username: username.to_owned(),
        message: text.to_owned(),
    }
}

fn open(path: &Path) -> (FileStore, Option<String>) {
    FileStore::open(path, StoreOptions::default()).unwrap()
}

fn records(path: &Path) -> Vec<StoredRecord> {
    StoredRecord::read_all(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn creates_missing_folders_and_an_empty_object() {
    let dir = TempDir::new("create");
    let path = dir.join("a/b/data.json");
    let (store, note) = open(&path);
    assert_eq!(note, None);
    assert_eq!(store.len(), 0);
    assert!(store.is_empty());
    assert_eq!(store.path(), path);
    assert_eq!(fs::read(&path).unwrap(), b"{}\n");
    assert!(dir.join("a/b/data.json.lock").exists());
}

#[test]
fn appends_batches_under_every_fsync_policy() {
    for fsync in [FsyncPolicy::Always, FsyncPolicy::Batch, FsyncPolicy::Never] {
        let dir = TempDir::new("policy");
        let path = dir.join("data.json");
        let (mut store, _) = FileStore::open(&path, StoreOptions { fsync }).unwrap();
        let keys = store
            .append(T, &[message("ann", "hi"), message("bob", "yo")])
            .unwrap();
        let more = store.append(T, &[message("cy", "\"quoted\"\n")]).unwrap();
        assert_eq!(store.append(T, &[]).unwrap(), Vec::new());
        let stored = records(&path);
        assert_eq!(stored.len(), 3, "{fsync:?}");
        assert_eq!(store.len(), 3);
        assert_eq!(stored[0].key, keys[0].as_str());
        assert_eq!(stored[1].key, keys[1].as_str());
        assert_eq!(stored[2].key, more[0].as_str());
        assert_eq!(stored[2].message, "\"quoted\"\n");
        assert!(keys[0] < keys[1] && keys[1] < more[0], "{fsync:?}");
    }
}

#[test]
fn a_second_open_is_refused_while_the_store_is_locked() {
    let dir = TempDir::new("lock");
    let path = dir.join("data.json");
    let (first, _) = open(&path);
    let error = FileStore::open(&path, StoreOptions::default()).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("in use by another process"), "{text}");
    drop(first);
    let (again, _) = open(&path);
    assert_eq!(again.len(), 0);
}

#[test]
fn reopening_keeps_the_data_and_keys_keep_ascending() {
    let dir = TempDir::new("reopen");
    let path = dir.join("data.json");
    let (mut store, _) = open(&path);
    let first = store
        .append(T, &[message("ann", "one"), message("bob", "two")])
        .unwrap();
    drop(store);

    let (mut store, note) = open(&path);
    assert_eq!(note, None);
    assert_eq!(store.len(), 2);
    // The wall clock went back an hour meanwhile; keys still follow the stored ones.
    let later = store
        .append(T - Duration::hours(1), &[message("cy", "three")])
        .unwrap();
    assert_eq!(later[0].as_str(), "2024-09-09T12:00:00.000002");
    assert!(first[1] < later[0]);
    let stored = records(&path);
    let keys: Vec<&str> = stored.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "2024-09-09T12:00:00.000000",
            "2024-09-09T12:00:00.000001",
            later[0].as_str()
        ]
    );
    assert_eq!(store.len(), 3);
}

#[test]
fn an_unwritable_path_gives_a_clean_error() {
    let dir = TempDir::new("unwritable");
    fs::write(dir.join("plain-file"), b"not a folder").unwrap();
    let path = dir.join("plain-file/data.json");
    let error = FileStore::open(&path, StoreOptions::default()).unwrap_err();
    assert!(
        matches!(error, StoreError::CreateFolder { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.starts_with("cannot create store folder "), "{text}");
    assert!(text.contains("plain-file"), "{text}");
    assert!(!text.contains('\n'));

    let folder = dir.join("a-folder");
    fs::create_dir(&folder).unwrap();
    let error = FileStore::open(&folder, StoreOptions::default()).unwrap_err();
    assert!(error.to_string().contains("a-folder"), "{error}");

    let root = FileStore::open(Path::new("/"), StoreOptions::default()).unwrap_err();
    assert_eq!(
        root,
        StoreError::NotAFile {
            path: PathBuf::from("/")
        }
    );
}

#[cfg(unix)]
#[test]
fn a_read_only_file_is_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("readonly");
    let path = dir.join("data.json");
    fs::write(&path, b"{}\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    if fs::OpenOptions::new().write(true).open(&path).is_ok() {
        // Running with privileges that ignore file modes (root): nothing to observe.
        return;
    }
    let error = FileStore::open(&path, StoreOptions::default()).unwrap_err();
    assert_eq!(error, StoreError::PermissionDenied { path: path.clone() });
}

#[test]
fn a_torn_tail_is_repaired_on_open_with_a_note() {
    let dir = TempDir::new("torn");
    let path = dir.join("data.json");
    let (mut store, _) = open(&path);
    store
        .append(T, &[message("ann", "one"), message("bob", "two")])
        .unwrap();
    drop(store);
    let mut bytes = fs::read(&path).unwrap();
    let kept = bytes.len() - 3;
    bytes.truncate(kept);
    bytes.extend_from_slice(b",\n  \"2024-09-09T12:00:01.000000\": {\n    \"username\": \"cy");
    fs::write(&path, &bytes).unwrap();

    let (mut store, note) = open(&path);
    let expected = format!(
        "repaired {}: dropped a torn tail of {} bytes after 2 records",
        path.display(),
        bytes.len() - kept
    );
    assert_eq!(note, Some(expected));
    assert_eq!(store.len(), 2);
    assert_eq!(records(&path).len(), 2);
    store.append(T, &[message("cy", "three")]).unwrap();
    assert_eq!(records(&path).len(), 3);
}

#[test]
fn a_file_damaged_in_the_middle_is_refused_and_left_alone() {
    let dir = TempDir::new("damaged");
    let path = dir.join("data.json");
    let damaged = b"{\"a\": {\"username\": \"u\"}, oops, \"b\": {\"username\": \"v\"}}\n";
    fs::write(&path, damaged).unwrap();
    let error = FileStore::open(&path, StoreOptions::default()).unwrap_err();
    match &error {
        StoreError::InvalidStore {
            path: named,
            error: ScanError::Syntax { offset, .. },
        } => {
            assert_eq!((named, *offset), (&path, 25));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().contains("not valid JSON at byte 25"),
        "{error}"
    );
    assert_eq!(fs::read(&path).unwrap(), damaged);
}

#[test]
fn a_python_file_is_appended_in_place() {
    let dir = TempDir::new("python");
    let path = dir.join("data.json");
    let python = crate::format::tests::PYTHON_FILE;
    fs::write(&path, python).unwrap();
    let (mut store, note) = open(&path);
    assert_eq!(note, None, "a valid file needs no repair note");
    assert_eq!(store.len(), 2);
    store.append(T, &[message("new", "one")]).unwrap();
    let bytes = fs::read(&path).unwrap();
    let kept = python.len() - 2;
    assert_eq!(&bytes[..kept], &python.as_bytes()[..kept]);
    let stored = records(&path);
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[2].username, "new");
}

/// Whether git ignores `path` (relative to the repository, `/`-separated) by these `.gitignore`
/// lines. Knows what the repository's file uses: comments, `*` within one name, patterns
/// anchored with a leading `/` (which also cover everything under a matching folder) and bare
/// names that match at any depth.
fn git_ignores(gitignore: &str, path: &str) -> bool {
    fn glob(pattern: &[u8], name: &[u8]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((b'*', rest)) => (0..=name.len())
                .any(|skip| !name[..skip].contains(&b'/') && glob(rest, &name[skip..])),
            Some((&c, rest)) => name.first() == Some(&c) && glob(rest, &name[1..]),
        }
    }
    let prefixes: Vec<&str> = path
        .match_indices('/')
        .map(|(at, _)| &path[..at])
        .chain([path])
        .collect();
    gitignore
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .any(|pattern| match pattern.strip_prefix('/') {
            Some(anchored) => prefixes
                .iter()
                .any(|p| glob(anchored.as_bytes(), p.as_bytes())),
            None => path
                .split('/')
                .any(|name| glob(pattern.as_bytes(), name.as_bytes())),
        })
}

#[test]
fn every_file_the_default_store_creates_is_git_ignored() {
    let dir = TempDir::new("gitignore");
    let path = dir.join(crate::location::DEFAULT_FILE);
    let (mut store, _) = open(&path);
    let id = MessageId::new("gitignore-1".to_string()).unwrap();
    store
        .append_identified(T, &[message("ann", "hi")], &[Some(id)])
        .unwrap();
    drop(store);
    let folder = path.parent().unwrap();
    let mut names: Vec<String> = fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let journal = crate::ids::journal_path(&path);
    let leftover = crate::ids::compaction_path(&journal);
    names.push(leftover.file_name().unwrap().to_string_lossy().into_owned());
    names.sort();
    assert_eq!(
        names,
        [
            "data.json",
            "data.json.ids",
            "data.json.ids.tmp",
            "data.json.lock"
        ]
    );

    let gitignore = include_str!("../../../.gitignore");
    let folder = crate::location::DEFAULT_FILE.rsplit_once('/').unwrap().0;
    let kept: Vec<&String> = names
        .iter()
        .filter(|name| !git_ignores(gitignore, &format!("{folder}/{name}")))
        .collect();
    assert!(kept.is_empty(), "not in .gitignore: {kept:?}");
    // The crate that shares the folder stays tracked.
    for tracked in ["storage/Cargo.toml", "storage/src/lib.rs"] {
        assert!(!git_ignores(gitignore, tracked), "{tracked}");
    }
}

#[test]
fn reads_gitignore_patterns_like_git() {
    let lines = "# comment\n/target\n/storage/*.lock\nnode_modules\n";
    assert!(git_ignores(lines, "target"));
    assert!(git_ignores(lines, "target/debug/x"));
    assert!(git_ignores(lines, "storage/data.json.lock"));
    assert!(git_ignores(lines, "a/node_modules/b"));
    assert!(!git_ignores(lines, "storage/sub/x.lock"));
    assert!(!git_ignores(lines, "storage/data.json.ids"));
    assert!(!git_ignores(lines, "core/target"));
}
