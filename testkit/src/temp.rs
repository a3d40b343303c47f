//! A scratch folder per test, under the system temp folder, removed when the test ends.
//!
//! Owns the folder's name (unique: creation fails on an existing name and the next one is tried)
//! and its removal. It never decides what goes inside; the fixture and the server launcher do.

use std::fs;
use std::path::{Path, PathBuf};

/// A folder that exists from [`TempDir::new`] until the value is dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty folder whose name carries `label` (the test name) for debugging.
    ///
    /// Panics when the folder cannot be created: the test cannot run without it.
    pub fn new(label: &str) -> TempDir {
        let base = std::env::temp_dir();
        let pid = std::process::id();
        let mut last_error = None;
        for attempt in 0..MAX_ATTEMPTS {
            let path = base.join(format!("ferry-testkit-{pid}-{label}-{attempt}"));
            // `create_dir` fails when the name exists, so two tests (or a leftover of a crashed
            // run) never share a folder.
            match fs::create_dir(&path) {
                Ok(()) => return TempDir { path },
                Err(e) => last_error = Some(e),
            }
        }
        panic!(
            "cannot create a temp folder for {label} under {}: {last_error:?}",
            base.display()
        )
    }

    /// The folder's absolute path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `relative` inside the folder (nothing is created).
    pub fn join(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a failure to clean up must not turn a passing test into a failing one.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// How many names are tried before giving up; far more than the folders one test makes, and a
/// bound so a read-only temp folder fails the test instead of looping.
const MAX_ATTEMPTS: u32 = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_distinct_and_removed_on_drop() {
        let first = TempDir::new("same");
        let second = TempDir::new("same");
        assert_ne!(first.path(), second.path());
        assert!(first.path().is_dir());
        let kept = first.path().to_path_buf();
        fs::write(first.join("file"), b"x").unwrap();
        drop(first);
        assert!(!kept.exists());
        assert!(second.path().is_dir());
    }
}
