//! Building form bodies the way browsers send them, for `POST /message`.
//!
//! Owns the client side of `application/x-www-form-urlencoded` (WHATWG URL, "urlencoded
//! serializing") and of `multipart/form-data` (RFC 7578). It never decodes; the server does, and
//! the tests compare what it stored with what was encoded here.

/// Encodes `pairs` as a urlencoded body: every byte but `A-Z a-z 0-9 * - . _` escaped, a space
/// as `+`, as browsers do.
pub fn urlencoded(pairs: &[(&str, &str)]) -> String {
    let fields: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{}={}", escape(name), escape(value)))
        .collect();
    fields.join("&")
}

/// Percent-encodes `text` for a urlencoded body (space as `+`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Encodes `pairs` as a `multipart/form-data` body with `boundary`; send it with
/// `Content-Type: multipart/form-data; boundary=<boundary>`.
pub fn multipart(boundary: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in pairs {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_reserved_and_non_ascii() {
        assert_eq!(
            urlencoded(&[("a b", "x&y=z+%<>é")]),
            "a+b=x%26y%3Dz%2B%25%3C%3E%C3%A9"
        );
        assert_eq!(urlencoded(&[("u", "1"), ("m", "2")]), "u=1&m=2");
    }

    #[test]
    fn multipart_has_one_part_per_field_and_a_closing_boundary() {
        let body =
            String::from_utf8(multipart("XyZ", &[("username", "a"), ("message", "b")])).unwrap();
        assert_eq!(body.matches("--XyZ\r\n").count(), 2);
        assert!(body.ends_with("--XyZ--\r\n"));
        assert!(body.contains("name=\"message\"\r\n\r\nb\r\n"));
    }
}
