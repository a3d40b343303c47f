//! Tests of the file server's command lines: `files` and `client`.

use std::path::PathBuf;
use std::time::Duration;

use ferry_core::files::client::ClientMethod;
use ferry_core::files::FilesConfig;
use ferry_core::http::HttpConfig;

use super::{line, run};
use crate::{
    CliError, CliErrorKind, Command, FileClientOptions, FilesOptions, ValueError, ValueSource,
};

/// `ferry files` with its defaults, then `change`.
fn files(change: impl FnOnce(&mut FilesOptions)) -> Result<Command, CliError> {
    let Ok(Command::Files(mut options)) = line("files") else {
        panic!("files did not parse");
    };
    change(&mut options);
    Ok(Command::Files(options))
}

/// A client command line for a GET of `/` from 127.0.0.1:8080, then `change`.
fn client(change: impl FnOnce(&mut FileClientOptions)) -> Result<Command, CliError> {
    let mut options = FileClientOptions {
        host: "127.0.0.1".into(),
        port: 8080,
        method: ClientMethod::Get,
        path: "/".into(),
        out: None,
        file: None,
        tls: Default::default(),
    };
    change(&mut options);
    Ok(Command::Client(options))
}

#[test]
fn files_defaults_to_this_folder_on_local_port_8080() {
    let Ok(Command::Files(defaults)) = line("files") else {
        panic!("files did not parse");
    };
    assert_eq!(defaults.bind, "127.0.0.1:8080");
    assert_eq!(defaults.root, PathBuf::from("."));
    assert_eq!(defaults.log, None);
    assert!(!defaults.read_only);
    assert_eq!(defaults.max_upload, 1 << 30);
    assert_eq!(defaults.idle_timeout, Duration::from_secs(15));
    assert_eq!(defaults.files_config(), FilesConfig::default());
    let http = defaults.http_config();
    assert!(http.stream_bodies);
    assert_eq!(http.max_body, 1 << 30);
    assert_eq!(http.limits, HttpConfig::default().limits);
}

#[test]
fn files_flags_are_read_from_the_command_line_and_the_environment() {
    let expected = files(|o| {
        o.bind = "127.0.0.1:0".into();
        o.root = PathBuf::from("/srv");
        o.log = Some(PathBuf::from("a.log"));
        o.read_only = true;
        o.max_upload = 10 << 20;
        o.header_timeout = Duration::from_secs(3);
        o.idle_timeout = Duration::from_secs(4);
    });
    assert_eq!(
        line(
            "files --bind 127.0.0.1:0 --root /srv --log a.log --read-only --max-upload 10M \
             --header-timeout 3s --idle-timeout 4s"
        ),
        expected
    );
    assert_eq!(
        line("files --read-only --root /srv --bind=127.0.0.1:0 --log=a.log --max-upload=10M --header-timeout=3s --idle-timeout=4s"),
        expected
    );
    let env = [
        ("FERRY_BIND", "127.0.0.1:0"),
        ("FERRY_ROOT", "/srv"),
        ("FERRY_LOG", "a.log"),
        ("FERRY_READ_ONLY", "1"),
        ("FERRY_MAX_UPLOAD", "10M"),
        ("FERRY_HEADER_TIMEOUT", "3s"),
        ("FERRY_IDLE_TIMEOUT", "4s"),
    ];
    assert_eq!(run(&["files"], &env), expected);
    assert_eq!(
        run(&["files", "--read-only=off"], &[("FERRY_READ_ONLY", "1")]),
        files(|_| {})
    );
}

#[test]
fn a_switch_never_takes_the_next_argument() {
    assert_eq!(
        line("files --read-only --root x"),
        files(|o| {
            o.read_only = true;
            o.root = PathBuf::from("x");
        })
    );
    let error = line("files --read-only x").unwrap_err();
    assert_eq!(
        error.to_string(),
        "ferry: unexpected argument 'x' for 'files' (it takes flags only); see 'ferry files --help'"
    );
    for (value, on) in [("true", true), ("on", true), ("0", false), ("OFF", false)] {
        let expected = files(|o| o.read_only = on);
        assert_eq!(
            run(&["files"], &[("FERRY_READ_ONLY", value)]),
            expected,
            "{value}"
        );
    }
    let error = run(&["files"], &[("FERRY_READ_ONLY", "maybe")]).unwrap_err();
    assert_eq!(
        error.kind(),
        &CliErrorKind::InvalidValue {
            flag: "read-only".into(),
            value: "maybe".into(),
            source: ValueSource::Environment("FERRY_READ_ONLY".into()),
            reason: ValueError::Switch,
        }
    );
}

#[test]
fn client_takes_host_port_method_and_path() {
    assert_eq!(
        line("client example.org 9000 get /a/b.txt --out x.txt"),
        client(|o| {
            o.host = "example.org".into();
            o.port = 9000;
            o.method = ClientMethod::Get;
            o.path = "/a/b.txt".into();
            o.out = Some(PathBuf::from("x.txt"));
        })
    );
    assert_eq!(
        line("client 127.0.0.1 8080 PUT /up.bin --file /tmp/local.bin"),
        client(|o| {
            o.method = ClientMethod::Put;
            o.path = "/up.bin".into();
            o.file = Some(PathBuf::from("/tmp/local.bin"));
        })
    );
}

#[test]
fn client_errors_name_the_missing_or_bad_argument() {
    let cases: [(&str, &str); 4] = [
        (
            "client 127.0.0.1 8080 GET",
            "ferry: missing PATH (write 'client HOST PORT METHOD PATH'); see 'ferry client --help'",
        ),
        (
            "client",
            "ferry: missing HOST (write 'client HOST PORT METHOD PATH'); see 'ferry client --help'",
        ),
        (
            "client h 8080 POST /a",
            "ferry: invalid value 'POST' for METHOD: expected GET, PUT or HEAD; see 'ferry client \
             --help'",
        ),
        (
            "client h 8080 GET a.txt",
            "ferry: invalid value 'a.txt' for PATH: expected a path starting with /, without \
             spaces, like /docs/a.txt; see 'ferry client --help'",
        ),
    ];
    for (text, message) in cases {
        let error = line(text).unwrap_err();
        assert_eq!(error.to_string(), message, "{text}");
        assert_eq!(error.exit_code(), 2);
    }
}

#[test]
fn help_lists_the_file_flags_and_arguments() {
    let Ok(Command::Help(text)) = line("files --help") else {
        panic!("no help")
    };
    for needle in [
        "--read-only[=<on|off>]",
        "--max-upload <SIZE>",
        "FERRY_READ_ONLY",
        "[default: 1G]",
    ] {
        assert!(text.contains(needle), "{needle}\n{text}");
    }
    let Ok(Command::Help(text)) = line("client --help") else {
        panic!("no help")
    };
    assert!(
        text.contains("Usage: ferry client [OPTIONS] <HOST> <PORT> <METHOD> <PATH>"),
        "{text}"
    );
    assert!(!text.contains("[default: ]"), "{text}");
}
