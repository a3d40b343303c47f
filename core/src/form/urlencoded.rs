//! The `application/x-www-form-urlencoded` format: `name=value` pairs joined by `&`.
//!
//! Owns both directions: decoding as a server must (`+` is a space, `%XX` escapes in either case,
//! strict about broken escapes and non-UTF-8 text) and encoding as a browser does (the WHATWG URL
//! standard's urlencoded serializer). Never interprets the fields.

use super::FormError;

/// Decodes a urlencoded body into its `(name, value)` pairs, in order.
///
/// `+` decodes to a space and `%XX` (hex digits in either case) to the byte `XX`; `&` and `=`
/// inside a name or value therefore arrive escaped. A pair without `=` is a name with an empty
/// value; empty pairs (`a=1&&b=2`) are skipped. A `%` not followed by two hex digits is
/// [`FormError::BadPercentEscape`]; a name or value that is not UTF-8 once decoded is
/// [`FormError::NotUtf8`]. Work and memory are linear in the body's length.
pub fn decode_urlencoded(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut fields = Vec::new();
    for pair in body.split(|&byte| byte == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
            Some(equals) => (&pair[..equals], &pair[equals + 1..]),
            None => (pair, &[][..]),
        };
        fields.push((percent_decode(name)?, percent_decode(value)?));
    }
    Ok(fields)
}

/// Appends `fields` to `out` urlencoded the way a browser submits a form.
///
/// ASCII letters, digits and `*-._` stay as they are, a space becomes `+`, every other byte of
/// the UTF-8 text becomes `%XX` with upper-case hex. Every pair is written with its `=`, so
/// [`decode_urlencoded`] gives exactly the same pairs back.
pub fn encode_urlencoded(fields: &[(&str, &str)], out: &mut Vec<u8>) {
    for (index, (name, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b'&');
        }
        percent_encode(name, out);
        out.push(b'=');
        percent_encode(value, out);
    }
}

fn percent_decode(input: &[u8]) -> Result<String, FormError> {
    let mut bytes = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => match rest {
                [high, low, tail @ ..] => {
                    let (Some(high), Some(low)) = (hex_value(*high), hex_value(*low)) else {
                        return Err(FormError::BadPercentEscape);
                    };
                    bytes.push(high << 4 | low);
                    rest = tail;
                }
                _ => return Err(FormError::BadPercentEscape),
            },
            _ => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).map_err(|_| FormError::NotUtf8)
}

fn percent_encode(text: &str, out: &mut Vec<u8>) {
    for &byte in text.as_bytes() {
        match byte {
            b' ' => out.push(b'+'),
            b'*' | b'-' | b'.' | b'_' => out.push(byte),
            _ if byte.is_ascii_alphanumeric() => out.push(byte),
            _ => {
                out.push(b'%');
                out.push(HEX_DIGITS[usize::from(byte >> 4)]);
                out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
            }
        }
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Upper-case hex digits, as browsers write escapes. Indexed by a nibble, so always in range.
const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn pairs(list: Pairs) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn decodes_the_urlencoded_cases() {
        let cases: &[(&[u8], Pairs)] = &[
            (b"", &[]),
            (b"a=1", &[("a", "1")]),
            (b"a=hello+world", &[("a", "hello world")]),
            (b"a=1%2B1", &[("a", "1+1")]),
            (b"a=x%26b%3Dy", &[("a", "x&b=y")]),
            (b"a=%c3%a9%C3%A9", &[("a", "éé")]),
            (b"a=%3d%3D", &[("a", "==")]),
            (b"a=1&&b=2", &[("a", "1"), ("b", "2")]),
            (b"&a=1&", &[("a", "1")]),
            (b"flag", &[("flag", "")]),
            (b"flag&a=", &[("flag", ""), ("a", "")]),
            (b"=x", &[("", "x")]),
            (b"a=b=c", &[("a", "b=c")]),
            (b"a=%0D%0Aline", &[("a", "\r\nline")]),
            (b"na+me=v", &[("na me", "v")]),
            ("a=é".as_bytes(), &[("a", "é")]),
        ];
        for (body, expected) in cases {
            let got = decode_urlencoded(body);
            assert_eq!(
                got,
                Ok(pairs(expected)),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn refuses_broken_escapes_and_non_utf8() {
        let cases: &[(&[u8], FormError)] = &[
            (b"a=%", FormError::BadPercentEscape),
            (b"a=%4", FormError::BadPercentEscape),
            (b"a=%zz", FormError::BadPercentEscape),
            (b"a=%4g", FormError::BadPercentEscape),
            (b"%=1", FormError::BadPercentEscape),
            (b"a=%%41", FormError::BadPercentEscape),
            (b"a=%FF", FormError::NotUtf8),
            (b"a=%C3", FormError::NotUtf8),
            (b"%FF=1", FormError::NotUtf8),
            (b"a=\xff", FormError::NotUtf8),
        ];
        for (body, error) in cases {
            let got = decode_urlencoded(body);
            assert_eq!(
                got.as_ref(),
                Err(error),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn encodes_like_a_browser() {
        let mut out = Vec::new();
        encode_urlencoded(
            &[("username", "Ann B"), ("message", "a&b=c+d%é*-._~\n")],
            &mut out,
        );
        let expected = "username=Ann+B&message=a%26b%3Dc%2Bd%25%C3%A9*-._%7E%0A";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    fn field_text() -> impl Strategy<Value = String> {
        // Arbitrary Unicode, with the characters that have a meaning in the format made common.
        prop_oneof![
            any::<String>(),
            proptest::collection::vec(
                prop_oneof![
                    Just('&'),
                    Just('='),
                    Just('+'),
                    Just('%'),
                    Just('<'),
                    Just('>'),
                    Just(' '),
                    Just('\n'),
                    Just('\r'),
                    Just('😀'),
                    any::<char>(),
                ],
                0..24
            )
            .prop_map(|chars| chars.into_iter().collect()),
        ]
    }

    proptest! {
        #[test]
        fn encoded_fields_decode_to_themselves(
            fields in proptest::collection::vec((field_text(), field_text()), 0..6)
        ) {
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
            let mut out = Vec::new();
            encode_urlencoded(&borrowed, &mut out);
            prop_assert_eq!(decode_urlencoded(&out), Ok(fields));
        }

        #[test]
        fn decoding_arbitrary_bytes_keeps_the_invariants(
            body in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            crate::check::check_form(&body);
        }
    }
}
