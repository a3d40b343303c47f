//! What `ferry client` says and sends: the request head, the lines it prints and its progress
//! bar. The shell opens the socket and the files and moves the bytes; the response is read by
//! [`crate::http::ResponseReader`]. Pure functions, no I/O.

use std::fmt::Write;
use std::time::Duration;

use crate::http::ResponseHead;

/// What `ferry client` does with the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientMethod {
    /// Download it.
    #[default]
    Get,
    /// Upload it.
    Put,
    /// Show its status and headers.
    Head,
}

impl ClientMethod {
    /// Every method, in the order help lists them.
    pub const ALL: [ClientMethod; 3] = [ClientMethod::Get, ClientMethod::Put, ClientMethod::Head];

    /// The method's name in the request line, which is also how the command line writes it.
    pub fn name(self) -> &'static str {
        match self {
            ClientMethod::Get => "GET",
            ClientMethod::Put => "PUT",
            ClientMethod::Head => "HEAD",
        }
    }
}

/// The request head for `method` on `path` at `host:port`; `upload_len` is the body length of
/// a PUT, which waits for `100 Continue` so a refused upload is never sent.
pub fn request_head(
    method: ClientMethod,
    path: &str,
    host: &str,
    port: u16,
    upload_len: Option<u64>,
) -> Vec<u8> {
    let method = method.name();
    // RFC 9110 §7.2: an IPv6 literal in Host is written in brackets.
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: ferry/{}\r\n\
         Connection: close\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(len) = upload_len {
        let _ = write!(head, "Content-Length: {len}\r\nExpect: 100-continue\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The confirmation a download prints.
pub fn saved_line(name: &str, bytes: u64) -> String {
    format!("saved {name} ({bytes} bytes)")
}

/// The confirmation an upload prints.
pub fn uploaded_line(path: &str, bytes: u64, head: &ResponseHead) -> String {
    format!(
        "uploaded {path} ({bytes} bytes): {} {}",
        head.status, head.reason
    )
}

/// What HEAD prints: the status line and every header, one per line.
pub fn head_lines(head: &ResponseHead) -> String {
    let mut text = format!("HTTP/1.1 {} {}\n", head.status, head.reason);
    for header in &head.headers {
        let _ = writeln!(
            text,
            "{}: {}",
            header.name,
            String::from_utf8_lossy(&header.value)
        );
    }
    text
}

/// The error line for an answer other than 2xx.
pub fn status_error(head: &ResponseHead) -> String {
    format!("the server answered {} {}", head.status, head.reason)
}

/// Whether an answer counts as success.
pub fn is_success(head: &ResponseHead) -> bool {
    (200..300).contains(&head.status)
}

/// One frame of the progress bar (starting with `\r`, so each frame overwrites the last):
/// `done` of `total` bytes after `elapsed`.
pub fn progress_line(done: u64, total: u64, elapsed: Duration) -> String {
    let done = done.min(total);
    let fraction = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let filled = (fraction * PROGRESS_WIDTH as f64) as usize;
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    format!(
        "\r[{}{}] {:3.0}% {:.1}/{:.1} MiB {:.1} MiB/s ",
        "#".repeat(filled),
        "-".repeat(PROGRESS_WIDTH - filled),
        fraction * 100.0,
        done as f64 / MIB,
        total as f64 / MIB,
        rate / MIB
    )
}

/// Transfers smaller than 4 MiB end before a bar would be read.
pub const PROGRESS_THRESHOLD: u64 = 4 * 1024 * 1024;
/// How often the bar is redrawn at most.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);
/// Cells of the bar; the whole line stays within 80 columns.
const PROGRESS_WIDTH: usize = 30;
const MIB: f64 = 1024.0 * 1024.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Header, Version};

    #[test]
    fn request_heads() {
        let get = request_head(ClientMethod::Get, "/a b", "example.org", 8080, None);
        let text = String::from_utf8(get).unwrap();
        assert!(text.starts_with("GET /a b HTTP/1.1\r\nHost: example.org:8080\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\n"));
        let put = request_head(ClientMethod::Put, "/f", "::1", 80, Some(5));
        let text = String::from_utf8(put).unwrap();
        assert!(text.contains("Host: [::1]:80\r\n"), "{text}");
        assert!(text.contains("Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    }

    #[test]
    fn lines_printed() {
        let head = ResponseHead {
            status: 404,
            reason: "Not Found".into(),
            version: Version::Http11,
            headers: vec![Header {
                name: "Content-Length".into(),
                value: b"3".to_vec(),
            }],
        };
        assert_eq!(saved_line("a.txt", 5), "saved a.txt (5 bytes)");
        assert_eq!(status_error(&head), "the server answered 404 Not Found");
        assert_eq!(
            head_lines(&head),
            "HTTP/1.1 404 Not Found\nContent-Length: 3\n"
        );
        assert!(!is_success(&head));
    }

    #[test]
    fn progress_bar_fills_and_fits() {
        let half = progress_line(50 << 20, 100 << 20, Duration::from_secs(5));
        assert!(
            half.starts_with("\r[###############---------------]  50% 50.0/100.0 MiB 10.0 MiB/s")
        );
        let done = progress_line(10, 10, Duration::ZERO);
        assert!(done.contains("100%"));
        assert!(progress_line(u64::MAX, 1, Duration::from_secs(1)).len() < 80);
    }
}
