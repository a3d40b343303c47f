use super::*;

fn parse(text: &[u8]) -> Result<RequestHead, HttpError> {
    let limits = HeadLimits::default();
    let mut scanner = HeadScanner::default();
    match scanner.scan(text, &limits)? {
        Scan::Complete(end) => parse_head(&text[..end], &limits),
        Scan::Partial => panic!("head incomplete: {:?}", String::from_utf8_lossy(text)),
    }
}

fn scan(text: &[u8]) -> Result<Scan, HttpError> {
    HeadScanner::default().scan(text, &HeadLimits::default())
}

#[test]
fn parses_a_simple_get() {
    let head = parse(b"GET /index.html?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n").unwrap();
    assert_eq!(head.method, Method::Get);
    assert_eq!(head.target, "/index.html?x=1");
    assert_eq!(head.version, Version::Http11);
    assert_eq!(head.header_str("user-agent"), Some("t"));
    assert_eq!(head.framing, BodyFraming::Empty);
    assert!(head.keep_alive);
    assert!(!head.expects_continue);
}

#[test]
fn framing_and_connection_facts() {
    let cases: &[(&[u8], BodyFraming, bool, bool)] = &[
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n",
            BodyFraming::Length(12),
            true,
            false,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            BodyFraming::Empty,
            true,
            false,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
            BodyFraming::Chunked,
            true,
            false,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n",
            BodyFraming::Length(3),
            true,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            BodyFraming::Empty,
            false,
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n",
            BodyFraming::Empty,
            false,
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", BodyFraming::Empty, false, false),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            BodyFraming::Empty,
            true,
            false,
        ),
        (
            b"POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n",
            BodyFraming::Length(1),
            false,
            false,
        ),
    ];
    for (text, framing, keep_alive, expects_continue) in cases {
        let head =
            parse(text).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(text)));
        assert_eq!(
            head.framing,
            *framing,
            "{:?}",
            String::from_utf8_lossy(text)
        );
        assert_eq!(
            head.keep_alive,
            *keep_alive,
            "{:?}",
            String::from_utf8_lossy(text)
        );
        assert_eq!(
            head.expects_continue,
            *expects_continue,
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

/// Every malformed head the server must refuse, with the answer it gets.
#[test]
fn malformed_heads_get_the_right_status() {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-A: b\r\n".repeat(101)
    );
    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(17000)
    );
    let cases: Vec<(&[u8], HttpError)> = vec![
        (b"GET / HTTP/1.1\nHost: a\n\n", HttpError::BadLineEnding),
        (b"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", HttpError::BadLineEnding),
        (b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::NotHttp),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", HttpError::NotHttp),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n", HttpError::ObsoleteLineFolding),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\tX: a\r\n\r\n", HttpError::ObsoleteLineFolding),
        (long_target.as_bytes(), HttpError::TargetTooLong),
        (many_headers.as_bytes(), HttpError::TooManyHeaders),
        (huge_header.as_bytes(), HttpError::HeadTooLarge),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", HttpError::UnsupportedVersion),
        (b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", HttpError::UnsupportedVersion),
        (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", HttpError::UnsupportedVersion),
        (b"GET / HTTX/1.1\r\nHost: a\r\n\r\n", HttpError::MalformedHead),
        (b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", HttpError::MalformedHead),
        (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::MalformedHead),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", HttpError::MalformedHead),
        (b"GET / HTTP/1.1\r\nBad Name: a\r\n\r\n", HttpError::MalformedHead),
        (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", HttpError::MalformedHead),
        (b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::BadTarget),
        (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::BadTarget),
        (b"GET / HTTP/1.1\r\n\r\n", HttpError::BadHost),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HttpError::BadHost),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", HttpError::DuplicateContentLength),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", HttpError::DuplicateContentLength),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", HttpError::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", HttpError::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", HttpError::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", HttpError::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", HttpError::ContentLengthWithTransferEncoding),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", HttpError::ContentLengthWithTransferEncoding),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", HttpError::UnknownTransferCoding),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HttpError::UnknownTransferCoding),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", HttpError::UnknownTransferCoding),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", HttpError::BadTransferEncoding),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", HttpError::BadTransferEncoding),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", HttpError::BadTransferEncoding),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HttpError::BadTransferEncoding),
        (b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", HttpError::UnknownExpectation),
    ];
    for (text, expected) in cases {
        let shown = String::from_utf8_lossy(&text[..text.len().min(80)]).into_owned();
        let got = match scan(text) {
            Err(e) => Err(e),
            Ok(Scan::Partial) => panic!("partial: {shown:?}"),
            Ok(Scan::Complete(end)) => parse_head(&text[..end], &HeadLimits::default()),
        };
        assert_eq!(got.err(), Some(expected), "{shown:?}");
    }
}

#[test]
fn absolute_form_and_options_star_are_accepted() {
    assert!(parse(b"GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
    assert!(parse(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
}

#[test]
fn limits_are_inclusive() {
    let limits = HeadLimits::default();
    // A target of exactly the limit is fine; one more byte is 414.
    let target = format!("/{}", "a".repeat(limits.max_target - 1));
    let ok = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(parse(ok.as_bytes()).is_ok());
    let over = format!("GET {target}a HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(parse(over.as_bytes()).err(), Some(HttpError::TargetTooLong));
    // Exactly 100 headers are fine.
    let hundred = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-A: b\r\n".repeat(99)
    );
    assert!(parse(hundred.as_bytes()).is_ok());
    // A head of exactly the size limit is fine, one byte more is 431.
    let base = "GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n".len();
    let exact = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "v".repeat(limits.max_head - base)
    );
    assert_eq!(exact.len(), limits.max_head);
    assert!(parse(exact.as_bytes()).is_ok());
    let over = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "v".repeat(limits.max_head - base + 1)
    );
    assert_eq!(scan(over.as_bytes()).err(), Some(HttpError::HeadTooLarge));
}

#[test]
fn an_endless_header_line_fails_without_its_end() {
    let mut scanner = HeadScanner::default();
    let limits = HeadLimits::default();
    let mut buf = b"GET / HTTP/1.1\r\nX: ".to_vec();
    let mut result = Ok(Scan::Partial);
    while result == Ok(Scan::Partial) && buf.len() < 100_000 {
        buf.extend_from_slice(&[b'a'; 1000]);
        result = scanner.scan(&buf, &limits);
    }
    assert_eq!(result, Err(HttpError::HeadTooLarge));
    assert!(buf.len() <= limits.max_head + 1000);
}

#[test]
fn tls_hello_is_refused_at_the_first_byte() {
    assert_eq!(scan(b"\x16"), Err(HttpError::NotHttp));
}

#[test]
fn scanning_in_pieces_equals_scanning_whole() {
    let text = b"POST /message HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    let limits = HeadLimits::default();
    let whole = HeadScanner::default().scan(text, &limits);
    for split in 0..=text.len() {
        let mut scanner = HeadScanner::default();
        let first = scanner.scan(&text[..split], &limits);
        let second = scanner.scan(text, &limits);
        if let Ok(Scan::Complete(end)) = first {
            assert_eq!(Ok(Scan::Complete(end)), whole);
        } else {
            assert_eq!(second, whole, "split at {split}");
        }
    }
}
