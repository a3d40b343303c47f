use super::*;

fn drain(client: &mut ChatClient) -> (String, Vec<ClientEvent>) {
    let mut out = Vec::new();
    client.poll_transmit(&mut out);
    let events = std::iter::from_fn(|| client.poll_event()).collect();
    (String::from_utf8(out).unwrap(), events)
}

fn print(text: &str) -> ClientEvent {
    ClientEvent::Print(text.to_string())
}

fn prompt() -> ClientEvent {
    ClientEvent::Prompt("username: ".to_string())
}

#[test]
fn asks_for_a_name_then_joins_then_sends_typed_lines() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, None);
    // No history comes: the prompt waits for it no longer than the history wait.
    assert_eq!(drain(&mut client), (String::new(), vec![]));
    assert_eq!(client.poll_timeout(), Some(now + HISTORY_WAIT));
    client.handle_timeout(now + HISTORY_WAIT);
    assert_eq!(drain(&mut client), (String::new(), vec![prompt()]));
    client.handle_line(now, " \n");
    assert_eq!(
        drain(&mut client),
        (
            String::new(),
            vec![print("! the username is empty"), prompt()]
        )
    );
    client.handle_line(now, "ann\n");
    assert_eq!(drain(&mut client).0, "{\"username\":\"ann\"}\n");
    client.handle_line(now, "typed early\n");
    assert_eq!(drain(&mut client), (String::new(), vec![]));
    client.receive(b"{\"type\":\"join\",\"username\":\"ann\"}\n");
    assert_eq!(
        drain(&mut client),
        (
            "{\"username\":\"ann\",\"message\":\"typed early\"}\n".to_string(),
            vec![print("* you joined as ann")]
        )
    );
    client.handle_line(now, "hello \"world\"\r\n");
    client.handle_line(now, "\n");
    assert_eq!(
        drain(&mut client).0,
        "{\"username\":\"ann\",\"message\":\"hello \\\"world\\\"\"}\n"
    );
}

#[test]
fn a_refused_name_asks_again() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("ann"));
    assert_eq!(
        drain(&mut client),
        ("{\"username\":\"ann\"}\n".to_string(), vec![])
    );
    client.receive(b"{\"type\":\"error\",\"error\":\"that username is taken\"}\n");
    assert_eq!(
        drain(&mut client).1,
        [print("! that username is taken"), prompt()]
    );
    client.handle_line(now, "ann2");
    assert_eq!(drain(&mut client).0, "{\"username\":\"ann2\"}\n");
}

#[test]
fn server_lines_print_distinguishably() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    client.receive(b"{\"type\":\"join\",\"username\":\"me\"}\n");
    drain(&mut client);
    let cases: &[(&str, &str)] = &[
        ("{\"username\":\"ann\",\"message\":\"hi\"}", "ann: hi"),
        (
            "{\"username\":\"ann\",\"message\":\"old\",\"history\":true}",
            "(earlier) ann: old",
        ),
        ("{\"type\":\"join\",\"username\":\"bob\"}", "* bob joined"),
        ("{\"type\":\"leave\",\"username\":\"bob\"}", "* bob left"),
        ("{\"type\":\"error\",\"error\":\"no\"}", "! no"),
        ("{\"error\":\"bare\"}", "! bare"),
        (
            "{\"username\":\"x\",\"message\":\"a\\nb\\u001b[2J\"}",
            "x: a\\nb\\u{1b}[2J",
        ),
        (
            "{\"type\":\"wave\"}",
            "! the server sent a line this client cannot read",
        ),
        (
            "nonsense",
            "! expected one JSON object per line, like {\"username\": \"ann\", \"message\": \"hi\"}",
        ),
    ];
    for (line, expected) in cases {
        client.receive(format!("{line}\n").as_bytes());
        assert_eq!(drain(&mut client).1, [print(expected)], "{line}");
    }
}

#[test]
fn end_of_input_leaves_and_server_close_is_said() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    client.receive(JOINED_ME);
    drain(&mut client);
    client.handle_end_of_input(now);
    assert_eq!(
        drain(&mut client).1,
        [
            print("* you left the chat"),
            ClientEvent::Ended(ClientEnd::Left)
        ]
    );
    assert!(client.is_ended());
    client.receive_eof(now);
    assert_eq!(drain(&mut client).1, []);

    // The server says why it closes: no reconnect (a lost connection without a word is
    // reconnected, see reconnect.rs).
    let mut client = ChatClient::new(now, Some("me"));
    client.receive(JOINED_ME);
    drain(&mut client);
    client
        .receive(b"{\"type\":\"error\",\"error\":\"disconnected: too many messages too fast\"}\n");
    client.receive_eof(now);
    assert_eq!(
        drain(&mut client).1,
        [
            print("! disconnected: too many messages too fast"),
            print("* the server closed the connection"),
            ClientEvent::Ended(ClientEnd::ServerClosed)
        ]
    );
    assert_eq!(ClientEnd::ServerClosed.exit_code(), 1);
    assert_eq!(ClientEnd::Left.exit_code(), 0);
}

#[test]
fn a_quiet_client_sends_an_empty_line_to_stay_connected() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    drain(&mut client);
    let deadline = client.poll_timeout().unwrap();
    assert_eq!(deadline, now + KEEPALIVE_INTERVAL);
    client.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(drain(&mut client).0, "");
    client.handle_timeout(deadline);
    assert_eq!(drain(&mut client).0, "\n");
    assert_eq!(client.poll_timeout(), Some(deadline + KEEPALIVE_INTERVAL));
}

#[test]
fn a_line_too_long_for_the_server_is_not_sent() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    client.receive(b"{\"type\":\"join\",\"username\":\"me\"}\n");
    drain(&mut client);
    client.handle_line(now, &"x".repeat(MAX_LINE));
    assert_eq!(
        drain(&mut client),
        (
            String::new(),
            vec![print("! not sent: the line is longer than 16 KiB")]
        )
    );
}

const JOINED_ME: &[u8] = b"{\"type\":\"join\",\"username\":\"me\"}\n";

#[test]
fn piped_lines_are_sent_before_leaving() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    drain(&mut client);
    client.handle_line(now, "hello\n");
    client.handle_end_of_input(now);
    assert_eq!(drain(&mut client), (String::new(), vec![]));
    assert!(!client.is_ended());
    client.receive(JOINED_ME);
    assert_eq!(
        drain(&mut client),
        (
            "{\"username\":\"me\",\"message\":\"hello\"}\n".to_string(),
            vec![
                print("* you joined as me"),
                print("* you left the chat"),
                ClientEvent::Ended(ClientEnd::Left)
            ]
        )
    );
}

#[test]
fn a_name_refused_after_input_ended_leaves_saying_what_was_not_sent() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    drain(&mut client);
    client.handle_line(now, "one\n");
    client.handle_line(now, "two\n");
    client.handle_end_of_input(now);
    client.receive(b"{\"type\":\"error\",\"error\":\"that username is taken\"}\n");
    assert_eq!(
        drain(&mut client),
        (
            String::new(),
            vec![
                print("! that username is taken"),
                print("* you left the chat without joining; 2 lines were not sent"),
                ClientEvent::Ended(ClientEnd::NotJoined)
            ]
        )
    );
    assert_eq!(ClientEnd::NotJoined.exit_code(), 1);
}

#[test]
fn a_name_never_confirmed_after_input_ended_gives_up_at_the_join_wait() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    drain(&mut client);
    client.handle_line(now, "hello\n");
    let ended = now + Duration::from_secs(1);
    client.handle_end_of_input(ended);
    assert_eq!(client.poll_timeout(), Some(ended + JOIN_WAIT));
    client.handle_timeout(ended + JOIN_WAIT - Duration::from_millis(1));
    assert!(!client.is_ended());
    client.handle_timeout(ended + JOIN_WAIT);
    assert_eq!(
        drain(&mut client).1,
        [
            print("! the server did not confirm the name"),
            print("* you left the chat without joining; 1 line was not sent"),
            ClientEvent::Ended(ClientEnd::NotJoined)
        ]
    );
}

#[test]
fn an_interrupt_while_joining_leaves_at_once() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    drain(&mut client);
    client.handle_line(now, "hello\n");
    client.handle_interrupt();
    assert_eq!(
        drain(&mut client),
        (
            String::new(),
            vec![
                print("* you left the chat"),
                ClientEvent::Ended(ClientEnd::Left)
            ]
        )
    );
}

#[test]
fn lines_waiting_for_the_name_are_bounded_in_bytes() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("me"));
    drain(&mut client);
    let line = "x".repeat(1000);
    for _ in 0..MAX_PENDING_BYTES / line.len() {
        client.handle_line(now, &line);
    }
    assert_eq!(drain(&mut client).1, []);
    client.handle_line(now, &line);
    assert_eq!(
        drain(&mut client).1,
        [print("! still joining; that line was not sent")]
    );
    client.receive(JOINED_ME);
    let (sent, _) = drain(&mut client);
    assert_eq!(sent.lines().count(), MAX_PENDING_BYTES / line.len());
}

#[test]
fn batches_of_joins_and_leaves_print_as_one_line_without_our_own_name() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, Some("ann"));
    client.receive(b"{\"type\":\"join\",\"username\":\"ann\"}\n");
    drain(&mut client);
    let cases: &[(&str, Option<&str>)] = &[
        (
            r#"{"type":"joins","usernames":["bob"]}"#,
            Some("* bob joined"),
        ),
        (r#"{"type":"joins","usernames":["ann"]}"#, None),
        (
            r#"{"type":"joins","usernames":["ann","bob","cid"]}"#,
            Some("* bob and cid joined"),
        ),
        (
            r#"{"type":"leaves","usernames":["a","b","c","d","e","f"]}"#,
            Some("* a, b, c, d, e and f left"),
        ),
        (
            r#"{"type":"joins","usernames":["a","b","c","d","e","f","g","h"]}"#,
            Some("* a, b, c, d, e and 3 others joined"),
        ),
        (
            r#"{"type":"joins","usernames":["a","b"],"others":1}"#,
            Some("* a, b and 1 other joined"),
        ),
        (
            r#"{"type":"joins","usernames":["ann"],"others":40}"#,
            Some("* 40 others joined"),
        ),
        (
            r#"{"type":"leaves","usernames":["a","b","c","d","e","f","g"],"others":10}"#,
            Some("* a, b, c, d, e and 12 others left"),
        ),
        (
            r#"{"type":"leaves","usernames":["x\u001b[2J"]}"#,
            Some("* x\\u{1b}[2J left"),
        ),
    ];
    for (line, expected) in cases {
        client.receive(format!("{line}\n").as_bytes());
        let printed: Vec<ClientEvent> = expected.iter().map(|text| print(text)).collect();
        assert_eq!(drain(&mut client), (String::new(), printed), "{line}");
    }
}

#[test]
fn a_scripted_client_ends_when_its_name_is_refused() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::scripted(now, Some("me"));
    drain(&mut client);
    client.receive(b"{\"type\":\"error\",\"error\":\"that username is taken\"}\n");
    client.handle_line(now, "a message, not a name\n");
    assert_eq!(
        drain(&mut client),
        (
            String::new(),
            vec![
                print("! that username is taken"),
                print("* you left the chat without joining"),
                ClientEvent::Ended(ClientEnd::NotJoined)
            ]
        )
    );

    let mut client = ChatClient::scripted(now, None);
    drain(&mut client);
    client.handle_line(now, "\n");
    assert_eq!(
        drain(&mut client).1,
        [
            print("! the username is empty"),
            print("* you left the chat without joining"),
            ClientEvent::Ended(ClientEnd::NotJoined)
        ]
    );
}

#[test]
fn the_name_prompt_comes_after_the_history() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, None);
    client.receive(
        b"{\"username\":\"bob\",\"message\":\"old\",\"history\":true,\
          \"time\":\"2026-12-05T17:20:59Z\"}\n",
    );
    assert_eq!(
        drain(&mut client).1,
        [print("(earlier) [17:20] bob: old"), prompt()]
    );
    client.handle_timeout(now + HISTORY_WAIT);
    assert_eq!(drain(&mut client).1, []);
}

#[test]
fn messages_show_the_time_and_names_a_colour_only_when_asked() {
    let now = crate::testing::epoch();
    let line = b"{\"username\":\"ann\",\"message\":\"hi\",\"time\":\"2026-12-05T09:05:00Z\"}\n";
    let mut plain = ChatClient::new(now, Some("me"));
    plain.receive(line);
    assert_eq!(drain(&mut plain).1, [print("[09:05] ann: hi")]);
    let mut coloured = ChatClient::new(now, Some("me")).with_colour(true);
    coloured.receive(line);
    let shown = drain(&mut coloured).1;
    let [ClientEvent::Print(text)] = &shown[..] else {
        panic!("{shown:?}");
    };
    assert!(
        text.starts_with("[09:05] \x1b[3") && text.ends_with("ann\x1b[0m: hi"),
        "{text:?}"
    );
    // A name cannot bring its own escapes: they are shown, not obeyed.
    coloured.receive(b"{\"username\":\"\\u001b[2J\",\"message\":\"x\"}\n");
    let shown = drain(&mut coloured).1;
    assert!(
        matches!(&shown[..], [ClientEvent::Print(t)] if t.contains("\\u{1b}[2J")),
        "{shown:?}"
    );
}

#[test]
fn login_asks_for_the_password_then_waits_for_the_welcome_and_join() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, None);
    client.handle_line(now, "/login Ann\n");
    assert_eq!(
        drain(&mut client),
        (
            String::new(),
            vec![ClientEvent::AskPassword("password: ".into())]
        )
    );
    client.handle_line(now, "correct horse\n");
    assert_eq!(
        drain(&mut client).0,
        "{\"type\":\"login\",\"username\":\"Ann\",\"password\":\"correct horse\"}\n"
    );
    client.receive(b"{\"type\":\"welcome\",\"username\":\"ann\"}\n");
    client.receive(b"{\"type\":\"join\",\"username\":\"ann\"}\n");
    assert_eq!(
        drain(&mut client).1,
        [print("* welcome, ann"), print("* you joined as ann")]
    );
    client.handle_line(now, "/password\n");
    client.handle_line(now, "correct horse\n");
    client.handle_line(now, "battery staple\n");
    let (sent, events) = drain(&mut client);
    assert_eq!(
        sent,
        "{\"type\":\"password\",\"old\":\"correct horse\",\"new\":\"battery staple\"}\n"
    );
    assert_eq!(
        events,
        [
            ClientEvent::AskPassword("current password: ".into()),
            ClientEvent::AskPassword("new password: ".into())
        ]
    );
    client.receive(b"{\"type\":\"welcome\",\"username\":\"ann\"}\n");
    assert_eq!(drain(&mut client).1, [print("* your password was changed")]);
}

#[test]
fn a_failed_login_asks_again_and_commands_are_never_sent() {
    let now = crate::testing::epoch();
    let mut client = ChatClient::new(now, None);
    client.handle_line(now, "/register ann\n");
    client.handle_line(now, "correct horse\n");
    drain(&mut client);
    client.receive(b"{\"type\":\"error\",\"error\":\"that username is registered already\"}\n");
    assert_eq!(
        drain(&mut client).1,
        [print("! that username is registered already"), prompt()]
    );
    client.handle_line(now, "/help\n");
    client.handle_line(now, "/dance\n");
    client.handle_line(now, "/login\n");
    let (sent, events) = drain(&mut client);
    assert_eq!(sent, "");
    assert!(events.contains(&print("! unknown command /dance; /help lists them")));
    assert!(events.contains(&print("! /login needs a name: /login NAME")));
    client.handle_line(now, "/quit\n");
    assert!(client.is_ended());
}
