//! Validators, conditional requests and freshness (RFC 9110 §8.8 and §13, RFC 9111 §5.2): the
//! `ETag` and `Last-Modified` of a file, whether `If-None-Match`, `If-Modified-Since` or
//! `If-Range` let the server answer 304 or ignore a range, and the `Cache-Control` values the
//! servers send. Pure functions of header values and metadata, for the file server and the web
//! app's static files alike.

use std::time::Duration;

use time::{Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::HttpDate;

/// The strong entity tag of a file: its length and modification time, so any write that
/// changes either gives a new tag.
pub fn etag(len: u64, modified: OffsetDateTime) -> String {
    let nanos = modified.unix_timestamp_nanos();
    format!("\"{len:x}-{nanos:x}\"")
}

/// The strong entity tag of content held in memory (the web app's static files): its length
/// and a 64-bit FNV-1a hash of its bytes, so any change of content gives a new tag. Not a
/// security measure, only a validator; a collision costs at most a stale cached copy.
pub fn content_etag(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{:x}-{hash:x}\"", bytes.len())
}

/// The `Cache-Control` value for an answer that may be kept `max_age` without asking again:
/// `no-cache` (keep it, but ask each time, with the validators) for zero.
pub fn cache_control(max_age: Duration) -> String {
    match max_age.as_secs() {
        0 => NO_CACHE.to_string(),
        seconds => format!("max-age={seconds}"),
    }
}

/// Whether an `If-None-Match` list holds `etag`, with the weak comparison it calls for (RFC 9110
/// §13.1.2: `W/"x"` matches `"x"`); `*` matches any.
pub fn if_none_match_holds(list: &str, etag: &str) -> bool {
    matches_any(list, etag, false)
}

/// The `Last-Modified` value of a file.
pub fn last_modified(modified: OffsetDateTime) -> String {
    HttpDate::new(modified).as_str().to_owned()
}

/// Whether a GET or HEAD may be answered 304: `If-None-Match` decides when present
/// (RFC 9110 §13.2.2), else `If-Modified-Since`.
pub fn is_not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    etag: &str,
    modified: OffsetDateTime,
) -> bool {
    if let Some(list) = if_none_match {
        return matches_any(list, etag, false);
    }
    match if_modified_since.and_then(parse_http_date) {
        // Last-Modified has whole seconds, so compare at that resolution.
        Some(since) => modified.unix_timestamp() <= since.unix_timestamp(),
        None => false,
    }
}

/// Whether a `Range` may be served given an `If-Range` value (RFC 9110 §13.1.5): an entity tag
/// must match strongly, a date must equal `Last-Modified` exactly.
pub fn if_range_holds(if_range: Option<&str>, etag: &str, modified: OffsetDateTime) -> bool {
    let Some(value) = if_range.map(str::trim) else {
        return true;
    };
    if value.starts_with('"') {
        return value == etag;
    }
    parse_http_date(value).is_some_and(|date| date.unix_timestamp() == modified.unix_timestamp())
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form a sender may
/// generate (RFC 9110 §5.6.7); other forms are treated as absent.
pub fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.trim().as_bytes();
    if bytes.len() != 29 || !text.trim().ends_with(" GMT") {
        return None;
    }
    // RFC 9110 §13.1.3: a value that is not a valid HTTP-date must be ignored, so the day name
    // and every separator are checked, not only the numbers.
    if !DAY_NAMES
        .iter()
        .any(|name| bytes.get(..3) == Some(&name[..]))
    {
        return None;
    }
    if SEPARATORS
        .iter()
        .any(|&(at, separator)| bytes.get(at) != Some(&separator))
    {
        return None;
    }
    let field = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = std::str::from_utf8(bytes.get(range)?).ok()?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let day = field(5..7)?;
    let month = match bytes.get(8..11)? {
        b"Jan" => Month::January,
        b"Feb" => Month::February,
        b"Mar" => Month::March,
        b"Apr" => Month::April,
        b"May" => Month::May,
        b"Jun" => Month::June,
        b"Jul" => Month::July,
        b"Aug" => Month::August,
        b"Sep" => Month::September,
        b"Oct" => Month::October,
        b"Nov" => Month::November,
        b"Dec" => Month::December,
        _ => return None,
    };
    let year = field(12..16)?;
    let (hour, minute, second) = (field(17..19)?, field(20..22)?, field(23..25)?);
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, day as u8).ok()?;
    let time = Time::from_hms(hour as u8, minute as u8, second as u8).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(UtcOffset::UTC))
}

/// Whether a comma-separated list of entity tags (or `*`) holds `etag`; unless `strong_only`,
/// with the weak comparison `If-None-Match` uses, where `W/"x"` matches `"x"`.
fn matches_any(list: &str, etag: &str, strong_only: bool) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        if candidate == "*" {
            return true;
        }
        let candidate = if strong_only {
            candidate
        } else {
            candidate.strip_prefix("W/").unwrap_or(candidate)
        };
        candidate == etag
    })
}

/// Keep the answer, but check with the server (its validators) before each use.
pub const NO_CACHE: &str = "no-cache";

/// The day names an IMF-fixdate may start with.
const DAY_NAMES: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
/// The fixed punctuation of `Sun, 06 Nov 1994 08:49:37 GMT`, by position (` GMT` aside).
const SEPARATORS: [(usize, u8); 7] = [
    (3, b','),
    (4, b' '),
    (7, b' '),
    (11, b' '),
    (16, b' '),
    (19, b':'),
    (22, b':'),
];

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const MODIFIED: OffsetDateTime = datetime!(2026-01-02 03:04:05.5 UTC);

    #[test]
    fn etag_changes_with_length_and_time() {
        let tag = etag(10, MODIFIED);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_ne!(tag, etag(11, MODIFIED));
        assert_ne!(tag, etag(10, datetime!(2026-01-02 03:04:05.6 UTC)));
        assert_eq!(last_modified(MODIFIED), "Fri, 02 Jan 2026 03:04:05 GMT");
    }

    #[test]
    fn conditional_requests() {
        let tag = etag(10, MODIFIED);
        let other = "\"other\"";
        let weak = format!("W/{tag}");
        let list = format!("{other}, {tag}");
        let cases: [(Option<&str>, Option<&str>, bool); 10] = [
            (None, None, false),
            (Some(&tag), None, true),
            (Some(&weak), None, true),
            (Some(&list), None, true),
            (Some("*"), None, true),
            (Some(other), None, false),
            // If-None-Match wins over a date that would say "not modified".
            (Some(other), Some("Fri, 02 Jan 2026 03:04:05 GMT"), false),
            (None, Some("Fri, 02 Jan 2026 03:04:05 GMT"), true),
            (None, Some("Fri, 02 Jan 2026 03:04:04 GMT"), false),
            (None, Some("yesterday"), false),
        ];
        for (inm, ims, expected) in cases {
            assert_eq!(
                is_not_modified(inm, ims, &tag, MODIFIED),
                expected,
                "{inm:?} {ims:?}"
            );
        }
    }

    #[test]
    fn if_range_needs_an_exact_validator() {
        let tag = etag(10, MODIFIED);
        assert!(if_range_holds(None, &tag, MODIFIED));
        assert!(if_range_holds(Some(&tag), &tag, MODIFIED));
        assert!(!if_range_holds(Some("\"x\""), &tag, MODIFIED));
        assert!(!if_range_holds(Some(&format!("W/{tag}")), &tag, MODIFIED));
        assert!(if_range_holds(
            Some("Fri, 02 Jan 2026 03:04:05 GMT"),
            &tag,
            MODIFIED
        ));
        assert!(!if_range_holds(
            Some("Fri, 02 Jan 2026 03:04:06 GMT"),
            &tag,
            MODIFIED
        ));
    }

    #[test]
    fn parses_only_imf_fixdates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(datetime!(1994-11-06 08:49:37 UTC))
        );
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 0x Nov 1994 08:49:37 GMT",
            // Right length and numbers, wrong punctuation or day name (found by fuzzing).
            "Fr2, 02 Jan 2026 03804:05 GMT",
            "Sun, 06-Nov-1994 08:49:37 GMT",
            "Sun,x06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49-37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }
}
