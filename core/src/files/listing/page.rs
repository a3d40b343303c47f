//! The HTML form of a folder listing: one self-contained page (its stylesheet and its small
//! script inline, no external address), readable on a phone, usable without the script.
//!
//! Every link is relative, so the page works under any prefix a proxy adds and `wget -r -np`
//! mirrors the tree from it: files are `name`, folders `name/`, the parent `../`. The sort
//! controls are small GET forms rather than links, so a crawler does not fetch every order of
//! every folder. Every name is escaped for HTML and percent-encoded in links.

use std::fmt::Write;

use super::{Entry, EntryKind, ListQuery, SortKey};
use crate::files::FilePath;
use crate::http::page::escape_into;

/// What the page offers beyond the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOptions {
    /// Writes may be allowed (with credentials, if the server asks for them): show the upload,
    /// new-folder and delete controls.
    pub writable: bool,
    /// The folder held more entries than were read.
    pub truncated: bool,
}

/// Renders the listing of `folder` (entries filtered and ordered already).
pub fn render_page(
    folder: &FilePath,
    entries: &[Entry],
    query: &ListQuery,
    options: PageOptions,
) -> Vec<u8> {
    // About 200 bytes a row; one allocation for most folders.
    let mut html = String::with_capacity(PAGE_FRAME + entries.len() * 200);
    let title = title(folder);
    html.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
    );
    escape_into(&mut html, &title);
    html.push_str("</title>\n<style>\n");
    html.push_str(STYLE);
    html.push_str("</style>\n</head>\n<body");
    if options.writable {
        html.push_str(" data-writable=\"1\"");
    }
    html.push_str(">\n<header>\n<h1>");
    push_crumbs(&mut html, folder);
    html.push_str("</h1>\n<p>ferry file server</p>\n</header>\n<main>\n");
    if options.writable {
        html.push_str(UPLOAD_CONTROLS);
    }
    html.push_str("<table>\n<thead><tr>");
    push_sort_header(&mut html, "name", "Name", SortKey::Name, query);
    push_sort_header(&mut html, "size", "Size", SortKey::Size, query);
    push_sort_header(&mut html, "time", "Modified (UTC)", SortKey::Time, query);
    if options.writable {
        html.push_str("<th class=\"act\"><span class=\"hide\">Actions</span></th>");
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    if !folder.segments().is_empty() {
        html.push_str(
            "<tr class=\"dir up\"><td class=\"name\"><a href=\"../\">../</a></td>\
             <td class=\"size\"></td><td class=\"time\">parent folder</td>",
        );
        if options.writable {
            html.push_str("<td class=\"act\"></td>");
        }
        html.push_str("</tr>\n");
    }
    for entry in entries {
        push_row(&mut html, entry, options.writable);
    }
    html.push_str("</tbody>\n</table>\n");
    push_summary(&mut html, entries, options.truncated);
    html.push_str("</main>\n");
    if options.writable {
        html.push_str("<script>\n");
        html.push_str(SCRIPT);
        html.push_str("</script>\n");
    }
    html.push_str("</body>\n</html>\n");
    html.into_bytes()
}

/// `Index of /a/b/`.
fn title(folder: &FilePath) -> String {
    let mut title = String::from("Index of /");
    for segment in folder.segments() {
        title.push_str(segment);
        title.push('/');
    }
    title
}

/// The path as links to each folder above, relative (`../../`), the last one plain text.
fn push_crumbs(html: &mut String, folder: &FilePath) {
    let segments = folder.segments();
    html.push_str("Index of ");
    if segments.is_empty() {
        html.push_str("<span class=\"here\">/</span>");
        return;
    }
    html.push_str("<a href=\"");
    html.push_str(&"../".repeat(segments.len()));
    html.push_str("\">/</a>");
    for (index, segment) in segments.iter().enumerate() {
        let up = segments.len() - index - 1;
        if up == 0 {
            html.push_str("<span class=\"here\">");
            escape_into(html, segment);
            html.push_str("/</span>");
        } else {
            html.push_str("<a href=\"");
            html.push_str(&"../".repeat(up));
            html.push_str("\">");
            escape_into(html, segment);
            html.push_str("/</a>");
        }
    }
}

/// A column heading that sorts by `key`: ascending first, then the other way on a second press.
fn push_sort_header(html: &mut String, class: &str, label: &str, key: SortKey, query: &ListQuery) {
    let active = query.sort == key;
    let next = ListQuery {
        sort: key,
        descending: active && !query.descending,
        json: false,
    };
    let _ = write!(
        html,
        "<th class=\"{class}\"><form method=\"get\" action=\"\"><button name=\"sort\" \
         value=\"{}\"",
        key.as_str()
    );
    if active {
        let direction = if query.descending {
            "descending"
        } else {
            "ascending"
        };
        let _ = write!(html, " aria-sort=\"{direction}\" class=\"on\"");
    }
    html.push('>');
    html.push_str(label);
    if active {
        html.push_str(if query.descending { " ▾" } else { " ▴" });
    }
    let order = if next.descending { "desc" } else { "asc" };
    let _ = write!(
        html,
        "</button><input type=\"hidden\" name=\"order\" value=\"{order}\"></form></th>"
    );
}

fn push_row(html: &mut String, entry: &Entry, writable: bool) {
    let folder = entry.kind == EntryKind::Folder;
    html.push_str(if folder { "<tr class=\"dir\">" } else { "<tr>" });
    html.push_str("<td class=\"name\">");
    let mut href = String::new();
    // A name no request could name (a control character, a backslash) is shown, not linked.
    let linkable = href_segment(&entry.name, &mut href);
    if folder {
        href.push('/');
    }
    if linkable {
        html.push_str("<a href=\"");
        html.push_str(&href);
        html.push_str("\">");
    } else {
        html.push_str("<span class=\"odd\" title=\"this name cannot be requested\">");
    }
    escape_name_into(html, &entry.name);
    if folder {
        html.push('/');
    }
    html.push_str(if linkable { "</a>" } else { "</span>" });
    html.push_str("</td><td class=\"size\"");
    if folder {
        html.push_str("></td>");
    } else {
        let _ = write!(html, " title=\"{} bytes\">", entry.size);
        push_size(html, entry.size);
        html.push_str("</td>");
    }
    let when = super::rfc3339(entry.modified);
    let _ = write!(
        html,
        "<td class=\"time\"><time datetime=\"{when}\">{} {}</time></td>",
        when.get(..10).unwrap_or(""),
        when.get(11..16).unwrap_or("")
    );
    if writable {
        html.push_str("<td class=\"act\">");
        if linkable {
            html.push_str("<button type=\"button\" class=\"del\" data-href=\"");
            html.push_str(&href);
            html.push_str("\" title=\"Delete\" aria-label=\"Delete ");
            escape_into(html, &entry.name);
            html.push_str("\">✕</button>");
        }
        html.push_str("</td>");
    }
    html.push_str("</tr>\n");
}

fn push_summary(html: &mut String, entries: &[Entry], truncated: bool) {
    let folders = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Folder)
        .count();
    let files = entries.len() - folders;
    let bytes: u64 = entries.iter().map(|e| e.size).fold(0, u64::saturating_add);
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let _ = write!(
        html,
        "<p class=\"summary\">{folders} folder{}, {files} file{} (",
        plural(folders),
        plural(files)
    );
    push_size(html, bytes);
    html.push(')');
    if truncated {
        let _ = write!(
            html,
            ". <strong>This folder holds more than {} entries; only those are listed.</strong>",
            super::MAX_ENTRIES
        );
    }
    html.push_str("</p>\n");
}

/// A size for people: bytes under 1 KiB, else one decimal in KiB, MiB, GiB or TiB.
fn push_size(html: &mut String, bytes: u64) {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        let _ = write!(html, "{bytes} B");
        return;
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let _ = write!(html, "{value:.1} {}", UNITS[unit]);
}

/// Escapes a name for the page with its control characters made visible (a newline as `␊`,
/// Unicode's Control Pictures), so a name that holds one neither breaks the row's layout nor
/// looks like another file's name.
fn escape_name_into(html: &mut String, name: &str) {
    if !name.chars().any(char::is_control) {
        return escape_into(html, name);
    }
    let visible: String = name
        .chars()
        .map(|c| match u32::from(c) {
            // U+2400 to U+241F picture C0 controls one for one; U+2421 is DELETE.
            code @ 0..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
            0x7f => '\u{2421}',
            _ if c.is_control() => '\u{fffd}',
            _ => c,
        })
        .collect();
    escape_into(html, &visible);
}

/// Percent-encodes `name` into `out` for an `href` (everything but `A-Z a-z 0-9 - . _ ~`);
/// false when the server would refuse the name as a path segment anyway.
fn href_segment(name: &str, out: &mut String) -> bool {
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    !(name == "." || name == ".." || name.contains(['\\']) || name.chars().any(char::is_control))
}

/// The upload, new-folder and progress controls; the script brings them to life (without it,
/// the page is a plain listing and the controls stay hidden).
const UPLOAD_CONTROLS: &str = "<section id=\"upload\" class=\"upload\" hidden>\n\
<label class=\"button pick\">Upload files<input type=\"file\" id=\"pick\" multiple></label>\n\
<button type=\"button\" id=\"mkdir\" class=\"button quiet\">New folder</button>\n\
<span class=\"hint\">or drop files anywhere on the page</span>\n\
<ul id=\"progress\" aria-live=\"polite\"></ul>\n</section>\n";
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// Bytes of the page around its rows: head, style, script, controls.
const PAGE_FRAME: usize = 8 * 1024;
