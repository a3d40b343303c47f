//! [`FileRequest`]: one request to the file server, from its head to its answer and log line.
//!
//! # Theory of operation
//!
//! [`FileRequest::new`] reads the head and returns the first [`FileStep`]:
//!
//! - `GET /__ferry/health` is answered at once, before anything else (no credentials needed).
//! - Anything refused by method or path (405, 403, 400, 501) is `Respond` at once.
//! - When the request needs credentials ([`AuthScope`]): without a usable `Authorization`
//!   header it is 401 at once; with one it is `Authenticate`, and the shell reports with
//!   [`FileRequest::authenticated`] (a wrong password is the same 401). The rest follows then.
//! - GET/HEAD: `Lookup(path)`; the shell reports a [`Lookup`] through
//!   [`FileRequest::looked_up`]. A folder named with its trailing slash becomes a lookup of its
//!   `index.html`, and without one a `List` of the folder (unless listings are off), reported
//!   with [`FileRequest::listed`]; a folder named without its slash is a 301 to the name with
//!   it; a missing file (or one of the server's own, see [`FilePath::is_reserved`]) a lookup of
//!   the root's `index.html`, which is the body of the 404 (a built-in page when it is missing
//!   too). At most three lookups and one listing, then `Respond`.
//! - PUT of a file: `Upload(path)` once the declared size is acceptable; the shell opens a
//!   temporary file, takes the body, renames, and reports a [`WriteOutcome`] through
//!   [`FileRequest::written`]. PUT of a folder (`/path/`, no body): `MakeFolder(path)`.
//!   DELETE: `Remove(path)`. Both report through [`FileRequest::written`] too.
//!
//! The request remembers what it answered, so [`FileRequest::log_line`] can describe it.

use std::net::IpAddr;
use std::time::Duration;

use time::OffsetDateTime;

use super::auth::{parse_basic, unauthorized, AuthScope, Credentials};
use super::log::{log_line, LogEntry};
use super::path::{folder_location, resolve, FilePath};
use super::range::{content_range, parse_range, unsatisfied_range, RangeRequest};
use crate::http::conditional::{
    cache_control, etag, if_range_holds, is_not_modified, last_modified,
};
use crate::http::page::escape_into;
use crate::http::{
    content_type, health_response, is_health_check, reason_phrase, Body, BodyFraming, Method,
    RequestHead, Response, Version,
};

mod browse;
mod writes;

/// The file server's settings that shape answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilesConfig {
    /// `--read-only`: PUT and DELETE are answered 405.
    pub read_only: bool,
    /// `--max-upload`: a larger PUT body is answered 413 before it is read.
    pub max_upload: u64,
    /// `--max-age`: how long a client may keep a file without asking again; zero (the default)
    /// sends `Cache-Control: no-cache`, so every use is revalidated with the file's validators.
    pub max_age: Duration,
    /// A folder without an `index.html` is listed (off with `--no-list`: 404).
    pub list: bool,
    /// `--hidden`: listings show dot files too.
    pub hidden: bool,
    /// Which requests need credentials (`--auth`, `--auth-read`).
    pub auth: AuthScope,
    /// Without `--auth`, whether anyone may write: see
    /// [`anonymous_writes_allowed`](super::auth::anonymous_writes_allowed).
    pub anonymous_writes: bool,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            read_only: false,
            max_upload: DEFAULT_MAX_UPLOAD,
            max_age: Duration::ZERO,
            list: true,
            hidden: false,
            auth: AuthScope::Off,
            anonymous_writes: true,
        }
    }
}

impl FilesConfig {
    /// Whether anyone may write at all, with credentials or without: what the listing offers.
    pub fn takes_writes(&self) -> bool {
        !self.read_only && (self.auth != AuthScope::Off || self.anonymous_writes)
    }
}

/// What the shell must do next for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStep {
    /// Open this path under the root (refusing one whose real location is outside the root),
    /// keep it open, and report what it is with [`FileRequest::looked_up`].
    Lookup(FilePath),
    /// Read the entries of this folder under the root (at most
    /// [`MAX_ENTRIES`](super::listing::MAX_ENTRIES)) and report them with
    /// [`FileRequest::listed`].
    List(FilePath),
    /// Check these credentials against the password file (unknown users cost a check too) and
    /// report with [`FileRequest::authenticated`].
    Authenticate(Credentials),
    /// Accept the body and write it atomically to this path under the root; report with
    /// [`FileRequest::written`].
    Upload(FilePath),
    /// Create this folder (and the missing ones above it) under the root; report with
    /// [`FileRequest::written`].
    MakeFolder(FilePath),
    /// Remove this file or empty folder under the root (a folder only when the path names one
    /// with its trailing slash or is one); report with [`FileRequest::written`].
    Remove(FilePath),
    /// Send this answer; the request is finished.
    Respond(FileAnswer),
}

/// A response and, for a download, the part of the last looked-up file that is its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAnswer {
    pub response: Response,
    /// `(offset, len)`: the bytes of the open file the shell sends after the head, when the
    /// connection asks for them ([`crate::http::HttpConn::external_body`]; never for HEAD).
    pub file_part: Option<(u64, u64)>,
}

/// What the shell found at a looked-up path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A regular file, now open.
    File { len: u64, modified: OffsetDateTime },
    /// A folder.
    Folder,
    /// Nothing there (or not a file or folder).
    Missing,
    /// Its real location is outside the root, or the server may not read it.
    Forbidden,
}

/// How a write (an upload, a new folder, a removal) ended, as the shell reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file or folder did not exist and now does.
    Created,
    /// An existing file was replaced.
    Replaced,
    /// The folder to create exists already.
    Exists,
    /// The file or folder was removed.
    Removed,
    /// Nothing to remove there.
    Missing,
    /// The folder to remove is not empty.
    NotEmpty,
    /// A folder is in the way of a file, or a file in the way of a folder.
    Conflict,
    /// The path leads outside the root through a symlink, or writing is not permitted.
    Forbidden,
    /// The disk is full (or the server's file size or quota is reached); nothing was replaced.
    NoSpace,
    /// The disk refused the write (an I/O error); nothing was replaced.
    Failed,
}

/// One request to the file server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRequest {
    request_line: String,
    /// The request target as sent, for the redirect of a folder named without its slash.
    target: String,
    method: Method,
    framing: BodyFraming,
    referer: Option<String>,
    user_agent: Option<String>,
    accept: Option<String>,
    head_only: bool,
    range: Option<String>,
    if_range: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    config: FilesConfig,
    stage: Stage,
    /// Status and body bytes of the answer, once given.
    answered: Option<(u16, Option<u64>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Waiting for the credentials to be checked; then this path is served.
    Authenticating(FilePath),
    /// Looking up the path the target names.
    Target(FilePath),
    /// Looking up the `index.html` of this folder.
    FolderIndex(FilePath),
    /// Reading the entries of this folder.
    Listing(FilePath),
    /// Looking up the root's `index.html`, the body of a 404.
    NotFoundPage,
    Uploading,
    MakingFolder,
    Removing,
    Done,
}

impl FileRequest {
    /// Starts a request from its head; returns it with its first step.
    pub fn new(head: &RequestHead, config: &FilesConfig) -> (FileRequest, FileStep) {
        let text = |name: &str| head.header_str(name).map(str::to_owned);
        let version = match head.version {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        };
        let mut request = FileRequest {
            request_line: format!("{} {} {version}", head.method.as_str(), head.target),
            target: head.target.clone(),
            method: head.method.clone(),
            framing: head.framing,
            referer: text("referer"),
            user_agent: text("user-agent"),
            accept: text("accept"),
            head_only: head.method == Method::Head,
            range: text("range"),
            if_range: text("if-range"),
            if_none_match: text("if-none-match"),
            if_modified_since: text("if-modified-since"),
            config: *config,
            stage: Stage::Done,
            answered: None,
        };
        let step = request.start(head);
        (request, step)
    }

    /// Takes what the shell found for the last [`FileStep::Lookup`]; returns the next step.
    pub fn looked_up(&mut self, found: Lookup) -> FileStep {
        let stage = std::mem::replace(&mut self.stage, Stage::Done);
        let name = match &stage {
            Stage::Target(path) => path.segments().last().map_or(super::INDEX, String::as_str),
            _ => super::INDEX,
        };
        let kind = content_type(name);
        match (stage, found) {
            (Stage::NotFoundPage, Lookup::File { len, .. }) => self.respond(
                Response::new(404).with_body(HTML, Body::External { len }),
                Some((0, len)),
            ),
            (Stage::NotFoundPage, _) => self.page(404, "No file has this name."),
            (Stage::Target(_) | Stage::FolderIndex(_), Lookup::File { len, modified }) => {
                self.serve(len, modified, kind)
            }
            (Stage::Target(_), Lookup::Folder) => {
                let location = folder_location(&self.target);
                let step = self.page(301, "This is a folder; its address ends with a slash.");
                with_header(step, "Location", location)
            }
            (Stage::FolderIndex(folder), Lookup::Folder | Lookup::Missing) if self.config.list => {
                self.stage = Stage::Listing(folder.clone());
                FileStep::List(folder)
            }
            (Stage::Target(_) | Stage::FolderIndex(_), Lookup::Folder | Lookup::Missing) => {
                self.not_found()
            }
            (_, Lookup::Forbidden) => self.page(403, "This path may not be read."),
            (_, _) => self.page(500, "The server lost its way."),
        }
    }

    /// The connection refused the request's body itself (a chunked upload over the limit, a
    /// stalled or malformed body) and answered `status`; the log line says so.
    pub fn refused_by_connection(&mut self, status: u16) {
        self.stage = Stage::Done;
        self.answered = Some((status, None));
    }

    /// The status the request was answered with, once it was.
    pub fn status(&self) -> Option<u16> {
        self.answered.map(|(status, _)| status)
    }

    /// The access log line for this request, once answered: from the client `remote`, arrived at
    /// wall-clock `time`, answered within `duration`. `cut_after` is the number of body bytes
    /// sent when the body could not be sent in full (the client went away, or stopped reading);
    /// the line then gives that number, not the length the answer promised.
    pub fn log_line(
        &self,
        remote: IpAddr,
        time: OffsetDateTime,
        duration: Duration,
        cut_after: Option<u64>,
    ) -> String {
        let (status, body_bytes) = self.answered.unwrap_or((500, None));
        let body_bytes = match (body_bytes, cut_after) {
            (Some(promised), Some(sent)) => Some(sent.min(promised)),
            (body_bytes, _) => body_bytes,
        };
        log_line(&LogEntry {
            remote,
            time,
            request_line: Some(&self.request_line),
            status,
            body_bytes,
            referer: self.referer.as_deref(),
            user_agent: self.user_agent.as_deref(),
            duration,
        })
    }

    fn start(&mut self, head: &RequestHead) -> FileStep {
        if is_health_check(&head.method, &head.target) {
            return self.respond(health_response(), None);
        }
        let writes = match head.method {
            Method::Get | Method::Head => false,
            Method::Put | Method::Delete if !self.config.read_only => true,
            Method::Other(_) => return self.page(501, "This method is not implemented."),
            _ => {
                let allow = if self.config.read_only {
                    ALLOW_READ_ONLY
                } else {
                    ALLOW_READ_WRITE
                };
                let step = self.page(405, "This server does not take this method here.");
                return with_header(step, "Allow", allow);
            }
        };
        let path = match resolve(&head.target) {
            Ok(path) => path,
            Err(error) => return self.page(error.status(), &error.to_string()),
        };
        let needs_credentials = match self.config.auth {
            AuthScope::Off => false,
            AuthScope::Writes => writes,
            AuthScope::Everything => true,
        };
        if needs_credentials {
            return match head.header_str("authorization").and_then(parse_basic) {
                Some(credentials) => {
                    self.stage = Stage::Authenticating(path);
                    FileStep::Authenticate(credentials)
                }
                None => self.respond(unauthorized(), None),
            };
        }
        if writes && !self.config.takes_writes() {
            return self.page(
                403,
                "This server takes no writes without credentials: it listens beyond this \
                 machine (start it with --auth, or --allow-anonymous-writes).",
            );
        }
        self.proceed(path)
    }

    /// Serves a request whose method, path and credentials are acceptable.
    fn proceed(&mut self, path: FilePath) -> FileStep {
        match self.method {
            Method::Put => return self.start_put(path),
            Method::Delete => return self.start_delete(path),
            _ => {}
        }
        if path.is_reserved() {
            // As if nothing were there: the server's own files are not even shown to exist.
            return self.not_found();
        }
        if path.is_folder() {
            self.stage = Stage::FolderIndex(path.clone());
            return FileStep::Lookup(path.join(super::INDEX));
        }
        self.stage = Stage::Target(path.clone());
        FileStep::Lookup(path)
    }

    /// The 404: the root's `index.html` as its body, once looked up.
    fn not_found(&mut self) -> FileStep {
        self.stage = Stage::NotFoundPage;
        FileStep::Lookup(FilePath::root_index())
    }

    /// The answer to a GET or HEAD of a file found with this length and modification time.
    fn serve(&mut self, len: u64, modified: OffsetDateTime, kind: &'static str) -> FileStep {
        let tag = etag(len, modified);
        let freshness = cache_control(self.config.max_age);
        let validators = |response: Response| {
            response
                .with_header("ETag", tag.clone())
                .with_header("Last-Modified", last_modified(modified))
                .with_header("Cache-Control", freshness.clone())
        };
        if is_not_modified(
            self.if_none_match.as_deref(),
            self.if_modified_since.as_deref(),
            &tag,
            modified,
        ) {
            return self.respond(validators(Response::new(304)), None);
        }
        let range = match &self.range {
            Some(value) if if_range_holds(self.if_range.as_deref(), &tag, modified) => {
                parse_range(value, len)
            }
            _ => RangeRequest::Full,
        };
        match range {
            RangeRequest::Full => {
                let response = Response::new(200).with_body(kind, Body::External { len });
                let response = validators(response).with_header("Accept-Ranges", "bytes");
                self.respond(response, Some((0, len)))
            }
            RangeRequest::Partial { start, len: part } => {
                let response = Response::new(206)
                    .with_body(kind, Body::External { len: part })
                    .with_header("Content-Range", content_range(start, part, len));
                let response = validators(response).with_header("Accept-Ranges", "bytes");
                self.respond(response, Some((start, part)))
            }
            RangeRequest::Unsatisfiable => {
                let step = self.page(416, "The range asked for is past the end of the file.");
                with_header(step, "Content-Range", unsatisfied_range(len))
            }
        }
    }

    /// A built-in HTML page for `status`.
    fn page(&mut self, status: u16, detail: &str) -> FileStep {
        let body = builtin_page(status, detail);
        self.respond(
            Response::new(status).with_body(HTML, Body::Owned(body)),
            None,
        )
    }

    fn respond(&mut self, response: Response, file_part: Option<(u64, u64)>) -> FileStep {
        self.stage = Stage::Done;
        let sends_body = !self.head_only && !matches!(response.status, 204 | 304);
        let body_bytes = sends_body.then(|| response.body.len());
        self.answered = Some((response.status, body_bytes));
        let file_part = file_part.filter(|_| sends_body);
        FileStep::Respond(FileAnswer {
            response,
            file_part,
        })
    }
}

/// The access log line for a request refused before its head could be read (the connection's
/// own error answer, with `status`).
pub fn rejected_log_line(
    remote: IpAddr,
    time: OffsetDateTime,
    status: u16,
    duration: Duration,
) -> String {
    log_line(&LogEntry {
        remote,
        time,
        request_line: None,
        status,
        body_bytes: None,
        referer: None,
        user_agent: None,
        duration,
    })
}

/// Adds a header to the response of a `Respond` step.
fn with_header(step: FileStep, name: &'static str, value: impl Into<String>) -> FileStep {
    match step {
        FileStep::Respond(mut answer) => {
            answer.response = answer.response.with_header(name, value.into());
            FileStep::Respond(answer)
        }
        other => other,
    }
}

/// A small self-contained page: the file server has no stylesheet of its own to link.
fn builtin_page(status: u16, detail: &str) -> Vec<u8> {
    let mut html = String::with_capacity(256);
    let title = format!("{status} {}", reason_phrase(status));
    html.push_str("<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>");
    escape_into(&mut html, &title);
    html.push_str("</title></head>\n<body>\n<h1>");
    escape_into(&mut html, &title);
    html.push_str("</h1>\n<p>");
    escape_into(&mut html, detail);
    html.push_str("</p>\n</body>\n</html>\n");
    html.into_bytes()
}

/// 1 GiB, the SPEC's default `--max-upload`: large enough for disk images and videos, small
/// enough that a mistaken upload cannot fill a typical disk.
pub const DEFAULT_MAX_UPLOAD: u64 = 1024 * 1024 * 1024;
/// The file server's `--request-timeout`: a whole upload of the default largest size takes ten
/// minutes at 1.7 MB/s, a modest uplink; a client trickling bytes is still freed within that.
pub const DEFAULT_UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// The methods a read-only file server takes.
pub const ALLOW_READ_ONLY: &str = "GET, HEAD";
/// The methods a writable file server takes.
pub const ALLOW_READ_WRITE: &str = "GET, HEAD, PUT, DELETE";
const HTML: &str = "text/html; charset=utf-8";

#[cfg(test)]
mod browse_tests;
#[cfg(test)]
mod tests;
