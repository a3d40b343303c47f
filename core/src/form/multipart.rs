//! The `multipart/form-data` format of RFC 7578 (over the multipart syntax of RFC 2046 §5.1).
//!
//! Owns splitting a whole body into parts at the boundary delimiter, reading each part's
//! `Content-Disposition`, and the browser-shaped encoder used by tests and checks. Lines end in
//! CRLF as RFC 7578 §4.1 requires; a preamble before the first delimiter and an epilogue after
//! the closing one are ignored. Never buffers or streams: the body is already in memory.

use super::content_type::is_valid_boundary;
use super::FormError;

/// Decodes a multipart body into its `(name, value)` pairs, in order.
///
/// `boundary` is the `boundary` parameter of the `Content-Type` (RFC 2046 `bchars`, 1 to 70;
/// anything else is [`FormError::MissingBoundary`]). Each part needs `Content-Disposition:
/// form-data; name="..."`; other part headers are ignored. A file part (one with `filename=`)
/// counts as its field's value only when its content is UTF-8 text and is skipped otherwise; any
/// other part that is not UTF-8 is [`FormError::NotUtf8`]. A body without a delimiter or without
/// the closing delimiter is [`FormError::MalformedMultipart`]. The body is read once from start
/// to end: work is linear in its length times the boundary length (at most 70).
pub fn decode_multipart(body: &[u8], boundary: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    match std::str::from_utf8(boundary) {
        Ok(text) if is_valid_boundary(text) => {}
        _ => return Err(FormError::MissingBoundary),
    }
    // RFC 2046 §5.1.1: a delimiter is CRLF, `--` and the boundary; the CRLF belongs to the
    // delimiter, not to the part before it. The first delimiter may also open the body.
    let mut delimiter = Vec::with_capacity(boundary.len() + 4);
    delimiter.extend_from_slice(b"\r\n--");
    delimiter.extend_from_slice(boundary);
    let dash_boundary = &delimiter[2..];

    let mut rest = if let Some(after) = body.strip_prefix(dash_boundary) {
        after
    } else {
        let start = find(body, &delimiter).ok_or(FormError::MalformedMultipart)?;
        &body[start + delimiter.len()..]
    };
    let mut fields = Vec::new();
    loop {
        // `rest` starts right after a delimiter: either `--` (the closing delimiter, after
        // which comes only the epilogue) or optional transport padding and the CRLF that ends
        // the delimiter line.
        if rest.starts_with(b"--") {
            return Ok(fields);
        }
        let padding = rest
            .iter()
            .take_while(|&&byte| byte == b' ' || byte == b'\t')
            .count();
        rest = rest[padding..]
            .strip_prefix(b"\r\n")
            .ok_or(FormError::MalformedMultipart)?;

        let (head, content_start) = if rest.starts_with(b"\r\n") {
            (&rest[..0], 2)
        } else {
            let end = find(rest, b"\r\n\r\n").ok_or(FormError::MalformedMultipart)?;
            (&rest[..end], end + 4)
        };
        rest = &rest[content_start..];
        let content_end = find(rest, &delimiter).ok_or(FormError::MalformedMultipart)?;
        let content = &rest[..content_end];
        rest = &rest[content_end + delimiter.len()..];

        let disposition = read_disposition(head)?;
        match String::from_utf8(content.to_vec()) {
            Ok(value) => fields.push((disposition.name, value)),
            Err(_) if disposition.is_file => {}
            Err(_) => return Err(FormError::NotUtf8),
        }
    }
}

/// Appends `fields` to `out` as a `multipart/form-data` body the way a browser writes it: one
/// part per field with `Content-Disposition: form-data; name="..."`, then the closing delimiter.
///
/// As browsers do, a `"`, CR or LF in a name is written `%22`, `%0D`, `%0A`; decoding does not
/// undo that, so only names without those characters come back unchanged. The caller picks a
/// `boundary` that is valid (see [`decode_multipart`]) and occurs in no value after a CRLF.
pub fn encode_multipart(fields: &[(&str, &str)], boundary: &str, out: &mut Vec<u8>) {
    for (name, value) in fields {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
        for byte in name.bytes() {
            match byte {
                b'"' => out.extend_from_slice(b"%22"),
                b'\r' => out.extend_from_slice(b"%0D"),
                b'\n' => out.extend_from_slice(b"%0A"),
                _ => out.push(byte),
            }
        }
        out.extend_from_slice(b"\"\r\n\r\n");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
}

/// What a part's `Content-Disposition` says about it.
struct Disposition {
    name: String,
    is_file: bool,
}

/// Finds and reads the `Content-Disposition` among a part's header lines (RFC 7578 §4.2).
fn read_disposition(head: &[u8]) -> Result<Disposition, FormError> {
    let head = std::str::from_utf8(head).map_err(|_| FormError::NotUtf8)?;
    for line in head.split("\r\n") {
        let (name, value) = line.split_once(':').ok_or(FormError::MalformedMultipart)?;
        if name.trim().eq_ignore_ascii_case("content-disposition") {
            return parse_disposition(value);
        }
    }
    Err(FormError::MalformedMultipart)
}

/// Reads `form-data; name="..."; filename="..."`. Browsers write a quoted value up to the next
/// `"` (they escape quotes inside as `%22` instead of using quoted pairs), so a backslash is an
/// ordinary character here. A name with a quote, CR or LF in it is malformed.
fn parse_disposition(value: &str) -> Result<Disposition, FormError> {
    let (kind, mut rest) = value.split_once(';').unwrap_or((value, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(FormError::MalformedMultipart);
    }
    let mut name = None;
    let mut is_file = false;
    loop {
        rest = rest.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let (key, after_key) = rest.split_once('=').ok_or(FormError::MalformedMultipart)?;
        let after_key = after_key.trim_start_matches([' ', '\t']);
        let (parameter, after) = match after_key.strip_prefix('"') {
            Some(quoted) => quoted
                .split_once('"')
                .ok_or(FormError::MalformedMultipart)?,
            None => {
                let (token, after) = after_key.split_once(';').unwrap_or((after_key, ""));
                (token.trim_end_matches([' ', '\t']), after)
            }
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "name" if name.is_none() => name = Some(parameter),
            "filename" | "filename*" => is_file = true,
            _ => {}
        }
        rest = after;
    }
    let name = name.ok_or(FormError::MalformedMultipart)?;
    // Browsers never send a raw quote, CR or LF in a name (they write %22, %0D, %0A), so one
    // here is garbage; refusing it also keeps every decoded name encodable as it came.
    if name.contains(['"', '\r', '\n']) {
        return Err(FormError::MalformedMultipart);
    }
    Ok(Disposition {
        name: name.to_string(),
        is_file,
    })
}

/// The index of the first occurrence of `needle` in `haystack`. A plain scan: the needles are a
/// delimiter (at most 74 bytes) or a blank line, so it stays linear in the haystack.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Expected<'a> = Result<&'a [(&'a str, &'a str)], FormError>;

    fn check(body: &[u8], boundary: &str, expected: Expected) {
        let expected = expected.map(|list| {
            list.iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect()
        });
        let got = decode_multipart(body, boundary.as_bytes());
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(body));
    }

    #[test]
    fn decodes_a_body_shaped_like_a_browsers() {
        let body = b"------WebKitFormBoundaryAbC\r\n\
            Content-Disposition: form-data; name=\"username\"\r\n\
            \r\n\
            ann\r\n\
            ------WebKitFormBoundaryAbC\r\n\
            Content-Disposition: form-data; name=\"message\"\r\n\
            \r\n\
            line one\r\n\r\nline \"two\" -- ok\r\n\
            ------WebKitFormBoundaryAbC--\r\n";
        let expected: &[(&str, &str)] = &[
            ("username", "ann"),
            ("message", "line one\r\n\r\nline \"two\" -- ok"),
        ];
        check(body, "----WebKitFormBoundaryAbC", Ok(expected));
    }

    /// Spells a test body short: `|` is CRLF, `CD;` the usual disposition, `<FF>` a 0xFF byte.
    fn body(text: &str) -> Vec<u8> {
        let text = text
            .replace('|', "\r\n")
            .replace("CD;", "Content-Disposition: form-data;");
        text.replace("<FF>", "\u{0}")
            .bytes()
            .map(|b| if b == 0 { 0xff } else { b })
            .collect()
    }

    #[test]
    fn decodes_the_multipart_cases() {
        let malformed = Err(FormError::MalformedMultipart);
        let cases: &[(&str, Expected)] = &[
            ("--b--", Ok(&[])),
            (
                "--b|content-disposition: FORM-DATA;name=a||1|--b--",
                Ok(&[("a", "1")]),
            ),
            (
                "preamble|--b|CD; name=\"a\"||1|--b--|epilogue",
                Ok(&[("a", "1")]),
            ),
            ("--b \t|CD; name=\"a\"|||--b--", Ok(&[("a", "")])),
            (
                "--b|Content-Type: text/plain|CD; name=\"a\"||x|--b--",
                Ok(&[("a", "x")]),
            ),
            ("--b|CD; name=\"a\\\"||x|--b--", Ok(&[("a\\", "x")])),
            ("--b|CD; name=\" a;b \"||x|--b--", Ok(&[(" a;b ", "x")])),
            ("--b|CD; name=\"a\"; name=\"z\"||x|--b--", Ok(&[("a", "x")])),
            (
                "--b|CD; name=\"f\"; filename=\"a.txt\"|Content-Type: text/plain||text|--b--",
                Ok(&[("f", "text")]),
            ),
            (
                "--b|CD; name=\"f\"; filename=\"a.bin\"||<FF>|--b|CD; name=\"a\"||1|--b--",
                Ok(&[("a", "1")]),
            ),
            ("", malformed.clone()),
            ("no delimiter", malformed.clone()),
            (
                "--b|CD; name=\"a\"||no closing delimiter",
                malformed.clone(),
            ),
            ("--b|CD; name=\"a\"||x|--b", malformed.clone()),
            ("--b|CD; name=\"a\"||x|--b|", malformed.clone()),
            ("--b\nCD; name=\"a\"\n\nx\n--b--", malformed.clone()),
            // RFC 2046 §5.1.1: the delimiter must not occur in a part, not even as a prefix.
            ("--b|CD; name=\"a\"||x|--bb|--b--", malformed.clone()),
            ("--bx|CD; name=\"a\"||x|--b--", malformed.clone()),
            ("--b|||no headers|--b--", malformed.clone()),
            ("--b|Content-Type: text/plain||x|--b--", malformed.clone()),
            ("--b|no colon||x|--b--", malformed.clone()),
            (
                "--b|Content-Disposition: attachment; name=\"a\"||x|--b--",
                malformed.clone(),
            ),
            (
                "--b|Content-Disposition: form-data||x|--b--",
                malformed.clone(),
            ),
            ("--b|CD; name=\"a||x|--b--", malformed.clone()),
            ("--b|CD; name=\"a\nb\"||x|--b--", malformed.clone()),
            ("--b|CD; name||x|--b--", malformed.clone()),
            ("--b|CD; name=a\"b||x|--b--", malformed.clone()),
            ("--b|CD; name=\"a\"||<FF>|--b--", Err(FormError::NotUtf8)),
            ("--b|CD; name=\"<FF>\"||x|--b--", Err(FormError::NotUtf8)),
        ];
        for (text, expected) in cases {
            check(&body(text), "b", expected.clone());
        }
    }

    #[test]
    fn refuses_an_invalid_boundary() {
        for boundary in ["", "a\r\nb", "ends in space ", &"x".repeat(71)] {
            check(b"--b--", boundary, Err(FormError::MissingBoundary));
        }
    }

    #[test]
    fn encodes_like_a_browser() {
        let mut out = Vec::new();
        encode_multipart(&[("a\"b\r\nc", "v"), ("m", "")], "XY", &mut out);
        let expected = "--XY\r\nContent-Disposition: form-data; name=\"a%22b%0D%0Ac\"\r\n\r\nv\r\n\
            --XY\r\nContent-Disposition: form-data; name=\"m\"\r\n\r\n\r\n--XY--\r\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    fn name_text() -> impl Strategy<Value = String> {
        any::<String>().prop_map(|name| name.replace(['"', '\r', '\n'], "_"))
    }

    proptest! {
        #[test]
        fn encoded_fields_decode_to_themselves(
            fields in proptest::collection::vec((name_text(), any::<String>()), 0..6),
            boundary in "[A-Za-z0-9'()+_,./:=?-]{1,70}",
        ) {
            let needle = format!("\r\n--{boundary}");
            prop_assume!(fields.iter().all(|(_, value)| !format!("\r\n{value}").contains(&needle)));
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
            let mut out = Vec::new();
            encode_multipart(&borrowed, &boundary, &mut out);
            prop_assert_eq!(decode_multipart(&out, boundary.as_bytes()), Ok(fields));
        }
    }
}
