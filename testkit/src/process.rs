//! Suite: the binary as a process (SPEC, "Command line"): start-up errors, `--help`, wrong
//! flags, signals, restarts, the default subcommand, environment variables, and a real client
//! (curl) posting a message.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary.

use std::net::{TcpListener, UdpSocket};
use std::process::Command;

use crate::check;
use crate::fixture;
use crate::post::post_form;
use crate::server::{Exit, Launch, Server, Signal};
use crate::store;
use crate::temp::TempDir;

/// A busy TCP or UDP port, a missing static folder and an unwritable store each stop the start
/// with a non-zero exit code and one stderr line naming the cause.
pub fn startup_errors_are_one_line_and_nonzero(bin: &str) {
    let busy_tcp = TcpListener::bind("127.0.0.1:0").expect("bind TCP");
    let busy_udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
    let tcp_addr = busy_tcp.local_addr().expect("address").to_string();
    let udp_addr = busy_udp.local_addr().expect("address").to_string();
    let sandbox = || fixture::sandbox("startup_errors_are_one_line_and_nonzero");
    let cases: Vec<(&str, Launch, String)> = vec![
        (
            "busy HTTP port",
            Launch::serve(bin, sandbox()).flag("--http", &tcp_addr),
            port_of(&tcp_addr),
        ),
        (
            "busy socket port",
            Launch::serve(bin, sandbox()).flag("--socket", &udp_addr),
            port_of(&udp_addr),
        ),
        (
            "missing static folder",
            missing_static(bin),
            "no-such-folder".to_string(),
        ),
        (
            "unwritable store",
            unwritable_store(bin),
            fixture::SECRET_FILE.to_string(),
        ),
    ];
    let mut failures = Vec::new();
    for (what, launch, cause) in cases {
        let exit = launch.run();
        if let Err(problem) = one_line_failure(&exit, &cause) {
            failures.push(format!("{what}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A start that fails (a missing static folder, a busy port) leaves no store folder behind: the
/// store is created only once everything else started, so starting from the wrong folder by
/// mistake does not litter it with an empty `storage/`.
pub fn a_failed_start_leaves_no_store_folder(bin: &str) {
    let busy_tcp = TcpListener::bind("127.0.0.1:0").expect("bind TCP");
    let busy_udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
    let tcp_addr = busy_tcp.local_addr().expect("address").to_string();
    let udp_addr = busy_udp.local_addr().expect("address").to_string();
    let sandbox = || fixture::sandbox("a_failed_start_leaves_no_store_folder");
    let cases: Vec<(&str, Launch)> = vec![
        ("missing static folder", missing_static(bin)),
        (
            "busy HTTP port",
            Launch::serve(bin, sandbox()).flag("--http", &tcp_addr),
        ),
        (
            "busy socket port",
            Launch::serve(bin, sandbox()).flag("--socket", &udp_addr),
        ),
        (
            "socket alone, busy port",
            Launch::socket(bin, sandbox()).flag("--socket", &udp_addr),
        ),
    ];
    let mut failures = Vec::new();
    for (what, launch) in cases {
        // Outside the launch's own folder, which goes away when the run ends.
        let outside = TempDir::new("a_failed_start_store");
        let folder = outside.join("storage");
        let exit = launch.flag("--store", folder.join("data.json")).run();
        if exit.status.success() {
            failures.push(format!("{what}: started; stderr {:?}", exit.stderr));
        } else if folder.exists() {
            failures.push(format!("{what}: left {} behind", folder.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `--help` prints help and exits 0; each subcommand's `--help` names every flag that
/// subcommand takes (the top level may list subcommands and point to theirs).
pub fn help_documents_every_flag_and_exits_zero(bin: &str) {
    let exit = Launch::bare(bin, TempDir::new("help_documents_every_flag"))
        .arg("--help")
        .run();
    assert_eq!(
        exit.status.code(),
        Some(0),
        "--help exit; stderr {:?}",
        exit.stderr
    );
    for sub in ["serve", "http", "socket"] {
        assert!(
            exit.stdout.contains(sub),
            "--help does not mention {sub}:\n{}",
            exit.stdout
        );
    }
    let cases = [
        ("serve", [WEB_APP_FLAGS, &["--socket", "--store"]].concat()),
        ("http", [WEB_APP_FLAGS, &["--forward"]].concat()),
        ("socket", vec!["--socket", "--store", "--transport"]),
    ];
    for (sub, flags) in cases {
        let dir = TempDir::new("help_of_subcommand");
        let exit = Launch::bare(bin, dir).arg(sub).arg("--help").run();
        assert_eq!(
            exit.status.code(),
            Some(0),
            "{sub} --help exit; stderr {:?}",
            exit.stderr
        );
        for flag in flags {
            assert!(
                exit.stdout.contains(flag),
                "{sub} --help does not mention {flag}:\n{}",
                exit.stdout
            );
        }
    }
}

/// An unknown flag, a bad value and an unknown subcommand: one stderr line, non-zero exit.
pub fn wrong_arguments_are_one_line_and_nonzero(bin: &str) {
    let cases: [(&[&str], &str); 4] = [
        (&["serve", "--no-such-flag"], "--no-such-flag"),
        (&["serve", "--max-body", "lots"], "lots"),
        (&["serve", "--idle-timeout", "5 parsecs"], "parsecs"),
        (&["no-such-command"], "no-such-command"),
    ];
    let mut failures = Vec::new();
    for (args, cause) in cases {
        let dir = fixture::sandbox("wrong_arguments_are_one_line_and_nonzero");
        let exit = args
            .iter()
            .fold(Launch::bare(bin, dir), |launch, arg| launch.arg(arg))
            .run();
        if let Err(problem) = one_line_failure(&exit, cause) {
            failures.push(format!("{args:?}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// SIGTERM: exit code 0, and every acknowledged message is in a valid store file.
pub fn sigterm_exits_zero_and_keeps_the_data(bin: &str) {
    signal_exits_zero_and_keeps_the_data(bin, Signal::Term, "sigterm_exits_zero");
}

/// SIGINT (Ctrl-C): exit code 0, and every acknowledged message is in a valid store file.
pub fn sigint_exits_zero_and_keeps_the_data(bin: &str) {
    signal_exits_zero_and_keeps_the_data(bin, Signal::Int, "sigint_exits_zero");
}

/// After a stop and a new start on the same store, the old records are unchanged and new ones
/// are appended after them.
pub fn restart_keeps_the_data_and_appends(bin: &str) {
    let server = Server::serve(bin, "restart_keeps_the_data_and_appends");
    for message in ["before one", "before two"] {
        check::status(
            &post_form(server.web(), &[("username", "r"), ("message", message)]),
            303,
            message,
        );
    }
    let before = store::read(server.store());
    let stopped = server.stop(Signal::Term);
    let server = Launch::serve(bin, stopped.dir).start();
    check::status(
        &post_form(server.web(), &[("username", "r"), ("message", "after")]),
        303,
        "after",
    );
    let after = store::read(server.store());
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(
        after[..2],
        before[..],
        "records written before the restart changed"
    );
    assert_eq!(after[2].message, "after");
}

/// With no subcommand the binary behaves like `serve`: both listeners, posts stored.
pub fn no_subcommand_means_serve(bin: &str) {
    let dir = fixture::sandbox("no_subcommand_means_serve");
    let store_path = dir.join(fixture::STORE_FILE);
    let server = Launch::bare(bin, dir)
        .flag("--http", "127.0.0.1:0")
        .flag("--socket", "127.0.0.1:0")
        .flag("--static", fixture::STATIC_DIR)
        .flag("--store", &store_path)
        .expect_listeners(true, true)
        .start();
    check::status(
        &crate::client::get(server.web(), "/"),
        200,
        "GET / without a subcommand",
    );
    let response = post_form(
        server.web(),
        &[("username", "default"), ("message", "serve")],
    );
    check::status(&response, 303, "POST without a subcommand");
    assert_eq!(store::read(&store_path).len(), 1);
}

/// Flags fall back to `FERRY_<FLAG>` variables, and a flag on the command line wins: the store
/// comes from `FERRY_STORE`, and `--max-body 2K` beats `FERRY_MAX_BODY=1K`.
pub fn flags_fall_back_to_environment_variables(bin: &str) {
    let dir = fixture::sandbox("flags_fall_back_to_environment_variables");
    let env_store = dir.join("from-env.json");
    let server = Launch::serve(bin, dir)
        .without_flag("--store")
        .env("FERRY_STORE", &env_store)
        .env("FERRY_MAX_BODY", "1K")
        .flag("--max-body", "2K")
        .start();
    let middling = "m".repeat(1500);
    let response = post_form(server.web(), &[("username", "env"), ("message", &middling)]);
    check::status(
        &response,
        303,
        "1.5 KB body with --max-body 2K over FERRY_MAX_BODY=1K",
    );
    assert_eq!(
        store::pairs(&store::read(&env_store)),
        [("env".to_string(), middling)]
    );
    let big = "b".repeat(3000);
    let response = post_form(server.web(), &[("username", "env"), ("message", &big)]);
    check::status(&response, 413, "3 KB body with --max-body 2K");
}

/// `curl -d username=... -d message=...` posts a message: 303, and it is stored. Skipped with a
/// notice when curl is not installed.
pub fn curl_posts_a_message(bin: &str) {
    if Command::new("curl").arg("--version").output().is_err() {
        println!("NOTICE: curl is not installed; curl_posts_a_message skipped");
        return;
    }
    let server = Server::serve(bin, "curl_posts_a_message");
    let url = format!("http://{}/message", server.web());
    let output = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .args([
            "-d",
            "username=curl%20user",
            "-d",
            "message=sent+by+curl+%26+friends",
        ])
        .arg(&url)
        .output()
        .expect("run curl");
    let code = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        code,
        "303",
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        store::pairs(&store::read(server.store())),
        [(
            "curl user".to_string(),
            "sent by curl & friends".to_string()
        )]
    );
    let followed = Command::new("curl")
        .args([
            "-sS",
            "-L",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{url_effective}",
        ])
        .args(["-d", "username=curl", "-d", "message=follow"])
        .arg(&url)
        .output()
        .expect("run curl");
    let expected = format!("200 http://{}/sent", server.web());
    assert_eq!(
        String::from_utf8_lossy(&followed.stdout),
        expected,
        "curl -L follows to /sent"
    );
}

fn signal_exits_zero_and_keeps_the_data(bin: &str, signal: Signal, label: &str) {
    let server = Server::serve(bin, label);
    for round in 0..3 {
        let message = format!("kept {round}");
        let response = post_form(server.web(), &[("username", "sig"), ("message", &message)]);
        check::status(&response, 303, &message);
    }
    let store_path = server.store().to_path_buf();
    let stopped = server.stop(signal);
    assert_eq!(
        stopped.status.code(),
        Some(0),
        "{signal:?} exit; stderr {:?}",
        stopped.stderr
    );
    let messages: Vec<String> = store::read(&store_path)
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(messages, ["kept 0", "kept 1", "kept 2"]);
}

/// `Ok` when the process failed as the SPEC wants: a non-zero exit code (not a signal) and
/// exactly one stderr line mentioning `cause`.
fn one_line_failure(exit: &Exit, cause: &str) -> Result<(), String> {
    let lines: Vec<&str> = exit
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    match exit.status.code() {
        Some(code) if code != 0 => {}
        other => return Err(format!("exit code {other:?}, stderr {:?}", exit.stderr)),
    }
    if lines.len() != 1 {
        return Err(format!(
            "expected one stderr line, got {}: {:?}",
            lines.len(),
            exit.stderr
        ));
    }
    if !lines[0].contains(cause) {
        return Err(format!(
            "stderr line does not name {cause:?}: {:?}",
            lines[0]
        ));
    }
    Ok(())
}

fn missing_static(bin: &str) -> Launch {
    let dir = fixture::sandbox("startup_errors_missing_static");
    let missing = dir.join("no-such-folder");
    Launch::serve(bin, dir).flag("--static", missing)
}

/// A store path under a regular file: no folder can be made there, even when running as root.
fn unwritable_store(bin: &str) -> Launch {
    let dir = fixture::sandbox("startup_errors_unwritable_store");
    let store = dir.join(fixture::SECRET_FILE).join("data.json");
    Launch::serve(bin, dir).flag("--store", store)
}

fn port_of(addr: &str) -> String {
    addr.rsplit(':').next().unwrap_or(addr).to_string()
}

/// The flags of the web app, which `serve` and `http` both take (SPEC, "Command line").
const WEB_APP_FLAGS: &[&str] = &[
    "--http",
    "--static",
    "--transport",
    "--max-body",
    "--ack-timeout",
    "--header-timeout",
    "--idle-timeout",
];
