//! Suite: uploads that go wrong — a crash, a full disk, a stop, a long name (issues 19.3, 19.5,
//! 12.3). Whatever happens, the target is either the whole upload or untouched, and none of
//! the server's temporary files can be downloaded or outlive the server.

use std::fs;

use super::escape::{is_temporary, RESERVED_FOLDER};
use super::support::{pattern, tree, FileServer};
use crate::client::Client;

/// A server killed with SIGKILL mid-upload leaves its temporary file; while it exists no request
/// can download it, and the next start removes it.
pub fn temporary_files_are_never_served_and_are_removed_at_start(bin: &str) {
    let server = FileServer::start(bin, "files_crash_temp", &[]);
    let mut upload = Client::connect(server.addr);
    let head = format!(
        "PUT /big.bin HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        8 << 20
    );
    upload.send(head.as_bytes());
    upload.send(&pattern(1 << 20, 4));
    let temporary = server.wait_for_temporary();
    let url = format!("/{temporary}");
    for target in [url.as_str(), "/.ferry-uploads/", "/.ferry-uploads"] {
        let response = server.get(target, "");
        assert_eq!(response.status, 404, "GET {target} of a temporary file");
        let head = server.request(&format!("HEAD {target} HTTP/1.1\r\nHost: t\r\n\r\n"), true);
        assert_eq!(head.status, 404, "HEAD {target} of a temporary file");
    }
    // Nobody may write there either.
    let put = server.put(&format!("/{RESERVED_FOLDER}/x.part"), b"PWNED");
    assert!(matches!(put.status, 403 | 404), "{}", put.status);

    let dir = server.kill();
    drop(upload);
    let left = tree(&dir.join("root"));
    assert!(
        left.contains(&temporary),
        "the crash left nothing: {left:?}"
    );
    let server = FileServer::start_in(bin, dir, &[]);
    let left: Vec<String> = tree(&server.root())
        .into_iter()
        .filter(|path| is_temporary(path))
        .collect();
    assert!(left.is_empty(), "stale temporary files kept: {left:?}");
    assert!(!server.root().join("big.bin").exists());
    assert_eq!(server.get(&url, "").status, 404);
}

/// Names of 240 to 255 bytes (the most a Linux file system takes) upload and download like any
/// other: the temporary file's name does not grow with the target's.
pub fn names_up_to_255_bytes_upload(bin: &str) {
    let server = FileServer::start(bin, "files_long_names", &[]);
    for len in [240, 250, 255] {
        let name = format!("{}.bin", "n".repeat(len - 4));
        let response = server.put(&format!("/long/{name}"), name.as_bytes());
        assert_eq!(
            response.status,
            201,
            "a {len}-byte name: {}",
            response.text()
        );
        let back = server.get(&format!("/long/{name}"), "");
        assert_eq!(back.body, name.as_bytes(), "a {len}-byte name");
    }
}

/// With the disk full (a file-size limit, as the server sees it), an upload is answered 507
/// Insufficient Storage, the folders it created are removed, an existing target is untouched,
/// no temporary file is left, and the server goes on serving.
pub fn a_full_disk_is_507_and_leaves_nothing_behind(bin: &str) {
    let server = FileServer::start_with_file_size_limit(bin, "files_full_disk", 1024, &[]);
    let big = pattern(4 << 20, 6);
    let response = server.put("/new/deeper/big.bin", &big);
    assert_eq!(response.status, 507, "{}", response.text());
    let left: Vec<String> = tree(&server.root())
        .into_iter()
        .filter(|path| path != RESERVED_FOLDER)
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    assert_eq!(server.put("/kept.txt", b"hello").status, 201);
    fs::create_dir(server.root().join("old")).unwrap();
    assert_eq!(server.put("/old/big.bin", &big).status, 507);
    assert!(
        server.root().join("old").is_dir(),
        "a folder it did not create"
    );
    assert_eq!(server.put("/kept.txt", &big).status, 507);
    assert_eq!(fs::read(server.root().join("kept.txt")).unwrap(), b"hello");
    let left: Vec<String> = tree(&server.root())
        .into_iter()
        .filter(|path| is_temporary(path))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    assert_eq!(server.get("/kept.txt", "").body, b"hello");
}

/// SIGTERM while an upload's body is half sent: the server stops accepting, takes the rest of
/// the body, answers 201 with `Connection: close` and exits 0. An upload whose body does not
/// come within the grace period leaves neither the file nor a temporary file.
pub fn sigterm_finishes_an_upload_in_flight(bin: &str) {
    let body = pattern(2 << 20, 5);
    let (first, rest) = body.split_at(body.len() / 2);
    let head = format!(
        "PUT /up.bin HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );

    let mut server = FileServer::start(bin, "files_sigterm_upload", &[]);
    let mut client = Client::connect(server.addr);
    client.send(head.as_bytes());
    client.send(first);
    server.wait_for_temporary();
    server.terminate();
    server.wait_until_refusing();
    client.send(rest);
    let response = client.read_response();
    assert_eq!(response.status, 201, "{}", response.text());
    assert!(response.has_connection_token("close"), "{response:?}");
    client.expect_closed();
    assert_eq!(server.wait_exit().code(), Some(0));
    assert!(fs::read(server.root().join("up.bin")).unwrap() == body);

    let mut server = FileServer::start(bin, "files_sigterm_stalled_upload", &[]);
    let mut client = Client::connect(server.addr);
    client.send(head.as_bytes());
    client.send(first);
    server.wait_for_temporary();
    server.terminate();
    assert_eq!(server.wait_exit().code(), Some(0));
    let left = tree(&server.root());
    assert!(
        left.iter().all(|path| path == RESERVED_FOLDER),
        "left behind: {left:?}"
    );
}
