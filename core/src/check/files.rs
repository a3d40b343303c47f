//! Invariants of the file server's request side (`files`): path resolution, download names,
//! ranges, dates and conditional requests, and the answers a [`FileRequest`] gives, checked on
//! arbitrary text.

use time::macros::datetime;
use time::OffsetDateTime;

use crate::files::auth::{encode_base64, parse_basic};
use crate::files::listing::{prefers_json, ListQuery};
use crate::files::range::content_range;
use crate::files::{
    download_name, parse_range, resolve, Entry, EntryKind, FilePath, FileRequest, FileStep,
    FilesConfig, Listing, Lookup, RangeRequest,
};
use crate::http::conditional::{etag, if_range_holds, is_not_modified, parse_http_date};
use crate::http::{Body, BodyFraming, Header, HttpDate, Method, RequestHead, Version};

/// Reads `bytes` (as UTF-8, invalid sequences replaced) as lines: a request target, then the
/// values of `Range`, `If-Modified-Since`, `If-None-Match`, `If-Range`, `Accept` and
/// `Authorization`, and checks that:
/// - a resolved path holds only plain segments (none empty, `.`, `..`, or holding `/`, `\` or a
///   control character), its relative form neither starts nor ends with `/` nor holds `//`, and
///   it survives percent-encoding and resolving again; a refusal is a 400 or a 403;
/// - a download name is one such plain segment, and is the last segment of a resolved file path;
/// - a range that is served lies inside the file, and its canonical form reads the same;
/// - a date that parses is exactly the date it formats back to, and one the server wrote (its
///   own `ETag`, `Last-Modified`) always counts as a match;
/// - a GET or HEAD of a file, a folder or a missing path takes at most three lookups and ends in
///   an answer whose file part lies inside the file, whose 206 and 416 carry the right
///   `Content-Range`, whose 304 was asked for, and whose 301 leads to the same path as a folder;
/// - a path naming the server's own files is never looked up but as the 404 page;
/// - a folder is listed at most once, as JSON exactly when asked for, and the listing's JSON
///   parses back to its entries; a hostile name never reaches the page unescaped;
/// - the listing query reads back the same from the query it writes;
/// - Basic credentials that parse re-encode to a header that parses to the same.
pub fn check_file_request(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split('\n');
    let target = lines.next().unwrap_or("");
    let mut next = || lines.next().filter(|line| !line.is_empty());
    let fields = Fields {
        range: next(),
        if_modified_since: next(),
        if_none_match: next(),
        if_range: next(),
        accept: next(),
        authorization: next(),
    };
    check_target(target);
    check_query(target);
    if let Some(value) = fields.authorization {
        check_authorization(value);
    }
    for &len in &FILE_LENS {
        if let Some(range) = fields.range {
            check_range(range, len);
        }
        check_conditionals(&fields, len);
        for method in [Method::Get, Method::Head] {
            for lookups in LOOKUP_SCRIPTS {
                check_request(target, &fields, method.clone(), len, lookups);
            }
        }
    }
}

/// The header values the input supplies.
struct Fields<'a> {
    range: Option<&'a str>,
    if_modified_since: Option<&'a str>,
    if_none_match: Option<&'a str>,
    if_range: Option<&'a str>,
    accept: Option<&'a str>,
    authorization: Option<&'a str>,
}

/// The listing query of a target reads back the same from the query it writes.
fn check_query(target: &str) {
    let query = ListQuery::from_target(target);
    let again = ListQuery::from_target(&format!("/?{}", query.to_query()));
    assert_eq!(again.sort, query.sort, "sort of {target:?}");
    assert_eq!(again.descending, query.descending, "order of {target:?}");
    assert!(!again.json);
}

/// Credentials that parse survive encoding again.
fn check_authorization(value: &str) {
    let Some(credentials) = parse_basic(value) else {
        return;
    };
    assert!(
        !credentials.user.contains(':'),
        "user {:?}",
        credentials.user
    );
    let raw = format!("{}:{}", credentials.user, credentials.password);
    let again = parse_basic(&format!("Basic {}", encode_base64(raw.as_bytes())));
    assert_eq!(again.as_ref(), Some(&credentials));
}

/// The entries every simulated folder holds: plain, hidden, hostile.
fn sample_listing() -> Listing {
    let entry = |name: &str, kind| Entry {
        name: name.to_owned(),
        kind,
        size: 3,
        modified: MODIFIED,
    };
    Listing {
        entries: vec![
            entry("a.txt", EntryKind::File),
            entry("sub", EntryKind::Folder),
            entry(".hidden", EntryKind::File),
            entry(HOSTILE_NAME, EntryKind::File),
        ],
        truncated: false,
    }
}

/// Path and download-name invariants of one target.
fn check_target(target: &str) {
    match resolve(target) {
        Ok(path) => {
            check_path(&path);
            check_path(&path.join(crate::files::INDEX));
            let again = resolve(&encode(&path));
            assert_eq!(again.as_ref(), Ok(&path), "re-encoded {target:?}");
            if target.starts_with('/') {
                let absolute = resolve(&format!("http://host{target}"));
                assert_eq!(absolute.as_ref(), Ok(&path), "absolute form of {target:?}");
                if !path.is_folder() {
                    let last = path.segments().last().cloned();
                    assert_eq!(download_name(target), last, "download name of {target:?}");
                }
            }
        }
        Err(error) => {
            assert!(matches!(error.status(), 400 | 403), "{error:?}");
            assert!(!error.to_string().is_empty());
        }
    }
    if let Some(name) = download_name(target) {
        assert!(is_plain_segment(&name), "download name {name:?}");
        let path = resolve(&format!("/{}", encode_segment(&name)));
        assert_eq!(
            path.as_ref().map(FilePath::segments),
            Ok(&[name.clone()][..]),
            "download name {name:?} as a path"
        );
    }
}

/// What [`FilePath`] promises: plain segments, and a relative form that cannot leave the root.
fn check_path(path: &FilePath) {
    for segment in path.segments() {
        assert!(is_plain_segment(segment), "segment {segment:?}");
    }
    let relative = path.relative();
    assert!(!relative.starts_with('/'), "absolute {relative:?}");
    assert!(!relative.ends_with('/'), "trailing slash {relative:?}");
    assert!(!relative.contains("//"), "empty segment {relative:?}");
    assert!(
        !relative.contains(['\\', '\0']),
        "separator or NUL {relative:?}"
    );
    let split: Vec<&str> = relative.split('/').filter(|s| !s.is_empty()).collect();
    assert_eq!(split, path.segments(), "segments of {relative:?}");
}

fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_ascii_control())
}

/// A served range lies inside the file, and its canonical `a-b` form reads the same.
fn check_range(value: &str, file_len: u64) {
    let RangeRequest::Partial { start, len } = parse_range(value, file_len) else {
        return;
    };
    assert!(len > 0, "an empty range of {value:?}");
    let end = start.checked_add(len).expect("a range end past u64");
    assert!(end <= file_len, "{value:?} past the end of {file_len}");
    let canonical = format!("bytes={start}-{}", end - 1);
    assert_eq!(
        parse_range(&canonical, file_len),
        RangeRequest::Partial { start, len },
        "{canonical}"
    );
    assert_eq!(
        content_range(start, len, file_len),
        format!("bytes {start}-{}/{file_len}", end - 1)
    );
}

/// Dates and validators: what parses formats back to itself, and the server's own validators
/// always match.
fn check_conditionals(fields: &Fields, len: u64) {
    let tag = etag(len, MODIFIED);
    if let Some(list) = fields.if_none_match {
        let with_tag = format!("{list}, {tag}");
        assert!(
            is_not_modified(Some(&with_tag), None, &tag, MODIFIED),
            "{with_tag:?}"
        );
    }
    if let Some(value) = fields.if_range {
        if if_range_holds(Some(value), &tag, MODIFIED) {
            let value = value.trim();
            if value.starts_with('"') {
                assert_eq!(value, tag, "If-Range matched another tag");
            } else {
                let date = parse_http_date(value).map(OffsetDateTime::unix_timestamp);
                assert_eq!(date, Some(MODIFIED.unix_timestamp()), "If-Range {value:?}");
            }
        }
    }
    let Some(text) = fields.if_modified_since else {
        return;
    };
    let Some(date) = parse_http_date(text) else {
        return;
    };
    let formatted = HttpDate::new(date);
    // The day name need not match the date, but must be one; everything after it is as written.
    let trimmed = text.trim();
    assert!(
        WEEKDAY_NAMES
            .iter()
            .any(|name| trimmed.get(..3) == Some(*name)),
        "{text:?} has no day name"
    );
    assert_eq!(
        formatted.as_str().get(3..),
        trimmed.get(3..),
        "{text:?} parsed as {date}"
    );
    assert_eq!(parse_http_date(formatted.as_str()), Some(date));
    assert!(
        is_not_modified(None, Some(text), &tag, date),
        "not modified since itself"
    );
    assert!(
        if_range_holds(Some(text), &tag, date),
        "If-Range of its own date"
    );
}

/// Runs a GET or HEAD of `target` against a file of `len` bytes, answering its lookups from
/// `lookups` (`Missing` once they run out), and checks the answer.
fn check_request(target: &str, fields: &Fields, method: Method, len: u64, lookups: &[Found]) {
    let header = |name: &str, value: Option<&str>| {
        value.map(|value| Header {
            name: name.to_owned(),
            value: value.as_bytes().to_vec(),
        })
    };
    let head = RequestHead {
        method: method.clone(),
        target: target.to_owned(),
        version: Version::Http11,
        headers: [
            header("Range", fields.range),
            header("If-Modified-Since", fields.if_modified_since),
            header("If-None-Match", fields.if_none_match),
            header("If-Range", fields.if_range),
            header("Accept", fields.accept),
            header("Authorization", fields.authorization),
        ]
        .into_iter()
        .flatten()
        .collect(),
        framing: BodyFraming::Empty,
        keep_alive: true,
        expects_continue: false,
    };
    let (mut request, mut step) = FileRequest::new(&head, &FilesConfig::default());
    let mut found = lookups.iter();
    let mut count = 0;
    let mut listed = false;
    let answer = loop {
        match step {
            FileStep::Lookup(path) => {
                check_path(&path);
                assert!(!path.is_reserved(), "a lookup of the server's own {path:?}");
                count += 1;
                assert!(count <= MAX_LOOKUPS, "lookup {count} of {target:?}");
                let lookup = match found.next() {
                    Some(Found::File) => Lookup::File {
                        len,
                        modified: MODIFIED,
                    },
                    Some(Found::Folder) => Lookup::Folder,
                    Some(Found::Forbidden) => Lookup::Forbidden,
                    Some(Found::Missing) | None => Lookup::Missing,
                };
                step = request.looked_up(lookup);
            }
            FileStep::List(path) => {
                check_path(&path);
                assert!(
                    path.is_folder() && !listed,
                    "a second listing of {target:?}"
                );
                listed = true;
                step = request.listed(Ok(sample_listing()));
            }
            FileStep::Respond(answer) => break answer,
            other => panic!("{other:?} on {method:?}"),
        }
    };
    if listed && answer.response.status == 200 {
        check_listing_answer(target, fields, &answer.response);
    }
    let status = answer.response.status;
    assert_eq!(request.status(), Some(status));
    assert!(ANSWER_STATUSES.contains(&status), "status {status}");
    let range_header = answer
        .response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-range"))
        .map(|(_, value)| value.to_string());
    if let Some((offset, part)) = answer.file_part {
        assert!(method == Method::Get, "a file part for {method:?}");
        let end = offset.checked_add(part).expect("a file part end past u64");
        assert!(end <= len, "file part {offset}+{part} past {len}");
        assert_eq!(answer.response.body, Body::External { len: part });
        if status == 206 {
            assert_eq!(range_header, Some(content_range(offset, part, len)));
        }
    }
    match status {
        206 => assert!(
            fields.range.is_some() && range_header.is_some(),
            "206 unasked"
        ),
        416 => assert_eq!(range_header, Some(format!("bytes */{len}"))),
        304 => assert!(
            fields.if_none_match.is_some() || fields.if_modified_since.is_some(),
            "304 unasked"
        ),
        301 => {
            let location = answer
                .response
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("location"))
                .map(|(_, value)| value.to_string())
                .expect("a 301 with a Location");
            let path = resolve(target).expect("a redirected target resolves");
            let again = resolve(&location).expect("the Location resolves");
            assert!(again.is_folder(), "{location:?} names no folder");
            assert_eq!(
                again.segments(),
                path.segments(),
                "{target:?} -> {location:?}"
            );
        }
        _ => {}
    }
}

/// A listing is JSON exactly when asked for; its JSON holds the visible entries, its HTML
/// never the hostile name unescaped.
fn check_listing_answer(target: &str, fields: &Fields, response: &crate::http::Response) {
    let json = ListQuery::from_target(target).json || prefers_json(fields.accept);
    let body = response.body.as_bytes();
    if json {
        assert_eq!(response.content_type, Some("application/json"));
        let parsed: serde_json::Value = serde_json::from_slice(body).expect("listing JSON");
        let names: Vec<&str> = parsed
            .as_array()
            .expect("a JSON array")
            .iter()
            .filter_map(|item| item.get("name").and_then(serde_json::Value::as_str))
            .collect();
        assert!(
            names.contains(&HOSTILE_NAME) && !names.contains(&".hidden"),
            "{names:?}"
        );
    } else {
        let html = String::from_utf8_lossy(body);
        assert!(!html.contains(HOSTILE_NAME), "the hostile name unescaped");
        assert!(!html.contains(">.hidden<"), "a hidden file listed");
    }
}

/// Percent-encodes every byte of `segment` but ASCII letters, digits and `-._~`.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The origin-form target of `path`, each segment percent-encoded.
fn encode(path: &FilePath) -> String {
    let mut out = String::from("/");
    let segments: Vec<String> = path.segments().iter().map(|s| encode_segment(s)).collect();
    out.push_str(&segments.join("/"));
    if path.is_folder() && !path.segments().is_empty() {
        out.push('/');
    }
    out
}

/// What the simulated file system reports, lookup by lookup.
#[derive(Debug, Clone, Copy)]
enum Found {
    File,
    Folder,
    Missing,
    Forbidden,
}

/// Lookup answers each request is run with: a file, a folder with and without an index, a
/// missing path with and without a 404 page, and a forbidden one.
const LOOKUP_SCRIPTS: [&[Found]; 6] = [
    &[Found::File],
    &[Found::Folder, Found::File],
    &[Found::Folder, Found::Missing, Found::Missing],
    &[Found::Missing, Found::File],
    &[Found::Missing, Found::Missing],
    &[Found::Forbidden],
];
/// A name that would run a script if a listing did not escape it.
const HOSTILE_NAME: &str = "<script>x(\"'\n')</script>";
/// File lengths every range and request is tried with: empty, tiny, typical, and the extremes
/// where arithmetic would overflow.
const FILE_LENS: [u64; 5] = [0, 1, 100, 1 << 40, u64::MAX];
/// Target, folder index, 404 page: the file request's own promise.
const MAX_LOOKUPS: usize = 3;
/// What a GET or HEAD can be answered with.
const ANSWER_STATUSES: [u16; 8] = [200, 206, 301, 304, 400, 403, 404, 416];
/// The day names an HTTP date may start with.
const WEEKDAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/// The modification time of the simulated file; not a whole second, so the `ETag` and the
/// second-resolution comparisons differ.
const MODIFIED: OffsetDateTime = datetime!(2026-01-02 03:04:05.5 UTC);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typical_and_hostile_requests_keep_the_invariants() {
        let cases = [
            "",
            "/",
            "/a.txt\nbytes=0-9",
            "/dir/\nbytes=-5\nFri, 02 Jan 2026 03:04:05 GMT",
            "/../etc/passwd",
            "/%2e%2e/x\nbytes=5-",
            "http://host/a%20b?x#y\nbytes=0-0,5-6\n\n\"x\", W/\"y\"\n\"z\"",
            "/a\nbytes=99999999999999999999-\nSun, 06 Nov 1994 08:49:37 GMT\n*",
            "/a\nbytes=18446744073709551615-\n\n\nSun, 06 Nov 1994 08:49:37 GMT",
            "//etc\n\n\n\n",
            "/caf%C3%A9/\u{7f}",
            "*",
            // Not an IMF-fixdate: wrong punctuation, wrong day name.
            "/a\n\nFr2, 02 Jan 2026 03804:05 GMT",
            "/a\n\nXyz, 02 Jan 2026 03:04:05 GMT",
            "/?sort=size&order=desc\n\n\n\n\napplication/json\nBasic YW5uOnB3",
            "/d/?json\n\n\n\n\ntext/html;q=0.1, */*;q=0.2\nbasic OnB3Og==",
            "/d/\n\n\n\n\napplication/*;q=0.5, text/html;q=0.4\nBasic =",
        ];
        for case in cases {
            check_file_request(case.as_bytes());
        }
    }

    #[test]
    fn the_checker_encodes_paths_that_resolve_back() {
        let path = resolve("/a%20b/caf%C3%A9/%25x/").expect("a valid path");
        assert_eq!(encode(&path), "/a%20b/caf%C3%A9/%25x/");
        assert_eq!(encode(&resolve("/").expect("the root")), "/");
    }

    proptest! {
        #[test]
        fn arbitrary_text_keeps_the_invariants(text in "[/a.%2eEfF5\\\\?#\n=bytes,-0-9 ]{0,40}") {
            check_file_request(text.as_bytes());
        }

        #[test]
        fn listing_queries_and_headers_keep_the_invariants(
            text in "/(d/)?\\??(sort=(name|size|time|x)|order=(asc|desc)|json|&){0,6}\n\n\n\n\n(application/json|text/html|\\*/\\*|;q=0\\.[0-9]|, ){0,5}\n(Basic |basic )?[A-Za-z0-9+/=]{0,16}"
        ) {
            check_file_request(text.as_bytes());
        }

        #[test]
        fn arbitrary_bytes_keep_the_invariants(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
            check_file_request(&bytes);
        }
    }
}
