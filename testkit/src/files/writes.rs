//! Suite: the file server in a browser, write side (issue 15): DELETE and new folders inside
//! the root and never outside it, `--auth` with `ferry passwd`, slowed guessing, and writes
//! without credentials only on loopback.

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::support::{tree, FileServer};
use crate::temp::TempDir;

/// `PUT /a/b/` makes folders, `DELETE` removes a file or an empty folder (409 for a full one,
/// 404 for nothing); nothing outside the root is made or removed, whether the way out is `..`,
/// an encoded `..` or a symlink, and the root and the server's own folder stay.
pub fn delete_and_new_folders_stay_inside_the_root(bin: &str) {
    let server = FileServer::start(bin, "files_delete_mkdir", &[]);
    let root = server.root();
    let outside = server.dir().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), "secret").unwrap();
    symlink(&outside, root.join("out")).unwrap();
    let before = tree(&outside);

    assert_eq!(server.send("PUT", "/a/b/", "", b"").status, 201);
    assert!(root.join("a/b").is_dir());
    assert_eq!(server.send("PUT", "/a/b/", "", b"").status, 204, "exists");
    assert_eq!(server.put("/a/b/f.txt", b"file").status, 201);
    assert_eq!(server.send("PUT", "/a/b/f.txt/", "", b"").status, 409);
    assert_eq!(
        server.send("DELETE", "/a/b/", "", b"").status,
        409,
        "not empty"
    );
    assert_eq!(server.send("DELETE", "/a/b/f.txt/", "", b"").status, 409);
    assert_eq!(server.send("DELETE", "/a/b/f.txt", "", b"").status, 204);
    assert!(!root.join("a/b/f.txt").exists());
    assert_eq!(server.send("DELETE", "/a/b/f.txt", "", b"").status, 404);
    assert_eq!(server.send("DELETE", "/a/b", "", b"").status, 204);
    assert!(!root.join("a/b").exists() && root.join("a").is_dir());

    for target in [
        "/../outside/secret",
        "/%2e%2e/outside/secret",
        "/a/..%2f..%2foutside/secret",
        "/out/secret",
        "/out/",
        "/.ferry-uploads/",
        "/",
    ] {
        // `/out/` names the symlink as if it were a folder: 409, and it stays.
        let status = server.send("DELETE", target, "", b"").status;
        assert!(
            matches!(status, 400 | 403 | 404 | 409),
            "DELETE {target}: {status}"
        );
    }
    for target in [
        "/../outside/new/",
        "/%2e%2e/new/",
        "/out/new/",
        "/out/deeper/new/",
    ] {
        let status = server.send("PUT", target, "", b"").status;
        assert!(matches!(status, 400 | 403 | 404), "PUT {target}: {status}");
    }
    assert_eq!(tree(&outside), before, "something changed outside the root");
    assert_eq!(
        fs::read_to_string(outside.join("secret")).unwrap(),
        "secret"
    );
    // The symlink itself is an entry of the root: removing it removes the link, not its target.
    assert_eq!(server.send("DELETE", "/out", "", b"").status, 204);
    assert!(fs::symlink_metadata(root.join("out")).is_err());
    assert_eq!(tree(&outside), before);
    assert!(root.is_dir());

    // --read-only takes neither.
    drop(server);
    let server = FileServer::start(bin, "files_delete_read_only", &["--read-only"]);
    fs::write(server.root().join("kept.txt"), "kept").unwrap();
    assert_eq!(server.send("DELETE", "/kept.txt", "", b"").status, 405);
    assert_eq!(server.send("PUT", "/new/", "", b"").status, 405);
    assert!(server.root().join("kept.txt").exists());
}

/// `ferry passwd` writes an Argon2id line; with `--auth` PUT and DELETE need those credentials
/// (401 with a challenge otherwise, the same answer for an unknown user and a wrong password),
/// reads do not until `--auth-read`.
pub fn auth_guards_writes_and_reads(bin: &str) {
    let dir = TempDir::new("files_auth_passwd");
    let passwords = dir.join("users.passwd");
    set_password(bin, &passwords, "ann", "correct horse");
    set_password(bin, &passwords, "bob", "battery staple");
    set_password(bin, &passwords, "ann", "new horse");
    let text = fs::read_to_string(&passwords).unwrap();
    let users: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(users, ["ann", "bob"], "{text}");
    assert!(
        text.lines().all(|l| l.contains(":$argon2id$v=19$")),
        "{text}"
    );
    assert!(!text.contains("horse"));
    let mismatch = passwd(bin, &passwords, "cat", "one\ntwo\n");
    assert!(!mismatch.status.success());
    assert_eq!(
        fs::read_to_string(&passwords).unwrap(),
        text,
        "changed on a mismatch"
    );

    let path = passwords.to_str().unwrap();
    let server = FileServer::start(bin, "files_auth_writes", &["--auth", path]);
    fs::write(server.root().join("open.txt"), "open").unwrap();
    assert_eq!(
        server.get("/open.txt", "").status,
        200,
        "reads need nothing"
    );
    let anonymous = server.put("/x.txt", b"x");
    let wrong_password = server.send("PUT", "/x.txt", &basic("ann", "correct horse"), b"x");
    let unknown_user = server.send("PUT", "/x.txt", &basic("zed", "new horse"), b"x");
    for refused in [&anonymous, &wrong_password, &unknown_user] {
        assert_eq!(
            (refused.status, refused.reason.as_str()),
            (401, "Unauthorized")
        );
        assert_eq!(
            refused.header("www-authenticate"),
            Some("Basic realm=\"ferry\", charset=\"UTF-8\"")
        );
    }
    assert_eq!(
        wrong_password.body, unknown_user.body,
        "the answers tell them apart"
    );
    assert_eq!(wrong_password.headers.len(), unknown_user.headers.len());
    assert_eq!(server.send("DELETE", "/open.txt", "", b"").status, 401);
    assert!(!server.root().join("x.txt").exists());
    let ann = basic("ann", "new horse");
    assert_eq!(server.send("PUT", "/x.txt", &ann, b"x").status, 201);
    assert_eq!(server.send("PUT", "/dir/", &ann, b"").status, 201);
    assert_eq!(server.send("DELETE", "/open.txt", &ann, b"").status, 204);
    assert_eq!(fs::read(server.root().join("x.txt")).unwrap(), b"x");
    drop(server);

    let server = FileServer::start(bin, "files_auth_reads", &["--auth", path, "--auth-read"]);
    fs::write(server.root().join("closed.txt"), "closed").unwrap();
    for target in ["/closed.txt", "/", "/?json"] {
        assert_eq!(server.get(target, "").status, 401, "{target}");
    }
    let bob = basic("bob", "battery staple");
    assert_eq!(server.get("/closed.txt", &bob).body, b"closed");
    assert_eq!(server.get("/?json", &bob).status, 200);
}

/// Failed attempts from one address wait longer and longer (250 ms, 500 ms, 1 s, ...) before
/// they are even checked; the right password still gets in, and then forgets the failures.
pub fn failed_sign_ins_are_slowed_per_address(bin: &str) {
    let dir = TempDir::new("files_auth_slow_passwd");
    let passwords = dir.join("users.passwd");
    set_password(bin, &passwords, "ann", "right");
    let path = passwords.to_str().unwrap().to_string();
    let server = FileServer::start(bin, "files_auth_slow", &["--auth", &path]);
    let wrong = basic("ann", "wrong");
    let mut took = Vec::new();
    for _ in 0..4 {
        let start = Instant::now();
        assert_eq!(server.send("PUT", "/x", &wrong, b"x").status, 401);
        took.push(start.elapsed());
    }
    // The fourth waited for three failures: 1 s after the third ended, on top of its check.
    assert!(took[3] >= Duration::from_millis(950), "{took:?}");
    assert!(took[3] > took[0] + Duration::from_millis(700), "{took:?}");
    assert!(took[2] >= Duration::from_millis(450), "{took:?}");
    let right = basic("ann", "right");
    assert_eq!(server.send("PUT", "/x", &right, b"x").status, 201);
    // A success forgets the failures: the next wrong guess is checked at once.
    let start = Instant::now();
    assert_eq!(
        server
            .send("PUT", "/y", &basic("ann", "again"), b"y")
            .status,
        401
    );
    let fresh = start.elapsed();
    assert!(
        fresh + Duration::from_millis(700) < took[3],
        "{fresh:?} {took:?}"
    );
}

/// Without `--auth`, a server listening beyond loopback refuses writes (403, and says so at
/// start) unless `--allow-anonymous-writes`, which it warns about; reads work either way.
pub fn anonymous_writes_need_loopback_or_the_flag(bin: &str) {
    let server = FileServer::start_bound(bin, "files_anon_refused", "0.0.0.0:0", &[]);
    fs::write(server.root().join("a.txt"), "a").unwrap();
    assert_eq!(server.get("/a.txt", "").status, 200);
    assert_eq!(server.put("/b.txt", b"b").status, 403);
    assert_eq!(server.send("DELETE", "/a.txt", "", b"").status, 403);
    assert_eq!(server.send("PUT", "/d/", "", b"").status, 403);
    assert!(server.root().join("a.txt").exists() && !server.root().join("b.txt").exists());
    // The listing offers no upload control where nobody may upload.
    assert!(!server.get("/", "").text().contains("id=\"upload\""));
    let stderr = server.stderr_holding("uploads and deletions are refused", STDERR_WAIT);
    assert!(
        stderr.contains("uploads and deletions are refused"),
        "{stderr}"
    );
    drop(server);

    let flags = ["--allow-anonymous-writes"];
    let server = FileServer::start_bound(bin, "files_anon_allowed", "0.0.0.0:0", &flags);
    assert_eq!(server.put("/b.txt", b"b").status, 201);
    assert!(server.get("/", "").text().contains("id=\"upload\""));
    let stderr = server.stderr_holding("warning: anyone", STDERR_WAIT);
    assert!(stderr.contains("warning: anyone"), "{stderr}");
    drop(server);

    let server = FileServer::start(bin, "files_anon_loopback", &[]);
    assert_eq!(server.put("/b.txt", b"b").status, 201);
    assert!(!server.stderr().contains("anyone"), "{}", server.stderr());
}

/// Sets `user`'s password in `file` with `ferry passwd`, typed twice on standard input.
fn set_password(bin: &str, file: &Path, user: &str, password: &str) {
    let output = passwd(bin, file, user, &format!("{password}\n{password}\n"));
    assert!(
        output.status.success(),
        "passwd failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains(user), "{said}");
    assert!(
        !said.contains(password) && !String::from_utf8_lossy(&output.stderr).contains(password)
    );
}

fn passwd(bin: &str, file: &Path, user: &str, input: &str) -> std::process::Output {
    let mut child = Command::new(bin)
        .arg("passwd")
        .arg(file)
        .arg(user)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("passwd starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().expect("passwd ends")
}

/// An `Authorization: Basic` header line for `user` and `password`.
fn basic(user: &str, password: &str) -> String {
    format!(
        "Authorization: Basic {}\r\n",
        base64(format!("{user}:{password}").as_bytes())
    )
}

/// Standard base64 with padding (the test's own, so it checks the server's decoder).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How long a start-up notice may take to reach the test through the stderr pipe.
const STDERR_WAIT: Duration = Duration::from_secs(5);
