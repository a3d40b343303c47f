//! TLS on every TCP port (issue 13), against both binaries: real TLS clients from outside
//! ferry (curl, openssl, Python's ssl) and ferry's own clients, hostile and broken clients,
//! certificate reloads, bad certificates at start, and a large download's memory.

mod support;

use crate::proc_status::peak_rss_kib;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::fixture::{sandbox, STATIC_DIR};
use crate::temp::TempDir;
use support::{command, curl, make_cert, python, run, text, TlsServer, RUN_LIMIT};

/// `ferry cert`, then the web app with its output: curl and Python's ssl get pages and post
/// the form end to end over TLS 1.2 and 1.3, with ALPN http/1.1.
pub fn web_app_over_tls_serves_pages_and_stores_posts(bin: &str) {
    let dir = sandbox("tls-web");
    make_cert(bin, dir.path(), &[]);
    let args = [
        "serve",
        "--http",
        "127.0.0.1:0",
        "--socket",
        "127.0.0.1:0",
        "--static",
        STATIC_DIR,
        "--store",
        "data.json",
    ];
    let server = TlsServer::start_in(bin, dir, &args, "https://");
    let (ok, page) = curl(&server, &[&server.url("/")]);
    assert!(ok && page.contains("index page"), "curl ok {ok}: {page}");
    let (ok, status) = curl(
        &server,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-d",
            "username=ann&message=over+tls",
            &server.url("/message"),
        ],
    );
    assert!(ok && status == "303", "{status}");
    let stored = fs::read_to_string(server.path("data.json")).expect("the store");
    assert!(stored.contains("over tls"), "{stored}");
    for (name, version) in [("1.2", "TLSv1_2"), ("1.3", "TLSv1_3")] {
        let script = format!(
            "ctx = ssl.create_default_context(cafile=CAFILE)\n\
             ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.{version}\n\
             ctx.set_alpn_protocols(['http/1.1'])\n\
             with ctx.wrap_socket(socket.create_connection(('localhost', PORT), timeout=10), server_hostname='localhost') as t:\n\
             \x20   t.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n\
             \x20   data = b''\n\
             \x20   while True:\n\
             \x20       d = t.recv(65536)\n\
             \x20       if not d: break\n\
             \x20       data += d\n\
             \x20   print(t.version(), t.selected_alpn_protocol(), data.split(b'\\r\\n')[0].decode())\n"
        );
        let out = python(&server, &script);
        assert_eq!(
            out.trim(),
            format!("TLSv{name} http/1.1 HTTP/1.1 200 OK"),
            "TLS {name}"
        );
    }
    // Only TLS 1.2 and 1.3: an older client is refused in the handshake.
    let script = "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n\
                  ctx.load_verify_locations(CAFILE)\n\
                  ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1\n\
                  try:\n\
                  \x20   ctx.wrap_socket(socket.create_connection(('localhost', PORT), timeout=10), server_hostname='localhost')\n\
                  \x20   print('accepted')\n\
                  except (ssl.SSLError, OSError):\n\
                  \x20   print('refused')\n";
    assert_eq!(python(&server, script).trim(), "refused");
}

/// The file server over TLS: curl GET, `curl -T` and a Range; ferry's own client with
/// `--cacert`, and a one-line refusal when the certificate does not verify.
pub fn file_server_over_tls_downloads_uploads_and_ranges(bin: &str) {
    let dir = TempDir::new("tls-files");
    fs::create_dir(dir.join("root")).expect("root");
    fs::write(dir.join("root/a.txt"), b"0123456789").expect("file");
    make_cert(bin, dir.path(), &[]);
    let args = [
        "files",
        "--bind",
        "127.0.0.1:0",
        "--root",
        "root",
        "--log",
        "access.log",
    ];
    let server = TlsServer::start_in(bin, dir, &args, "https://");
    assert_eq!(
        curl(&server, &[&server.url("/a.txt")]),
        (true, "0123456789".into())
    );
    let (ok, part) = curl(&server, &["-r", "2-4", &server.url("/a.txt")]);
    assert!(ok && part == "234", "{part}");
    fs::write(server.path("up.bin"), vec![7u8; 300_000]).expect("local");
    let upload = server.path("up.bin").display().to_string();
    let (ok, code) = curl(
        &server,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-T",
            &upload,
            &server.url("/up.bin"),
        ],
    );
    assert!(ok && code == "201", "{code}");
    assert_eq!(
        fs::read(server.path("root/up.bin"))
            .expect("uploaded")
            .len(),
        300_000
    );

    let port = server.addr.port().to_string();
    let get = |extra: &[&str]| {
        run(
            command(bin, server.dir.path())
                .args([
                    "client",
                    "localhost",
                    &port,
                    "GET",
                    "/a.txt",
                    "--out",
                    "got.txt",
                ])
                .args(extra),
            RUN_LIMIT,
        )
    };
    let ok = get(&["--cacert", "cert.pem"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(
        fs::read(server.path("got.txt")).expect("saved"),
        b"0123456789"
    );
    // Mozilla's roots do not know a self-signed certificate: one line, exit 1, nothing saved.
    fs::remove_file(server.path("got.txt")).expect("remove");
    let refused = get(&["--tls"]);
    assert_eq!(refused.status.code(), Some(1));
    let message = text(&refused.stderr);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("not signed by a trusted authority"),
        "{message}"
    );
    assert!(!server.path("got.txt").exists());
}

/// The chat over TLS: `openssl s_client` joins and talks in JSON lines, `chat-client --cacert`
/// talks to it, and a wrong CA is a one-line error.
pub fn chat_over_tls_with_openssl_and_the_chat_client(bin: &str) {
    let server = TlsServer::start(
        bin,
        "tls-chat",
        &["chat", "--bind", "127.0.0.1:0"],
        "tls://",
    );
    // A Python client holds the room open and reports what it hears.
    let listener = std::thread::spawn({
        let port = server.addr.port();
        let cafile = server.path("cert.pem");
        move || {
            let script = format!(
                "import socket, ssl\n\
                 ctx = ssl.create_default_context(cafile={:?})\n\
                 t = ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port}), timeout=20), server_hostname='localhost')\n\
                 t.sendall(b'{{\"username\": \"ann\"}}\\n')\n\
                 buf = b''\n\
                 while b'from openssl' not in buf:\n\
                 \x20   d = t.recv(4096)\n\
                 \x20   if not d: break\n\
                 \x20   buf += d\n\
                 print(buf.decode())\n",
                cafile.display().to_string()
            );
            run(
                std::process::Command::new("python3")
                    .arg("-c")
                    .arg(script)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped()),
                RUN_LIMIT,
            )
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let connect = format!("127.0.0.1:{}", server.addr.port());
    let mut openssl = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-connect",
            &connect,
            "-CAfile",
        ])
        .arg(server.path("cert.pem"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl runs");
    let mut stdin = openssl.stdin.take().expect("stdin");
    stdin
        .write_all(b"{\"username\": \"bob\", \"message\": \"from openssl\"}\n")
        .expect("send");
    let heard = listener.join().expect("listener");
    assert!(heard.status.success(), "{}", text(&heard.stderr));
    assert!(
        text(&heard.stdout).contains("from openssl"),
        "{}",
        text(&heard.stdout)
    );
    let mut reply = [0u8; 256];
    let mut stdout = openssl.stdout.take().expect("stdout");
    let n = stdout.read(&mut reply).expect("openssl reads");
    assert!(
        String::from_utf8_lossy(&reply[..n]).contains("join"),
        "JSON lines back"
    );
    drop(stdin);
    let _ = openssl.kill();
    let _ = openssl.wait();

    let port = server.addr.port().to_string();
    let chat = |extra: &[&str]| {
        let mut command = command(bin, server.dir.path());
        command
            .args(["chat-client", "localhost", &port, "--username", "cat"])
            .args(extra);
        run(&mut command, RUN_LIMIT)
    };
    let ok = chat(&["--cacert", "cert.pem"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let wrong = chat(&["--tls"]);
    assert_eq!(wrong.status.code(), Some(1));
    let message = text(&wrong.stderr);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("certificate"), "{message}");
}

/// Plain HTTP, garbage records, a truncated handshake and a silent client on a TLS port are
/// each closed, the silent ones at the header timeout (the handshake's deadline), and the
/// server serves on.
pub fn plain_broken_and_silent_clients_on_a_tls_port_are_closed_in_time(bin: &str) {
    let args = [
        "files",
        "--bind",
        "127.0.0.1:0",
        "--root",
        ".",
        "--header-timeout",
        "1s",
    ];
    let mut server = TlsServer::start(bin, "tls-hostile", &args, "https://");
    let cases: [(&str, &[u8], Duration); 4] = [
        (
            "plain HTTP",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(1),
        ),
        (
            "garbage record",
            b"\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff",
            Duration::from_secs(1),
        ),
        (
            "truncated handshake",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            Duration::from_secs(3),
        ),
        ("silent client", b"", Duration::from_secs(3)),
    ];
    for (name, bytes, bound) in cases {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let started = Instant::now();
        stream.write_all(bytes).expect("send");
        let mut sink = Vec::new();
        // An alert may come first; then the end.
        let ended = stream.read_to_end(&mut sink);
        let took = started.elapsed();
        assert!(ended.is_ok() || took < bound, "{name}: {ended:?}");
        assert!(took < bound, "{name}: closed after {took:?}");
        if name == "plain HTTP" {
            assert!(!sink.starts_with(b"HTTP/"), "no answer in the clear");
        }
    }
    assert!(server.is_running());
    assert!(curl(&server, &[&server.url("/")]).0, "still serving");
    // The chat has no header timeout: the handshake's own deadline (10 s) bounds it.
    let chat = TlsServer::start(
        bin,
        "tls-silent-chat",
        &["chat", "--bind", "127.0.0.1:0"],
        "tls://",
    );
    let mut stream = TcpStream::connect(chat.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let started = Instant::now();
    let _ = stream.read_to_end(&mut Vec::new());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(13),
        "silent chat client closed after {took:?}"
    );
}

/// SIGHUP swaps the certificate while requests keep coming on new and kept-alive
/// connections: none fails, new connections get the new certificate, and a bad new pair keeps
/// the old one with one line.
pub fn sighup_reloads_the_certificate_under_load_losing_no_request(bin: &str) {
    let server = TlsServer::start(
        bin,
        "tls-reload",
        &["files", "--bind", "127.0.0.1:0", "--root", "."],
        "https://",
    );
    fs::write(server.path("index.html"), b"hello").expect("page");
    // A second certificate, made aside, then both CA files for the load's clients.
    let other = server.path("other");
    fs::create_dir(&other).expect("folder");
    // Another subject too (its first name), so a client holding both tells them apart.
    make_cert(bin, &other, &["--name", "127.0.0.1", "--name", "localhost"]);
    let mut both = fs::read(server.path("cert.pem")).expect("cert");
    both.extend(fs::read(other.join("cert.pem")).expect("other cert"));
    fs::write(server.path("both.pem"), both).expect("bundle");
    let load = std::thread::spawn({
        let port = server.addr.port();
        let bundle = server.path("both.pem");
        move || {
            let script = format!(
                "import socket, ssl, time\n\
                 ctx = ssl.create_default_context(cafile={:?})\n\
                 def get(t):\n\
                 \x20   t.sendall(b'GET /index.html HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n\
                 \x20   buf = b''\n\
                 \x20   while not buf.endswith(b'hello'):\n\
                 \x20       d = t.recv(4096)\n\
                 \x20       assert d, 'closed'\n\
                 \x20       buf += d\n\
                 \x20   assert buf.startswith(b'HTTP/1.1 200'), buf\n\
                 kept = ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port}), timeout=10), server_hostname='localhost')\n\
                 n = 0\n\
                 end = time.time() + 4\n\
                 while time.time() < end:\n\
                 \x20   with ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port}), timeout=10), server_hostname='localhost') as t:\n\
                 \x20       get(t)\n\
                 \x20   get(kept)\n\
                 \x20   n += 2\n\
                 print(n)\n",
                bundle.display().to_string()
            );
            run(
                std::process::Command::new("python3")
                    .arg("-c")
                    .arg(script)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped()),
                RUN_LIMIT,
            )
        }
    });
    std::thread::sleep(Duration::from_millis(700));
    for file in ["cert.pem", "key.pem"] {
        fs::copy(other.join(file), server.path(file)).expect("new pair");
    }
    let line = server.reload(true);
    assert!(line.contains("reloaded"), "{line}");
    std::thread::sleep(Duration::from_millis(700));
    fs::write(server.path("key.pem"), b"not a key").expect("bad key");
    let line = server.reload(false);
    assert!(line.contains("keeping the certificate in use"), "{line}");
    let done = load.join().expect("load");
    assert!(
        done.status.success(),
        "a request failed: {}",
        text(&done.stderr)
    );
    let count: u32 = text(&done.stdout).trim().parse().expect("a count");
    assert!(count > 10, "only {count} requests");
    // New connections see the new certificate: the old CA alone no longer verifies it.
    let (new_ok, _) = {
        let cacert = other.join("cert.pem");
        let output = run(
            std::process::Command::new("curl")
                .args(["-sS", "--max-time", "10", "--cacert"])
                .arg(&cacert)
                .arg(server.url("/index.html"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
            RUN_LIMIT,
        );
        (output.status.success(), ())
    };
    assert!(new_ok, "the new certificate serves");
}

/// A missing, unreadable or mismatched certificate or key stops the start with one line
/// naming it, exit 1, on every server.
pub fn bad_certificates_at_start_are_one_line_and_exit_1(bin: &str) {
    let dir = sandbox("tls-bad");
    make_cert(bin, dir.path(), &[]);
    let other = dir.join("other");
    fs::create_dir(&other).expect("folder");
    make_cert(bin, &other, &[]);
    fs::write(dir.join("garbage.pem"), b"hello").expect("garbage");
    let cases: [(&str, &str, &str); 4] = [
        ("missing.pem", "key.pem", "missing.pem"),
        ("cert.pem", "other/key.pem", "does not belong"),
        ("cert.pem", "garbage.pem", "no private key"),
        ("garbage.pem", "key.pem", "no certificate"),
    ];
    let servers: [&[&str]; 3] = [
        &["files", "--bind", "127.0.0.1:0", "--root", "."],
        &["chat", "--bind", "127.0.0.1:0"],
        &["http", "--http", "127.0.0.1:0", "--static", STATIC_DIR],
    ];
    for args in servers {
        for (cert, key, says) in cases {
            let output = run(
                command(bin, dir.path())
                    .args(args)
                    .args(["--tls-cert", cert, "--tls-key", key]),
                RUN_LIMIT,
            );
            let message = text(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{args:?} {cert} {key}: {message}"
            );
            assert_eq!(message.lines().count(), 1, "{message}");
            assert!(message.contains(says), "{args:?}: {message}");
            assert!(!message.contains("-----BEGIN"), "no key bytes in errors");
        }
    }
}

/// A 256 MiB download over TLS (no sendfile: every byte is encrypted in the process) leaves
/// the server's peak RSS under 64 MiB.
pub fn large_download_over_tls_stays_in_bounded_memory(bin: &str) {
    let server = TlsServer::start(
        bin,
        "tls-large",
        &["files", "--bind", "127.0.0.1:0", "--root", "."],
        "https://",
    );
    let file = fs::File::create(server.path("big.bin")).expect("file");
    file.set_len(256 * 1024 * 1024).expect("sparse 256 MiB");
    let (ok, size) = curl(
        &server,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            &server.url("/big.bin"),
        ],
    );
    assert!(ok && size == (256u64 * 1024 * 1024).to_string(), "{size}");
    let peak = peak_rss_kib(server.pid());
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

/// `chat --web` with a certificate: the page over `https://`, the WebSocket over `wss://`,
/// the same room as ever.
pub fn chat_web_over_tls_serves_https_and_wss(bin: &str) {
    let server = TlsServer::start(
        bin,
        "tls-chat-web",
        &["chat", "--bind", "127.0.0.1:0", "--web", "127.0.0.1:0"],
        "https://",
    );
    let (ok, page) = curl(&server, &[&server.url("/")]);
    assert!(ok && page.contains("<title>ferry chat"), "{page}");
    let heard = python(
        &server,
        "ctx = ssl.create_default_context(cafile=CAFILE)\n\
         t = ctx.wrap_socket(socket.create_connection(('127.0.0.1', PORT), timeout=20), server_hostname='localhost')\n\
         t.sendall(b'GET /ws HTTP/1.1\\r\\nHost: localhost\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n'\n\
         \x20   b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n')\n\
         buf = b''\n\
         while b'\\r\\n\\r\\n' not in buf:\n\
         \x20   buf += t.recv(4096)\n\
         head, rest = buf.split(b'\\r\\n\\r\\n', 1)\n\
         print(head.split(b'\\r\\n')[0].decode())\n\
         payload = b'{\"username\": \"ann\"}'\n\
         mask = b'abcd'\n\
         t.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))\n\
         while len(rest) < 2 or len(rest) < 2 + rest[1]:\n\
         \x20   rest += t.recv(4096)\n\
         print(rest[2:2 + rest[1]].decode())\n",
    );
    assert!(
        heard.contains("HTTP/1.1 101 Switching Protocols"),
        "{heard}"
    );
    assert!(
        heard.contains("{\"type\":\"join\",\"username\":\"ann\"}"),
        "{heard}"
    );
}
