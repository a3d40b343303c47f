//! The TLS flags: the servers' pair, the clients' switch and CA file, and `ferry cert`.

use std::path::PathBuf;

use super::{line, run};
use crate::{CertOptions, Command, TlsFiles};

fn files_of(command: Result<Command, crate::CliError>) -> Option<TlsFiles> {
    match command {
        Ok(Command::Serve(options)) => options.web.tls,
        Ok(Command::Http(options)) => options.tls,
        Ok(Command::Files(options)) => options.tls.files(),
        Ok(Command::Chat(options)) => options.tls.files(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_server_takes_a_certificate_and_key() {
    let expected = Some(TlsFiles {
        cert: PathBuf::from("c.pem"),
        key: PathBuf::from("k.pem"),
    });
    for subcommand in ["serve", "http", "files", "chat"] {
        let given = line(&format!("{subcommand} --tls-cert c.pem --tls-key k.pem"));
        assert_eq!(files_of(given), expected, "{subcommand}");
        let from_env = run(
            &[subcommand],
            &[("FERRY_TLS_CERT", "c.pem"), ("FERRY_TLS_KEY", "k.pem")],
        );
        assert_eq!(files_of(from_env), expected, "{subcommand} from variables");
        assert_eq!(files_of(line(subcommand)), None, "{subcommand} without TLS");
    }
    let bare = line("--tls-cert c.pem --tls-key k.pem");
    assert_eq!(files_of(bare), expected, "serve without its name");
}

#[test]
fn a_certificate_without_its_key_is_one_line_and_exit_2() {
    for args in ["files --tls-cert c.pem", "chat --tls-key k.pem"] {
        let error = line(args).expect_err(args);
        assert_eq!(error.exit_code(), 2);
        let text = error.to_string();
        assert!(!text.trim_end().contains('\n'), "{text}");
        assert!(text.contains("--tls-"), "{text}");
    }
}

#[test]
fn clients_take_tls_and_a_ca_file_which_implies_it() {
    let cases = [
        ("client h 1 GET /a", false, None),
        ("client h 1 GET /a --tls", true, None),
        ("client h 1 GET /a --tls=off", false, None),
        ("client h 1 GET /a --cacert ca.pem", true, Some("ca.pem")),
        ("chat-client h 1 --tls", true, None),
        ("chat-client --cacert ca.pem", true, Some("ca.pem")),
    ];
    for (args, enabled, cacert) in cases {
        let tls = match line(args) {
            Ok(Command::Client(options)) => options.tls,
            Ok(Command::ChatClient(options)) => options.tls,
            other => panic!("{args}: {other:?}"),
        };
        assert_eq!(tls.enabled(), enabled, "{args}");
        assert_eq!(tls.cacert, cacert.map(PathBuf::from), "{args}");
    }
}

#[test]
fn cert_writes_here_for_this_machine_unless_told() {
    let defaults = CertOptions {
        out: PathBuf::from("."),
        names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
    };
    assert_eq!(line("cert"), Ok(Command::Cert(defaults)));
    let given = CertOptions {
        out: PathBuf::from("/tmp/x"),
        names: vec!["a.lan".into(), "::1".into()],
    };
    assert_eq!(
        line("cert --out /tmp/x --name a.lan --name [::1]"),
        Ok(Command::Cert(given))
    );
}
