//! Suite: the chat server and its client (SPEC "Chat server (port 7072) and client").
//!
//! Each test starts `chat --bind 127.0.0.1:0` from the binary under test, reads the address from
//! its listening line, and talks to it over real sockets with read timeouts, so a hang fails
//! instead of blocking. The interactive client is driven through a pseudo-terminal by a small
//! python3 script (its `pty` module), as a person at a terminal would drive it.

mod accounts;
pub mod cluster;
mod crowd;
mod failover;
mod farewell;
pub(crate) mod harness;
mod mongo;
mod redis;
mod terminal;

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::slow::{open_sockets, LIMITED_CLIENTS, LOW_FD_LIMIT, POLL_INTERVAL};
use harness::{message, ChatServer, Peer, CLOSE_TIMEOUT};
use terminal::Terminal;

pub use accounts::{
    a_flooding_client_is_refused_without_slowing_others, a_guest_cannot_take_a_registered_name,
    a_login_storm_does_not_delay_the_room, a_wrong_password_and_an_unknown_name_get_the_same_error,
    accounts_and_history_survive_a_restart_and_a_kill,
    accounts_register_then_login_elsewhere_then_speak,
    concurrent_registrations_of_one_name_have_one_winner, hostile_account_objects_get_error_lines,
    logins_one_after_another_hold_bounded_memory,
};
pub use crowd::ten_thousand_clients_claim_names_in_bounded_time_and_memory;
pub use failover::{
    chat_client_does_not_fail_over_a_deliberate_disconnect,
    chat_client_fails_over_when_its_server_is_killed,
    chat_client_logs_in_again_after_a_restart_without_repeating_history,
    chat_client_refuses_a_malformed_server_address,
};
pub use farewell::{
    a_closing_client_gets_its_error_line_after_its_backlog,
    an_idle_client_gets_its_error_line_after_its_backlog,
    sigterm_goodbye_reaches_a_client_behind_on_reading,
};
pub use mongo::{
    chat_accounts_and_history_live_in_mongodb,
    two_chat_servers_on_one_database_register_a_name_once,
};

/// Three clients: each one's messages reach the other two, never itself.
pub fn three_clients_exchange_messages(bin: &str) {
    let server = ChatServer::start(bin, "three_clients", &[]);
    let mut ann = server.join("ann");
    let mut bob = server.join("bob");
    let mut cid = server.join("cid");
    ann.expect(&json!({"type": "join", "username": "bob"}));
    ann.expect(&json!({"type": "join", "username": "cid"}));
    bob.expect(&json!({"type": "join", "username": "cid"}));
    for (sender, name) in [(&mut ann, "ann"), (&mut bob, "bob"), (&mut cid, "cid")] {
        sender.say(name, &format!("hello from {name}"));
    }
    // Messages from different clients may arrive in either order.
    let from = |name: &str| message(name, &format!("hello from {name}"));
    ann.expect_all(&[from("bob"), from("cid")]);
    bob.expect_all(&[from("ann"), from("cid")]);
    cid.expect_all(&[from("ann"), from("bob")]);
    // A name already held is refused, and the connection stays usable.
    let mut impostor = server.connect();
    impostor.send(&json!({"username": "ann", "message": "I am ann"}));
    impostor.expect_error();
    impostor.send_raw(b"not json\n");
    impostor.expect_error();
    drop(bob);
    ann.expect(&json!({"type": "leave", "username": "bob"}));
    cid.say("cid", "still here");
    ann.expect(&message("cid", "still here"));
}

/// A newcomer is sent the last `--history` messages first, marked as history.
pub fn newcomer_gets_history(bin: &str) {
    let server = ChatServer::start(bin, "newcomer_history", &["--history", "3"]);
    let mut ann = server.join("ann");
    let mut bob = server.join("bob");
    for n in 1..=5 {
        ann.say("ann", &format!("m{n}"));
    }
    // Once bob has the last one, the server has taken all five.
    bob.expect(&message("ann", "m5"));
    let mut newcomer = server.connect();
    for n in 3..=5 {
        newcomer.expect(&json!({"username": "ann", "message": format!("m{n}"), "history": true}));
    }
    newcomer.send(&json!({"username": "cid"}));
    newcomer.expect(&json!({"type": "join", "username": "cid"}));
    ann.say("ann", "live");
    newcomer.expect(&message("ann", "live"));
}

/// A connection that has not claimed a username gets the history and its own error lines, but
/// no live message, join or leave (issue 19.5). Once it joins, what was said meanwhile comes as
/// history, then its join, then live messages.
pub fn a_client_that_has_not_joined_hears_nothing_live(bin: &str) {
    let server = ChatServer::start(bin, "lurker", &[]);
    let mut ann = server.join("ann");
    let mut lurker = server.connect();
    // An answer shows the server has the connection, so what follows is said after it came.
    lurker.send_raw(b"not json\n");
    assert_eq!(lurker.line()["type"], "error");
    let mut bob = server.join("bob");
    ann.expect(&json!({"type": "join", "username": "bob"}));
    ann.say("ann", "while you lurk");
    bob.expect(&message("ann", "while you lurk"));
    drop(bob);
    ann.expect(&json!({"type": "leave", "username": "bob"}));
    // Lines for one client go out in order: anything live would come before this answer.
    lurker.send_raw(b"not json\n");
    let line = lurker.line();
    assert_eq!(line["type"], "error", "an unjoined client got {line}");
    lurker.send(&json!({"username": "cid"}));
    assert_eq!(
        lurker.line(),
        json!({"username": "ann", "message": "while you lurk", "history": true})
    );
    assert_eq!(lurker.line(), json!({"type": "join", "username": "cid"}));
    ann.expect(&json!({"type": "join", "username": "cid"}));
    ann.say("ann", "now you hear me");
    lurker.expect(&message("ann", "now you hear me"));
}

/// A client that never reads, while another sends 20,000 messages, delays nobody: a third
/// client gets every message promptly, and the stuck client is disconnected.
pub fn a_client_that_never_reads_does_not_delay_the_others(bin: &str) {
    const MESSAGES: usize = 20_000;
    const BATCH: usize = 20;
    const SEND_INTERVAL: Duration = Duration::from_millis(2);
    let server = ChatServer::start(bin, "never_reads", &[]);
    let stuck = server.join("stuck");
    let mut sender = server.join("sender");
    let mut third = server.join("third");
    sender.expect(&json!({"type": "join", "username": "third"}));
    // Lines of about 1 KiB, so 20 MiB in all: far more than the stuck client's socket buffers
    // (which grow only while it reads) and its queue in the server can hold.
    let padding = "x".repeat(1000);
    let start = Instant::now();
    let reader = thread::spawn(move || {
        let mut worst = Duration::ZERO;
        let mut got = 0;
        let prefix = "{\"username\":\"sender\",\"message\":\"";
        while got < MESSAGES {
            // Read cheaply, as a real client would: this one must keep up with a flood.
            let line = third.raw_line();
            let Some(text) = line.strip_prefix(prefix) else {
                continue;
            };
            let sent_at: u64 = text.split(' ').next().unwrap_or("").parse().unwrap_or(0);
            let late = start
                .elapsed()
                .saturating_sub(Duration::from_micros(sent_at));
            worst = worst.max(late);
            got += 1;
        }
        worst
    });
    let mut batch = Vec::new();
    for n in 0..MESSAGES {
        let text = format!("{} {n} {padding}", start.elapsed().as_micros());
        batch.extend_from_slice(
            json!({"username": "sender", "message": text})
                .to_string()
                .as_bytes(),
        );
        batch.push(b'\n');
        if n % BATCH == BATCH - 1 {
            sender.send_raw(&batch);
            batch.clear();
            // Paced at 10,000 messages a second: a flood any reading client keeps up with
            // even on a busy machine, which only the client that never reads cannot.
            let due = SEND_INTERVAL * u32::try_from(n / BATCH + 1).unwrap_or(u32::MAX);
            if let Some(early) = due.checked_sub(start.elapsed()) {
                thread::sleep(early);
            }
        }
    }
    let worst = reader.join().expect("the third client's reader failed");
    let total = start.elapsed();
    assert!(
        total < Duration::from_secs(30),
        "20,000 messages took {total:?}"
    );
    assert!(
        worst < MAX_DELAY,
        "a message reached the third client {worst:?} late"
    );
    // The stuck client was disconnected: once it reads, its stream ends.
    stuck.expect_closed();
}

/// 500 clients each send one message; each receives all 499 others.
pub fn five_hundred_clients_each_receive_all_others(bin: &str) {
    const CLIENTS: usize = 500;
    let server = ChatServer::start(bin, "five_hundred", &[]);
    let start = Instant::now();
    let mut clients: Vec<Peer> = (0..CLIENTS).map(|_| server.connect()).collect();
    for (n, client) in clients.iter_mut().enumerate() {
        client.send(&json!({"username": format!("user{n}")}));
    }
    // Once every client has its own join confirmed, every client hears the room.
    for (n, client) in clients.iter_mut().enumerate() {
        client.expect(&json!({"type": "join", "username": format!("user{n}")}));
    }
    for (n, client) in clients.iter_mut().enumerate() {
        client.say(&format!("user{n}"), &format!("message {n}"));
    }
    for (n, client) in clients.iter_mut().enumerate() {
        let mut from = HashSet::new();
        while from.len() < CLIENTS - 1 {
            let line = client.line();
            if let Some(text) = line["message"].as_str() {
                assert_eq!(line["username"], format!("user{}", &text[8..]), "{line}");
                assert!(from.insert(text.to_string()), "twice: {line}");
            }
        }
        assert!(
            !from.contains(&format!("message {n}")),
            "echoed to its sender"
        );
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "500 clients took {took:?}");
}

/// More clients than the connection limit (set by a low fd limit): the ones within it stay in
/// the room; each one beyond it gets one error line saying the server is full and is closed at
/// once, rather than left in the listen backlog where it would wait for others to leave
/// (issue 19.4). Once the room empties, newcomers get in again.
pub fn chat_clients_beyond_the_limit_get_an_error_line(bin: &str) {
    let server = ChatServer::start_with_fd_limit(
        bin,
        "chat_beyond_the_limit",
        &["--history", "1"],
        LOW_FD_LIMIT,
    );
    // One message in the history greets every newcomer let in, so being let in shows at once,
    // before the newcomer sends anything; once bob has it, the history holds it.
    let mut ann = server.join("ann");
    let mut bob = server.join("bob");
    ann.say("ann", "hello");
    bob.expect(&message("ann", "hello"));
    let greeting = json!({"username": "ann", "message": "hello", "history": true});
    let mut held = vec![ann, bob];
    let mut refused = 0;
    for index in 0..LIMITED_CLIENTS {
        let mut peer = server.connect();
        let Some(line) = peer.line_within(PROMPT) else {
            panic!(
                "client {index} ({} in the room) got no line within {PROMPT:?}; a client \
                 beyond the limit must be refused at once, not left in the listen backlog",
                held.len()
            );
        };
        if refused == 0 && line == greeting {
            held.push(peer);
            continue;
        }
        assert_eq!(line["type"], "error", "client {index}: {line}");
        let reason = line["error"].as_str().unwrap_or("");
        assert!(reason.contains("full"), "client {index}: {line}");
        peer.expect_closed();
        refused += 1;
    }
    assert!(
        held.len() > 2 && refused > 0,
        "{} of {LIMITED_CLIENTS} let in, {refused} refused; the limit should refuse some",
        held.len() - 2
    );
    drop(held);
    // The server sees the room empty on its own time: until then a newcomer may still be
    // refused, never anything else.
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    loop {
        let mut peer = server.connect();
        let line = peer.line_within(PROMPT);
        if line.as_ref() == Some(&greeting) {
            break;
        }
        let is_refusal = line.as_ref().is_some_and(|line| line["type"] == "error");
        assert!(is_refusal, "a newcomer after the room emptied: {line:?}");
        assert!(
            Instant::now() < deadline,
            "newcomers still refused {CLOSE_TIMEOUT:?} after the room emptied"
        );
        thread::sleep(POLL_INTERVAL);
    }
}

/// Clients that vanish with a reset (closed while lines they never read were waiting) leave
/// nothing behind: the server's sockets fall back to what it held before they came.
pub fn chat_clients_that_reset_leave_nothing_behind(bin: &str) {
    const CLIENTS: usize = 30;
    let server = ChatServer::start(bin, "chat_resets", &[]);
    let mut keeper = server.join("keeper");
    let baseline = open_sockets(server.pid());
    let clients: Vec<Peer> = (0..CLIENTS)
        .map(|n| server.join(&format!("user{n}")))
        .collect();
    // Closing a socket with bytes it never read sends a reset instead of an orderly close: give
    // every client a line, and see it arrive, before dropping them all.
    keeper.say("keeper", "unread by all");
    for client in &clients {
        assert!(client.has_unread_bytes(), "the last line never arrived");
    }
    drop(clients);
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    loop {
        let open = open_sockets(server.pid());
        if open <= baseline {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} sockets still open {CLOSE_TIMEOUT:?} after the clients reset (before: {baseline})"
        );
        thread::sleep(POLL_INTERVAL);
    }
    let mut late = server.join("late");
    keeper.expect(&json!({"type": "join", "username": "late"}));
    late.say("late", "hi");
    keeper.expect(&message("late", "hi"));
}

/// The terminal client registers an account: the password is typed without echo, and the
/// account's name joins the room (issue 14).
pub fn terminal_client_registers_without_echoing_the_password(bin: &str) {
    let server = ChatServer::start(bin, "pty_register", &[]);
    let mut bob = server.join("bob");
    let mut terminal = Terminal::start(bin, server.address, &[]);
    terminal.expect("username: ");
    terminal.type_line("/register Ann");
    terminal.expect("password: ");
    terminal.type_line("hunter2-but-longer");
    let shown = terminal.shown_until("* you joined as Ann");
    assert!(shown.contains("* welcome, Ann"), "{shown:?}");
    assert!(
        !shown.contains("hunter2"),
        "the password was echoed: {shown:?}"
    );
    bob.expect(&json!({"type": "join", "username": "Ann"}));
    terminal.type_line("/quit");
    terminal.expect("* you left the chat");
}

/// A message that arrives while a line is half typed is printed above it, and the line is
/// drawn again below, intact; finishing it sends all of it (issue 14).
pub fn terminal_client_keeps_the_line_being_typed(bin: &str) {
    let server = ChatServer::start(bin, "pty_typing", &[]);
    let mut bob = server.join("bob");
    let mut terminal = Terminal::start(bin, server.address, &["--username", "ann"]);
    terminal.expect("* you joined as ann");
    bob.expect(&json!({"type": "join", "username": "ann"}));
    terminal.type_raw("half a li");
    terminal.expect("half a li");
    bob.say("bob", "interrupting");
    terminal.expect("bob\x1b[0m: interrupting");
    terminal.expect("\x1b[Khalf a li");
    terminal.type_line("ne");
    bob.expect(&message("ann", "half a line"));
}

/// The terminal client, in a pseudo-terminal: it asks for a name, shows what others say as
/// `[HH:MM] username: message`, sends typed lines, leaves on Ctrl-D and on Ctrl-C with exit code 0, and
/// says so (exit code 1) when the server goes away and does not come back.
pub fn interactive_client_in_a_pseudo_terminal(bin: &str) {
    let server = ChatServer::start(bin, "pty_client", &[]);
    let mut bob = server.join("bob");
    bob.say("bob", "said before ann came");
    for (key, label) in [("\u{4}", "ctrl-d"), ("\u{3}", "ctrl-c")] {
        let mut terminal = Terminal::start(bin, server.address, &[]);
        // The history comes first, each name in its colour on a terminal, then the prompt
        // below it.
        terminal.expect("(earlier) [");
        terminal.expect("bob\x1b[0m: said before ann came");
        terminal.expect("username: ");
        terminal.type_line("ann");
        terminal.expect("* you joined as ann");
        bob.expect(&json!({"type": "join", "username": "ann"}));
        let greeting = format!("hi ann ({label})");
        bob.say("bob", &greeting);
        terminal.expect(&format!("bob\x1b[0m: {greeting}"));
        let answer = format!("hello bob ({label})");
        terminal.type_line(&answer);
        bob.expect(&message("ann", &answer));
        terminal.type_raw(key);
        terminal.expect("* you left the chat");
        assert_eq!(
            terminal.exit_code(),
            0,
            "{label}: {}",
            terminal.transcript()
        );
        bob.expect(&json!({"type": "leave", "username": "ann"}));
    }
    let mut terminal = Terminal::start(bin, server.address, &["--username", "cid"]);
    terminal.expect("* you joined as cid");
    // A server that dies without a word is tried again (issue 17): a few times over about
    // ten seconds, then the client gives up with one line and exit code 1.
    drop(server);
    terminal.expect("lost; reconnecting to");
    for _ in 1..MAX_ROUNDS {
        terminal.expect("* cannot reach");
    }
    terminal.expect("giving up");
    assert_eq!(terminal.exit_code(), 1, "{}", terminal.transcript());
}

/// Lines piped into `chat-client` (`printf 'hello\n' | ferry chat-client`), as a script sends
/// them: every line reaches the room before the client leaves, exit code 0; and with a name
/// that is taken, the client says it left without joining and exits 1.
pub fn piped_lines_reach_the_room_before_the_client_leaves(bin: &str) {
    let server = ChatServer::start(bin, "piped_client", &[]);
    let mut watcher = server.join("watcher");
    let (code, output) = piped_client(bin, &server, "piper", "hello\nsecond\n");
    assert_eq!(code, Some(0), "{output}");
    watcher.expect(&json!({"type": "join", "username": "piper"}));
    watcher.expect(&message("piper", "hello"));
    watcher.expect(&message("piper", "second"));
    watcher.expect(&json!({"type": "leave", "username": "piper"}));

    let (code, output) = piped_client(bin, &server, "watcher", "lost\n");
    assert_eq!(code, Some(1), "{output}");
    // The refusal may come before the client read its line or after (then it counts it).
    assert!(
        output.contains("you left the chat without joining"),
        "{output}"
    );
}

/// Runs `chat-client --username NAME` with `input` on its standard input, to its exit; returns
/// the exit code and what it printed.
fn piped_client(bin: &str, server: &ChatServer, name: &str, input: &str) -> (Option<i32>, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .args(["chat-client", "--username", name])
        .arg(server.address.ip().to_string())
        .arg(server.address.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chat-client starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(input.as_bytes()).expect("input written");
    drop(stdin);
    let status = crate::child::wait_until(&mut child, CLOSE_TIMEOUT);
    crate::child::kill_and_reap(&mut child);
    let output = child.wait_with_output().expect("output read");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (status.and_then(|status| status.code()), text)
}

/// How many times the client tries its one server after losing it (the core's policy).
const MAX_ROUNDS: usize = 8;
/// The most a message to the third client may lag its sending, while another client is stuck.
const MAX_DELAY: Duration = Duration::from_secs(2);
/// How long a refusal may take: it is written as the connection is accepted, so this is only
/// slack for a loaded machine.
const PROMPT: Duration = Duration::from_secs(2);
