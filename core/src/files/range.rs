//! `Range: bytes=...` on GET (RFC 9110 §14): which part of a file to send.
//!
//! Owns the parsing of the header and what it means for a file of a given length: single ranges
//! (`a-b`, `a-`, `-n`) are served as 206, a range past the end is 416, and anything this server
//! does not serve (several ranges, other units, bad syntax) is ignored, which RFC 9110 §14.2
//! allows: the whole file is sent with 200. Never reads a file.

/// What a `Range` header asks of a file of a known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send the whole file (no header, or one this server ignores).
    Full,
    /// Send `len` bytes from `start` (206).
    Partial { start: u64, len: u64 },
    /// No byte of the file is in the range (416).
    Unsatisfiable,
}

/// Interprets a `Range` header value for a file of `file_len` bytes.
pub fn parse_range(value: &str, file_len: u64) -> RangeRequest {
    let Some(spec) = strip_unit(value.trim()) else {
        return RangeRequest::Full;
    };
    // Several ranges would need a multipart answer; sending the whole file is allowed instead.
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (number(first), number(last)) {
        // `-n`: the last n bytes.
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || file_len == 0 {
                return RangeRequest::Unsatisfiable;
            }
            let len = suffix.min(file_len);
            RangeRequest::Partial {
                start: file_len - len,
                len,
            }
        }
        // `a-`: from a to the end.
        (Some(start), None) if last.is_empty() => {
            if start >= file_len {
                return RangeRequest::Unsatisfiable;
            }
            RangeRequest::Partial {
                start,
                len: file_len - start,
            }
        }
        (Some(start), Some(end)) => {
            if end < start {
                return RangeRequest::Full;
            }
            if start >= file_len {
                return RangeRequest::Unsatisfiable;
            }
            let end = end.min(file_len - 1);
            RangeRequest::Partial {
                start,
                len: end - start + 1,
            }
        }
        _ => RangeRequest::Full,
    }
}

/// The `Content-Range` value of a 206 answer.
pub fn content_range(start: u64, len: u64, file_len: u64) -> String {
    format!("bytes {start}-{}/{file_len}", start + len.saturating_sub(1))
}

/// The `Content-Range` value of a 416 answer (RFC 9110 §15.5.17).
pub fn unsatisfied_range(file_len: u64) -> String {
    format!("bytes */{file_len}")
}

/// The range spec after `bytes=` (the unit compared ignoring case).
fn strip_unit(value: &str) -> Option<&str> {
    let (unit, spec) = value.split_once('=')?;
    unit.trim().eq_ignore_ascii_case("bytes").then_some(spec)
}

/// A plain decimal number; `None` for empty, signs, spaces inside or overflow.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn interprets_ranges_of_a_100_byte_file() {
        let p = |start, len| RangeRequest::Partial { start, len };
        let cases = [
            ("bytes=0-0", p(0, 1)),
            ("bytes=0-99", p(0, 100)),
            ("bytes=10-19", p(10, 10)),
            ("bytes=90-500", p(90, 10)),
            ("bytes=90-", p(90, 10)),
            ("bytes=-10", p(90, 10)),
            ("bytes=-500", p(0, 100)),
            ("Bytes = 5-5", p(5, 1)),
            ("bytes=100-", RangeRequest::Unsatisfiable),
            ("bytes=100-200", RangeRequest::Unsatisfiable),
            ("bytes=-0", RangeRequest::Unsatisfiable),
            ("bytes=0-1,5-6", RangeRequest::Full),
            ("bytes=5-1", RangeRequest::Full),
            ("bytes=a-b", RangeRequest::Full),
            ("bytes=-", RangeRequest::Full),
            ("bytes=+1-2", RangeRequest::Full),
            ("items=0-1", RangeRequest::Full),
            ("bytes 0-1", RangeRequest::Full),
            ("bytes=99999999999999999999-", RangeRequest::Full),
            ("", RangeRequest::Full),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_range(value, 100), expected, "{value}");
        }
    }

    #[test]
    fn an_empty_file_satisfies_no_range() {
        assert_eq!(parse_range("bytes=0-", 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=-1", 0), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn content_range_values() {
        assert_eq!(content_range(10, 10, 100), "bytes 10-19/100");
        assert_eq!(unsatisfied_range(100), "bytes */100");
    }

    proptest! {
        #[test]
        fn a_partial_range_always_lies_inside_the_file(value in "\\PC{0,20}", digits in (0u64..300, 0u64..300), len in 0u64..200) {
            for value in [value, format!("bytes={}-{}", digits.0, digits.1), format!("bytes=-{}", digits.0)] {
                if let RangeRequest::Partial { start, len: part } = parse_range(&value, len) {
                    prop_assert!(part > 0 && start + part <= len);
                }
            }
        }
    }
}
