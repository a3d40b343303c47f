//! Suite: the file server and its client (SPEC, "File server (port 8080) and client").
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary. It starts its own
//! `files` server on `127.0.0.1:0` with a root inside its scratch folder and the access log in
//! a file beside it, so the folder around the root is where a traversal would leave traces.
//! Uploads and downloads are checked byte for byte; the large ones stream from and to disk so
//! the test itself stays small too.

use crate::proc_status::peak_rss_kib;
use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::adversarial;
use crate::client::Client;
use crate::temp::TempDir;

mod browse;
mod caching;
mod downloads;
mod escape;
mod support;
mod uploads;
mod writes;

pub use browse::{
    folders_are_listed_as_html_and_json, health_check_answers_ok_on_every_http_service,
    hostile_names_are_escaped_in_listings, listings_sort_by_name_size_and_time,
    wget_mirrors_the_whole_tree,
};
pub use caching::files_carry_validators_and_freshness;
pub use downloads::{
    a_slow_steady_reader_gets_the_whole_file, an_abandoned_download_is_logged_with_the_bytes_sent,
    curl_with_a_rate_limit_gets_the_whole_file, folders_without_a_trailing_slash_redirect,
};
pub use escape::{
    a_symlink_out_answers_the_same_whether_or_not_its_target_exists,
    renaming_a_folder_to_a_symlink_never_escapes_the_root,
};
pub use uploads::{
    a_full_disk_is_507_and_leaves_nothing_behind, names_up_to_255_bytes_upload,
    sigterm_finishes_an_upload_in_flight,
    temporary_files_are_never_served_and_are_removed_at_start,
};
pub use writes::{
    anonymous_writes_need_loopback_or_the_flag, auth_guards_writes_and_reads,
    delete_and_new_folders_stay_inside_the_root, failed_sign_ins_are_slowed_per_address,
};

use escape::RESERVED_FOLDER;
use support::{
    listing, pattern, same_contents, tree, write_pattern_file, FileServer, LARGE,
    PEAK_RSS_LIMIT_KIB,
};

/// GET, HEAD and PUT round trips: what is uploaded is stored and downloaded byte for byte;
/// a new file is 201, a replaced one 204; folders are created; HEAD has the length, no body.
pub fn get_head_put_round_trip(bin: &str) {
    let server = FileServer::start(bin, "files_round_trip", &[]);
    let first = pattern(1 << 20, 1);
    let second = pattern(300_000, 2);
    let response = server.put("/deep/er/data.bin", &first);
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(
        fs::read(server.root().join("deep/er/data.bin")).unwrap(),
        first
    );
    let response = server.put("/deep/er/data.bin", &second);
    assert_eq!(response.status, 204);
    let response = server.get("/deep/er/data.bin", "");
    assert_eq!(response.status, 200);
    assert!(response.body == second, "downloaded bytes differ");
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );
    let head = server.request("HEAD /deep/er/data.bin HTTP/1.1\r\nHost: t\r\n\r\n", true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("300000"));
    assert!(head.body.is_empty());
    // Nothing but the file is left in its folder: the temporary file was renamed.
    let names: Vec<_> = fs::read_dir(server.root().join("deep/er"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["data.bin"]);
    // An empty upload is a file too.
    assert_eq!(server.put("/empty.txt", b"").status, 201);
    assert_eq!(fs::read(server.root().join("empty.txt")).unwrap(), b"");
}

/// `GET /` serves the root's index.html; a missing file is 404 with it as the body; ranges
/// give 206 and 416; an ETag or date that still holds gives 304; types follow the extension.
pub fn folders_ranges_and_conditional_requests(bin: &str) {
    let server = FileServer::start(bin, "files_ranges", &[]);
    fs::write(server.root().join("index.html"), "<h1>home</h1>").unwrap();
    fs::write(server.root().join("a.txt"), "0123456789").unwrap();
    let home = server.get("/", "");
    assert_eq!(
        (home.status, home.body.as_slice()),
        (200, &b"<h1>home</h1>"[..])
    );
    let missing = server.get("/nope.txt", "");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, b"<h1>home</h1>");
    let part = server.get("/a.txt", "Range: bytes=2-4\r\n");
    assert_eq!((part.status, part.body.as_slice()), (206, &b"234"[..]));
    assert_eq!(part.header("content-range"), Some("bytes 2-4/10"));
    let tail = server.get("/a.txt", "Range: bytes=-3\r\n");
    assert_eq!(tail.body, b"789");
    let past = server.get("/a.txt", "Range: bytes=10-\r\n");
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */10"));
    let full = server.get("/a.txt", "");
    assert_eq!(
        full.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let etag = full.header("etag").expect("an ETag").to_string();
    let modified = full.header("last-modified").expect("a date").to_string();
    let cached = server.get("/a.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    let cached = server.get("/a.txt", &format!("If-Modified-Since: {modified}\r\n"));
    assert_eq!(cached.status, 304);
    let changed = server.get("/a.txt", "If-None-Match: \"stale\"\r\n");
    assert_eq!(changed.status, 200);
}

/// No request reads or writes outside the root: `..`, encoded dots and slashes, backslashes,
/// `//`, NUL, and symlinks that lead out all get 403 or 404, and the folder around the root is
/// exactly as it was.
pub fn traversal_attempts_leave_no_trace_outside_the_root(bin: &str) {
    let server = FileServer::start(bin, "files_traversal", &[]);
    let outside = server.dir();
    fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(outside, server.root().join("out")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), server.root().join("link.txt")).unwrap();
    let before = listing(outside);
    let targets = [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "//secret.txt",
        "/secret.txt%00",
        "/link.txt",
        "/out/secret.txt",
        "/out/",
        "/out/new/x.txt",
    ];
    for target in targets {
        for method in ["GET", "HEAD", "PUT"] {
            let raw = format!(
                "{method} {target} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\
                 Connection: close\r\n\r\nPWNED"
            );
            let response = server.request(&raw, method == "HEAD");
            // 409: a PUT to a folder's path (`/out/`), refused before anything is looked at.
            assert!(
                matches!(response.status, 400 | 403 | 404 | 409),
                "{method} {target}: {}",
                response.status
            );
            assert!(
                !response.body.windows(6).any(|w| w == b"secret"),
                "{method} {target} leaked the file"
            );
        }
    }
    // An absolute path is a path under the root like any other.
    let absolute = format!("{}/secret.txt", outside.display());
    assert_eq!(server.get(&absolute, "").status, 404);
    assert_eq!(server.put(&absolute, b"PWNED").status, 201);
    let inside = server.root().join(absolute.trim_start_matches('/'));
    assert_eq!(fs::read(inside).unwrap(), b"PWNED");
    assert_eq!(
        listing(outside),
        before,
        "something changed outside the root"
    );
    assert_eq!(fs::read(outside.join("secret.txt")).unwrap(), b"secret");
    assert_eq!(
        fs::read_link(server.root().join("link.txt")).unwrap(),
        outside.join("secret.txt")
    );
}

/// A 256 MiB upload and download stream through the server with its peak memory (VmHWM)
/// under 64 MiB.
pub fn large_files_stream_in_bounded_memory(bin: &str) {
    let server = FileServer::start(bin, "files_large", &[]);
    let local = server.dir().join("big.local");
    write_pattern_file(&local, LARGE);
    let status = server.upload_file("/big.bin", &local);
    assert_eq!(status, 201);
    assert!(same_contents(&local, &server.root().join("big.bin")));
    server.download_and_compare("/big.bin", &local);
    let peak = peak_rss_kib(server.pid());
    assert!(
        peak < PEAK_RSS_LIMIT_KIB,
        "peak RSS {peak} KiB after moving 2 x 256 MiB"
    );
}

/// `curl -T` sends `Expect: 100-continue`; the server answers it at once, so a 100 MB upload
/// never waits for curl's expect timeout (set to 30 s here so a missing 100 would show).
pub fn curl_upload_does_not_wait_for_continue(bin: &str) {
    let server = FileServer::start(bin, "files_curl", &[]);
    let local = server.dir().join("curl.local");
    write_pattern_file(&local, 100_000_000);
    let started = Instant::now();
    let output = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--expect100-timeout",
            "30",
        ])
        .arg("-T")
        .arg(&local)
        .arg(format!("http://{}/curl.bin", server.addr))
        .output()
        .expect("curl runs");
    let took = started.elapsed();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "201", "{output:?}");
    assert!(took < Duration::from_secs(20), "curl took {took:?}");
    eprintln!("curl -T of 100 MB took {took:?}");
    assert!(same_contents(&local, &server.root().join("curl.bin")));
}

/// A body over `--max-upload` is 413 before 100 Continue, and `--read-only` answers PUT 405:
/// neither reads the body nor writes anything.
pub fn refused_uploads_are_answered_before_the_body(bin: &str) {
    let server = FileServer::start(bin, "files_refused", &["--max-upload", "1K"]);
    let mut client = Client::connect(server.addr);
    let response = client.request(
        b"PUT /big.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(response.status, 413);
    assert!(!server.root().join("big.bin").exists());
    // Chunked bodies cannot say their size first: cut off once they pass the limit.
    let mut client = Client::connect(server.addr);
    let mut raw = b"PUT /c.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    raw.extend_from_slice(b"800\r\n");
    raw.extend_from_slice(&[b'x'; 0x800]);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(client.request(&raw).status, 413);
    // Nothing but the server's own (empty) upload folder.
    let left: Vec<String> = tree(&server.root())
        .into_iter()
        .filter(|path| path != RESERVED_FOLDER)
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let read_only = FileServer::start(bin, "files_read_only", &["--read-only"]);
    let response = read_only.put("/a.txt", b"hello");
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
    assert!(listing(&read_only.root()).is_empty());
}

/// The adversarial table every HTTP port answers the same way, played against the file server,
/// with its own body limit (`--max-upload`) for PUT.
pub fn hostile_requests_get_their_answers_from_the_file_server(bin: &str) {
    let server = FileServer::start(bin, "files_hostile", &["--max-upload", "1K"]);
    let mut cases = adversarial::hostile_requests("PUT /upload.bin");
    cases.extend(adversarial::body_limit_cases(
        "PUT /upload.bin",
        "application/octet-stream",
        1024,
        // 201 the first time, 204 once the file exists.
        adversarial::Expect::Served,
        |len| vec![b'u'; len],
    ));
    let failures = adversarial::run_cases(server.addr, &cases);
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A client that asks for a large file and never reads it is let go at `--write-timeout`,
/// mid-body, however the body is sent (sendfile included); others are served meanwhile.
pub fn a_download_nobody_reads_is_dropped_at_the_write_timeout(bin: &str) {
    let server = FileServer::start(bin, "files_slow_read", &["--write-timeout", "1s"]);
    let size = 64 * 1024 * 1024;
    write_pattern_file(&server.root().join("big.bin"), size);
    let mut stalled = TcpStream::connect(server.addr).expect("connect");
    stalled
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send the request");
    // Far more than the socket buffers hold is owed; nothing is read for 3 write timeouts.
    thread::sleep(Duration::from_secs(3));
    assert_eq!(server.get("/missing", "").status, 404, "others are served");
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut received = 0u64;
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        match stalled.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n as u64,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the stalled download was not dropped: {e} after {received} bytes"),
        }
    }
    assert!(
        received < size,
        "the whole body came after all: {received} bytes"
    );
}

/// Every request is logged once, in Combined Log Format with the duration at the end.
pub fn every_request_is_logged_once(bin: &str) {
    let server = FileServer::start(bin, "files_log", &[]);
    fs::write(server.root().join("a.txt"), "hello").unwrap();
    server.get("/a.txt", "User-Agent: suite/1\r\n");
    server.request("HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", true);
    server.get("/missing", "");
    server.put("/b.txt", b"bye");
    server.get("/../x", "");
    server.get("/a.txt", "Range: bytes=0-1\r\n");
    // Keep-alive: three requests on one connection are three lines.
    let mut client = Client::connect(server.addr);
    for _ in 0..3 {
        assert_eq!(
            client
                .request(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                .status,
            200
        );
    }
    drop(client);
    let expected = 9;
    let lines = server.wait_for_log_lines(expected);
    assert_eq!(lines.len(), expected, "{lines:#?}");
    // Connections are answered concurrently, so lines are found by content, not position.
    let find = |needle: &str| -> &String {
        let found: Vec<&String> = lines.iter().filter(|line| line.contains(needle)).collect();
        assert!(!found.is_empty(), "no line with {needle:?} in {lines:#?}");
        found[0]
    };
    let first = find("\"suite/1\"");
    assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
    assert!(
        first.contains("] \"GET /a.txt HTTP/1.1\" 200 5 \"-\" \"suite/1\" "),
        "{first}"
    );
    let duration = first.rsplit(' ').next().unwrap();
    assert!(duration.parse::<f64>().is_ok(), "{first}");
    find("\"HEAD /a.txt HTTP/1.1\" 200 - ");
    find("\"GET /missing HTTP/1.1\" 404 ");
    find("\"PUT /b.txt HTTP/1.1\" 201 - ");
    find("\"GET /../x HTTP/1.1\" 403 ");
    find("\" 206 2 ");
    let plain = lines
        .iter()
        .filter(|line| line.contains("\"GET /a.txt HTTP/1.1\" 200 5 \"-\" \"-\" "))
        .count();
    assert_eq!(plain, 3, "{lines:#?}");
}

/// `ferry client`: GET saves under the path's last name and says so, PUT uploads the local file,
/// HEAD prints the headers; a non-2xx answer or a path with no safe name exits 1, a bad command
/// line 2, and a download never lands outside the current folder.
pub fn client_transfers_and_exit_codes(bin: &str) {
    let server = FileServer::start(bin, "files_client", &[]);
    let data = pattern(5 << 20, 3);
    fs::create_dir(server.root().join("docs")).unwrap();
    fs::write(server.root().join("docs/report.bin"), &data).unwrap();
    let here = TempDir::new("files_client_cwd");
    let port = server.addr.port().to_string();
    let client = |args: &[&str]| -> Output {
        Command::new(bin)
            .current_dir(here.path())
            .arg("client")
            .args(["127.0.0.1", &port])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("the client runs")
    };

    let got = client(&["GET", "/docs/report.bin"]);
    assert_eq!(got.status.code(), Some(0), "{got:?}");
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim(),
        format!("saved report.bin ({} bytes)", data.len())
    );
    assert!(fs::read(here.join("report.bin")).unwrap() == data);

    let got = client(&["GET", "/docs/report.bin", "--out", "copy.bin"]);
    assert_eq!(got.status.code(), Some(0), "{got:?}");
    assert!(fs::read(here.join("copy.bin")).unwrap() == data);

    let missing = client(&["GET", "/docs/none.bin"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("404"),
        "{missing:?}"
    );
    assert!(!here.join("none.bin").exists());

    for unsafe_path in ["/docs/%2e%2e", "/docs/..%2f..%2fescape", "/docs/"] {
        let refused = client(&["GET", unsafe_path]);
        assert_eq!(refused.status.code(), Some(1), "{unsafe_path}: {refused:?}");
    }
    assert_eq!(listing(here.path()), ["copy.bin", "report.bin"]);

    fs::write(here.join("up.txt"), "uploaded").unwrap();
    let put = client(&["PUT", "/new/up.txt"]);
    assert_eq!(put.status.code(), Some(0), "{put:?}");
    assert_eq!(
        fs::read(server.root().join("new/up.txt")).unwrap(),
        b"uploaded"
    );
    let put = client(&["PUT", "/new/other.txt", "--file", "up.txt"]);
    assert_eq!(put.status.code(), Some(0), "{put:?}");
    assert_eq!(
        fs::read(server.root().join("new/other.txt")).unwrap(),
        b"uploaded"
    );

    let head = client(&["HEAD", "/docs/report.bin"]);
    assert_eq!(head.status.code(), Some(0));
    let text = String::from_utf8_lossy(&head.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK\n"), "{text}");
    assert!(
        text.contains(&format!("Content-Length: {}\n", data.len())),
        "{text}"
    );

    let bad = client(&["FETCH", "/x"]);
    assert_eq!(bad.status.code(), Some(2));
    drop(server);
    let unreachable = client(&["GET", "/docs/report.bin"]);
    assert_eq!(unreachable.status.code(), Some(1));
}
