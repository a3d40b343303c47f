//! `chat-client` with several servers (issue 17): it reconnects to the next when one dies,
//! claims its name again there (logging in again with the password it kept), shows a replayed
//! history only where it is new, and does not reconnect when a server closed on purpose.

use std::process::{Command, Stdio};

use serde_json::json;

use super::harness::{message, ChatServer, CLOSE_TIMEOUT};
use super::terminal::Terminal;
use crate::child::{kill_and_reap, wait_until};

/// Two servers; the first is killed (SIGKILL): the client says so, reconnects to the second,
/// joins there under its name, and what it types reaches the people there.
pub fn chat_client_fails_over_when_its_server_is_killed(bin: &str) {
    let first = ChatServer::start(bin, "failover_first", &[]);
    let second = ChatServer::start(bin, "failover_second", &[]);
    let (a, b) = (first.address.to_string(), second.address.to_string());
    let mut bob = second.join("bob");
    let mut terminal = Terminal::start(
        bin,
        first.address,
        &["--server", &a, "--server", &b, "--username", "ann"],
    );
    terminal.expect("* you joined as ann");
    drop(first);
    terminal.expect(&format!("* connection to {a} lost; reconnecting to {b}"));
    terminal.expect(&format!("* connected to {b}"));
    terminal.expect("* you joined as ann");
    bob.expect(&json!({"type": "join", "username": "ann"}));
    terminal.type_line("still here");
    bob.expect(&message("ann", "still here"));
    bob.say("bob", "welcome over");
    terminal.expect("bob\x1b[0m: welcome over");
    terminal.type_line("/quit");
    terminal.expect("* you left the chat");
    assert_eq!(terminal.exit_code(), 0, "{}", terminal.transcript());
}

/// One server with accounts, killed and started again on its port: the client logs in again
/// with the password it kept, and the history the restarted server replays is not shown twice.
pub fn chat_client_logs_in_again_after_a_restart_without_repeating_history(bin: &str) {
    let server = ChatServer::start(bin, "failover_restart", &[]);
    let address = server.address.to_string();
    let mut terminal = Terminal::start(bin, server.address, &["--server", &address]);
    terminal.expect("username: ");
    terminal.type_line("/register Ann");
    terminal.expect("password: ");
    terminal.type_line("a password kept in memory");
    terminal.expect("* you joined as Ann");
    let mut bob = server.join("bob");
    bob.say("bob", "said before the restart");
    terminal.expect("bob\x1b[0m: said before the restart");
    let server = server.restart_on_the_same_port(bin, &[]);
    terminal.expect(&format!("* connection to {address} lost"));
    let shown = terminal.shown_until("* you joined as Ann");
    assert!(shown.contains("* welcome, Ann"), "{shown:?}");
    assert!(
        !shown.contains("said before the restart"),
        "the history was shown again: {shown:?}"
    );
    let mut cid = server.join("cid");
    cid.say("cid", "said after the restart");
    terminal.expect("cid\x1b[0m: said after the restart");
    terminal.type_line("glad to be back");
    cid.expect(&message("Ann", "glad to be back"));
    terminal.type_line("/quit");
    assert_eq!(terminal.exit_code(), 0, "{}", terminal.transcript());
    assert!(!terminal.transcript().contains("said before the restart"));
}

/// A server that disconnects a flooding client says why; the client prints it and exits 1
/// instead of reconnecting to the other server.
pub fn chat_client_does_not_fail_over_a_deliberate_disconnect(bin: &str) {
    let strict = ChatServer::start(bin, "failover_flood", &["--flood-rate", "5"]);
    let other = ChatServer::start(bin, "failover_other", &[]);
    let (a, b) = (strict.address.to_string(), other.address.to_string());
    let mut terminal = Terminal::start(
        bin,
        strict.address,
        &["--server", &a, "--server", &b, "--username", "spam"],
    );
    terminal.expect("* you joined as spam");
    let burst: String = (0..200).map(|n| format!("spam {n}\n")).collect();
    terminal.type_raw(&burst);
    terminal.expect("! disconnected: too many messages too fast");
    terminal.expect("* the server closed the connection");
    assert_eq!(terminal.exit_code(), 1, "{}", terminal.transcript());
    assert!(
        !terminal.transcript().contains("reconnecting"),
        "{}",
        terminal.transcript()
    );
}

/// A `--server` (or `FERRY_SERVER` entry) that is not HOST:PORT is a one-line usage error,
/// exit code 2, before any connection.
pub fn chat_client_refuses_a_malformed_server_address(bin: &str) {
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (&["--server", "localhost"], None, "localhost"),
        (&["--server", "127.0.0.1:0"], None, "127.0.0.1:0"),
        (&["--server", "::1:7072"], None, "::1:7072"),
        (&[], Some("127.0.0.1:7072,bad host:1"), "bad host:1"),
    ];
    for (args, variable, cause) in cases {
        let mut command = Command::new(bin);
        command
            .arg("chat-client")
            .args(args)
            .env_remove("FERRY_SERVER");
        if let Some(value) = variable {
            command.env("FERRY_SERVER", value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chat-client starts");
        let status = wait_until(&mut child, CLOSE_TIMEOUT);
        kill_and_reap(&mut child);
        let output = child.wait_with_output().expect("output read");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = status.and_then(|status| status.code());
        assert_eq!(code, Some(2), "{args:?} {variable:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(cause), "{args:?} {variable:?}: {stderr}");
    }
}
