//! From a request target to a path under the file server's root, and from a URL path to the
//! name `ferry client` saves a download under.
//!
//! Owns every rule about which paths may be touched: percent-decoding, and refusing `..`, `.`,
//! encoded slashes, backslashes, NUL and other control bytes, empty segments (`//etc`) and
//! anything that is not UTF-8. A [`FilePath`] holds only plain names, so joining its segments
//! to the root can never leave it. Also owns the names the server keeps for itself (its upload
//! folder, its temporary files), which no request may reach, and where a folder named without
//! its trailing slash redirects to. Symlinks are the shell's part: it opens every path beneath
//! the root without following one out. Never touches the file system.

use std::fmt;

/// A checked path under the root: plain segments, none of them empty, `.` or `..`, none holding
/// `/`, `\` or a control byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePath {
    segments: Vec<String>,
    /// The target ended in `/` (or was `/`): it names a folder.
    folder: bool,
}

/// Why a target names no file the server may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not an origin-form (`/...`) or absolute-form (`http://host/...`) target.
    NotAPath,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded path is not UTF-8.
    NotUtf8,
    /// A `.` or `..` segment, written plainly or percent-encoded.
    DotSegment,
    /// `%2F` inside a segment: a slash that is not a separator.
    EncodedSlash,
    /// A backslash, plain or encoded (a separator on some systems).
    Backslash,
    /// NUL or another control byte.
    ControlByte,
    /// `//`: an empty segment, which some joins read as an absolute path.
    EmptySegment,
}

impl FilePath {
    /// The segments, each a plain file or folder name.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the target ended in `/` and so names a folder.
    pub fn is_folder(&self) -> bool {
        self.folder
    }

    /// The path relative to the root, segments joined by `/` (empty for the root itself).
    pub fn relative(&self) -> String {
        self.segments.join("/")
    }

    /// This path with one more plain segment (`index.html` of a folder).
    pub fn join(&self, name: &str) -> FilePath {
        let mut segments = self.segments.clone();
        segments.push(name.to_owned());
        FilePath {
            segments,
            folder: false,
        }
    }

    /// The root's own `index.html`.
    pub fn root_index() -> FilePath {
        FilePath {
            segments: vec![INDEX.to_owned()],
            folder: false,
        }
    }

    /// Whether the path reaches the server's own files: its upload folder at the top of the
    /// root, or a temporary file's name anywhere. Such a path is answered as if nothing were
    /// there, and never written.
    pub fn is_reserved(&self) -> bool {
        self.segments
            .first()
            .is_some_and(|first| first == UPLOAD_FOLDER)
            || self.segments.iter().any(|segment| is_temp_name(segment))
    }
}

impl PathError {
    /// The status a request for this path is answered with: 400 for a target that is not
    /// readable at all, 403 for one that tries to leave or confuse the root.
    pub fn status(&self) -> u16 {
        match self {
            PathError::NotAPath | PathError::BadEscape | PathError::NotUtf8 => 400,
            _ => 403,
        }
    }
}

/// Resolves a request target to a checked path under the root. The query and fragment are
/// ignored.
pub fn resolve(target: &str) -> Result<FilePath, PathError> {
    let path = origin_path(target).ok_or(PathError::NotAPath)?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    let Some(relative) = path.strip_prefix('/') else {
        return Err(PathError::NotAPath);
    };
    let folder = relative.is_empty() || relative.ends_with('/');
    let relative = relative.strip_suffix('/').unwrap_or(relative);
    let mut segments = Vec::new();
    if relative.is_empty() {
        return Ok(FilePath { segments, folder });
    }
    // Split before decoding, so an encoded slash stays inside its segment and is refused there.
    for raw in relative.split('/') {
        segments.push(segment(raw)?);
    }
    Ok(FilePath { segments, folder })
}

/// The name a download of `path` (a URL path as given to `ferry client`) is saved under: its
/// last segment, decoded and checked like a server path, so no name can lead out of the
/// current folder. `None` when the path has no such name (`/`, `/dir/`, `/..`).
pub fn download_name(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let last = path.rsplit('/').next()?;
    if last.is_empty() {
        return None;
    }
    segment(last).ok()
}

/// Where a request for a folder named without its trailing slash is redirected: the target's
/// path as sent (still percent-encoded) with `/` added, and its query kept, so relative links
/// in the folder's `index.html` resolve inside the folder (RFC 3986 §5.2).
pub fn folder_location(target: &str) -> String {
    let path = origin_path(target).unwrap_or("/");
    let path = path.split('#').next().unwrap_or("");
    match path.split_once('?') {
        Some((path, query)) => format!("{path}/?{query}"),
        None => format!("{path}/"),
    }
}

/// The name of an upload's temporary file, from a number no other upload in progress uses:
/// short whatever the target's name (a 255-byte name still gets its upload), and starting with
/// [`TEMP_PREFIX`], so no request can name it.
pub fn temp_name(unique: u64) -> String {
    format!("{TEMP_PREFIX}{unique:016x}{TEMP_SUFFIX}")
}

/// Whether `name` is one [`temp_name`] gives.
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Decodes and checks one segment.
fn segment(raw: &str) -> Result<String, PathError> {
    if raw.is_empty() {
        return Err(PathError::EmptySegment);
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEscape)?;
            let value = hex_pair(hex).ok_or(PathError::BadEscape)?;
            if value == b'/' {
                return Err(PathError::EncodedSlash);
            }
            decoded.push(value);
            i += 3;
        } else {
            decoded.push(byte);
            i += 1;
        }
    }
    if decoded.contains(&b'\\') {
        return Err(PathError::Backslash);
    }
    if decoded.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(PathError::ControlByte);
    }
    let text = String::from_utf8(decoded).map_err(|_| PathError::NotUtf8)?;
    if text == "." || text == ".." {
        return Err(PathError::DotSegment);
    }
    Ok(text)
}

fn hex_pair(hex: &[u8]) -> Option<u8> {
    let high = (*hex.first()? as char).to_digit(16)?;
    let low = (*hex.get(1)? as char).to_digit(16)?;
    // Two hex digits are at most 255.
    Some((high * 16 + low) as u8)
}

/// The path part of an origin-form or absolute-form target.
fn origin_path(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    let scheme_end = target.find("://")?;
    let rest = target.get(scheme_end + 3..)?;
    Some(rest.find('/').map_or("/", |i| &rest[i..]))
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAPath => "the request target is not a path",
            PathError::BadEscape => "the path has a malformed % escape",
            PathError::NotUtf8 => "the path is not UTF-8",
            PathError::DotSegment => "the path has a . or .. segment",
            PathError::EncodedSlash => "the path has an encoded slash",
            PathError::Backslash => "the path has a backslash",
            PathError::ControlByte => "the path has a control character",
            PathError::EmptySegment => "the path has an empty segment",
        })
    }
}

/// The file a folder is served as.
pub const INDEX: &str = "index.html";
/// The folder at the top of the root where uploads are written before they are renamed into
/// place: one place to sweep at start, on the root's own file system.
pub const UPLOAD_FOLDER: &str = ".ferry-uploads";
/// How every temporary file's name starts (hidden, and unlike any name a person picks).
pub const TEMP_PREFIX: &str = ".ferry-upload-";
const TEMP_SUFFIX: &str = ".part";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_plain_paths() {
        let cases: [(&str, &[&str], bool); 8] = [
            ("/", &[], true),
            ("/a.txt", &["a.txt"], false),
            ("/dir/", &["dir"], true),
            ("/dir/sub/f.bin?x=1#top", &["dir", "sub", "f.bin"], false),
            ("/a%20b.txt", &["a b.txt"], false),
            ("/caf%C3%A9", &["café"], false),
            ("/..a/b..", &["..a", "b.."], false),
            ("http://host:8080/x/y", &["x", "y"], false),
        ];
        for (target, segments, folder) in cases {
            let path = resolve(target).unwrap_or_else(|e| panic!("{target}: {e}"));
            assert_eq!(path.segments(), segments, "{target}");
            assert_eq!(path.is_folder(), folder, "{target}");
        }
    }

    #[test]
    fn refuses_every_traversal_trick() {
        let cases = [
            ("/..", PathError::DotSegment),
            ("/../etc/passwd", PathError::DotSegment),
            ("/a/../../etc/passwd", PathError::DotSegment),
            ("/a/./b", PathError::DotSegment),
            ("/%2e%2e/etc/passwd", PathError::DotSegment),
            ("/%2E%2E/%2E%2E/etc/passwd", PathError::DotSegment),
            ("/.%2e/x", PathError::DotSegment),
            ("/%2e/x", PathError::DotSegment),
            ("/..%2fetc%2fpasswd", PathError::EncodedSlash),
            ("/a%2F..%2F..%2Fb", PathError::EncodedSlash),
            ("/..\\..\\etc\\passwd", PathError::Backslash),
            ("/..%5c..%5cetc", PathError::Backslash),
            ("/a%5Cb", PathError::Backslash),
            ("//etc/passwd", PathError::EmptySegment),
            ("/a//b", PathError::EmptySegment),
            ("/a%00.txt", PathError::ControlByte),
            ("/a%0a.txt", PathError::ControlByte),
            ("/a%7f", PathError::ControlByte),
            ("/%ff%fe", PathError::NotUtf8),
            ("/%zz", PathError::BadEscape),
            ("/a%2", PathError::BadEscape),
            ("*", PathError::NotAPath),
            ("etc/passwd", PathError::NotAPath),
            ("C:\\Windows", PathError::NotAPath),
            ("http://host/../x", PathError::DotSegment),
        ];
        for (target, error) in cases {
            assert_eq!(resolve(target), Err(error), "{target}");
            assert!(matches!(error.status(), 400 | 403));
        }
    }

    #[test]
    fn a_checked_path_never_holds_a_separator_or_dot_segment() {
        // Every byte pair after a slash, encoded and plain: whatever resolves is harmless.
        for a in 0u8..=255 {
            for b in [b'.', b'/', b'\\', b'%', b'a', 0] {
                let target = format!("/%{a:02x}{}", b as char);
                let Ok(path) = resolve(&target) else { continue };
                for segment in path.segments() {
                    assert!(!segment.is_empty() && segment != "." && segment != "..");
                    assert!(!segment.contains(['/', '\\', '\0']), "{target}");
                }
            }
        }
    }

    #[test]
    fn the_servers_own_names_are_reserved() {
        let reserved = [
            "/.ferry-uploads/",
            "/.ferry-uploads",
            "/.ferry-uploads/.ferry-upload-00000000000000ff.part",
            "/a/.ferry-upload-0123456789abcdef.part",
        ];
        for target in reserved {
            assert!(resolve(target).unwrap().is_reserved(), "{target}");
        }
        let plain = [
            "/a/.ferry-uploads/x",
            "/.ferry-upload-x.part",
            "/.ferry-uploadsx",
            "/.big.bin.1-2-3.part",
        ];
        for target in plain {
            assert!(!resolve(target).unwrap().is_reserved(), "{target}");
        }
        let name = temp_name(u64::MAX);
        assert!(is_temp_name(&name) && name.len() <= 40, "{name}");
        assert_eq!(
            resolve(&format!("/{name}")).map(|p| p.is_reserved()),
            Ok(true)
        );
    }

    #[test]
    fn folders_redirect_to_their_slash_with_the_query_kept() {
        let cases = [
            ("/site", "/site/"),
            ("/site?x=1&y=%20", "/site/?x=1&y=%20"),
            ("/a%20b", "/a%20b/"),
            ("/a#frag", "/a/"),
            ("http://host:8080/x/y?q", "/x/y/?q"),
        ];
        for (target, location) in cases {
            assert_eq!(folder_location(target), location, "{target}");
        }
    }

    #[test]
    fn download_names_stay_in_the_current_folder() {
        let cases = [
            ("/dir/name.txt", Some("name.txt")),
            ("/name.txt?x=1", Some("name.txt")),
            ("/a%20b", Some("a b")),
            ("/", None),
            ("/dir/", None),
            ("/..", None),
            ("/x/%2e%2e", None),
            ("/x/..%2fetc", None),
            ("/x/..%5cetc", None),
            ("/x/%00", None),
            ("", None),
        ];
        for (path, name) in cases {
            assert_eq!(download_name(path).as_deref(), name, "{path}");
        }
    }
}
