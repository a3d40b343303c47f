//! Sizes and durations as people write them on a command line: `64K`, `1G`, `500ms`, `2s`.
//!
//! Owns the grammar of these values, their overflow checks, and the text help shows for a
//! default (the same grammar, so a default reads back as itself). It never decides which values a
//! setting accepts (zero, upper bounds): that belongs to whoever reads the setting, here
//! [`crate::values`].
//!
//! A size is a whole number of bytes, optionally followed by `K`, `M` or `G` (binary multiples,
//! `1K` = 1024 bytes, any case). A duration is a whole number followed by `ms`, `s` or `m`
//! (minutes, any case); a bare number is refused because `2` could mean seconds or milliseconds.

use std::fmt;
use std::time::Duration;

/// Parses a size in bytes: digits, then an optional `K`, `M` or `G` (powers of 1024, any case).
///
/// `"0"` is a valid size; callers that need a positive limit check for zero themselves.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let (digits, suffix) = split_number(text);
    let number = parse_digits(digits).ok_or(SizeError::Invalid)?;
    let multiplier = if suffix.is_empty() {
        1
    } else if suffix.eq_ignore_ascii_case("k") {
        KIB
    } else if suffix.eq_ignore_ascii_case("m") {
        MIB
    } else if suffix.eq_ignore_ascii_case("g") {
        GIB
    } else if is_word(suffix) {
        return Err(SizeError::UnknownSuffix(suffix.to_string()));
    } else {
        return Err(SizeError::Invalid);
    };
    let number = number.ok_or(SizeError::Overflow)?;
    number.checked_mul(multiplier).ok_or(SizeError::Overflow)
}

/// Parses a duration: digits, then `ms`, `s` or `m` (minutes), in any case.
///
/// `"0s"` is a valid duration; callers that need a positive timeout check for zero themselves.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let (digits, unit) = split_number(text);
    let number = parse_digits(digits).ok_or(DurationError::Invalid)?;
    if unit.is_empty() {
        return Err(DurationError::MissingUnit);
    }
    let number = number.ok_or(DurationError::Overflow)?;
    if unit.eq_ignore_ascii_case("ms") {
        Ok(Duration::from_millis(number))
    } else if unit.eq_ignore_ascii_case("s") {
        Ok(Duration::from_secs(number))
    } else if unit.eq_ignore_ascii_case("m") {
        let seconds = number
            .checked_mul(SECONDS_PER_MINUTE)
            .ok_or(DurationError::Overflow)?;
        Ok(Duration::from_secs(seconds))
    } else if is_word(unit) {
        Err(DurationError::UnknownUnit(unit.to_string()))
    } else {
        Err(DurationError::Invalid)
    }
}

/// Writes a size in the largest unit that divides it: `65536` is `64K`.
pub fn format_size(bytes: u64) -> String {
    let unit = [(GIB, "G"), (MIB, "M"), (KIB, "K")]
        .into_iter()
        .find(|(multiple, _)| bytes > 0 && bytes % multiple == 0);
    match unit {
        Some((multiple, suffix)) => format!("{}{suffix}", bytes / multiple),
        None => bytes.to_string(),
    }
}

/// Writes a duration in the largest unit that divides it: `600s` is `10m`. Anything finer than
/// a millisecond is dropped, as no duration of ferry's is that fine.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let minute = u128::from(SECONDS_PER_MINUTE * 1000);
    if millis > 0 && millis % minute == 0 {
        format!("{}m", millis / minute)
    } else if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// Why a size was refused. The `Display` text completes "invalid value 'x' for --flag: ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeError {
    /// Not a whole number with an optional suffix (empty, negative, a fraction, a word).
    Invalid,
    /// A whole number followed by letters other than `K`, `M`, `G`; holds those letters.
    UnknownSuffix(String),
    /// The number of bytes does not fit in a `u64`.
    Overflow,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeError::Invalid => {
                f.write_str("expected a size like 64K (bytes, or a whole number with K, M or G)")
            }
            SizeError::UnknownSuffix(suffix) => {
                write!(
                    f,
                    "unknown size suffix '{suffix}', expected K, M or G (1K = 1024 bytes)"
                )
            }
            SizeError::Overflow => f.write_str("the size does not fit in 64 bits"),
        }
    }
}

/// Why a duration was refused. The `Display` text completes "invalid value 'x' for --flag: ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Not a whole number followed by a unit (empty, negative, a fraction, a word).
    Invalid,
    /// A bare number: it could mean seconds or milliseconds, so the unit is required.
    MissingUnit,
    /// A whole number followed by letters other than `ms`, `s`, `m`; holds those letters.
    UnknownUnit(String),
    /// The duration does not fit in a `u64` count of its unit or of seconds.
    Overflow,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Invalid => {
                f.write_str("expected a duration like 2s (a whole number with ms, s or m)")
            }
            DurationError::MissingUnit => {
                f.write_str("a duration needs a unit: ms, s or m (like 500ms, 2s, 1m)")
            }
            DurationError::UnknownUnit(unit) => {
                write!(f, "unknown duration unit '{unit}', expected ms, s or m")
            }
            DurationError::Overflow => f.write_str("the duration is too long to represent"),
        }
    }
}

/// Splits `text` into its leading ASCII digits and the rest.
fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    // `end` is the byte index of a char (or the length), so it is a char boundary.
    text.split_at(end)
}

/// Reads ASCII digits as a `u64`: `None` when there are none, `Some(None)` when they overflow.
fn parse_digits(digits: &str) -> Option<Option<u64>> {
    if digits.is_empty() {
        return None;
    }
    let value = digits.bytes().try_fold(0u64, |value, digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    });
    Some(value)
}

/// True for a non-empty run of ASCII letters: a unit the user meant, as opposed to stray
/// characters such as a decimal point or a space.
fn is_word(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Bytes in one `K` of a size. Binary multiples, as the defaults `64K` and `1G` are meant.
const KIB: u64 = 1 << 10;
/// Bytes in one `M` of a size.
const MIB: u64 = 1 << 20;
/// Bytes in one `G` of a size.
const GIB: u64 = 1 << 30;
/// Seconds in one `m` of a duration.
const SECONDS_PER_MINUTE: u64 = 60;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_sizes() {
        let cases: &[(&str, Result<u64, SizeError>)] = &[
            ("0", Ok(0)),
            ("1", Ok(1)),
            ("65536", Ok(65_536)),
            ("64K", Ok(65_536)),
            ("64k", Ok(65_536)),
            ("0K", Ok(0)),
            ("3M", Ok(3 * 1024 * 1024)),
            ("3m", Ok(3 * 1024 * 1024)),
            ("1G", Ok(1 << 30)),
            ("1g", Ok(1 << 30)),
            ("007K", Ok(7 * 1024)),
            ("18446744073709551615", Ok(u64::MAX)),
            ("17179869183G", Ok(17_179_869_183 << 30)),
            ("18446744073709551616", Err(SizeError::Overflow)),
            ("99999999999999999999999K", Err(SizeError::Overflow)),
            ("17179869184G", Err(SizeError::Overflow)),
            ("18014398509481984K", Err(SizeError::Overflow)),
            ("", Err(SizeError::Invalid)),
            ("-1", Err(SizeError::Invalid)),
            ("+1", Err(SizeError::Invalid)),
            ("K", Err(SizeError::Invalid)),
            ("abc", Err(SizeError::Invalid)),
            (" 64K", Err(SizeError::Invalid)),
            ("64K ", Err(SizeError::Invalid)),
            ("64 K", Err(SizeError::Invalid)),
            ("1.5M", Err(SizeError::Invalid)),
            ("1_000", Err(SizeError::Invalid)),
            ("64КБ", Err(SizeError::Invalid)),
            ("64KB", Err(SizeError::UnknownSuffix("KB".into()))),
            ("64KiB", Err(SizeError::UnknownSuffix("KiB".into()))),
            ("1T", Err(SizeError::UnknownSuffix("T".into()))),
        ];
        for (text, expected) in cases {
            assert_eq!(&parse_size(text), expected, "parse_size({text:?})");
        }
    }

    #[test]
    fn parses_durations() {
        let cases: &[(&str, Result<Duration, DurationError>)] = &[
            ("2s", Ok(Duration::from_secs(2))),
            ("2S", Ok(Duration::from_secs(2))),
            ("500ms", Ok(Duration::from_millis(500))),
            ("500MS", Ok(Duration::from_millis(500))),
            ("1m", Ok(Duration::from_secs(60))),
            ("15m", Ok(Duration::from_secs(900))),
            ("0s", Ok(Duration::ZERO)),
            ("0ms", Ok(Duration::ZERO)),
            (
                "18446744073709551615ms",
                Ok(Duration::from_millis(u64::MAX)),
            ),
            ("18446744073709551615s", Ok(Duration::from_secs(u64::MAX))),
            (
                "307445734561825860m",
                Ok(Duration::from_secs(307_445_734_561_825_860 * 60)),
            ),
            ("307445734561825861m", Err(DurationError::Overflow)),
            ("18446744073709551616s", Err(DurationError::Overflow)),
            ("2", Err(DurationError::MissingUnit)),
            ("0", Err(DurationError::MissingUnit)),
            ("1h", Err(DurationError::UnknownUnit("h".into()))),
            ("2sec", Err(DurationError::UnknownUnit("sec".into()))),
            ("1d", Err(DurationError::UnknownUnit("d".into()))),
            ("", Err(DurationError::Invalid)),
            ("s", Err(DurationError::Invalid)),
            ("-1s", Err(DurationError::Invalid)),
            ("1.5s", Err(DurationError::Invalid)),
            ("2 s", Err(DurationError::Invalid)),
            ("1m30s", Err(DurationError::Invalid)),
        ];
        for (text, expected) in cases {
            assert_eq!(&parse_duration(text), expected, "parse_duration({text:?})");
        }
    }

    #[test]
    fn formats_in_the_largest_whole_unit() {
        let sizes = [
            (0, "0"),
            (1000, "1000"),
            (65_536, "64K"),
            (3 << 20, "3M"),
            (1 << 30, "1G"),
        ];
        for (bytes, text) in sizes {
            assert_eq!(format_size(bytes), text);
        }
        let durations = [
            (0, "0s"),
            (1, "1ms"),
            (1500, "1500ms"),
            (15_000, "15s"),
            (600_000, "10m"),
        ];
        for (millis, text) in durations {
            assert_eq!(format_duration(Duration::from_millis(millis)), text);
        }
    }

    #[test]
    fn error_messages_name_the_accepted_forms() {
        let cases: &[(String, &str)] = &[
            (SizeError::Invalid.to_string(), "expected a size like 64K"),
            (
                SizeError::UnknownSuffix("KB".into()).to_string(),
                "'KB', expected K, M or G",
            ),
            (SizeError::Overflow.to_string(), "64 bits"),
            (
                DurationError::Invalid.to_string(),
                "expected a duration like 2s",
            ),
            (
                DurationError::MissingUnit.to_string(),
                "needs a unit: ms, s or m",
            ),
            (
                DurationError::UnknownUnit("h".into()).to_string(),
                "'h', expected ms, s or m",
            ),
            (DurationError::Overflow.to_string(), "too long"),
        ];
        for (message, expected) in cases {
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
            assert!(!message.contains('\n'), "{message:?} spans lines");
        }
    }

    proptest! {
        #[test]
        fn kibibytes_multiply_by_1024_or_overflow(n in any::<u64>()) {
            let expected = n.checked_mul(1024).ok_or(SizeError::Overflow);
            prop_assert_eq!(parse_size(&format!("{n}K")), expected.clone());
            prop_assert_eq!(parse_size(&format!("{n}k")), expected);
        }

        #[test]
        fn plain_digits_are_bytes(n in any::<u64>()) {
            prop_assert_eq!(parse_size(&n.to_string()), Ok(n));
        }

        #[test]
        fn seconds_and_milliseconds_round_trip(n in any::<u64>()) {
            prop_assert_eq!(parse_duration(&format!("{n}s")), Ok(Duration::from_secs(n)));
            prop_assert_eq!(parse_duration(&format!("{n}ms")), Ok(Duration::from_millis(n)));
        }

        #[test]
        fn sizes_and_durations_read_back_as_written(bytes in any::<u64>(), millis in any::<u64>()) {
            prop_assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
            let duration = Duration::from_millis(millis);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,24}") {
            let _ = parse_size(&text);
            let _ = parse_duration(&text);
        }
    }
}
