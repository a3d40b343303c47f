//! Tests of [`super::parse`]: whole command lines and environments
//! in, commands and error lines out.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;

use super::flags::SubcommandSpec;
use super::help::{general_help, subcommand_help};
use super::*;

mod chat;
mod errors;
mod files;

/// Parses `args` as `ferry` would, with the environment holding `env`.
fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, CliError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    parse("ferry", &args, &|name| env.get(name).cloned())
}

/// Parses a line split at spaces, with an empty environment.
fn line(text: &str) -> Result<Command, CliError> {
    run(&text.split_whitespace().collect::<Vec<_>>(), &[])
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
    let defaults = ServeOptions::default();
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
    assert_eq!(defaults.socket.fsync, FsyncMode::Batch);

    let cases: &[(&str, Command)] = &[
        ("", Command::Serve(ServeOptions::default())),
        ("serve", Command::Serve(ServeOptions::default())),
        ("http", Command::Http(WebOptions::default())),
        ("socket", Command::Socket(SocketOptions::default())),
    ];
    for (args, expected) in cases {
        assert_eq!(line(args).as_ref(), Ok(expected), "{args:?}");
    }
}

#[test]
fn help_prints_the_defaults_the_options_use() {
    for spec in SubcommandSpec::all() {
        for flag in spec.flags.iter().filter(|flag| flag.default_is_value) {
            let mut options = Options::default();
            assert_eq!(
                (flag.apply)(&mut options, flag.default),
                Ok(()),
                "--{}",
                flag.name
            );
            assert_eq!(
                options,
                Options::default(),
                "--{} {}",
                flag.name,
                flag.default
            );
        }
    }
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
            o.socket.fsync = FsyncMode::Always
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
            o.socket.fsync = FsyncMode::Never
        }),
        ("socket", "transport", "tcp", |o| {
            o.socket.transport = Transport::Tcp
        }),
    ];
    for (subcommand, flag, value, change) in cases {
        let mut options = ServeOptions::default();
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
    let mut options = ServeOptions::default();
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
        fsync: FsyncMode::Batch,
    };
    assert_eq!(got, Ok(Command::Socket(expected)));
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let env = [
        ("FERRY_HTTP", ""),
        ("FERRY_MAX_BODY", ""),
        ("FERRY_TRANSPORT", ""),
    ];
    assert_eq!(run(&[], &env), Ok(Command::Serve(ServeOptions::default())));
}

#[test]
fn variables_of_flags_the_subcommand_does_not_take_are_ignored() {
    let env = [
        ("FERRY_FORWARD", "nonsense"),
        ("FERRY_HTTP", "nonsense"),
        ("FERRY_MAX_BODY", "nonsense"),
        ("FERRY_BIND", "nonsense"),
    ];
    assert_eq!(
        run(&["socket"], &env),
        Ok(Command::Socket(SocketOptions::default()))
    );
    let env = [("FERRY_FORWARD", "nonsense"), ("FERRY_ROOT", "/")];
    assert_eq!(
        run(&["serve"], &env),
        Ok(Command::Serve(ServeOptions::default()))
    );
    let env = [
        ("FERRY_SOCKET", "nonsense"),
        ("FERRY_STORE", "x://y"),
        ("FERRY_FSYNC", "x"),
    ];
    assert_eq!(
        run(&["http"], &env),
        Ok(Command::Http(WebOptions::default()))
    );
}

#[test]
fn only_the_variables_of_the_subcommand_are_looked_up() {
    let asked = RefCell::new(Vec::new());
    let env = |name: &str| {
        asked.borrow_mut().push(name.to_string());
        None
    };
    let args = vec![
        "socket".to_string(),
        "--fsync".to_string(),
        "never".to_string(),
    ];
    assert!(parse("ferry", &args, &env).is_ok());
    assert_eq!(
        asked.into_inner(),
        ["FERRY_SOCKET", "FERRY_STORE", "FERRY_TRANSPORT"]
    );
}

#[test]
fn help_and_version_win_anywhere() {
    let general = Ok(Command::Help(general_help("ferry")));
    let help_of = |name| {
        Ok(Command::Help(subcommand_help(
            "ferry",
            SubcommandSpec::find(name).unwrap(),
        )))
    };
    let version = Ok(Command::Version(format!(
        "ferry {}",
        env!("CARGO_PKG_VERSION")
    )));
    let cases: &[(&str, Result<Command, CliError>)] = &[
        ("--help", general.clone()),
        ("-h", general.clone()),
        ("--http 127.0.0.1:1 --help", general.clone()),
        ("--bogus -h", general.clone()),
        ("frobnicate --help", general.clone()),
        ("serve --help", help_of("serve")),
        ("serve -h", help_of("serve")),
        ("http --static x -h", help_of("http")),
        ("http --http -h", help_of("http")),
        ("socket --bogus --help", help_of("socket")),
        ("socket extra --store --help", help_of("socket")),
        ("-V", version.clone()),
        ("--version", version.clone()),
        ("socket -V", version.clone()),
        ("http --nonsense --version", version.clone()),
        ("--version --help", version.clone()),
        ("--help --version", general.clone()),
    ];
    for (args, expected) in cases {
        assert_eq!(&line(args), expected, "{args:?}");
    }
}

#[test]
fn help_and_version_name_the_program() {
    let args = ["--version".to_string()];
    let version = parse("ferry-std", &args, &|_| None);
    assert_eq!(
        version,
        Ok(Command::Version(format!(
            "ferry-std {}",
            env!("CARGO_PKG_VERSION")
        )))
    );
    let args = ["serve".to_string(), "--help".to_string()];
    let Ok(Command::Help(text)) = parse("ferry-std", &args, &|_| None) else {
        panic!("no help");
    };
    assert!(text.starts_with("ferry-std serve: "), "{text}");
    assert!(text.contains("Usage: ferry-std serve [FLAGS]"), "{text}");
}

/// Pieces of command lines, likely and unlikely, for the property below.
fn arg() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "serve",
        "http",
        "socket",
        "--http",
        "--forward",
        "--static",
        "--max-body",
        "--store",
        "--transport=tcp",
        "--fsync",
        "--ack-timeout",
        "--",
        "-",
        "-x",
        "--help=1",
        "1K",
        "2s",
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
        let env = |name: &str| (name == "FERRY_MAX_BODY").then(|| variable.clone());
        match parse("ferry", &args, &env) {
            Ok(_) => {}
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with("ferry: "), "{}", message);
                prop_assert!(message.ends_with(" --help'"), "{}", message);
                prop_assert!(!message.contains('\n') && !message.contains('\r'), "{}", message);
            }
        }
    }
}
