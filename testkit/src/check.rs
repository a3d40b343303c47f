//! Assertions shared by the suite, with failure messages that show the whole answer.
//!
//! Owns the checks that recur across test modules (status, the headers every response must
//! carry, `Allow` lists, a page's body). It never sends anything.

use std::collections::BTreeSet;

use crate::client::Response;

/// Panics unless `response` has status `expected`; the message names `what` and shows the answer.
pub fn status(response: &Response, expected: u16, what: &str) {
    assert_eq!(
        response.status,
        expected,
        "{what}: expected {expected}, got {} {}; headers {:?}; body {:?}",
        response.status,
        response.reason,
        header_text(response),
        shorten(&response.text())
    );
}

/// Panics unless `response` carries a `Date` in IMF-fixdate form and, when it has a body of
/// known length, a matching `Content-Length` (SPEC, HTTP rules).
pub fn date_and_length(response: &Response, what: &str) {
    let date = response.header("date");
    assert!(
        date.is_some_and(is_imf_fixdate),
        "{what}: Date missing or not like `Sun, 06 Nov 1994 08:49:37 GMT`: {date:?}"
    );
    let chunked = response.header("transfer-encoding").is_some();
    if !chunked {
        assert_eq!(
            response.header("content-length"),
            Some(response.body.len().to_string().as_str()),
            "{what}: Content-Length must match the body"
        );
    }
}

/// Panics unless `response` is `expected_status` with exactly `body` and a media type among
/// `media_types`, plus `Date` and `Content-Length`.
pub fn page(
    response: &Response,
    expected_status: u16,
    body: &[u8],
    media_types: &[&str],
    what: &str,
) {
    status(response, expected_status, what);
    let media = response.media_type();
    assert!(
        media.as_deref().is_some_and(|m| media_types.contains(&m)),
        "{what}: Content-Type {:?}, expected one of {media_types:?}",
        response.header("content-type")
    );
    assert!(
        response.body == body,
        "{what}: body differs\n got: {:?}\nwant: {:?}",
        shorten(&response.text()),
        shorten(&String::from_utf8_lossy(body))
    );
    date_and_length(response, what);
}

/// Panics unless `Content-Type` is exactly `text/html; charset=utf-8` (case and spaces aside).
pub fn html_utf8(response: &Response, what: &str) {
    let value = response.header("content-type").unwrap_or("");
    let squeezed: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    assert_eq!(
        squeezed, "text/html;charset=utf-8",
        "{what}: Content-Type {value:?}"
    );
}

/// The methods listed in `Allow`, upper case, as a set (order is not fixed by RFC 9110 §10.2.1).
pub fn allow_set(response: &Response) -> BTreeSet<String> {
    response
        .headers_named("allow")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect()
}

/// The methods in `list` (`"GET, HEAD"`) as a set, for comparing with [`allow_set`].
pub fn methods(list: &str) -> BTreeSet<String> {
    list.split(',').map(|m| m.trim().to_string()).collect()
}

/// True for an IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn is_imf_fixdate(text: &str) -> bool {
    const SHAPE: &[u8] = b"aaa, dd aaa dddd dd:dd:dd GMT";
    text.len() == SHAPE.len()
        && text.bytes().zip(SHAPE).all(|(b, &s)| match s {
            b'a' => b.is_ascii_alphabetic(),
            b'd' => b.is_ascii_digit(),
            _ => b == s,
        })
}

/// The headers as `name: value` lines, for failure messages.
pub fn header_text(response: &Response) -> Vec<String> {
    response
        .headers
        .iter()
        .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v)))
        .collect()
}

/// Cuts long bodies in failure messages.
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((at, _)) => format!("{}... ({} bytes)", &text[..at], text.len()),
        None => text.to_string(),
    }
}

/// How much of a body a failure message shows.
const SHOWN_CHARS: usize = 400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_imf_fixdate() {
        assert!(is_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(!is_imf_fixdate("Sunday, 06-Nov-94 08:49:37 GMT"));
        assert!(!is_imf_fixdate("Sun, 6 Nov 1994 08:49:37 GMT"));
    }

    #[test]
    fn allow_is_compared_as_a_set() {
        let response = Response {
            version: 1,
            status: 405,
            reason: String::new(),
            headers: vec![("Allow".into(), b"HEAD,get".to_vec())],
            body: Vec::new(),
        };
        assert_eq!(allow_set(&response), methods("GET, HEAD"));
    }
}
