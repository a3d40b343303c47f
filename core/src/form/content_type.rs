//! Reading a request's `Content-Type` to tell which body format a form was sent in.
//!
//! Owns the media type comparison and the parameter syntax of RFC 9110 §8.3.1 (token or quoted
//! string values), enough to find a multipart boundary. It never looks at the body.

use super::FormError;

/// The two body formats an HTML form is read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// `application/x-www-form-urlencoded`, also assumed when the header is missing.
    Urlencoded,
    /// `multipart/form-data` with its boundary, checked against RFC 2046 §5.1.1.
    Multipart { boundary: String },
}

/// Tells the body format from the `Content-Type` header value, if any.
pub(crate) fn classify(content_type: Option<&str>) -> Result<BodyFormat, FormError> {
    let Some(content_type) = content_type else {
        return Ok(BodyFormat::Urlencoded);
    };
    let (media_type, parameters) = match content_type.split_once(';') {
        Some((media_type, parameters)) => (media_type, parameters),
        None => (content_type, ""),
    };
    let media_type = media_type.trim();
    // A blank header says no more than a missing one does.
    if media_type.is_empty() || media_type.eq_ignore_ascii_case(URLENCODED) {
        return Ok(BodyFormat::Urlencoded);
    }
    if !media_type.eq_ignore_ascii_case(MULTIPART) {
        return Err(FormError::UnsupportedContentType);
    }
    match find_parameter(parameters, "boundary") {
        Some(boundary) if is_valid_boundary(&boundary) => Ok(BodyFormat::Multipart { boundary }),
        _ => Err(FormError::MissingBoundary),
    }
}

/// Whether `boundary` is one RFC 2046 §5.1.1 allows: 1 to 70 characters from `bchars`, the
/// last one not a space. Keeping to that set also guarantees the boundary holds no CR or LF,
/// which the multipart reader relies on.
pub(crate) fn is_valid_boundary(boundary: &str) -> bool {
    let bytes = boundary.as_bytes();
    let allowed = |byte: &u8| byte.is_ascii_alphanumeric() || BOUNDARY_PUNCTUATION.contains(byte);
    (1..=MAX_BOUNDARY_LEN).contains(&bytes.len())
        && bytes.iter().all(allowed)
        && bytes.last() != Some(&b' ')
}

/// The value of the first parameter called `wanted` (case-insensitive) in `; name=value` text,
/// with a quoted string unquoted. `None` when it is absent or the syntax breaks before it.
fn find_parameter(mut rest: &str, wanted: &str) -> Option<String> {
    loop {
        rest = rest.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        // A parameter without `=` breaks the syntax; skip it rather than read past its `;`.
        let Some(equals) = rest
            .find(['=', ';'])
            .filter(|&i| rest[i..].starts_with('='))
        else {
            rest = rest.find(';').map_or("", |i| &rest[i..]);
            continue;
        };
        let (name, after_name) = (&rest[..equals], &rest[equals + 1..]);
        let after_name = after_name.trim_start_matches([' ', '\t']);
        let (value, after_value) = if let Some(quoted) = after_name.strip_prefix('"') {
            unquote(quoted)?
        } else {
            let end = after_name.find(';').unwrap_or(after_name.len());
            let (token, after) = after_name.split_at(end);
            (token.trim_end().to_string(), after)
        };
        if name.trim().eq_ignore_ascii_case(wanted) {
            return Some(value);
        }
        rest = after_value;
    }
}

/// Reads a quoted string whose opening quote is already consumed: returns its value (with each
/// `\x` quoted pair read as `x`, RFC 9110 §5.6.4) and the text after the closing quote.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[index + 1..])),
            '\\' => value.push(chars.next()?.1),
            _ => value.push(c),
        }
    }
    None
}

const URLENCODED: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

/// RFC 2046 §5.1.1 limits a boundary to 70 characters.
const MAX_BOUNDARY_LEN: usize = 70;

/// The `bchars` of RFC 2046 §5.1.1 besides letters and digits.
const BOUNDARY_PUNCTUATION: &[u8] = b"'()+_,-./:=? ";

#[cfg(test)]
mod tests {
    use super::*;

    fn multipart(boundary: &str) -> Result<BodyFormat, FormError> {
        Ok(BodyFormat::Multipart {
            boundary: boundary.into(),
        })
    }

    #[test]
    fn classifies_content_types() {
        let cases: &[(Option<&str>, Result<BodyFormat, FormError>)] = &[
            (None, Ok(BodyFormat::Urlencoded)),
            (Some(""), Ok(BodyFormat::Urlencoded)),
            (
                Some("application/x-www-form-urlencoded"),
                Ok(BodyFormat::Urlencoded),
            ),
            (
                Some("APPLICATION/x-www-form-urlencoded;charset=utf-8"),
                Ok(BodyFormat::Urlencoded),
            ),
            (Some("multipart/form-data; boundary=abc"), multipart("abc")),
            (Some("Multipart/Form-Data;BOUNDARY=abc"), multipart("abc")),
            (
                Some("multipart/form-data; boundary=\"a b:c\""),
                multipart("a b:c"),
            ),
            (
                Some("multipart/form-data; x=\"a;boundary=z\"; boundary=abc"),
                multipart("abc"),
            ),
            (
                Some("multipart/form-data; boundary=\"a\\\"b\""),
                Err(FormError::MissingBoundary),
            ),
            (
                Some("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"),
                multipart("----WebKitFormBoundary7MA4YWxkTrZu0gW"),
            ),
            (
                Some("multipart/form-data; boundary=abc ; x=y"),
                multipart("abc"),
            ),
            (
                Some("multipart/form-data; flag; boundary=abc"),
                multipart("abc"),
            ),
            (
                Some("multipart/form-data; flag"),
                Err(FormError::MissingBoundary),
            ),
            (Some("multipart/form-data"), Err(FormError::MissingBoundary)),
            (
                Some("multipart/form-data; boundary="),
                Err(FormError::MissingBoundary),
            ),
            (
                Some("multipart/form-data; boundary=\"abc"),
                Err(FormError::MissingBoundary),
            ),
            (
                Some("multipart/form-data; x=\"unterminated"),
                Err(FormError::MissingBoundary),
            ),
            (
                Some("multipart/form-data; boundary=\"ends in space \""),
                Err(FormError::MissingBoundary),
            ),
            (
                Some("multipart/form-data; boundary=a\u{e9}"),
                Err(FormError::MissingBoundary),
            ),
            (
                Some("application/json"),
                Err(FormError::UnsupportedContentType),
            ),
            (Some("text/plain"), Err(FormError::UnsupportedContentType)),
            (
                Some("multipart/mixed; boundary=abc"),
                Err(FormError::UnsupportedContentType),
            ),
        ];
        for (content_type, expected) in cases {
            assert_eq!(&classify(*content_type), expected, "{content_type:?}");
        }
    }

    #[test]
    fn boundary_length_is_limited_to_seventy() {
        assert!(is_valid_boundary(&"a".repeat(70)));
        assert!(!is_valid_boundary(&"a".repeat(71)));
        assert!(!is_valid_boundary(""));
    }
}
