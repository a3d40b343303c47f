//! Tests of [`crate::parse`]: whole command lines and environments in, commands and error lines
//! out.
//!
//! clap reads `FERRY_*` from the process environment, so every test parses through [`run`],
//! which sets the variables a case asks for, and only those, while it holds a lock that keeps
//! the tests from seeing each other's variables.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ferry_core::datagram::Transport;
use ferry_storage::{FsyncPolicy, StoreLocation};
use proptest::prelude::*;

use crate::{parse, CliError, Command, ServeOptions, SocketOptions};

mod chat;
mod errors;
mod files;
mod help;
mod readme;
mod tls;

/// Parses `args` as `ferry` would, with `env` as the only `FERRY_*` variables.
fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, CliError> {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    with_environment(env, || parse("ferry", &args))
}

/// Parses a line split at spaces, with no `FERRY_*` variable set.
fn line(text: &str) -> Result<Command, CliError> {
    run(&text.split_whitespace().collect::<Vec<_>>(), &[])
}

/// Runs `f` with `env` as the only `FERRY_*` variables of the process.
fn with_environment<T>(env: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
    static ENVIRONMENT: Mutex<()> = Mutex::new(());
    let _only_us = ENVIRONMENT.lock().unwrap_or_else(PoisonError::into_inner);
    let inherited: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("FERRY_"))
        .collect();
    for name in inherited {
        std::env::remove_var(name);
    }
    for (name, value) in env {
        std::env::set_var(name, value);
    }
    let result = f();
    for (name, _) in env {
        std::env::remove_var(name);
    }
    result
}

/// What `ferry serve` runs with when nothing is given.
fn serve_defaults() -> ServeOptions {
    match line("serve") {
        Ok(Command::Serve(options)) => options,
        other => panic!("serve: {other:?}"),
    }
}

/// The command `subcommand` produces from `options`.
fn command(subcommand: &str, options: ServeOptions) -> Command {
    match subcommand {
        "serve" => Command::Serve(options),
        "http" => Command::Http(options.web),
        "socket" => Command::Socket(options.socket),
        other => panic!("no subcommand {other}"),
    }
}

#[test]
fn each_subcommand_defaults_to_the_documented_values() {
    let defaults = serve_defaults();
    assert_eq!(defaults.web.http, "0.0.0.0:3000");
    assert_eq!(defaults.web.forward, "127.0.0.1:5000");
    assert_eq!(defaults.web.static_dir, PathBuf::from("static"));
    assert_eq!(defaults.web.max_body, 65_536);
    assert_eq!(defaults.web.ack_timeout, Duration::from_secs(2));
    assert_eq!(defaults.web.header_timeout, Duration::from_secs(10));
    assert_eq!(defaults.web.idle_timeout, Duration::from_secs(15));
    assert_eq!(defaults.web.body_timeout, Duration::from_secs(10));
    assert_eq!(defaults.web.write_timeout, Duration::from_secs(10));
    assert_eq!(defaults.web.transport, Transport::Udp);
    assert_eq!(defaults.socket.socket, "0.0.0.0:5000");
    assert_eq!(
        defaults.socket.store,
        StoreLocation::File(PathBuf::from("storage/data.json"))
    );
    assert_eq!(defaults.socket.transport, Transport::Udp);
    assert_eq!(defaults.socket.fsync, FsyncPolicy::Batch);

    let cases: &[(&str, Command)] = &[
        ("", Command::Serve(defaults.clone())),
        ("http", Command::Http(defaults.web.clone())),
        ("socket", Command::Socket(defaults.socket.clone())),
    ];
    for (args, expected) in cases {
        assert_eq!(line(args).as_ref(), Ok(expected), "{args:?}");
    }
}

#[test]
fn configs_take_the_flags_and_keep_the_cores_other_settings() {
    let Ok(Command::Http(options)) = line("http --max-body 1K --idle-timeout 3s --transport tcp")
    else {
        panic!("http did not parse");
    };
    let http = options.http_config();
    assert_eq!(http.max_body, 1024);
    assert_eq!(http.idle_timeout, Duration::from_secs(3));
    assert!(!http.stream_bodies);
    let sender = options.sender_config(0x2a, 0xff);
    assert_eq!(sender.link, Transport::Tcp.link());
    assert_eq!(sender.id_prefix, "ff.2a");
    assert_eq!(sender.ack_timeout, Duration::from_secs(2));
    let core = ferry_core::datagram::SenderConfig::default();
    assert_eq!(sender.max_in_flight, core.max_in_flight);
}

/// One flag of one subcommand, a value for it, and what that value changes.
type FlagCase = (
    &'static str,
    &'static str,
    &'static str,
    fn(&mut ServeOptions),
);

#[test]
fn every_flag_is_read_from_the_command_line_and_the_environment() {
    let cases: &[FlagCase] = &[
        ("serve", "http", "127.0.0.1:8000", |o| {
            o.web.http = "127.0.0.1:8000".into()
        }),
        ("serve", "static", "/srv/static", |o| {
            o.web.static_dir = "/srv/static".into()
        }),
        ("serve", "max-body", "1M", |o| o.web.max_body = 1 << 20),
        ("serve", "ack-timeout", "500ms", |o| {
            o.web.ack_timeout = Duration::from_millis(500)
        }),
        ("serve", "header-timeout", "1m", |o| {
            o.web.header_timeout = Duration::from_secs(60)
        }),
        ("serve", "idle-timeout", "30s", |o| {
            o.web.idle_timeout = Duration::from_secs(30)
        }),
        ("serve", "body-timeout", "3s", |o| {
            o.web.body_timeout = Duration::from_secs(3)
        }),
        ("serve", "write-timeout", "750ms", |o| {
            o.web.write_timeout = Duration::from_millis(750)
        }),
        ("serve", "socket", "127.0.0.1:0", |o| {
            o.socket.socket = "127.0.0.1:0".into()
        }),
        ("serve", "store", "/tmp/m.json", |o| {
            o.socket.store = StoreLocation::File("/tmp/m.json".into())
        }),
        ("serve", "store", "mongodb://db:27017/ferry", |o| {
            o.socket.store = StoreLocation::MongoDb("mongodb://db:27017/ferry".into())
        }),
        ("serve", "fsync", "always", |o| {
            o.socket.fsync = FsyncPolicy::Always
        }),
        ("serve", "transport", "tcp", |o| {
            o.web.transport = Transport::Tcp;
            o.socket.transport = Transport::Tcp;
        }),
        ("http", "http", "[::1]:8080", |o| {
            o.web.http = "[::1]:8080".into()
        }),
        ("http", "forward", "socket-server:6000", |o| {
            o.web.forward = "socket-server:6000".into()
        }),
        ("http", "static", "pages", |o| {
            o.web.static_dir = "pages".into()
        }),
        ("http", "max-body", "2048", |o| o.web.max_body = 2048),
        ("http", "ack-timeout", "5s", |o| {
            o.web.ack_timeout = Duration::from_secs(5)
        }),
        ("http", "header-timeout", "250ms", |o| {
            o.web.header_timeout = Duration::from_millis(250)
        }),
        ("http", "idle-timeout", "2m", |o| {
            o.web.idle_timeout = Duration::from_secs(120)
        }),
        ("http", "body-timeout", "1m", |o| {
            o.web.body_timeout = Duration::from_secs(60)
        }),
        ("http", "write-timeout", "20s", |o| {
            o.web.write_timeout = Duration::from_secs(20)
        }),
        ("http", "transport", "TCP", |o| {
            o.web.transport = Transport::Tcp
        }),
        ("socket", "socket", "localhost:5001", |o| {
            o.socket.socket = "localhost:5001".into()
        }),
        ("socket", "store", "data.json", |o| {
            o.socket.store = StoreLocation::File("data.json".into())
        }),
        ("socket", "fsync", "never", |o| {
            o.socket.fsync = FsyncPolicy::Never
        }),
        ("socket", "transport", "tcp", |o| {
            o.socket.transport = Transport::Tcp
        }),
    ];
    let defaults = serve_defaults();
    for (subcommand, flag, value, change) in cases {
        let mut options = defaults.clone();
        change(&mut options);
        let expected = Ok(command(subcommand, options));
        let long = format!("--{flag}");
        let inline = format!("--{flag}={value}");
        let variable = format!("FERRY_{}", flag.to_ascii_uppercase().replace('-', "_"));
        let forms = [
            run(&[subcommand, &long, value], &[]),
            run(&[subcommand, &inline], &[]),
            run(&[subcommand], &[(&variable, value)]),
        ];
        for (form, got) in ["--flag value", "--flag=value", "environment"]
            .iter()
            .zip(forms)
        {
            assert_eq!(got, expected, "{subcommand} --{flag} {value} ({form})");
        }
        if *subcommand == "serve" {
            assert_eq!(
                run(&[&long, value], &[]),
                expected,
                "--{flag} without 'serve'"
            );
            let from_variable = run(&[], &[(&variable, value)]);
            assert_eq!(from_variable, expected, "{variable} without 'serve'");
        }
    }
}

#[test]
fn a_flag_on_the_command_line_beats_its_variable() {
    let env = [
        ("FERRY_HTTP", "10.0.0.1:1"),
        ("FERRY_MAX_BODY", "not a size"),
    ];
    let got = run(&["--http", "10.0.0.2:2", "--max-body", "1K"], &env);
    let mut options = serve_defaults();
    options.web.http = "10.0.0.2:2".into();
    options.web.max_body = 1024;
    assert_eq!(got, Ok(Command::Serve(options)));
}

#[test]
fn variables_mix_with_flags() {
    let env = [
        ("FERRY_STORE", "mongodb://db/ferry"),
        ("FERRY_TRANSPORT", "tcp"),
    ];
    let got = run(&["socket", "--socket", "127.0.0.1:7000"], &env);
    let expected = SocketOptions {
        socket: "127.0.0.1:7000".into(),
        store: StoreLocation::MongoDb("mongodb://db/ferry".into()),
        transport: Transport::Tcp,
        fsync: FsyncPolicy::Batch,
    };
    assert_eq!(got, Ok(Command::Socket(expected)));
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let env = [
        ("FERRY_HTTP", ""),
        ("FERRY_MAX_BODY", ""),
        ("FERRY_TRANSPORT", ""),
        ("FERRY_STATIC", ""),
    ];
    assert_eq!(run(&[], &env), Ok(Command::Serve(serve_defaults())));
    assert_eq!(
        run(&["http"], &[("FERRY_FORWARD", "")]),
        Ok(Command::Http(serve_defaults().web))
    );
}

#[test]
fn variables_of_flags_the_subcommand_does_not_take_are_ignored() {
    let defaults = serve_defaults();
    let env = [
        ("FERRY_FORWARD", "nonsense"),
        ("FERRY_HTTP", "nonsense"),
        ("FERRY_MAX_BODY", "nonsense"),
        ("FERRY_BIND", "nonsense"),
    ];
    assert_eq!(
        run(&["socket"], &env),
        Ok(Command::Socket(defaults.socket.clone()))
    );
    let env = [("FERRY_FORWARD", "nonsense"), ("FERRY_ROOT", "/")];
    assert_eq!(run(&["serve"], &env), Ok(Command::Serve(defaults.clone())));
    assert_eq!(run(&[], &env), Ok(Command::Serve(defaults.clone())));
    let env = [
        ("FERRY_SOCKET", "nonsense"),
        ("FERRY_STORE", "x://y"),
        ("FERRY_FSYNC", "x"),
    ];
    assert_eq!(
        run(&["http"], &env),
        Ok(Command::Http(defaults.web.clone()))
    );
}

/// Pieces of command lines, likely and unlikely, for the property below.
fn arg() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "serve",
        "http",
        "socket",
        "files",
        "client",
        "chat-client",
        "--http",
        "--forward",
        "--static",
        "--max-body",
        "--store",
        "--transport=tcp",
        "--fsync",
        "--ack-timeout",
        "--read-only",
        "--read-only=x",
        "--history",
        "--",
        "-",
        "-x",
        "-1",
        "--help=1",
        "1K",
        "2s",
        "GET",
        "/a",
        "0.0.0.0:0",
        "[::]:1",
        "",
        "=",
        "--=",
    ]);
    prop_oneof![known.prop_map(String::from), ".{0,12}"]
}

proptest! {
    #[test]
    fn any_arguments_give_a_command_or_a_one_line_error(
        args in prop::collection::vec(arg(), 0..6),
        variable in ".{0,12}",
    ) {
        let result = with_environment(&[], || {
            // A variable holding NUL cannot be set; any other text may be.
            if !variable.contains('\0') {
                std::env::set_var("FERRY_MAX_BODY", &variable);
            }
            let result = parse("ferry", &args);
            std::env::remove_var("FERRY_MAX_BODY");
            result
        });
        if let Err(error) = result {
            let message = error.to_string();
            prop_assert!(message.starts_with("ferry: "), "{}", message);
            prop_assert!(message.ends_with(" --help'"), "{}", message);
            prop_assert!(!message.contains('\n') && !message.contains('\r'), "{}", message);
            prop_assert_eq!(error.exit_code(), 2);
        }
    }
}
