//! Suite: what the file server tells caches (issue 12.8): validators and `Cache-Control` on
//! every file, weak entity tags matching in `If-None-Match`, `--max-age`, and Markdown shown
//! as text.

use std::fs;

use super::support::FileServer;

/// A file carries `ETag`, `Last-Modified` and `Cache-Control: no-cache` (use it, but ask first);
/// a weak form of its tag gets 304 (RFC 9110 §13.1.2); `--max-age 1m` makes it `max-age=60`.
pub fn files_carry_validators_and_freshness(bin: &str) {
    let server = FileServer::start(bin, "files_caching", &[]);
    fs::write(server.root().join("notes.md"), "# notes\n").unwrap();
    let file = server.get("/notes.md", "");
    assert_eq!(file.status, 200);
    assert_eq!(file.header("cache-control"), Some("no-cache"));
    assert_eq!(
        file.header("content-type"),
        Some("text/markdown; charset=utf-8"),
        "Markdown is shown as text, not downloaded"
    );
    assert!(file.header("last-modified").is_some());
    let etag = file.header("etag").expect("an ETag").to_string();
    for condition in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", W/{etag}"),
    ] {
        let cached = server.get("/notes.md", &format!("If-None-Match: {condition}\r\n"));
        assert_eq!(cached.status, 304, "If-None-Match: {condition}");
        assert_eq!(cached.header("cache-control"), Some("no-cache"));
    }
    drop(server);

    let server = FileServer::start(bin, "files_caching_max_age", &["--max-age", "1m"]);
    fs::write(server.root().join("a.txt"), "a").unwrap();
    let file = server.get("/a.txt", "");
    assert_eq!(file.header("cache-control"), Some("max-age=60"));
}
