use std::net::{IpAddr, Ipv4Addr};

use time::macros::datetime;

use super::*;
use crate::http::{parse_head, HeadLimits};

const MODIFIED: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);

fn head(text: &str) -> RequestHead {
    parse_head(text.as_bytes(), &HeadLimits::default()).expect("a valid head")
}

fn start(text: &str, config: FilesConfig) -> (FileRequest, FileStep) {
    FileRequest::new(&head(text), &config)
}

fn get(target: &str, extra: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
}

fn answer(step: FileStep) -> FileAnswer {
    match step {
        FileStep::Respond(answer) => answer,
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn header<'a>(answer: &'a FileAnswer, name: &str) -> Option<&'a str> {
    answer
        .response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

fn file(len: u64) -> Lookup {
    Lookup::File {
        len,
        modified: MODIFIED,
    }
}

/// Runs a GET/HEAD through lookups answered by `fs` (relative path → what is there).
fn serve(text: &str, fs: &dyn Fn(&str) -> Lookup) -> (FileRequest, FileAnswer, Vec<String>) {
    let (mut request, mut step) = start(text, FilesConfig::default());
    let mut looked = Vec::new();
    loop {
        match step {
            FileStep::Lookup(path) => {
                looked.push(path.relative());
                step = request.looked_up(fs(&path.relative()));
            }
            FileStep::List(path) => {
                looked.push(format!("list {}", path.relative()));
                step = request.listed(Err(fs(&path.relative())));
            }
            FileStep::Respond(answer) => return (request, answer, looked),
            other => panic!("{other:?} on GET"),
        }
    }
}

fn site(path: &str) -> Lookup {
    match path {
        "a.txt" => file(100),
        "index.html" => file(7),
        "docs" => Lookup::Folder,
        "docs/index.html" => file(3),
        "empty" => Lookup::Folder,
        "link-out" => Lookup::Forbidden,
        _ => Lookup::Missing,
    }
}

#[test]
fn serves_a_file_with_validators() {
    let (request, answer, looked) = serve(&get("/a.txt", ""), &site);
    assert_eq!(looked, ["a.txt"]);
    assert_eq!(answer.response.status, 200);
    assert_eq!(answer.response.body, Body::External { len: 100 });
    assert_eq!(answer.file_part, Some((0, 100)));
    assert_eq!(
        answer.response.content_type,
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&answer, "etag"), Some(etag(100, MODIFIED).as_str()));
    assert_eq!(
        header(&answer, "last-modified"),
        Some("Fri, 02 Jan 2026 03:04:05 GMT")
    );
    assert_eq!(header(&answer, "accept-ranges"), Some("bytes"));
    assert_eq!(request.status(), Some(200));
}

#[test]
fn folders_serve_their_index_and_misses_the_roots() {
    type Case<'a> = (&'a str, u16, &'a [&'a str], Option<(u64, u64)>);
    let cases: [Case; 6] = [
        ("/", 200, &["index.html"], Some((0, 7))),
        ("/docs", 301, &["docs"], None),
        ("/docs/", 200, &["docs/index.html"], Some((0, 3))),
        (
            "/empty/",
            404,
            &["empty/index.html", "list empty", "index.html"],
            Some((0, 7)),
        ),
        ("/nope.txt", 404, &["nope.txt", "index.html"], Some((0, 7))),
        ("/link-out", 403, &["link-out"], None),
    ];
    for (target, status, lookups, part) in cases {
        let (_, answer, looked) = serve(&get(target, ""), &site);
        assert_eq!(answer.response.status, status, "{target}");
        assert_eq!(looked, lookups, "{target}");
        assert_eq!(answer.file_part, part, "{target}");
        if part.is_some() {
            assert_eq!(
                answer.response.content_type,
                Some("text/html; charset=utf-8"),
                "{target}"
            );
        }
    }
}

#[test]
fn a_folder_without_its_slash_redirects_with_the_query() {
    for (target, location) in [("/docs", "/docs/"), ("/docs?a=1", "/docs/?a=1")] {
        let (request, answer, _) = serve(&get(target, ""), &site);
        assert_eq!(answer.response.status, 301, "{target}");
        assert_eq!(header(&answer, "location"), Some(location), "{target}");
        assert_eq!(request.status(), Some(301));
    }
    let (_, answer, _) = serve("HEAD /docs HTTP/1.1\r\nHost: x\r\n\r\n", &site);
    assert_eq!(answer.response.status, 301);
}

#[test]
fn the_servers_own_files_are_missing_to_readers_and_closed_to_writers() {
    let name = crate::files::temp_name(7);
    let everything = |_: &str| file(1);
    for target in [
        "/.ferry-uploads/".to_string(),
        "/.ferry-uploads".to_string(),
        format!("/.ferry-uploads/{name}"),
        format!("/docs/{name}"),
    ] {
        let (_, answer, looked) = serve(&get(&target, ""), &everything);
        assert_eq!(answer.response.status, 404, "{target}");
        assert_eq!(
            looked,
            ["index.html"],
            "{target}: only the 404 page is read"
        );
        let put = format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n");
        let (_, step) = start(&put, FilesConfig::default());
        assert_eq!(answer_of(step), 403, "PUT {target}");
    }
}

fn answer_of(step: FileStep) -> u16 {
    answer(step).response.status
}

#[test]
fn a_miss_without_a_root_index_gets_a_built_in_page() {
    let (_, answer, _) = serve(&get("/nope", ""), &|_| Lookup::Missing);
    assert_eq!(answer.response.status, 404);
    assert!(
        matches!(&answer.response.body, Body::Owned(page) if page.starts_with(b"<!doctype html>"))
    );
    assert_eq!(answer.file_part, None);
}

#[test]
fn traversal_attempts_are_refused_before_any_lookup() {
    for target in [
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/..%2fetc%2fpasswd",
        "/..%5cetc",
        "//etc/passwd",
        "/a%00b",
    ] {
        for method in ["GET", "HEAD", "PUT"] {
            let text =
                format!("{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n");
            let (_, step) = start(&text, FilesConfig::default());
            let answer = answer(step);
            assert_eq!(answer.response.status, 403, "{method} {target}");
        }
    }
}

#[test]
fn ranges_are_206_or_416() {
    let (_, answer, _) = serve(&get("/a.txt", "Range: bytes=10-19\r\n"), &site);
    assert_eq!(answer.response.status, 206);
    assert_eq!(answer.file_part, Some((10, 10)));
    assert_eq!(answer.response.body, Body::External { len: 10 });
    assert_eq!(header(&answer, "content-range"), Some("bytes 10-19/100"));

    let (_, answer, _) = serve(&get("/a.txt", "Range: bytes=-5\r\n"), &site);
    assert_eq!(answer.file_part, Some((95, 5)));

    let (_, answer, _) = serve(&get("/a.txt", "Range: bytes=100-\r\n"), &site);
    assert_eq!(answer.response.status, 416);
    assert_eq!(header(&answer, "content-range"), Some("bytes */100"));
    assert_eq!(answer.file_part, None);

    // A stale If-Range: the whole file.
    let (_, answer, _) = serve(
        &get("/a.txt", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n"),
        &site,
    );
    assert_eq!(answer.response.status, 200);
}

#[test]
fn conditional_get_is_304_without_a_body() {
    let tag = etag(100, MODIFIED);
    for extra in [
        format!("If-None-Match: {tag}\r\n"),
        "If-Modified-Since: Fri, 02 Jan 2026 03:04:05 GMT\r\n".to_string(),
        format!("If-None-Match: {tag}\r\nRange: bytes=0-1\r\n"),
    ] {
        let (request, answer, _) = serve(&get("/a.txt", &extra), &site);
        assert_eq!(answer.response.status, 304, "{extra}");
        assert_eq!(answer.file_part, None);
        assert_eq!(header(&answer, "etag"), Some(tag.as_str()));
        let line = request.log_line(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            MODIFIED,
            Duration::ZERO,
            None,
        );
        assert!(line.contains(" 304 - "), "{line}");
    }
    let (_, answer, _) = serve(&get("/a.txt", "If-None-Match: \"old\"\r\n"), &site);
    assert_eq!(answer.response.status, 200);
    // RFC 9110 §13.1.2: If-None-Match compares weakly, so a weak form of the tag matches too.
    let weak = format!("If-None-Match: \"other\", W/{tag}\r\n");
    let (_, answer, _) = serve(&get("/a.txt", &weak), &site);
    assert_eq!(answer.response.status, 304);
}

#[test]
fn files_say_how_long_they_may_be_kept() {
    let (_, answer, _) = serve(&get("/a.txt", ""), &site);
    assert_eq!(header(&answer, "cache-control"), Some("no-cache"));
    let (_, answer, _) = serve(
        &get(
            "/a.txt",
            &format!("If-None-Match: {}\r\n", etag(100, MODIFIED)),
        ),
        &site,
    );
    assert_eq!(answer.response.status, 304);
    assert_eq!(header(&answer, "cache-control"), Some("no-cache"));
}

#[test]
fn head_sends_no_file_bytes() {
    let (request, answer, _) = serve("HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", &site);
    assert_eq!(answer.response.status, 200);
    assert_eq!(answer.response.body, Body::External { len: 100 });
    assert_eq!(answer.file_part, None);
    let line = request.log_line(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        MODIFIED,
        Duration::ZERO,
        None,
    );
    assert!(line.contains("\"HEAD /a.txt HTTP/1.1\" 200 - "), "{line}");
}

#[test]
fn put_is_checked_before_its_body_is_read() {
    let put = |target: &str, length: u64| {
        format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n")
    };
    let config = FilesConfig {
        read_only: false,
        max_upload: 1000,
        ..FilesConfig::default()
    };
    let (_, step) = start(&put("/up/new.bin", 1000), config);
    assert!(matches!(step, FileStep::Upload(path) if path.relative() == "up/new.bin"));

    let (_, step) = start(&put("/up/new.bin", 1001), config);
    assert_eq!(answer(step).response.status, 413);

    let (_, step) = start(&put("/up/", 1), config);
    assert_eq!(answer(step).response.status, 409);
    let (_, step) = start("PUT /up/ HTTP/1.1\r\nHost: x\r\n\r\n", config);
    assert!(matches!(step, FileStep::MakeFolder(path) if path.relative() == "up"));

    let read_only = FilesConfig {
        read_only: true,
        ..config
    };
    let (_, step) = start(&put("/a.txt", 1), read_only);
    let refused = answer(step);
    assert_eq!(refused.response.status, 405);
    assert_eq!(header(&refused, "allow"), Some(ALLOW_READ_ONLY));
}

#[test]
fn upload_outcomes_have_their_statuses() {
    let cases = [
        (WriteOutcome::Created, 201),
        (WriteOutcome::Replaced, 204),
        (WriteOutcome::Conflict, 409),
        (WriteOutcome::Forbidden, 403),
        (WriteOutcome::NoSpace, 507),
        (WriteOutcome::Failed, 500),
    ];
    for (outcome, status) in cases {
        let (mut request, _) = start(
            "PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n",
            FilesConfig::default(),
        );
        assert_eq!(answer(request.written(outcome)).response.status, status);
        assert_eq!(request.status(), Some(status));
    }
}

#[test]
fn other_methods_are_405_or_501() {
    let (_, step) = start(
        "POST /a HTTP/1.1\r\nHost: x\r\n\r\n",
        FilesConfig::default(),
    );
    let refused = answer(step);
    assert_eq!(refused.response.status, 405);
    assert_eq!(header(&refused, "allow"), Some(ALLOW_READ_WRITE));
    let (_, step) = start(
        "BREW /a HTTP/1.1\r\nHost: x\r\n\r\n",
        FilesConfig::default(),
    );
    assert_eq!(answer(step).response.status, 501);
}

#[test]
fn log_line_describes_the_answer() {
    let (request, _, _) = serve(
        &get("/a.txt", "User-Agent: curl/8\r\nReferer: http://r/\r\n"),
        &site,
    );
    let line = request.log_line(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        MODIFIED,
        Duration::from_millis(3),
        None,
    );
    assert_eq!(
        line,
        "127.0.0.1 - - [02/Jan/2026:03:04:05 +0000] \"GET /a.txt HTTP/1.1\" 200 100 \
         \"http://r/\" \"curl/8\" 0.003000"
    );
    // A download cut short logs what was sent, never more than was promised.
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let cut = request.log_line(local, MODIFIED, Duration::ZERO, Some(42));
    assert!(cut.contains(" 200 42 "), "{cut}");
    let cut = request.log_line(local, MODIFIED, Duration::ZERO, Some(0));
    assert!(cut.contains(" 200 - "), "{cut}");
    let cut = request.log_line(local, MODIFIED, Duration::ZERO, Some(1000));
    assert!(cut.contains(" 200 100 "), "{cut}");
}
