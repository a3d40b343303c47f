//! The write side of a [`FileRequest`]: PUT of a file (an upload), PUT of a folder (a new
//! folder, as WebDAV's MKCOL), DELETE, and the answers to how each ended.
//!
//! All three keep to the same rules: no path of the server's own, never the root itself, and
//! everything decided before any body byte is read.

use super::{FileRequest, FileStep, Stage, WriteOutcome};
use crate::files::FilePath;
use crate::http::{BodyFraming, Response};

impl FileRequest {
    /// Takes how the write of the last `Upload`, `MakeFolder` or `Remove` step ended (or why it
    /// could not start); returns the answer.
    pub fn written(&mut self, outcome: WriteOutcome) -> FileStep {
        let stage = std::mem::replace(&mut self.stage, Stage::Done);
        match (stage, outcome) {
            (_, WriteOutcome::Created) => self.respond(Response::new(201), None),
            (_, WriteOutcome::Replaced | WriteOutcome::Exists | WriteOutcome::Removed) => {
                self.respond(Response::new(204), None)
            }
            (_, WriteOutcome::Missing) => self.page(404, "Nothing has this name."),
            (_, WriteOutcome::NotEmpty) => {
                self.page(409, "This folder is not empty; remove what is in it first.")
            }
            (Stage::MakingFolder, WriteOutcome::Conflict) => {
                self.page(409, "A file is in the way of this folder.")
            }
            (Stage::Removing, WriteOutcome::Conflict) => {
                self.page(409, "This is a file; its address has no trailing slash.")
            }
            (_, WriteOutcome::Conflict) => self.page(409, "A folder is in the way of this file."),
            (_, WriteOutcome::Forbidden) => self.page(403, "This path may not be written."),
            (_, WriteOutcome::NoSpace) => self.page(507, "The disk has no room for this file."),
            (_, WriteOutcome::Failed) => self.page(500, "The change could not be written."),
        }
    }

    /// PUT: a file's upload, or with a trailing slash and no body, a new folder.
    pub(super) fn start_put(&mut self, path: FilePath) -> FileStep {
        if path.is_reserved() {
            return self.page(403, "This name is kept for the server's own files.");
        }
        if path.is_folder() {
            if path.segments().is_empty() {
                return self.page(409, "The root folder exists already.");
            }
            if self.framing != BodyFraming::Empty {
                return self.page(409, "A folder cannot be uploaded to; name a file.");
            }
            self.stage = Stage::MakingFolder;
            return FileStep::MakeFolder(path);
        }
        // Refused before 100 Continue, so the client never sends the body.
        if let BodyFraming::Length(n) = self.framing {
            if n > self.config.max_upload {
                return self.page(413, "The file is larger than this server accepts.");
            }
        }
        self.stage = Stage::Uploading;
        FileStep::Upload(path)
    }

    /// DELETE of a file or an empty folder.
    pub(super) fn start_delete(&mut self, path: FilePath) -> FileStep {
        if path.is_reserved() {
            return self.page(403, "This name is kept for the server's own files.");
        }
        if path.segments().is_empty() {
            return self.page(403, "The root folder cannot be removed.");
        }
        if self.framing != BodyFraming::Empty {
            return self.page(400, "A DELETE takes no body.");
        }
        self.stage = Stage::Removing;
        FileStep::Remove(path)
    }
}
