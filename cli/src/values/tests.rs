//! Tests of the value checks: one table per kind of value.

use super::*;

#[test]
fn checks_addresses() {
    let cases: &[(&str, Result<(), ValueError>)] = &[
        ("0.0.0.0:3000", Ok(())),
        ("127.0.0.1:0", Ok(())),
        ("localhost:65535", Ok(())),
        ("socket_server:5000", Ok(())),
        ("web-1.example.internal:80", Ok(())),
        ("[::]:3000", Ok(())),
        ("[::1]:3000", Ok(())),
        ("[fe80::1%2]:3000", Ok(())),
        ("", Err(ValueError::Empty)),
        ("127.0.0.1", Err(ValueError::AddressWithoutPort)),
        ("localhost", Err(ValueError::AddressWithoutPort)),
        ("localhost:", Err(ValueError::AddressWithoutPort)),
        ("[::1]", Err(ValueError::AddressWithoutPort)),
        ("[::1]:", Err(ValueError::AddressWithoutPort)),
        ("127.0.0.1:65536", Err(ValueError::AddressPort)),
        ("127.0.0.1:+80", Err(ValueError::AddressPort)),
        ("127.0.0.1:http", Err(ValueError::AddressPort)),
        ("[::1]:-1", Err(ValueError::AddressPort)),
        (":3000", Err(ValueError::AddressHost)),
        ("256.0.0.1:3000", Err(ValueError::AddressHost)),
        ("1.2.3:3000", Err(ValueError::AddressHost)),
        ("my host:3000", Err(ValueError::AddressHost)),
        ("[::g]:3000", Err(ValueError::AddressHost)),
        ("[127.0.0.1]:3000", Err(ValueError::AddressHost)),
        ("::1:3000", Err(ValueError::AddressIpv6WithoutBrackets)),
        ("http://127.0.0.1:3000", Err(ValueError::AddressIsUrl)),
    ];
    for (text, expected) in cases {
        let got = address(text).map(|kept| assert_eq!(&kept, text));
        assert_eq!(&got, expected, "address({text:?})");
    }
}

#[test]
fn reads_store_locations_and_refuses_an_empty_one() {
    assert_eq!(
        store("data.json"),
        Ok(StoreLocation::File(PathBuf::from("data.json")))
    );
    assert_eq!(
        store("redis://cache/0"),
        Err(ValueError::Store(LocationError::Scheme))
    );
    assert_eq!(store(""), Err(ValueError::Empty));
    assert_eq!(path(""), Err(ValueError::Empty));
    assert_eq!(path("static"), Ok(PathBuf::from("static")));
}

#[test]
fn limits_refuse_zero_and_timeouts_refuse_more_than_a_day() {
    assert_eq!(limit("0"), Err(ValueError::Zero));
    assert_eq!(limit("0K"), Err(ValueError::Zero));
    assert_eq!(limit("1"), Ok(1));
    assert_eq!(limit(""), Err(ValueError::Empty));
    assert_eq!(timeout("0s"), Err(ValueError::Zero));
    assert_eq!(timeout("0ms"), Err(ValueError::Zero));
    assert_eq!(timeout("1ms"), Ok(Duration::from_millis(1)));
    assert_eq!(timeout("1440m"), Ok(MAX_TIMEOUT));
    assert_eq!(timeout("1441m"), Err(ValueError::TooLong));
    assert_eq!(timeout("86400001ms"), Err(ValueError::TooLong));
}

#[test]
fn reads_chat_client_hosts_ports_and_names() {
    let hosts: &[(&str, Result<&str, ValueError>)] = &[
        ("localhost", Ok("localhost")),
        ("10.0.0.7", Ok("10.0.0.7")),
        ("::1", Ok("::1")),
        ("[::1]", Ok("::1")),
        ("chat.example.org", Ok("chat.example.org")),
        ("300.1.1.1", Err(ValueError::Host)),
        ("a b", Err(ValueError::Host)),
        ("", Err(ValueError::Host)),
        ("host:7072", Err(ValueError::Host)),
    ];
    for (text, expected) in hosts {
        assert_eq!(host(text), expected.clone().map(String::from), "{text:?}");
    }
    let ports = [
        ("7072", Ok(7072)),
        ("65535", Ok(65535)),
        ("0", Err(ValueError::Port)),
        ("+1", Err(ValueError::Port)),
        ("65536", Err(ValueError::Port)),
    ];
    for (text, expected) in ports {
        assert_eq!(port(text), expected, "{text:?}");
    }
    assert_eq!(history("0"), Ok(0));
    assert_eq!(history("1000"), Ok(1000));
    assert_eq!(history("1001"), Err(ValueError::History));
    assert_eq!(history("-1"), Err(ValueError::History));
    assert_eq!(username("ann"), Ok("ann".into()));
    assert_eq!(
        username(" ann"),
        Err(ValueError::Username(ChatError::UsernameEdgeWhitespace))
    );
}

#[test]
fn reads_switches_methods_and_paths() {
    for (text, value) in [
        ("1", true),
        ("ON", true),
        ("yes", true),
        ("true", true),
        ("0", false),
        ("off", false),
        ("False", false),
    ] {
        assert_eq!(switch(text), Ok(value), "{text}");
    }
    assert_eq!(switch("maybe"), Err(ValueError::Switch));
    for on in [true, false] {
        assert_eq!(switch(switch_text(on)), Ok(on));
    }
    assert_eq!(client_method("get"), Ok(ClientMethod::Get));
    assert_eq!(client_method("Put"), Ok(ClientMethod::Put));
    assert_eq!(client_method("HEAD"), Ok(ClientMethod::Head));
    assert_eq!(client_method("POST"), Err(ValueError::ClientMethod));
    assert_eq!(client_path("/a/b.txt"), Ok("/a/b.txt".to_string()));
    for bad in ["a.txt", "/a b", "/a\r\n", ""] {
        assert_eq!(client_path(bad), Err(ValueError::ClientPath), "{bad:?}");
    }
}

#[test]
fn reads_enumerations_in_any_case() {
    assert_eq!(transport("udp"), Ok(Transport::Udp));
    assert_eq!(transport("TCP"), Ok(Transport::Tcp));
    assert_eq!(transport("quic"), Err(ValueError::Transport));
    assert_eq!(fsync("always"), Ok(FsyncPolicy::Always));
    assert_eq!(fsync("Batch"), Ok(FsyncPolicy::Batch));
    assert_eq!(fsync("never"), Ok(FsyncPolicy::Never));
    assert_eq!(fsync("sometimes"), Err(ValueError::Fsync));
}

#[test]
fn value_errors_are_one_line() {
    let errors = [
        ValueError::Empty,
        ValueError::Size(SizeError::Invalid),
        ValueError::Duration(DurationError::MissingUnit),
        ValueError::Zero,
        ValueError::TooLong,
        ValueError::AddressWithoutPort,
        ValueError::AddressPort,
        ValueError::AddressHost,
        ValueError::AddressIpv6WithoutBrackets,
        ValueError::AddressIsUrl,
        ValueError::Store(LocationError::Scheme),
        ValueError::Store(LocationError::MongoDbWithoutHost),
        ValueError::Transport,
        ValueError::Fsync,
        ValueError::Host,
        ValueError::Port,
        ValueError::History,
        ValueError::Switch,
        ValueError::ClientMethod,
        ValueError::ClientPath,
    ];
    for error in errors {
        let message = error.to_string();
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{error:?}: {message:?}"
        );
    }
    let cases = [
        (ValueError::TooLong, "it must be at most 1440m (one day)"),
        (ValueError::Transport, "expected udp or tcp"),
        (ValueError::Fsync, "expected always, batch or never"),
        (ValueError::ClientMethod, "expected GET, PUT or HEAD"),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}
