//! Suite: downloads as users make them — folders without their slash, and readers who give up
//! (issue 12.2, 12.5).

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::support::{write_pattern_file, FileServer};

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

/// The response head counts in what the client read, not in the logged body size.
const HEAD_ALLOWANCE: u64 = 1024;
