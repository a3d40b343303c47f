//! Tests of the chat subcommands' command lines: `chat` and `chat-client`.

use std::time::Duration;

use ferry_core::chat::{AccountsMode, ChatConfig, ChatError};
use ferry_storage::StoreLocation;

use super::{line, run};
use crate::{ChatClientOptions, ChatOptions, CliErrorKind, Command, ValueError, ValueSource};

/// `ferry chat` with its defaults, then `change`.
fn chat(change: impl FnOnce(&mut ChatOptions)) -> Result<Command, crate::CliError> {
    let Ok(Command::Chat(mut options)) = line("chat") else {
        panic!("chat did not parse");
    };
    change(&mut options);
    Ok(Command::Chat(options))
}

/// `ferry chat-client` with its defaults, then `change`.
fn client(change: impl FnOnce(&mut ChatClientOptions)) -> Result<Command, crate::CliError> {
    let Ok(Command::ChatClient(mut options)) = line("chat-client") else {
        panic!("chat-client did not parse");
    };
    change(&mut options);
    Ok(Command::ChatClient(options))
}

#[test]
fn chat_defaults_to_port_7072_history_20_and_ten_idle_minutes() {
    let Ok(Command::Chat(defaults)) = line("chat") else {
        panic!("chat did not parse");
    };
    assert_eq!(defaults.bind, "0.0.0.0:7072");
    assert_eq!(defaults.history, 20);
    assert_eq!(defaults.idle_timeout, Duration::from_secs(600));
    assert_eq!(defaults.announce_limit, 500);
    assert_eq!(defaults.chat_config(), ChatConfig::default());
    let Ok(Command::ChatClient(defaults)) = line("chat-client") else {
        panic!("chat-client did not parse");
    };
    assert_eq!(
        (defaults.host.as_str(), defaults.port, defaults.username),
        ("127.0.0.1", 7072, None)
    );
}

#[test]
fn the_room_takes_the_flags_and_keeps_the_cores_other_limits() {
    let Ok(Command::Chat(options)) = line("chat --history 3 --idle-timeout 1m --announce-limit 20")
    else {
        panic!("chat did not parse");
    };
    let config = options.chat_config();
    assert_eq!(
        (config.history, config.idle_timeout, config.announce_limit),
        (3, Duration::from_secs(60), 20)
    );
    assert_eq!(config.max_queue, ChatConfig::default().max_queue);
}

#[test]
fn chat_flags_are_read_from_the_command_line_and_the_environment() {
    let expected = chat(|o| {
        o.bind = "127.0.0.1:0".into();
        o.history = 5;
        o.idle_timeout = Duration::from_secs(30);
        o.announce_limit = 0;
    });
    assert_eq!(
        line("chat --bind 127.0.0.1:0 --history 5 --idle-timeout 30s --announce-limit 0"),
        expected
    );
    assert_eq!(
        line("chat --bind=127.0.0.1:0 --history=5 --idle-timeout=30s --announce-limit=0"),
        expected
    );
    let env = [
        ("FERRY_BIND", "127.0.0.1:0"),
        ("FERRY_HISTORY", "5"),
        ("FERRY_IDLE_TIMEOUT", "30s"),
        ("FERRY_ANNOUNCE_LIMIT", "0"),
    ];
    assert_eq!(run(&["chat"], &env), expected);
    assert_eq!(
        run(&["chat", "--history", "7"], &[("FERRY_HISTORY", "5")]),
        chat(|o| o.history = 7)
    );
}

#[test]
fn chat_client_takes_host_and_port_and_a_username() {
    let cases: &[(&str, Result<Command, crate::CliError>)] = &[
        (
            "chat-client example.org",
            client(|o| o.host = "example.org".into()),
        ),
        (
            "chat-client 10.0.0.2 7000",
            client(|o| {
                o.host = "10.0.0.2".into();
                o.port = 7000;
            }),
        ),
        (
            "chat-client --username ann ::1 7000",
            client(|o| {
                o.host = "::1".into();
                o.port = 7000;
                o.username = Some("ann".into());
            }),
        ),
        (
            "chat-client [::1] --username=ann",
            client(|o| {
                o.host = "::1".into();
                o.username = Some("ann".into());
            }),
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(&line(args), expected, "{args}");
    }
    assert_eq!(
        run(&["chat-client"], &[("FERRY_USERNAME", "bob")]),
        client(|o| o.username = Some("bob".into()))
    );
}

#[test]
fn chat_client_takes_several_servers_from_flags_or_the_environment() {
    let servers = |result: Result<Command, crate::CliError>| match result {
        Ok(Command::ChatClient(options)) => options
            .servers()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        other => panic!("chat-client did not parse: {other:?}"),
    };
    assert_eq!(servers(line("chat-client")), ["127.0.0.1:7072"]);
    assert_eq!(servers(line("chat-client ::1 7000")), ["[::1]:7000"]);
    assert_eq!(
        servers(line(
            "chat-client --server a.lan:7072 --server=[::1]:7000 --server 10.0.0.2:1"
        )),
        ["a.lan:7072", "[::1]:7000", "10.0.0.2:1"]
    );
    assert_eq!(
        servers(run(
            &["chat-client"],
            &[("FERRY_SERVER", "a.lan:7072, b.lan:7073")]
        )),
        ["a.lan:7072", "b.lan:7073"]
    );
    assert_eq!(
        servers(run(
            &["chat-client", "--server", "c.lan:1"],
            &[("FERRY_SERVER", "a.lan:7072")]
        )),
        ["c.lan:1"]
    );
    // Both ways of naming a server at once: which one was meant is not guessed.
    let both = run(
        &["chat-client", "a.lan", "7000", "--server", "b.lan:1"],
        &[],
    );
    let Err(error) = both else {
        panic!("HOST PORT beside --server was taken: {both:?}");
    };
    assert!(
        error
            .to_string()
            .contains("cannot be used with '--server <HOST:PORT>'"),
        "{error}"
    );
    for (value, reason) in [
        ("a.lan", ValueError::AddressWithoutPort),
        ("a.lan:0", ValueError::Port),
        ("a.lan:http", ValueError::Port),
        ("::1:7072", ValueError::AddressIpv6WithoutBrackets),
        ("bad host:1", ValueError::Host),
        (":1", ValueError::Host),
    ] {
        let error = run(&["chat-client", "--server", value], &[]);
        let Err(error) = error else {
            panic!("{value} was taken: {error:?}");
        };
        assert_eq!(
            error.kind(),
            &CliErrorKind::InvalidValue {
                flag: "server".into(),
                value: value.into(),
                source: ValueSource::CommandLine,
                reason,
            },
            "{value}"
        );
    }
}

#[test]
fn chat_errors_name_the_problem_in_one_line() {
    let cases: &[(&[&str], CliErrorKind, &str)] = &[
        (
            &["chat-client", "a", "1", "extra"],
            CliErrorKind::UnexpectedArgument {
                argument: "extra".into(),
            },
            "ferry: unexpected argument 'extra' for 'chat-client' (it takes HOST PORT and flags \
             only); see 'ferry chat-client --help'",
        ),
        (
            &["chat-client", "localhost", "0"],
            CliErrorKind::InvalidArgument {
                name: "PORT".into(),
                value: "0".into(),
                reason: ValueError::Port,
            },
            "ferry: invalid value '0' for PORT: the port must be a number from 1 to 65535; see \
             'ferry chat-client --help'",
        ),
        (
            &["chat-client", "no such host"],
            CliErrorKind::InvalidArgument {
                name: "HOST".into(),
                value: "no such host".into(),
                reason: ValueError::Host,
            },
            "ferry: invalid value 'no such host' for HOST: expected a host name or an IP \
             address; see 'ferry chat-client --help'",
        ),
        (
            &["chat-client", "--username", " ann"],
            CliErrorKind::InvalidValue {
                flag: "username".into(),
                value: " ann".into(),
                source: ValueSource::CommandLine,
                reason: ValueError::Username(ChatError::UsernameEdgeWhitespace),
            },
            "ferry: invalid value ' ann' for --username: the username starts or ends with a \
             space; see 'ferry chat-client --help'",
        ),
        (
            &["chat", "--history", "many"],
            CliErrorKind::InvalidValue {
                flag: "history".into(),
                value: "many".into(),
                source: ValueSource::CommandLine,
                reason: ValueError::History,
            },
            "ferry: invalid value 'many' for --history: expected a whole number from 0 to 1000; \
             see 'ferry chat --help'",
        ),
        (
            &["chat", "--announce-limit", "-1"],
            CliErrorKind::InvalidValue {
                flag: "announce-limit".into(),
                value: "-1".into(),
                source: ValueSource::CommandLine,
                reason: ValueError::Count,
            },
            "ferry: invalid value '-1' for --announce-limit: expected a whole number, like 500; \
             see 'ferry chat --help'",
        ),
        (
            &["chat", "extra"],
            CliErrorKind::UnexpectedArgument {
                argument: "extra".into(),
            },
            "ferry: unexpected argument 'extra' for 'chat' (it takes flags only); see 'ferry \
             chat --help'",
        ),
        (
            &["chat", "--fsync", "always"],
            CliErrorKind::FlagNotTaken {
                flag: "fsync".into(),
                taken_by: vec!["serve".into(), "socket".into()],
            },
            "ferry: 'chat' does not take --fsync (only 'serve' and 'socket'); see 'ferry chat \
             --help'",
        ),
        (
            &["chat", "--accounts", "maybe"],
            CliErrorKind::InvalidValue {
                flag: "accounts".into(),
                value: "maybe".into(),
                source: ValueSource::CommandLine,
                reason: ValueError::Accounts,
            },
            "ferry: invalid value 'maybe' for --accounts: expected off, optional or required; \
             see 'ferry chat --help'",
        ),
    ];
    for (args, kind, message) in cases {
        let error = run(args, &[]).expect_err(&format!("{args:?} parsed"));
        assert_eq!(error.kind(), kind, "{args:?}");
        assert_eq!(error.to_string(), *message, "{args:?}");
    }
}

#[test]
fn account_and_flood_flags_reach_the_room() {
    let Ok(Command::Chat(options)) = line(
        "chat --accounts REQUIRED --allow-insecure-login --flood-rate 0 --flood-burst 3 \
         --store mongodb://db:27017/ferry",
    ) else {
        panic!("not a chat command");
    };
    let config = options.chat_config();
    assert_eq!(config.accounts, AccountsMode::Required);
    assert!(config.allow_insecure_login);
    assert_eq!(config.flood, None);
    assert_eq!(
        options.store,
        StoreLocation::MongoDb("mongodb://db:27017/ferry".into())
    );
    let Ok(Command::Chat(defaults)) = run(&["chat"], &[("FERRY_ACCOUNTS", "off")]) else {
        panic!("not a chat command");
    };
    assert_eq!(defaults.accounts, AccountsMode::Off);
    assert_eq!(defaults.store, StoreLocation::File("storage".into()));
    assert_eq!(
        defaults.chat_config().flood,
        ferry_core::chat::flood::Rate::per_second(10, 5)
    );
}

#[test]
fn web_variables_do_not_reach_chat_and_chat_variables_do_not_reach_the_web() {
    assert_eq!(
        run(
            &["chat"],
            &[("FERRY_HTTP", "nonsense"), ("FERRY_USERNAME", " ")]
        ),
        chat(|_| {})
    );
    assert_eq!(
        run(
            &["http"],
            &[("FERRY_HISTORY", "nonsense"), ("FERRY_BIND", "nonsense")]
        ),
        line("http")
    );
}

#[test]
fn chat_client_help_shows_its_arguments() {
    let Ok(Command::Help(text)) = line("chat-client --help") else {
        panic!("no help");
    };
    assert!(
        text.contains("Usage: ferry chat-client [OPTIONS] [HOST] [PORT]"),
        "{text}"
    );
    assert!(text.contains("\nArguments:\n  [HOST]  "), "{text}");
    assert!(text.contains("[default: 127.0.0.1]"), "{text}");
    assert!(text.contains("[default: 7072]"), "{text}");
    let Ok(Command::Help(text)) = line("chat --help") else {
        panic!("no help");
    };
    assert!(text.contains("[default: 10m]"), "{text}");
}

#[test]
fn the_web_port_is_off_unless_asked_for_by_flag_or_variable() {
    let Ok(Command::Chat(defaults)) = line("chat") else {
        panic!("chat did not parse");
    };
    assert_eq!((defaults.web.as_deref(), defaults.web_echo), (None, false));
    assert_eq!(defaults.web_config().echo, None);
    assert_eq!(defaults.web_config().ws.max_message, 16 * 1024);
    let Ok(Command::Chat(options)) = line("chat --web 127.0.0.1:8081 --web-echo") else {
        panic!("chat --web did not parse");
    };
    assert_eq!(options.web.as_deref(), Some("127.0.0.1:8081"));
    assert!(options.web_config().echo.is_some());
    let Ok(Command::Chat(options)) = run(&["chat"], &[("FERRY_WEB", "0.0.0.0:8000")]) else {
        panic!("FERRY_WEB did not parse");
    };
    assert_eq!(options.web.as_deref(), Some("0.0.0.0:8000"));
}
