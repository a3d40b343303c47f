//! Tests of what the browser brought to the file server: listings, the health check,
//! credentials, DELETE and new folders.

use time::macros::datetime;

use super::*;
use crate::files::auth::encode_base64;
use crate::files::listing::{Entry, EntryKind, Listing};
use crate::http::{parse_head, HeadLimits};

fn start(text: &str, config: FilesConfig) -> (FileRequest, FileStep) {
    let head = parse_head(text.as_bytes(), &HeadLimits::default()).expect("a valid head");
    FileRequest::new(&head, &config)
}

fn request(method: &str, target: &str, extra: &str) -> String {
    format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
}

fn status(step: &FileStep) -> u16 {
    match step {
        FileStep::Respond(answer) => answer.response.status,
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn header(step: &FileStep, name: &str) -> Option<String> {
    let FileStep::Respond(answer) = step else {
        return None;
    };
    answer
        .response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.to_string())
}

fn body(step: &FileStep) -> String {
    match step {
        FileStep::Respond(answer) => {
            String::from_utf8_lossy(answer.response.body.as_bytes()).into()
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn listing() -> Listing {
    let entry = |name: &str, kind| Entry {
        name: name.to_owned(),
        kind,
        size: 1,
        modified: datetime!(2026-01-02 03:04:05 UTC),
    };
    Listing {
        entries: vec![
            entry("b.txt", EntryKind::File),
            entry("sub", EntryKind::Folder),
            entry(".env", EntryKind::File),
            entry(".ferry-uploads", EntryKind::Folder),
        ],
        truncated: false,
    }
}

/// GETs `target` with `extra` headers, answering lookups with `Missing` and the listing with
/// [`listing`]; returns the answer and whether a listing was asked for.
fn browse(target: &str, extra: &str, config: FilesConfig) -> (FileStep, bool) {
    let (mut request, mut step) = start(&request("GET", target, extra), config);
    let mut listed = false;
    loop {
        step = match step {
            FileStep::Lookup(_) => request.looked_up(Lookup::Missing),
            FileStep::List(_) => {
                listed = true;
                request.listed(Ok(listing()))
            }
            done => return (done, listed),
        };
    }
}

#[test]
fn a_folder_without_an_index_is_listed_as_html_or_json() {
    let (page, listed) = browse("/", "", FilesConfig::default());
    assert!(listed);
    assert_eq!(status(&page), 200);
    assert_eq!(header(&page, "vary").as_deref(), Some("Accept"));
    let html = body(&page);
    assert!(html.contains("<a href=\"sub/\">sub/</a>") && html.contains("b.txt"));
    assert!(
        !html.contains(".env") && !html.contains(".ferry-uploads"),
        "{html}"
    );
    for (target, extra) in [("/", "Accept: application/json\r\n"), ("/?json", "")] {
        let (json, _) = browse(target, extra, FilesConfig::default());
        let FileStep::Respond(answer) = &json else {
            panic!("no answer")
        };
        assert_eq!(answer.response.content_type, Some("application/json"));
        let names: Vec<String> =
            serde_json::from_slice::<Vec<serde_json::Value>>(answer.response.body.as_bytes())
                .unwrap()
                .iter()
                .map(|item| item["name"].as_str().unwrap().to_owned())
                .collect();
        assert_eq!(names, ["sub", "b.txt"], "{target}");
    }
    let hidden = FilesConfig {
        hidden: true,
        ..FilesConfig::default()
    };
    let (page, _) = browse("/d/", "", hidden);
    let html = body(&page);
    assert!(
        html.contains(".env") && html.contains(".ferry-uploads"),
        "only the root's is kept"
    );
    let (page, _) = browse("/", "", hidden);
    assert!(!body(&page).contains(".ferry-uploads"));
}

#[test]
fn no_list_makes_a_folder_without_an_index_404() {
    let config = FilesConfig {
        list: false,
        ..FilesConfig::default()
    };
    let (answer, listed) = browse("/d/", "", config);
    assert!(!listed);
    assert_eq!(status(&answer), 404);
}

#[test]
fn a_listing_of_a_missing_or_forbidden_folder_is_404_or_403() {
    for (found, expected) in [(Lookup::Missing, 404), (Lookup::Forbidden, 403)] {
        let (mut request, step) = start(&request("GET", "/nope/", ""), FilesConfig::default());
        assert!(matches!(step, FileStep::Lookup(_)));
        let step = request.looked_up(Lookup::Missing);
        assert!(matches!(&step, FileStep::List(path) if path.relative() == "nope"));
        let mut step = request.listed(Err(found));
        if let FileStep::Lookup(_) = step {
            step = request.looked_up(Lookup::Missing);
        }
        assert_eq!(status(&step), expected);
    }
}

#[test]
fn the_health_check_needs_nothing() {
    let everything = FilesConfig {
        auth: AuthScope::Everything,
        read_only: true,
        ..FilesConfig::default()
    };
    for method in ["GET", "HEAD"] {
        let (_, step) = start(&request(method, "/__ferry/health", ""), everything);
        assert_eq!(status(&step), 200, "{method}");
        assert_eq!(body(&step), "ok");
    }
}

#[test]
fn credentials_are_asked_for_writes_and_with_auth_read_for_reads() {
    let writes = FilesConfig {
        auth: AuthScope::Writes,
        anonymous_writes: false,
        ..FilesConfig::default()
    };
    let basic = format!("Authorization: Basic {}\r\n", encode_base64(b"ann:pw"));
    let put = |extra: &str| {
        request(
            "PUT",
            "/a.txt",
            &format!("Content-Length: 3\r\nExpect: 100-continue\r\n{extra}"),
        )
    };
    let (_, step) = start(&put(""), writes);
    assert_eq!(status(&step), 401);
    assert_eq!(
        header(&step, "www-authenticate").as_deref(),
        Some("Basic realm=\"ferry\", charset=\"UTF-8\"")
    );
    let (_, step) = start(&put("Authorization: Bearer x\r\n"), writes);
    assert_eq!(status(&step), 401);
    let (mut request_, step) = start(&put(&basic), writes);
    let FileStep::Authenticate(credentials) = step else {
        panic!("{step:?}")
    };
    assert_eq!(
        (credentials.user.as_str(), credentials.password.as_str()),
        ("ann", "pw")
    );
    assert!(matches!(
        request_.authenticated(Some(true)),
        FileStep::Upload(_)
    ));
    let (mut refused, _) = start(&put(&basic), writes);
    let step = refused.authenticated(Some(false));
    assert_eq!(status(&step), 401);
    assert!(header(&step, "www-authenticate").is_some());
    let (mut busy, _) = start(&put(&basic), writes);
    let step = busy.authenticated(None);
    assert_eq!(status(&step), 503);
    assert_eq!(header(&step, "retry-after").as_deref(), Some("1"));
    // Reads need nothing, unless every request does.
    let (_, step) = start(&request("GET", "/a.txt", ""), writes);
    assert!(matches!(step, FileStep::Lookup(_)));
    let everything = FilesConfig {
        auth: AuthScope::Everything,
        ..writes
    };
    let (_, step) = start(&request("GET", "/a.txt", ""), everything);
    assert_eq!(status(&step), 401);
    let (mut read, step) = start(&request("GET", "/d/", &basic), everything);
    assert!(matches!(step, FileStep::Authenticate(_)));
    assert!(matches!(
        read.authenticated(Some(true)),
        FileStep::Lookup(_)
    ));
    // A bad path is refused before any password is checked.
    let (_, step) = start(&request("PUT", "/../x", &basic), writes);
    assert_eq!(status(&step), 403);
}

#[test]
fn without_auth_writes_need_anonymous_writes() {
    let closed = FilesConfig {
        anonymous_writes: false,
        ..FilesConfig::default()
    };
    assert!(!closed.takes_writes());
    for (method, extra) in [
        ("PUT", "Content-Length: 1\r\n"),
        ("DELETE", ""),
        ("PUT", ""),
    ] {
        let target = if extra.is_empty() && method == "PUT" {
            "/d/"
        } else {
            "/a"
        };
        let (_, step) = start(&request(method, target, extra), closed);
        assert_eq!(status(&step), 403, "{method} {target}");
        assert!(body(&step).contains("--auth"));
    }
    let (page, _) = browse("/", "", closed);
    assert!(!body(&page).contains("id=\"upload\""));
    let (page, _) = browse("/", "", FilesConfig::default());
    assert!(body(&page).contains("id=\"upload\""));
}

#[test]
fn delete_removes_a_file_or_an_empty_folder_and_nothing_of_the_server() {
    let config = FilesConfig::default();
    for (target, relative, folder) in [("/a.txt", "a.txt", false), ("/d/e/", "d/e", true)] {
        let (_, step) = start(&request("DELETE", target, ""), config);
        let FileStep::Remove(path) = step else {
            panic!("{target}: {step:?}")
        };
        assert_eq!(
            (path.relative().as_str(), path.is_folder()),
            (relative, folder)
        );
    }
    let name = crate::files::temp_name(3);
    for target in [
        "/",
        "/.ferry-uploads/",
        "/.ferry-uploads",
        &format!("/d/{name}"),
    ] {
        let (_, step) = start(&request("DELETE", target, ""), config);
        assert_eq!(status(&step), 403, "{target}");
    }
    for target in ["/../a", "/%2e%2e/a", "//a"] {
        let (_, step) = start(&request("DELETE", target, ""), config);
        assert_eq!(status(&step), 403, "{target}");
    }
    let read_only = FilesConfig {
        read_only: true,
        ..config
    };
    let (_, step) = start(&request("DELETE", "/a", ""), read_only);
    assert_eq!(status(&step), 405);
    assert_eq!(header(&step, "allow").as_deref(), Some(ALLOW_READ_ONLY));
    let cases = [
        (WriteOutcome::Removed, 204),
        (WriteOutcome::Missing, 404),
        (WriteOutcome::NotEmpty, 409),
        (WriteOutcome::Conflict, 409),
        (WriteOutcome::Forbidden, 403),
        (WriteOutcome::Failed, 500),
    ];
    for (outcome, expected) in cases {
        let (mut request_, _) = start(&request("DELETE", "/a", ""), config);
        assert_eq!(status(&request_.written(outcome)), expected, "{outcome:?}");
        assert_eq!(request_.status(), Some(expected));
    }
}

#[test]
fn put_of_a_folder_makes_it() {
    let config = FilesConfig::default();
    let (_, step) = start(&request("PUT", "/new/deeper/", ""), config);
    assert!(matches!(&step, FileStep::MakeFolder(p) if p.relative() == "new/deeper"));
    let (_, step) = start(&request("PUT", "/new/", "Content-Length: 0\r\n"), config);
    assert!(matches!(step, FileStep::MakeFolder(_)));
    for (target, extra, expected) in [
        ("/", "", 409),
        ("/new/", "Transfer-Encoding: chunked\r\n", 409),
        ("/.ferry-uploads/", "", 403),
    ] {
        let (_, step) = start(&request("PUT", target, extra), config);
        assert_eq!(status(&step), expected, "{target} {extra}");
    }
    let cases = [
        (WriteOutcome::Created, 201),
        (WriteOutcome::Exists, 204),
        (WriteOutcome::Conflict, 409),
        (WriteOutcome::Forbidden, 403),
        (WriteOutcome::NoSpace, 507),
    ];
    for (outcome, expected) in cases {
        let (mut request_, _) = start(&request("PUT", "/new/", ""), config);
        let step = request_.written(outcome);
        assert_eq!(status(&step), expected, "{outcome:?}");
    }
}
