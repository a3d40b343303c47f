use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

#[test]
fn basic_credentials_are_read_in_any_case_and_nothing_else_is() {
    let cases: [(&str, Option<(&str, &str)>); 12] = [
        ("Basic YW5uOnNlY3JldA==", Some(("ann", "secret"))),
        ("basic YW5uOnNlY3JldA==", Some(("ann", "secret"))),
        ("BASIC   YW5uOnNlY3JldA==", Some(("ann", "secret"))),
        ("Basic YW5uOnNlY3JldA", Some(("ann", "secret"))),
        // A colon in the password is the password's; the user name ends at the first.
        ("Basic YW5uOmE6Yg==", Some(("ann", "a:b"))),
        ("Basic Y2Fmw6k6cMOkc3M=", Some(("café", "päss"))),
        ("Basic OnB3", Some(("", "pw"))),
        ("Bearer YW5uOnNlY3JldA==", None),
        ("Basic", None),
        ("Basic YW5u", None),
        ("Basic YW5uOnNlY3JldA=!", None),
        ("Basic /w==", None),
    ];
    for (value, expected) in cases {
        let parsed = parse_basic(value);
        let parsed = parsed
            .as_ref()
            .map(|c| (c.user.as_str(), c.password.as_str()));
        assert_eq!(parsed, expected, "{value}");
    }
}

#[test]
fn base64_refuses_what_no_encoder_writes() {
    for bad in ["Y", "YW5=u", "YQ=", "YR==", "YW5u=", "Y===", "YW5u!"] {
        assert_eq!(decode_base64(bad), None, "{bad}");
    }
    assert_eq!(decode_base64(""), Some(Vec::new()));
    assert_eq!(encode_base64(b"ann:secret"), "YW5uOnNlY3JldA==");
    assert_eq!(encode_base64(b""), "");
    assert_eq!(encode_base64(b"ab"), "YWI=");
}

#[test]
fn credentials_never_show_the_password() {
    let credentials = parse_basic("Basic YW5uOnNlY3JldA==").unwrap();
    let shown = format!("{credentials:?}");
    assert!(
        shown.contains("ann") && !shown.contains("secret"),
        "{shown}"
    );
}

#[test]
fn password_files_hold_one_argon2id_hash_per_user() {
    let text = format!("# users\n\nann:{HASH}\r\nbob:{HASH}\n");
    let table = PasswordTable::parse(&text).unwrap();
    assert_eq!(table.len(), 2);
    assert_eq!(table.hash_of("ann"), Some(HASH));
    assert_eq!(table.hash_of("carol"), None);
    let cases = [
        (format!("ann {HASH}"), 1, "not a user:hash line"),
        (
            "ann:$2b$12$abc".to_string(),
            1,
            "the hash is not an Argon2id hash ($argon2id$...)",
        ),
        (
            format!("ann:{HASH}\nann:{HASH}"),
            2,
            "this user is named twice",
        ),
        (format!("\n:{HASH}"), 2, "the user name is empty"),
        (
            format!("a b:{HASH}"),
            1,
            "the user name holds a space or a control character",
        ),
    ];
    for (text, line, reason) in cases {
        assert_eq!(
            PasswordTable::parse(&text),
            Err(PasswordFileError { line, reason }),
            "{text}"
        );
    }
}

#[test]
fn setting_a_user_replaces_their_line_and_keeps_the_rest() {
    let text = "# team\nann:$argon2id$old\nbob:$argon2id$b\n";
    assert_eq!(
        with_user(text, "ann", "$argon2id$new"),
        "# team\nann:$argon2id$new\nbob:$argon2id$b\n"
    );
    assert_eq!(
        with_user(text, "carol", "$argon2id$c"),
        "# team\nann:$argon2id$old\nbob:$argon2id$b\ncarol:$argon2id$c\n"
    );
    assert_eq!(with_user("", "ann", "$argon2id$x"), "ann:$argon2id$x\n");
}

#[test]
fn user_names_fit_a_header_and_a_file() {
    assert!(check_user("ann").is_ok());
    assert!(check_user(&"x".repeat(64)).is_ok());
    assert!(check_user(&"x".repeat(65)).is_err());
    for bad in ["", "a:b", "a b", "a\tb", "a\u{7}"] {
        assert!(check_user(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_401_says_basic_and_nothing_about_why() {
    let response = unauthorized();
    assert_eq!(response.status, 401);
    let challenge = response
        .headers
        .iter()
        .find(|(name, _)| *name == "WWW-Authenticate")
        .map(|(_, value)| value.to_string());
    assert_eq!(
        challenge.as_deref(),
        Some("Basic realm=\"ferry\", charset=\"UTF-8\"")
    );
}

#[test]
fn anonymous_writes_need_loopback_or_the_flag() {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    assert!(anonymous_writes_allowed(loopback, false));
    assert!(anonymous_writes_allowed(v6, false));
    assert!(!anonymous_writes_allowed(any, false));
    assert!(anonymous_writes_allowed(any, true));
    let open = anonymous_writes_notice(any, AuthScope::Off, false, true);
    assert!(open.is_some_and(|warning| warning.starts_with("warning: anyone")));
    assert!(anonymous_writes_notice(loopback, AuthScope::Off, false, true).is_none());
    assert!(anonymous_writes_notice(any, AuthScope::Writes, false, true).is_none());
    assert!(anonymous_writes_notice(any, AuthScope::Off, true, true).is_none());
    let refused = anonymous_writes_notice(any, AuthScope::Off, false, false);
    assert!(refused.is_some_and(|note| note.contains("refused")));
}

proptest! {
    #[test]
    fn base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let text = encode_base64(&bytes);
        prop_assert_eq!(decode_base64(&text), Some(bytes.clone()));
        prop_assert_eq!(decode_base64(text.trim_end_matches('=')), Some(bytes));
    }

    #[test]
    fn basic_round_trips(user in "[^:\\x00-\\x1f]{0,20}", password in "\\PC{0,30}") {
        let value = format!("Basic {}", encode_base64(format!("{user}:{password}").as_bytes()));
        let parsed = parse_basic(&value).expect("a valid header");
        prop_assert_eq!(parsed.user, user);
        prop_assert_eq!(parsed.password, password);
    }

    #[test]
    fn arbitrary_headers_never_panic(value in "\\PC{0,80}") {
        let _ = parse_basic(&value);
        let _ = decode_base64(&value);
    }
}
