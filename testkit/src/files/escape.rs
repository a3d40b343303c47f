//! Suite: a local user racing the file server with renames inside its root (issue 19.1).
//!
//! Checking a path and then opening it again by name leaves a window in which a folder on the
//! way can be swapped for a symlink that leads out. These tests run that swap in a tight loop
//! while clients read and write through the folder, for a bounded time, and count escapes.

use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::support::{listing, tree, FileServer};

/// `root/sub` is swapped for a symlink to a folder outside the root and back, as fast as the
/// machine allows, while clients `GET /sub/passwd` and `PUT /sub/x-N` for a few seconds. Nothing
/// outside may be served (the outside `passwd` holds a marker), written or left behind (no new
/// file, no temporary file), and the server must keep answering throughout.
pub fn renaming_a_folder_to_a_symlink_never_escapes_the_root(bin: &str) {
    let server = FileServer::start(bin, "files_rename_race", &[]);
    let root = server.root();
    let outside = server.dir().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("passwd"), SECRET).unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/passwd"), "inside").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("sub.link")).unwrap();
    let before = listing(&outside);

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let racer = {
        let (stop, swaps, root) = (stop.clone(), swaps.clone(), root.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                swap(&root);
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| {
            let (stop, addr) = (stop.clone(), server.addr);
            thread::spawn(move || hammer(addr, index, &stop))
        })
        .collect();
    thread::sleep(RACE_TIME);
    stop.store(true, Ordering::Relaxed);
    racer.join().expect("the racer runs");
    let mut totals = Tally::default();
    for client in clients {
        let tally = client.join().expect("a client runs");
        totals.requests += tally.requests;
        totals.served_inside += tally.served_inside;
        totals.escapes.extend(tally.escapes);
    }
    // Put `sub` back as the folder, whichever half of a swap the racer stopped in.
    if fs::symlink_metadata(root.join("sub")).is_ok_and(|m| m.file_type().is_symlink()) {
        exchange_names(&root.join("sub"), &root.join("sub.link")).unwrap();
    }

    eprintln!(
        "{} swaps, {} requests, {} reads of the file inside",
        swaps.load(Ordering::Relaxed),
        totals.requests,
        totals.served_inside
    );
    assert!(
        totals.escapes.is_empty(),
        "{} request(s) were served from outside the root: {:?}",
        totals.escapes.len(),
        &totals.escapes[..totals.escapes.len().min(5)]
    );
    assert_eq!(
        listing(&outside),
        before,
        "something was written outside the root"
    );
    assert_eq!(fs::read(outside.join("passwd")).unwrap(), SECRET);
    assert!(
        swaps.load(Ordering::Relaxed) > 100 && totals.requests > 100,
        "the race hardly ran"
    );
    // Whatever the uploads did inside, none left a temporary file behind.
    let left: Vec<String> = tree(&root)
        .into_iter()
        .filter(|path| is_temporary(path))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // The server still answers.
    assert_eq!(server.get("/sub/passwd", "").body, b"inside");
}

/// A symlink planted in the root that leads out tells nothing about what is outside: whether it
/// points at a file that exists or at one that does not, absolutely or through `..`, to a file
/// or to a folder, GET, HEAD and PUT through it get the same answer, and nothing is written.
pub fn a_symlink_out_answers_the_same_whether_or_not_its_target_exists(bin: &str) {
    let server = FileServer::start(bin, "files_symlink_probe", &[]);
    let root = server.root();
    let outside = server.dir().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret.txt"), SECRET).unwrap();
    let before = listing(&outside);
    let link = |name: &str, to: &Path| std::os::unix::fs::symlink(to, root.join(name)).unwrap();
    link("abs-file-yes", &outside.join("secret.txt"));
    link("abs-file-no", &outside.join("missing.txt"));
    link("rel-file-yes", Path::new("../outside/secret.txt"));
    link("rel-file-no", Path::new("../outside/missing.txt"));
    link("abs-dir-yes", &outside);
    link("abs-dir-no", &outside.join("nowhere"));
    link("rel-dir-yes", Path::new("../outside"));
    link("rel-dir-no", Path::new("../nowhere"));
    let pairs = [
        ("/abs-file-yes", "/abs-file-no"),
        ("/rel-file-yes", "/rel-file-no"),
        ("/abs-dir-yes/secret.txt", "/abs-dir-no/secret.txt"),
        ("/rel-dir-yes/secret.txt", "/rel-dir-no/secret.txt"),
        ("/abs-dir-yes/new.txt", "/abs-dir-no/new.txt"),
        ("/abs-dir-yes/", "/abs-dir-no/"),
    ];
    for (exists, missing) in pairs {
        for method in ["GET", "HEAD", "PUT"] {
            let ask = |target: &str| {
                let raw = format!(
                    "{method} {target} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\
                     Connection: close\r\n\r\nPWNED"
                );
                server.request(&raw, method == "HEAD")
            };
            let (a, b) = (ask(exists), ask(missing));
            assert!(
                matches!(a.status, 403 | 404 | 409),
                "{method} {exists}: {}",
                a.status
            );
            assert_eq!(
                (a.status, &a.body),
                (b.status, &b.body),
                "{method} {exists} and {missing} differ"
            );
        }
    }
    assert_eq!(listing(&outside), before, "something was written outside");
}

/// What one client saw.
#[derive(Default)]
struct Tally {
    requests: usize,
    served_inside: usize,
    escapes: Vec<String>,
}

/// Alternates `GET /sub/passwd` and `PUT /sub/x-INDEX-N` until `stop`, one connection each.
fn hammer(addr: SocketAddr, index: usize, stop: &AtomicBool) -> Tally {
    let mut tally = Tally::default();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let request = if n % 2 == 0 {
            "GET /sub/passwd HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_string()
        } else {
            format!(
                "PUT /sub/x-{index}-{n} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\
                 Connection: close\r\n\r\nPWNED"
            )
        };
        let Some(answer) = exchange(addr, request.as_bytes()) else {
            continue;
        };
        tally.requests += 1;
        if answer.windows(SECRET.len()).any(|w| w == SECRET) {
            let line = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
            tally
                .escapes
                .push(format!("{}: {line}", request.lines().next().unwrap_or("")));
        } else if answer.starts_with(b"HTTP/1.1 200") && answer.ends_with(b"inside") {
            tally.served_inside += 1;
        }
    }
    tally
}

/// Sends one request on a new connection and reads everything until the server closes.
fn exchange(addr: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    stream.write_all(request).ok()?;
    let mut answer = Vec::new();
    // A reset after the answer still leaves what was read.
    let _ = stream.read_to_end(&mut answer);
    Some(answer)
}

/// One round of the attack: `sub` becomes the symlink, then the folder again, each time in one
/// atomic step, so `sub` always exists and nothing the server does can end the race.
fn swap(root: &Path) {
    let (sub, link) = (root.join("sub"), root.join("sub.link"));
    for _ in 0..2 {
        exchange_names(&sub, &link).expect("renameat2(RENAME_EXCHANGE)");
        thread::yield_now();
    }
}

/// Swaps two names atomically (renameat2 with RENAME_EXCHANGE).
fn exchange_names(a: &Path, b: &Path) -> io::Result<()> {
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether a path under the root is one of the server's temporary files: its reserved folder's
/// content, or a hidden `.part` file (what earlier versions left beside the target).
pub(super) fn is_temporary(path: &str) -> bool {
    let reserved = format!("{RESERVED_FOLDER}/");
    path.starts_with(&reserved) || path.ends_with(".part")
}

/// The folder under the root where the server writes uploads before renaming them (README).
pub(super) const RESERVED_FOLDER: &str = ".ferry-uploads";
const SECRET: &[u8] = b"root:x:0:0:SECRET-OUTSIDE-THE-ROOT";
const CLIENTS: usize = 4;
/// Long enough for thousands of requests against thousands of swaps, short enough for the suite.
const RACE_TIME: Duration = Duration::from_secs(3);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
