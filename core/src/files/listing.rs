//! Folder listings: which entries of a folder a listing shows, in which order, and the two forms
//! it is given in (an HTML page, [`page`], or a JSON array).
//!
//! The shell reads a folder's entries through the root's descriptor and reports them as
//! [`Entry`] values; everything after that is decided here: hidden and reserved names are left
//! out, the query (`?sort=size&order=desc`, `?json`) and the `Accept` header pick the order and
//! the form. Never touches the file system.

pub mod page;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::path::{is_temp_name, UPLOAD_FOLDER};

pub use page::render_page;

/// One entry of a folder, as the shell found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    /// Bytes, for a file; zero for a folder.
    pub size: u64,
    pub modified: OffsetDateTime,
}

/// What an entry is; anything else (devices, sockets, symlinks leading out) is not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Folder,
}

/// What the shell read of a folder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// The folder held more than [`MAX_ENTRIES`] entries; only the first ones read are here.
    pub truncated: bool,
}

/// The order a listing asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    Size,
    Time,
}

/// How a listing was asked for: its order, and whether as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListQuery {
    pub sort: SortKey,
    pub descending: bool,
    /// `?json` (any value) was in the query.
    pub json: bool,
}

impl SortKey {
    /// The word the query uses for this key.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Time => "time",
        }
    }
}

impl ListQuery {
    /// Reads the query of a request target (the part after `?`, if any). Unknown keys and
    /// unknown values are ignored, so a hand-typed or stale address still lists the folder.
    pub fn from_target(target: &str) -> ListQuery {
        let query = target
            .split('#')
            .next()
            .and_then(|t| t.split_once('?'))
            .map_or("", |(_, query)| query);
        let mut parsed = ListQuery::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (key, value) {
                ("sort", "name") => parsed.sort = SortKey::Name,
                ("sort", "size") => parsed.sort = SortKey::Size,
                ("sort", "time") => parsed.sort = SortKey::Time,
                ("order", "asc") => parsed.descending = false,
                ("order", "desc") => parsed.descending = true,
                ("json", _) => parsed.json = true,
                _ => {}
            }
        }
        parsed
    }

    /// The query that asks for this order (without `json`), as the page's controls send it.
    pub fn to_query(self) -> String {
        let order = if self.descending { "desc" } else { "asc" };
        format!("sort={}&order={order}", self.sort.as_str())
    }
}

/// Whether an `Accept` value prefers JSON to HTML: `application/json` must have a higher
/// quality than `text/html` (each taking the quality of the most specific range that matches
/// it, RFC 9110 §12.5.1). A tie goes to HTML, so `*/*` (curl, wget) gets the page.
pub fn prefers_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    quality(accept, "application", "json") > quality(accept, "text", "html")
}

/// Whether a listing shows `name`: never the server's own files (its upload folder at the top,
/// temporary files anywhere), dot files only with `hidden`.
pub fn is_listed(name: &str, at_root: bool, hidden: bool) -> bool {
    if is_temp_name(name) || (at_root && name == UPLOAD_FOLDER) {
        return false;
    }
    hidden || !name.starts_with('.')
}

/// Orders entries as the query asks: folders first whatever the order, then by the key, ties
/// broken by name so the order is the same on every request.
pub fn sort_entries(entries: &mut [Entry], query: &ListQuery) {
    entries.sort_unstable_by(|a, b| {
        let folders_first = (a.kind != EntryKind::Folder).cmp(&(b.kind != EntryKind::Folder));
        let by_key = match query.sort {
            SortKey::Name => std::cmp::Ordering::Equal,
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Time => a.modified.cmp(&b.modified),
        };
        let by_key = by_key.then_with(|| a.name.cmp(&b.name));
        let by_key = if query.descending {
            by_key.reverse()
        } else {
            by_key
        };
        folders_first.then(by_key)
    });
}

/// The listing as a JSON array of `{"name", "type": "file"|"dir", "size", "modified"}`; a
/// folder's size is `null`, times are RFC 3339 in UTC.
pub fn render_json(entries: &[Entry]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Item<'a> {
        name: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
        size: Option<u64>,
        modified: String,
    }
    let items: Vec<Item> = entries
        .iter()
        .map(|entry| Item {
            name: &entry.name,
            kind: match entry.kind {
                EntryKind::File => "file",
                EntryKind::Folder => "dir",
            },
            size: (entry.kind == EntryKind::File).then_some(entry.size),
            modified: rfc3339(entry.modified),
        })
        .collect();
    // Strings and numbers only: serialising cannot fail.
    let mut json = serde_json::to_vec(&items).unwrap_or_else(|_| b"[]".to_vec());
    json.push(b'\n');
    json
}

/// A time as RFC 3339 in UTC, whole seconds (`2026-01-02T03:04:05Z`).
pub(crate) fn rfc3339(time: OffsetDateTime) -> String {
    let utc = time.to_offset(time::UtcOffset::UTC);
    let whole = utc.replace_nanosecond(0).unwrap_or(utc);
    whole.format(&Rfc3339).unwrap_or_default()
}

/// The quality `accept` gives `kind/subtype`: that of the most specific matching range, 0 when
/// none matches.
fn quality(accept: &str, kind: &str, subtype: &str) -> u32 {
    let mut best: Option<(u8, u32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let Some((range_kind, range_subtype)) = media.split_once('/') else {
            continue;
        };
        let specificity = match (range_kind.trim(), range_subtype.trim()) {
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => 2,
            (k, "*") if k.eq_ignore_ascii_case(kind) => 1,
            ("*", "*") => 0,
            _ => continue,
        };
        let q = parts
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1000), |(_, value)| parse_q(value.trim()));
        let Some(q) = q else { continue };
        let better = match best {
            Some((seen, _)) => specificity > seen,
            None => true,
        };
        if better {
            best = Some((specificity, q));
        }
    }
    best.map_or(0, |(_, q)| q)
}

/// A quality value (RFC 9110 §12.4.2: `0`, `1`, or up to three decimals) in thousandths.
fn parse_q(value: &str) -> Option<u32> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = match whole {
        "0" => format!("{fraction:0<3}").parse::<u32>().ok()?,
        "1" if fraction.bytes().all(|b| b == b'0') => 1000,
        _ => return None,
    };
    Some(thousandths)
}

/// The most entries read from one folder: a listing of 100,000 names is about 20 MB of HTML,
/// as much as a browser shows usefully; past that the page says the folder was cut short.
pub const MAX_ENTRIES: usize = 100_000;

#[cfg(test)]
mod tests;
