//! Reading the web app's static folder from disk, once at start, for `ferry_core::web::site::Site`.
//!
//! Lives here, beside the message store, because both shells need the same disk walk. Skips
//! hidden entries (`.git`, `.DS_Store`) and anything a symlink would lead to outside the folder,
//! and stops reading as soon as the site's bounds are passed.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ferry_core::web::site::{MAX_SITE_BYTES, MAX_SITE_FILES};

/// Reads every file under `root` as `(path relative to root with / separators, content)`.
pub fn read_static_folder(root: &Path) -> Result<Vec<(String, Vec<u8>)>, StaticFolderError> {
    let canonical_root = fs::canonicalize(root).map_err(|e| StaticFolderError::new(root, e))?;
    if !canonical_root.is_dir() {
        let error = io::Error::new(io::ErrorKind::NotADirectory, "not a folder");
        return Err(StaticFolderError::new(root, error));
    }
    let mut walk = Walk {
        root: canonical_root,
        files: Vec::new(),
        bytes: 0,
    };
    let start = walk.root.clone();
    walk.visit(&start, 0)
        .map_err(|e| StaticFolderError::new(root, e))?;
    Ok(walk.files)
}

/// The static folder could not be read; `Display` names the folder and the cause.
#[derive(Debug)]
pub struct StaticFolderError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl StaticFolderError {
    fn new(path: &Path, source: io::Error) -> Self {
        StaticFolderError {
            path: path.to_owned(),
            source,
        }
    }
}

impl fmt::Display for StaticFolderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cause = match self.source.kind() {
            io::ErrorKind::NotFound => "not found".to_owned(),
            _ => self.source.to_string(),
        };
        write!(f, "static folder '{}': {cause}", self.path.display())
    }
}

impl std::error::Error for StaticFolderError {}

struct Walk {
    root: PathBuf,
    files: Vec<(String, Vec<u8>)>,
    bytes: u64,
}

impl Walk {
    fn visit(&mut self, folder: &Path, depth: usize) -> io::Result<()> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let mut entries: Vec<_> = fs::read_dir(folder)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            // Follow a symlink only when it stays inside the folder.
            let Ok(target) = fs::canonicalize(entry.path()) else {
                continue;
            };
            if !target.starts_with(&self.root) {
                continue;
            }
            let metadata = fs::metadata(&target)?;
            if metadata.is_dir() {
                self.visit(&entry.path(), depth + 1)?;
            } else if metadata.is_file() {
                self.bytes += metadata.len();
                if self.bytes > MAX_SITE_BYTES || self.files.len() >= MAX_SITE_FILES {
                    return Err(io::Error::other(format!(
                        "holds more than {MAX_SITE_FILES} files or {} MiB",
                        MAX_SITE_BYTES >> 20
                    )));
                }
                let relative = entry.path();
                let relative = relative.strip_prefix(&self.root).unwrap_or(&relative);
                let key: Vec<&str> = relative
                    .components()
                    .filter_map(|c| c.as_os_str().to_str())
                    .collect();
                self.files.push((key.join("/"), fs::read(&target)?));
            }
        }
        Ok(())
    }
}

/// Folders nested deeper than this are not served: a guard against symlink loops the
/// canonical-path check does not catch and against absurd trees.
const MAX_DEPTH: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_files_and_skips_hidden_ones() {
        let dir = std::env::temp_dir().join(format!("ferry-static-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("js")).unwrap();
        fs::create_dir_all(dir.join(".git")).unwrap();
        fs::write(dir.join("index.html"), b"i").unwrap();
        fs::write(dir.join("js/app.js"), b"a").unwrap();
        fs::write(dir.join(".git/config"), b"secret").unwrap();
        fs::write(dir.join(".env"), b"secret").unwrap();
        let files = read_static_folder(&dir).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["index.html", "js/app.js"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_folder_is_named_in_the_error() {
        let error = read_static_folder(Path::new("/nonexistent/ferry-static")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "static folder '/nonexistent/ferry-static': not found"
        );
    }
}
