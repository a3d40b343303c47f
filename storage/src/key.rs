//! Record keys: the timestamp each message is stored under, and the clock that hands them out.
//!
//! Owns the one key format ferry writes (`2024-09-09T12:34:56.789012`: ISO 8601, UTC, exactly six
//! fraction digits, no offset) and the rule that keeps keys unique and ascending. It never reads a
//! clock: the wall-clock time comes in as a `time::OffsetDateTime` value.
//!
//! Because every field has a fixed width, comparing two keys of this format as strings gives the
//! same answer as comparing the times they name. That holds for this exact format only, which is
//! why keys in any other shape (an existing file may hold some) are never compared with ours.

use std::fmt;

use time::macros::datetime;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A storage key in ferry's format, e.g. `2024-09-09T12:34:56.789012`.
///
/// A value of this type always holds a well-formed key, so ordering keys compares their times.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey(String);

impl RecordKey {
    /// Parses `text` if it is a key in exactly ferry's format and names a real date and time.
    ///
    /// Anything else (no fraction, three fraction digits, an offset, a space for `T`, the 30th of
    /// February) gives `None`: such keys are kept in the file as they are but never reused.
    pub fn parse(text: &str) -> Option<RecordKey> {
        parse_key_time(text).map(|_| RecordKey(text.to_owned()))
    }

    /// Formats `time` as a key: converted to UTC, truncated to the microsecond, and clamped to the
    /// years 0000 to 9999 that the fixed-width format can spell.
    pub fn from_time(time: OffsetDateTime) -> RecordKey {
        RecordKey::from_utc(utc_micros(time))
    }

    /// The key as text, as it is written in the file.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Gives back the key text.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Formats a UTC time already truncated to microseconds and within the key range.
    fn from_utc(time: PrimitiveDateTime) -> RecordKey {
        RecordKey(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
            time.year(),
            u8::from(time.month()),
            time.day(),
            time.hour(),
            time.minute(),
            time.second(),
            time.microsecond()
        ))
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hands out record keys that are unique and strictly ascending.
///
/// A pure value: create it with the latest key already stored (if any), then call
/// [`KeyClock::next`] with the current wall-clock time for each new record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClock {
    latest: Option<PrimitiveDateTime>,
}

impl KeyClock {
    /// Starts a clock whose first key will come after `latest`, the latest key already stored.
    pub fn new(latest: Option<RecordKey>) -> KeyClock {
        KeyClock {
            latest: latest.as_ref().and_then(|key| parse_key_time(key.as_str())),
        }
    }

    /// The key for a record received at `now`: the later of `now` (in UTC, truncated to the
    /// microsecond) and one microsecond after the previous key.
    ///
    /// Two records in the same microsecond, or a wall clock stepped back, therefore still get
    /// distinct ascending keys. The only exception is the last microsecond of the year 9999,
    /// after which keys cannot grow and repeat that last value.
    pub fn next(&mut self, now: OffsetDateTime) -> RecordKey {
        let now = utc_micros(now);
        let time = match self.latest {
            Some(previous) => {
                let successor = previous
                    .checked_add(Duration::microseconds(1))
                    .unwrap_or(previous);
                now.max(successor).min(LAST_KEY_TIME)
            }
            None => now,
        };
        self.latest = Some(time);
        RecordKey::from_utc(time)
    }

    /// The latest key handed out or stored, if any.
    pub fn latest(&self) -> Option<RecordKey> {
        self.latest.map(RecordKey::from_utc)
    }
}

/// `time` in UTC, truncated to the microsecond and clamped to the range keys can spell.
fn utc_micros(time: OffsetDateTime) -> PrimitiveDateTime {
    let utc = match time.checked_to_offset(UtcOffset::UTC) {
        Some(utc) => utc,
        // Only times within hours of the range ends of the `time` crate fail to convert; they are
        // far outside the key range anyway, so clamp by the side they are on.
        None if time.year() < 0 => return FIRST_KEY_TIME,
        None => return LAST_KEY_TIME,
    };
    let micros = utc.time().microsecond();
    let time_of_day =
        Time::from_hms_micro(utc.hour(), utc.minute(), utc.second(), micros).unwrap_or(utc.time());
    PrimitiveDateTime::new(utc.date(), time_of_day).clamp(FIRST_KEY_TIME, LAST_KEY_TIME)
}

/// The time a key in ferry's exact format names, or `None` if `text` is not such a key.
fn parse_key_time(text: &str) -> Option<PrimitiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() != KEY_LEN {
        return None;
    }
    for (index, &byte) in bytes.iter().enumerate() {
        let expected_separator = match index {
            4 | 7 => Some(b'-'),
            10 => Some(b'T'),
            13 | 16 => Some(b':'),
            19 => Some(b'.'),
            _ => None,
        };
        let fits = match expected_separator {
            Some(separator) => byte == separator,
            None => byte.is_ascii_digit(),
        };
        if !fits {
            return None;
        }
    }
    // Every byte was checked above to be an ASCII digit or separator, so slicing by byte index
    // stays on character boundaries and each field parses as a decimal number.
    let field = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let year = i32::try_from(field(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(field(5..7)?).ok()?).ok()?;
    let day = u8::try_from(field(8..10)?).ok()?;
    let hour = u8::try_from(field(11..13)?).ok()?;
    let minute = u8::try_from(field(14..16)?).ok()?;
    let second = u8::try_from(field(17..19)?).ok()?;
    let micros = field(20..26)?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_micro(hour, minute, second, micros).ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

/// Length of a key in bytes: `YYYY-MM-DDTHH:MM:SS.ffffff`.
pub(crate) const KEY_LEN: usize = 26;

/// The earliest time a four-digit year can spell.
const FIRST_KEY_TIME: PrimitiveDateTime = datetime!(0000-01-01 00:00:00.000000);

/// The latest time a four-digit year with six fraction digits can spell.
const LAST_KEY_TIME: PrimitiveDateTime = datetime!(9999-12-31 23:59:59.999999);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::offset;

    #[test]
    fn parses_only_the_exact_key_format() {
        let cases: &[(&str, bool)] = &[
            ("2024-09-09T12:34:56.789012", true),
            ("0000-01-01T00:00:00.000000", true),
            ("9999-12-31T23:59:59.999999", true),
            ("2024-02-29T00:00:00.000000", true),
            ("2023-02-29T00:00:00.000000", false),
            ("2024-09-09T12:34:56", false),
            ("2024-09-09T12:34:56.789", false),
            ("2024-09-09T12:34:56.7890123", false),
            ("2024-09-09 12:34:56.789012", false),
            ("2024-09-09T12:34:56.789012Z", false),
            ("2024-09-09T24:00:00.000000", false),
            ("2024-09-09T12:60:00.000000", false),
            ("2024-09-09T12:34:60.000000", false),
            ("2024-13-09T12:34:56.789012", false),
            ("2024-00-09T12:34:56.789012", false),
            ("+024-09-09T12:34:56.789012", false),
            ("2024-09-09T12:34:5é.78901", false),
            ("", false),
        ];
        for &(text, valid) in cases {
            assert_eq!(RecordKey::parse(text).is_some(), valid, "{text:?}");
        }
    }

    #[test]
    fn formats_in_utc_with_six_fraction_digits() {
        let cases = [
            (
                datetime!(2024-09-09 12:34:56.789012345 UTC),
                "2024-09-09T12:34:56.789012",
            ),
            (
                datetime!(2024-09-09 12:34:56 UTC),
                "2024-09-09T12:34:56.000000",
            ),
            (
                datetime!(2024-09-09 14:34:56.5 +02:00),
                "2024-09-09T12:34:56.500000",
            ),
            (
                datetime!(2024-01-01 00:30:00 +01:00),
                "2023-12-31T23:30:00.000000",
            ),
            (
                datetime!(0009-01-01 00:00:00 UTC),
                "0009-01-01T00:00:00.000000",
            ),
            (
                datetime!(-0001-06-01 00:00:00 UTC),
                "0000-01-01T00:00:00.000000",
            ),
        ];
        for (time, expected) in cases {
            assert_eq!(RecordKey::from_time(time).as_str(), expected);
            assert!(RecordKey::parse(expected).is_some());
        }
    }

    #[test]
    fn string_order_matches_time_order() {
        let early = RecordKey::from_time(datetime!(2024-09-09 09:59:59.999999 UTC));
        let late = RecordKey::from_time(datetime!(2024-09-09 10:00:00 UTC));
        assert!(early < late);
        assert!(early.as_str() < late.as_str());
    }

    #[test]
    fn keys_stay_ascending_when_the_clock_repeats_or_steps_back() {
        let mut clock = KeyClock::new(None);
        let t = datetime!(2024-09-09 12:00:00.000005 UTC);
        let keys = [
            clock.next(t),
            clock.next(t),
            clock.next(t - Duration::seconds(30)),
            clock.next(t + Duration::nanoseconds(300)),
            clock.next(t + Duration::seconds(1)),
        ];
        let texts: Vec<&str> = keys.iter().map(RecordKey::as_str).collect();
        assert_eq!(
            texts,
            [
                "2024-09-09T12:00:00.000005",
                "2024-09-09T12:00:00.000006",
                "2024-09-09T12:00:00.000007",
                "2024-09-09T12:00:00.000008",
                "2024-09-09T12:00:01.000005",
            ]
        );
    }

    #[test]
    fn clock_continues_after_the_latest_stored_key() {
        let latest = RecordKey::parse("2030-01-01T00:00:00.999999");
        let mut clock = KeyClock::new(latest);
        let key = clock.next(datetime!(2024-09-09 12:00:00 UTC));
        assert_eq!(key.as_str(), "2030-01-01T00:00:01.000000");
        assert_eq!(clock.latest(), Some(key));
    }

    #[test]
    fn clock_converts_offsets_before_comparing() {
        let mut clock = KeyClock::new(RecordKey::parse("2024-09-09T12:00:00.000000"));
        // 13:00 at +02:00 is 11:00 UTC, earlier than the stored key.
        let key = clock.next(datetime!(2024-09-09 13:00:00 UTC).replace_offset(offset!(+2)));
        assert_eq!(key.as_str(), "2024-09-09T12:00:00.000001");
    }

    #[test]
    fn clock_saturates_at_the_end_of_year_9999() {
        let mut clock = KeyClock::new(RecordKey::parse("9999-12-31T23:59:59.999999"));
        let key = clock.next(datetime!(2024-09-09 12:00:00 UTC));
        assert_eq!(key.as_str(), "9999-12-31T23:59:59.999999");
    }
}
