//! The static folder of the message web app, held in memory: every file with its content type,
//! ready to be sent without touching the disk again.
//!
//! The shell reads the folder once at start and hands the files over as values; this module
//! decides which pages must exist, what each file's content type is, and bounds how much is
//! held. It never reads a file itself.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::http::conditional::content_etag;
use crate::http::content_type;

/// One file of the static folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticFile {
    pub body: Arc<[u8]>,
    pub content_type: &'static str,
    /// Its strong validator, from its content.
    pub etag: String,
}

/// The static folder, keyed by path relative to it with `/` separators (`js/app.js`).
#[derive(Debug, Clone, Default)]
pub struct Site {
    files: HashMap<String, StaticFile>,
}

impl Site {
    /// Builds the site from `(relative path, content)` pairs, checking that the pages the app
    /// needs are present and the folder fits the memory bound.
    pub fn new(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Result<Site, SiteError> {
        let mut site = Site::default();
        let mut total: u64 = 0;
        for (path, content) in files {
            total += content.len() as u64;
            if total > MAX_SITE_BYTES {
                return Err(SiteError::TooLarge);
            }
            if site.files.len() >= MAX_SITE_FILES {
                return Err(SiteError::TooManyFiles);
            }
            let content_type = content_type(&path);
            let etag = content_etag(&content);
            site.files.insert(
                path,
                StaticFile {
                    body: content.into(),
                    content_type,
                    etag,
                },
            );
        }
        for page in REQUIRED_PAGES {
            if !site.files.contains_key(page) {
                return Err(SiteError::MissingPage(page));
            }
        }
        Ok(site)
    }

    /// Replaces the file at `path` by `content` (the app fills in a page's figures once, at
    /// start); nothing when there is no such file.
    pub(crate) fn rewrite(&mut self, path: &str, content: Vec<u8>) {
        if let Some(file) = self.files.get_mut(path) {
            file.etag = content_etag(&content);
            file.body = content.into();
        }
    }

    /// The file at `path` (relative, `/`-separated, already decoded and checked), if any.
    pub fn get(&self, path: &str) -> Option<&StaticFile> {
        self.files.get(path)
    }

    /// How many files the site holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the site holds no files (never true for a site built by [`Site::new`]).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Why a static folder cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteError {
    MissingPage(&'static str),
    TooLarge,
    TooManyFiles,
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteError::MissingPage(page) => write!(f, "it has no {page}"),
            SiteError::TooLarge => {
                write!(
                    f,
                    "it holds more than {} MiB",
                    MAX_SITE_BYTES / (1024 * 1024)
                )
            }
            SiteError::TooManyFiles => write!(f, "it holds more than {MAX_SITE_FILES} files"),
        }
    }
}

/// Pages the app links to or answers with; a folder without them would serve broken links.
pub const REQUIRED_PAGES: [&str; 4] = ["index.html", "message.html", "sent.html", "error.html"];
/// The folder is held in memory; 64 MiB is far above a site of pages and images and keeps a
/// mistaken `--static /` from exhausting memory.
pub const MAX_SITE_BYTES: u64 = 64 * 1024 * 1024;
/// Likewise bounds the number of files held.
pub const MAX_SITE_FILES: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn pages() -> Vec<(String, Vec<u8>)> {
        REQUIRED_PAGES
            .iter()
            .map(|p| (p.to_string(), p.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn required_pages_must_exist() {
        let mut files = pages();
        files.retain(|(p, _)| p != "message.html");
        assert_eq!(
            Site::new(files).err(),
            Some(SiteError::MissingPage("message.html"))
        );
        assert_eq!(Site::new(pages()).map(|s| s.len()).ok(), Some(4));
    }

    #[test]
    fn size_is_bounded() {
        let mut files = pages();
        files.push(("big.bin".into(), vec![0; MAX_SITE_BYTES as usize + 1]));
        assert_eq!(Site::new(files).err(), Some(SiteError::TooLarge));
    }
}
