//! Suite: downloads as users make them — folders without their slash, slow and bursty readers,
//! and readers who give up (issue 12.1, 12.2, 12.5).

use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::support::{pattern, same_contents, write_pattern_file, FileServer};

/// `GET /site` of a folder redirects to `/site/` (301, query kept), as python's http.server and
/// nginx do, so the relative links of `site/index.html` resolve inside the folder.
pub fn folders_without_a_trailing_slash_redirect(bin: &str) {
    let server = FileServer::start(bin, "files_folder_redirect", &[]);
    let root = server.root();
    fs::create_dir(root.join("site")).unwrap();
    fs::write(
        root.join("site/index.html"),
        "<a href=\"page.html\">page</a>",
    )
    .unwrap();
    fs::write(root.join("site/page.html"), "page").unwrap();
    fs::create_dir(root.join("two words")).unwrap();
    let cases = [
        ("/site", "/site/"),
        ("/site?x=1&y=%20", "/site/?x=1&y=%20"),
        ("/two%20words", "/two%20words/"),
    ];
    for (target, location) in cases {
        let response = server.get(target, "");
        assert_eq!(response.status, 301, "GET {target}");
        assert_eq!(response.header("location"), Some(location), "GET {target}");
        let head = server.request(&format!("HEAD {target} HTTP/1.1\r\nHost: t\r\n\r\n"), true);
        assert_eq!(head.status, 301, "HEAD {target}");
        assert_eq!(head.header("location"), Some(location), "HEAD {target}");
    }
    let index = server.get("/site/", "");
    assert_eq!(index.status, 200);
    assert_eq!(server.get("/site/page.html", "").body, b"page");
    assert_eq!(server.get("/sit", "").status, 404);
}

/// A client that reads slowly but steadily gets the whole file, however long it takes: the
/// write timeout counts time without progress, never time in all. Scaled to stay bounded
/// (about 20 s): 8 MiB read at 400 KiB/s with `--write-timeout 1s`, where a 4 MiB socket buffer
/// that becomes writable again only after a third of it drained leaves the server's writes
/// more than 3 s apart — the proportions of 100 KB/s against 10 s.
pub fn a_slow_steady_reader_gets_the_whole_file(bin: &str) {
    let server = FileServer::start(bin, "files_slow_steady", &["--write-timeout", "1s"]);
    let size = 8 << 20;
    let data = pattern(size, 8);
    fs::write(server.root().join("slow.bin"), &data).unwrap();
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /slow.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::with_capacity(size + 1024);
    let mut buf = vec![0u8; SLOW_READ];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read failed after {} bytes: {e}", received.len()),
        };
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
        // Keep to the rate: the next read waits until the bytes so far are due.
        let due = Duration::from_secs_f64(received.len() as f64 / SLOW_RATE as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            thread::sleep(wait);
        }
    }
    let head_end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let body = &received[head_end..];
    assert!(
        body.len() == size && body == data.as_slice(),
        "got {} of {size} bytes in {:?}",
        body.len(),
        started.elapsed()
    );
}

/// `curl --limit-rate` reads in bursts: on loopback the kernel buffers megabytes, so curl takes
/// them at once and then pauses for seconds — far longer than the write timeout — before it
/// reads again. It still gets the whole file. Scaled to stay bounded (about 16 s): 16 MiB at
/// 1 MB/s with `--write-timeout 1s`, the proportions of 100 KB/s against 10 s.
pub fn curl_with_a_rate_limit_gets_the_whole_file(bin: &str) {
    let server = FileServer::start(bin, "files_curl_rate", &["--write-timeout", "1s"]);
    let local = server.root().join("rated.bin");
    write_pattern_file(&local, 16 << 20);
    let out = server.dir().join("rated.out");
    let started = Instant::now();
    let output = Command::new("curl")
        .args([
            "-sS",
            "--limit-rate",
            "1M",
            "--max-time",
            "60",
            "-w",
            "%{http_code}",
        ])
        .arg("-o")
        .arg(&out)
        .arg(format!("http://{}/rated.bin", server.addr))
        .output()
        .expect("curl runs");
    eprintln!(
        "curl --limit-rate 1M of 16 MiB took {:?}",
        started.elapsed()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "200", "{output:?}");
    assert!(output.status.success(), "{output:?}");
    assert!(same_contents(&local, &out), "curl got other bytes");
}

/// A client that reads part of a large file and hangs up gets its log line all the same: the
/// status, and as the size the bytes actually sent, not the length promised.
pub fn an_abandoned_download_is_logged_with_the_bytes_sent(bin: &str) {
    let server = FileServer::start(bin, "files_abandoned", &[]);
    let size: u64 = 64 << 20;
    write_pattern_file(&server.root().join("big.bin"), size);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut received = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    while received < 1 << 20 {
        let n = stream.read(&mut buf).expect("the download starts");
        assert!(n > 0, "closed early");
        received += n as u64;
    }
    // Unread bytes are waiting: closing now resets the connection mid-body.
    drop(stream);
    let lines = server.wait_for_log_lines(1);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    let after = line
        .split_once("\"GET /big.bin HTTP/1.1\" 200 ")
        .unwrap_or_else(|| panic!("not a 200 for the download: {line}"))
        .1;
    let logged: u64 = after
        .split(' ')
        .next()
        .and_then(|size| size.parse().ok())
        .unwrap_or_else(|| panic!("no byte count: {line}"));
    assert!(
        logged >= received - HEAD_ALLOWANCE && logged < size,
        "logged {logged} bytes; the client read {received} of {size}: {line}"
    );
    // Exactly one line, also once the server noticed everything there is to notice.
    assert_eq!(server.get("/missing", "").status, 404);
    assert_eq!(server.wait_for_log_lines(2).len(), 2);
}

/// Bytes per read of the slow reader, and its rate in bytes per second.
const SLOW_READ: usize = 16 * 1024;
const SLOW_RATE: usize = 400 * 1024;
/// The response head counts in what the client read, not in the logged body size.
const HEAD_ALLOWANCE: u64 = 1024;
