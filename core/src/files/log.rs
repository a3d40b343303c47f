//! The file server's access log: one line per request in Combined Log Format, with the time the
//! request took added at the end.
//!
//! `127.0.0.1 - - [21/Nov/2026:12:00:00 +0000] "GET /a.txt HTTP/1.1" 200 5 "-" "curl/8.5.0" 0.000412`
//!
//! Owns the format and the escaping of what the client chose (request line, referer, user agent),
//! so a client cannot forge a line or a field. Never writes anywhere: the shell appends the line.

use std::fmt::Write;
use std::net::IpAddr;
use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};

/// What one log line says about a request and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry<'a> {
    /// The client's address.
    pub remote: IpAddr,
    /// When the request arrived (wall clock).
    pub time: OffsetDateTime,
    /// The request line as received (`GET /a HTTP/1.1`), or `None` for a request refused before
    /// its head could be read.
    pub request_line: Option<&'a str>,
    pub status: u16,
    /// Body bytes sent; `None` (logged as `-`) when no body was sent.
    pub body_bytes: Option<u64>,
    pub referer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// From the first byte of the request to the last byte of the answer.
    pub duration: Duration,
}

/// Formats one log line, without its newline.
pub fn log_line(entry: &LogEntry) -> String {
    let mut line = String::with_capacity(160);
    let utc = entry.time.to_offset(UtcOffset::UTC);
    let month = MONTHS[usize::from(u8::from(utc.month())) - 1];
    // Writing into a String cannot fail.
    let _ = write!(
        line,
        "{} - - [{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000] ",
        entry.remote,
        utc.day(),
        utc.year(),
        utc.hour(),
        utc.minute(),
        utc.second()
    );
    quoted(&mut line, entry.request_line);
    let _ = write!(line, " {} ", entry.status);
    match entry.body_bytes {
        Some(n) if n > 0 => {
            let _ = write!(line, "{n}");
        }
        _ => line.push('-'),
    }
    line.push(' ');
    quoted(&mut line, entry.referer);
    line.push(' ');
    quoted(&mut line, entry.user_agent);
    let micros = entry.duration.as_micros();
    let _ = write!(line, " {}.{:06}", micros / 1_000_000, micros % 1_000_000);
    line
}

/// Appends `"value"` (or `"-"`), with `"`, `\` and control or non-ASCII bytes as `\xHH`, so every
/// line stays one line and every field stays one field.
fn quoted(line: &mut String, value: Option<&str>) {
    line.push('"');
    match value {
        None | Some("") => line.push('-'),
        Some(text) => {
            for byte in text.bytes() {
                if byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte) {
                    let _ = write!(line, "\\x{byte:02X}");
                } else {
                    line.push(char::from(byte));
                }
            }
        }
    }
    line.push('"');
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use time::macros::datetime;

    use super::*;

    fn entry() -> LogEntry<'static> {
        LogEntry {
            remote: IpAddr::V4(Ipv4Addr::LOCALHOST),
            time: datetime!(2026-11-21 12:00:00 +01:00),
            request_line: Some("GET /a.txt HTTP/1.1"),
            status: 200,
            body_bytes: Some(5),
            referer: None,
            user_agent: Some("curl/8.5.0"),
            duration: Duration::from_micros(1_000_412),
        }
    }

    #[test]
    fn combined_log_format_with_duration() {
        assert_eq!(
            log_line(&entry()),
            "127.0.0.1 - - [21/Nov/2026:11:00:00 +0000] \"GET /a.txt HTTP/1.1\" 200 5 \"-\" \
             \"curl/8.5.0\" 1.000412"
        );
    }

    #[test]
    fn no_body_is_a_dash_and_no_head_is_a_dash_request() {
        let line = log_line(&LogEntry {
            request_line: None,
            status: 400,
            body_bytes: None,
            user_agent: None,
            ..entry()
        });
        assert!(line.contains("] \"-\" 400 - \"-\" \"-\" "), "{line}");
        let line = log_line(&LogEntry {
            body_bytes: Some(0),
            ..entry()
        });
        assert!(line.contains(" 200 - "), "{line}");
    }

    #[test]
    fn client_text_cannot_break_the_line() {
        let line = log_line(&LogEntry {
            request_line: Some("GET /\"x\\ HTTP/1.1"),
            user_agent: Some("evil\n127.0.0.1 - - [fake] é"),
            ..entry()
        });
        assert!(!line.contains('\n'));
        assert!(line.contains("\"GET /\\x22x\\x5C HTTP/1.1\""), "{line}");
        assert!(line.contains("evil\\x0A127"), "{line}");
        assert!(line.contains("\\xC3\\xA9"), "{line}");
        assert_eq!(line.matches('"').count(), 6);
    }
}
