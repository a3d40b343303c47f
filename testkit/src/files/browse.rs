//! Suite: the file server in a browser, read side (issue 15): folder listings as HTML and
//! JSON, hostile names, sorting, hidden files, a `wget -r` mirror, and the health check.

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::support::{tree, FileServer};
use crate::client::Response;
use crate::server::Server;
use crate::temp::TempDir;

/// A folder without `index.html` is listed: the page links every visible entry (folders first,
/// with their slash; a parent link below the root), the JSON form (by `Accept` or `?json`)
/// names each entry's type, size and time; dot files and the server's own folder stay out
/// unless `--hidden` (never the server's own); `--no-list` makes it 404 again.
pub fn folders_are_listed_as_html_and_json(bin: &str) {
    let server = FileServer::start(bin, "files_listing", &[]);
    let root = server.root();
    populate(&root);
    // The first upload makes the server's own folder at the top of the root.
    assert_eq!(server.put("/up.txt", b"uploaded").status, 201);
    assert!(root.join(".ferry-uploads").is_dir());

    let page = server.get("/", "");
    assert_eq!(page.status, 200);
    assert_eq!(page.media_type().as_deref(), Some("text/html"));
    let html = page.text();
    for link in ["href=\"a.txt\"", "href=\"sub/\"", "href=\"up.txt\""] {
        assert!(html.contains(link), "{link} missing from {html}");
    }
    assert!(!html.contains(".secret"), "a dot file is listed");
    assert!(
        !html.contains(".ferry-uploads"),
        "the server's folder is listed"
    );
    assert!(
        !html.contains("href=\"../\""),
        "the root has no parent link"
    );
    assert!(
        html.find("href=\"sub/\"") < html.find("href=\"a.txt\""),
        "folders come first"
    );
    assert!(
        html.contains("2026-01-02 03:04"),
        "the modification time is shown"
    );

    let inner = server.get("/sub/", "").text();
    assert!(inner.contains("href=\"../\""), "no parent link in {inner}");
    assert!(inner.contains("href=\"inner.txt\""));

    for (target, extra) in [("/", "Accept: application/json\r\n"), ("/?json", "")] {
        let response = server.get(target, extra);
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(response.media_type().as_deref(), Some("application/json"));
        let entries = json(&response);
        let names: Vec<&str> = entries
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["sub", "a.txt", "up.txt"], "{target}");
        assert_eq!(entries[0]["type"], "dir");
        assert_eq!(entries[0]["size"], Value::Null);
        assert_eq!(entries[1]["type"], "file");
        assert_eq!(entries[1]["size"], 3);
        assert_eq!(entries[1]["modified"], "2026-01-02T03:04:05Z");
    }
    // A browser's Accept prefers the page.
    let browser = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";
    assert_eq!(
        server.get("/", browser).media_type().as_deref(),
        Some("text/html")
    );
    // HEAD of a listing: the same head, no body.
    let head = server.send("HEAD", "/", "", b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // A folder with an index.html serves it instead.
    fs::write(root.join("sub/index.html"), "<h1>sub</h1>").unwrap();
    assert_eq!(server.get("/sub/", "").body, b"<h1>sub</h1>");
    drop(server);

    let server = FileServer::start(bin, "files_listing_hidden", &["--hidden"]);
    populate(&server.root());
    assert_eq!(server.put("/up.txt", b"uploaded").status, 201);
    let names = names(&server.get("/?json", ""));
    assert_eq!(names, ["sub", ".secret", "a.txt", "up.txt"]);
    drop(server);

    let server = FileServer::start(bin, "files_listing_off", &["--no-list"]);
    populate(&server.root());
    let response = server.get("/sub/", "");
    assert_eq!(response.status, 404);
    assert!(!response.text().contains("inner.txt"));
    assert_eq!(server.get("/?json", "").status, 404);
}

/// Names that are markup, quotes, or hold a newline reach the page only escaped, and the JSON
/// gives them back exactly; links to them are percent-encoded and fetch the right file.
pub fn hostile_names_are_escaped_in_listings(bin: &str) {
    let server = FileServer::start(bin, "files_listing_hostile", &[]);
    let root = server.root();
    let names = [
        "<script>alert(1)<script>.txt",
        "quote\"d 'name'.txt",
        "new\nline.txt",
        "amp&amp;.txt",
        "<img src=x onerror=alert(2)>",
    ];
    for name in names {
        fs::write(root.join(name), name).unwrap();
    }
    let html = server.get("/", "").text();
    for raw in ["<script>alert", "<img src", "\"d 'name'", "new\nline"] {
        assert!(!html.contains(raw), "{raw:?} unescaped in {html}");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;script&gt;.txt"));
    assert!(html.contains("quote&quot;d &#39;name&#39;.txt"));
    // A newline is shown as a picture of itself, never as a line break in the markup.
    assert!(html.contains("new\u{240a}line.txt"), "{html}");
    assert!(html.contains("amp&amp;amp;.txt"));
    assert!(html.contains("href=\"%3Cscript%3Ealert%281%29%3Cscript%3E.txt\""));
    // The script the page carries (when writable) is the only one.
    assert_eq!(html.matches("<script>").count(), 1, "{html}");
    let mut listed = json_names(&server.get("/?json", ""));
    listed.sort();
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    let fetched = server.get("/%3Cscript%3Ealert%281%29%3Cscript%3E.txt", "");
    assert_eq!(fetched.body, b"<script>alert(1)<script>.txt");
}

/// `?sort=name|size|time&order=asc|desc` orders files (folders stay first), in the page and
/// the JSON; an unknown value keeps the default order by name.
pub fn listings_sort_by_name_size_and_time(bin: &str) {
    let server = FileServer::start(bin, "files_listing_sort", &[]);
    let root = server.root();
    fs::create_dir(root.join("zdir")).unwrap();
    // Sizes and times in different orders from the names.
    for (name, size, age_days) in [("b.bin", 30, 1), ("a.bin", 10, 2), ("c.bin", 20, 3)] {
        let path = root.join(name);
        fs::write(&path, vec![b'x'; size]).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_days * 86_400);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    let cases = [
        ("", ["zdir", "a.bin", "b.bin", "c.bin"]),
        ("sort=name&order=desc", ["zdir", "c.bin", "b.bin", "a.bin"]),
        ("sort=size", ["zdir", "a.bin", "c.bin", "b.bin"]),
        ("sort=size&order=desc", ["zdir", "b.bin", "c.bin", "a.bin"]),
        ("sort=time&order=asc", ["zdir", "c.bin", "a.bin", "b.bin"]),
        ("sort=time&order=desc", ["zdir", "b.bin", "a.bin", "c.bin"]),
        (
            "sort=colour&order=sideways",
            ["zdir", "a.bin", "b.bin", "c.bin"],
        ),
    ];
    for (query, expected) in cases {
        let listed = names(&server.get(&format!("/?json&{query}"), ""));
        assert_eq!(listed, expected, "?{query}");
        let html = server.get(&format!("/?{query}"), "").text();
        let at: Vec<usize> = expected
            .iter()
            .map(|name| html.find(&format!("href=\"{name}")).expect("linked"))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "page order of ?{query}");
    }
}

/// `wget -r -np` of the root fetches every file of the tree, nested folders and awkward names
/// included, byte for byte, and nothing of the server's own.
pub fn wget_mirrors_the_whole_tree(bin: &str) {
    let server = FileServer::start(bin, "files_wget", &[]);
    let root = server.root();
    populate(&root);
    fs::create_dir_all(root.join("sub/deeper/deepest")).unwrap();
    fs::write(root.join("sub/deeper/deepest/bottom.bin"), [0u8, 1, 2, 255]).unwrap();
    fs::write(root.join("sub/deeper/with space & more.txt"), "spaced").unwrap();
    fs::write(root.join("sub/deeper/ünïcödé.txt"), "unicode").unwrap();
    assert_eq!(server.put("/up.txt", b"uploaded").status, 201);
    let mirror = server.dir().join("mirror");
    let output = Command::new("wget")
        .args([
            "-r",
            "-np",
            "-nH",
            "-q",
            "-e",
            "robots=off",
            "--tries=1",
            "--timeout=30",
        ])
        .arg("-P")
        .arg(&mirror)
        .arg(format!("http://{}/", server.addr))
        .output()
        .expect("wget runs (apt-get install wget)");
    assert!(
        output.status.success(),
        "wget failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // wget saves each listing as its folder's index.html; every other file is a copy.
    let fetched: Vec<String> = tree(&mirror)
        .into_iter()
        .filter(|path| !path.ends_with("index.html") && mirror.join(path).is_file())
        .collect();
    let served: Vec<String> = tree(&root)
        .into_iter()
        .filter(|path| !path.starts_with('.') && !path.contains("/.") && root.join(path).is_file())
        .collect();
    assert_eq!(fetched, served);
    for path in &served {
        assert_eq!(
            fs::read(mirror.join(path)).unwrap(),
            fs::read(root.join(path)).unwrap(),
            "{path}"
        );
    }
    assert!(!mirror.join(".secret").exists());
}

/// `GET /__ferry/health` is `200 ok` on the file server (even when reads need credentials)
/// and on the web app, for load balancers and Compose health checks.
pub fn health_check_answers_ok_on_every_http_service(bin: &str) {
    let server = FileServer::start(bin, "files_health", &[]);
    check_health(&server.get("/__ferry/health", ""));
    assert!(server
        .send("HEAD", "/__ferry/health", "", b"")
        .body
        .is_empty());
    drop(server);
    let dir = TempDir::new("files_health_passwd");
    let passwords = dir.join("nobody.passwd");
    fs::write(&passwords, "").unwrap();
    let guarded = FileServer::start(
        bin,
        "files_health_auth",
        &["--auth", passwords.to_str().unwrap(), "--auth-read"],
    );
    assert_eq!(guarded.get("/", "").status, 401);
    check_health(&guarded.get("/__ferry/health", ""));
    drop(guarded);
    let web = Server::serve(bin, "web_health");
    check_health(&crate::client::get(web.web(), "/__ferry/health"));
}

fn check_health(response: &Response) {
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"ok");
    assert_eq!(response.header("cache-control"), Some("no-store"));
}

/// `a.txt` (3 bytes, 2026-01-02 03:04:05 UTC), `.secret`, `sub/inner.txt`.
fn populate(root: &Path) {
    fs::write(root.join("a.txt"), "abc").unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045);
    File::options()
        .write(true)
        .open(root.join("a.txt"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    fs::write(root.join(".secret"), "hidden").unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/inner.txt"), "inner").unwrap();
}

fn json(response: &Response) -> Vec<Value> {
    match serde_json::from_slice(&response.body) {
        Ok(Value::Array(entries)) => entries,
        other => panic!("not a JSON array: {other:?} from {}", response.text()),
    }
}

fn json_names(response: &Response) -> Vec<String> {
    json(response)
        .iter()
        .map(|entry| entry["name"].as_str().expect("a name").to_string())
        .collect()
}

fn names(response: &Response) -> Vec<String> {
    json_names(response)
}
