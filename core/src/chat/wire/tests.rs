use super::*;
use proptest::prelude::*;

fn line(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn server_lines_have_the_documented_shape() {
    let cases: &[(String, &str)] = &[
        (
            line(|o| encode_message("ann", "hi", false, None, o)),
            "{\"username\":\"ann\",\"message\":\"hi\"}\n",
        ),
        (
            line(|o| encode_message("ann", "hi", true, None, o)),
            "{\"username\":\"ann\",\"message\":\"hi\",\"history\":true}\n",
        ),
        (
            line(|o| encode_message("ann", "hi", true, Some("2026-12-05T17:20:00Z"), o)),
            "{\"username\":\"ann\",\"message\":\"hi\",\"history\":true,\
             \"time\":\"2026-12-05T17:20:00Z\"}\n",
        ),
        (
            line(|o| encode_welcome("ann", o)),
            "{\"type\":\"welcome\",\"username\":\"ann\"}\n",
        ),
        (
            line(|o| {
                let request = AccountRequest::Login {
                    username: "ann",
                    password: "secret12",
                };
                encode_account_request(&request, o)
            }),
            "{\"type\":\"login\",\"username\":\"ann\",\"password\":\"secret12\"}\n",
        ),
        (
            line(|o| {
                let request = AccountRequest::Password { old: "a", new: "b" };
                encode_account_request(&request, o)
            }),
            "{\"type\":\"password\",\"old\":\"a\",\"new\":\"b\"}\n",
        ),
        (
            line(|o| encode_join("ann", o)),
            "{\"type\":\"join\",\"username\":\"ann\"}\n",
        ),
        (
            line(|o| encode_leave("ann", o)),
            "{\"type\":\"leave\",\"username\":\"ann\"}\n",
        ),
        (
            line(|o| encode_joins(&["ann", "bob"], 0, o)),
            "{\"type\":\"joins\",\"usernames\":[\"ann\",\"bob\"]}\n",
        ),
        (
            line(|o| encode_joins(&["ann"], 12, o)),
            "{\"type\":\"joins\",\"usernames\":[\"ann\"],\"others\":12}\n",
        ),
        (
            line(|o| encode_leaves(&["a\"b"], 0, o)),
            "{\"type\":\"leaves\",\"usernames\":[\"a\\\"b\"]}\n",
        ),
        (
            line(|o| encode_error("no", o)),
            "{\"type\":\"error\",\"error\":\"no\"}\n",
        ),
        (
            line(|o| encode_server_full(21, o)),
            "{\"type\":\"error\",\"error\":\"the server is full (21 clients); try again later\"}\n",
        ),
        (
            line(|o| encode_client_object("a\"b", Some("x\ny"), o)),
            "{\"username\":\"a\\\"b\",\"message\":\"x\\ny\"}\n",
        ),
        (
            line(|o| encode_client_object("ann", None, o)),
            "{\"username\":\"ann\"}\n",
        ),
    ];
    for (got, expected) in cases {
        assert_eq!(got, expected);
    }
}

#[test]
fn client_objects_decode_or_say_what_is_wrong() {
    let object = |u: Option<&str>, m: Option<&str>| ClientObject {
        username: u.map(|u| Cow::Owned(u.to_string())),
        message: m.map(|m| Cow::Owned(m.to_string())),
        ..ClientObject::default()
    };
    let cases: &[(&str, Result<ClientObject, ChatError>)] = &[
        (
            r#"{"username":"ann","message":"hi"}"#,
            Ok(object(Some("ann"), Some("hi"))),
        ),
        (r#"{"username":"ann"}"#, Ok(object(Some("ann"), None))),
        (r#"{"message":"hi","x":[1]}"#, Ok(object(None, Some("hi")))),
        (r#"{"username":"\u00e9"}"#, Ok(object(Some("é"), None))),
        ("{}", Ok(object(None, None))),
        (r#"{"username":1}"#, Err(ChatError::InvalidFields)),
        (r#"{"username":null}"#, Ok(object(None, None))),
        (
            r#"{"message":"a","message":"b"}"#,
            Err(ChatError::InvalidFields),
        ),
        (r#"{"username":"ann""#, Err(ChatError::MalformedJson)),
        (r#"{"username" "ann"}"#, Err(ChatError::MalformedJson)),
        ("[1]", Err(ChatError::InvalidFields)),
    ];
    for (text, expected) in cases {
        assert_eq!(&decode_client_object(text.as_bytes()), expected, "{text}");
    }
}

#[test]
fn account_objects_say_what_they_ask_or_what_is_missing() {
    let request = |text: &str| {
        let object = decode_client_object(text.as_bytes()).unwrap();
        let request = object
            .account_request()
            .map(|r| r.map(|r| format!("{r:?}")));
        request
    };
    assert_eq!(request(r#"{"username":"ann","message":"hi"}"#), Ok(None));
    assert_eq!(
        request(r#"{"type":"register","username":"ann","password":"p"}"#),
        Ok(Some(
            r#"Register { username: "ann", password: "p" }"#.to_string()
        ))
    );
    assert_eq!(
        request(r#"{"type":"login","password":"p"}"#),
        Err(ChatError::MissingUsername)
    );
    assert_eq!(
        request(r#"{"type":"login","username":"ann"}"#),
        Err(ChatError::MissingField)
    );
    assert_eq!(
        request(r#"{"type":"password","old":"a","new":"b"}"#),
        Ok(Some(r#"Password { old: "a", new: "b" }"#.to_string()))
    );
    assert_eq!(request(r#"{"type":"dance"}"#), Err(ChatError::UnknownType));
    assert_eq!(
        decode_client_object(br#"{"type":1}"#),
        Err(ChatError::InvalidFields)
    );
    let object = decode_client_object(br#"{"type":"login","password":"hunter22"}"#).unwrap();
    assert!(!format!("{object:?}").contains("hunter22"));
}

#[test]
fn server_full_reads_back_as_an_error_line() {
    let mut out = Vec::new();
    encode_server_full(1024, &mut out);
    let text = out.strip_suffix(b"\n").expect("one line");
    assert_eq!(
        decode_server_line(text),
        Ok(ServerLine::Error {
            error: "the server is full (1024 clients); try again later".into()
        })
    );
}

#[test]
fn server_lines_decode_including_a_bare_error() {
    let cases: &[(&str, Result<ServerLine, ChatError>)] = &[
        (
            r#"{"error":"no"}"#,
            Ok(ServerLine::Error { error: "no".into() }),
        ),
        (
            r#"{"username":"a","message":"b","history":false}"#,
            Ok(ServerLine::Message {
                username: "a".into(),
                message: "b".into(),
                history: false,
                time: None,
            }),
        ),
        (r#"{"type":"join"}"#, Err(ChatError::UnreadableServerLine)),
        (
            r#"{"type":"dance","username":"a"}"#,
            Err(ChatError::UnreadableServerLine),
        ),
        (r#"{"username":"a"}"#, Err(ChatError::UnreadableServerLine)),
        (r#"{"type":"joins"}"#, Err(ChatError::UnreadableServerLine)),
        (
            r#"{"type":"leaves","usernames":[]}"#,
            Ok(ServerLine::Leaves {
                usernames: vec![],
                others: 0,
            }),
        ),
        ("nonsense", Err(ChatError::UnreadableServerLine)),
    ];
    for (text, expected) in cases {
        assert_eq!(&decode_server_line(text.as_bytes()), expected, "{text}");
    }
}

fn server_line() -> impl Strategy<Value = ServerLine> {
    prop_oneof![
        (".*", ".*", any::<bool>(), proptest::option::of(".*")).prop_map(
            |(username, message, history, time)| ServerLine::Message {
                username,
                message,
                history,
                time,
            }
        ),
        ".*".prop_map(|username| ServerLine::Welcome { username }),
        ".*".prop_map(|username| ServerLine::Join { username }),
        ".*".prop_map(|username| ServerLine::Leave { username }),
        (prop::collection::vec(".*", 0..5), 0u64..1_000_000)
            .prop_map(|(usernames, others)| ServerLine::Joins { usernames, others }),
        (prop::collection::vec(".*", 0..5), 0u64..1_000_000)
            .prop_map(|(usernames, others)| ServerLine::Leaves { usernames, others }),
        ".*".prop_map(|error| ServerLine::Error { error }),
    ]
}

proptest! {
    #[test]
    fn server_lines_round_trip(line in server_line()) {
        let mut out = Vec::new();
        encode_server_line(&line, &mut out);
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(out.last(), Some(&b'\n'));
        prop_assert_eq!(decode_server_line(&out[..out.len() - 1]), Ok(line));
    }

    #[test]
    fn a_json_string_is_as_long_as_json_string_len_says(text in ".*") {
        let mut with = Vec::new();
        encode_joins(&[text.as_str()], 0, &mut with);
        let mut without = Vec::new();
        encode_joins(&[], 0, &mut without);
        prop_assert_eq!(with.len() - without.len(), json_string_len(&text));
    }

    #[test]
    fn account_objects_round_trip(username in ".*", password in ".*", kind in 0..3u8) {
        let request = match kind {
            0 => AccountRequest::Register { username: &username, password: &password },
            1 => AccountRequest::Login { username: &username, password: &password },
            _ => AccountRequest::Password { old: &username, new: &password },
        };
        let mut out = Vec::new();
        encode_account_request(&request, &mut out);
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let decoded = decode_client_object(&out[..out.len() - 1]).unwrap();
        prop_assert_eq!(decoded.account_request(), Ok(Some(request)));
    }

    #[test]
    fn client_objects_round_trip(username in ".*", message in proptest::option::of(".*")) {
        let mut out = Vec::new();
        encode_client_object(&username, message.as_deref(), &mut out);
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let decoded = decode_client_object(&out[..out.len() - 1]).unwrap();
        prop_assert_eq!(decoded.username.as_deref(), Some(username.as_str()));
        prop_assert_eq!(decoded.message.as_deref(), message.as_deref());
    }
}
