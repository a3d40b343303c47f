//! Tail repair: turning a scanned file's end into the closing ferry appends after.
//!
//! Owns the decision of what to cut and what to write back after a scan, and the one-line note
//! that tells the operator what a repair dropped. It only ever touches bytes after the last
//! complete record; damage before that is a scan error, never repaired. Never touches files.

use std::path::Path;

use crate::format::encode::closing;
use crate::format::scan::{ScanReport, Tail};

/// What to do to a file's end before appending: cut it at `truncate_at`, then write `closing`
/// there. Cutting first means an interruption between the two leaves a torn tail, which the next
/// scan repairs; writing first could leave the old closing stranded after the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailFix {
    /// The append offset; every byte before it is kept.
    pub truncate_at: u64,
    /// The bytes written at `truncate_at`, which then end the file.
    pub closing: &'static [u8],
    /// Whether the file ended in a torn write (as opposed to a valid closing in another layout).
    pub torn: bool,
    /// How many bytes the old end held after `truncate_at`.
    pub dropped: u64,
    /// Complete records kept.
    pub records: u64,
}

impl TailFix {
    /// The fix a scanned file needs before ferry can append to it, or `None` if its end is
    /// already ferry's closing.
    pub fn for_scan(report: &ScanReport) -> Option<TailFix> {
        if report.tail == Tail::Canonical {
            return None;
        }
        Some(TailFix {
            truncate_at: report.append_offset,
            closing: closing(report.is_empty()),
            torn: report.tail == Tail::Torn,
            dropped: report.len - report.append_offset,
            records: report.records,
        })
    }

    /// A one-line description of a torn-tail repair of the file at `path`, for the operator;
    /// `None` when the fix only rewrites a valid closing, which loses nothing.
    pub fn note(&self, path: &Path) -> Option<String> {
        if !self.torn {
            return None;
        }
        let records = plural(self.records, "record");
        let path = path.display();
        Some(if self.dropped == 0 {
            format!("repaired {path}: restored the missing end of the JSON object after {records}")
        } else {
            let bytes = plural(self.dropped, "byte");
            format!("repaired {path}: dropped a torn tail of {bytes} after {records}")
        })
    }

    /// Applies the fix to a file held in memory: the same effect `FileStore` has on disk.
    pub fn apply_to(&self, file: &mut Vec<u8>) {
        file.truncate(usize::try_from(self.truncate_at).unwrap_or(usize::MAX));
        file.extend_from_slice(self.closing);
    }
}

/// `count` followed by `noun`, with an `s` unless the count is one.
fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
