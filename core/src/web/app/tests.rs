use super::*;
use crate::http::{BodyFraming, Header, Method, RequestHead, Version};

fn app() -> MessageApp {
    let mut files: Vec<(String, Vec<u8>)> = crate::web::site::REQUIRED_PAGES
        .iter()
        .map(|p| (p.to_string(), format!("<p>{p}</p>").into_bytes()))
        .collect();
    files.push(("style.css".into(), b"body{}".to_vec()));
    files.retain(|(name, _)| name != "message.html");
    files.push((
        "message.html".into(),
        format!("<p>Up to {MAX_BODY_MARKER}.</p>").into_bytes(),
    ));
    MessageApp::new(Site::new(files).unwrap(), 64 * 1024)
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

fn get_with(target: &str, if_none_match: &str) -> Request {
    let mut request = request(Method::Get, target, None, b"");
    request.head.headers.push(Header {
        name: "If-None-Match".into(),
        value: if_none_match.as_bytes().to_vec(),
    });
    request
}

#[test]
fn the_form_says_how_long_a_message_may_be() {
    let response = respond(app().handle(&request(Method::Get, "/message", None, b"")));
    assert_eq!(body_text(&response), "<p>Up to 64 KiB.</p>");
}

#[test]
fn assets_are_kept_a_while_and_pages_revalidated() {
    let app = app();
    let css = respond(app.handle(&request(Method::Get, "/style.css", None, b"")));
    assert_eq!(header(&css, "cache-control"), Some("max-age=300"));
    let tag = header(&css, "etag")
        .expect("an asset has a validator")
        .to_string();
    let page = respond(app.handle(&request(Method::Get, "/", None, b"")));
    assert_eq!(header(&page, "cache-control"), Some("no-cache"));
    assert!(header(&page, "etag").is_some());
    // Strong and weak forms of the tag both match (RFC 9110 §13.1.2).
    for condition in [tag.clone(), format!("W/{tag}"), format!("\"x\", {tag}")] {
        let again = respond(app.handle(&get_with("/style.css", &condition)));
        assert_eq!(again.status, 304, "{condition}");
        assert_eq!(again.body, Body::Empty);
        assert_eq!(header(&again, "etag"), Some(tag.as_str()));
    }
    let changed = respond(app.handle(&get_with("/style.css", "\"other\"")));
    assert_eq!(changed.status, 200);
}

#[test]
fn every_answer_says_how_long_it_may_be_kept() {
    let app = app();
    for response in [
        respond(app.handle(&request(Method::Get, "/nope", None, b""))),
        respond(app.handle(&request(Method::Put, "/message", None, b""))),
        respond(app.handle(&request(Method::Post, "/message", None, b"message=x"))),
        app.forwarded(&ForwardOutcome::Stored),
        app.forwarded(&ForwardOutcome::NotAcknowledged(None)),
        app.forwarded(&ForwardOutcome::TooLarge),
    ] {
        assert_eq!(
            header(&response, "cache-control"),
            Some("no-cache"),
            "{}",
            response.status
        );
    }
}

fn request(method: Method, target: &str, content_type: Option<&str>, body: &[u8]) -> Request {
    let mut headers = vec![Header {
        name: "Host".into(),
        value: b"x".to_vec(),
    }];
    if let Some(ct) = content_type {
        headers.push(Header {
            name: "Content-Type".into(),
            value: ct.as_bytes().to_vec(),
        });
    }
    Request {
        head: RequestHead {
            method,
            target: target.into(),
            version: Version::Http11,
            headers,
            framing: BodyFraming::Length(body.len() as u64),
            keep_alive: true,
            expects_continue: false,
        },
        body: body.to_vec(),
    }
}

fn respond(action: AppAction) -> Response {
    match action {
        AppAction::Respond(response) => response,
        AppAction::Forward(m) => panic!("unexpected forward of {m:?}"),
    }
}

fn body_text(response: &Response) -> String {
    String::from_utf8(response.body.as_bytes().to_vec()).unwrap()
}

#[test]
fn pages_are_served_with_their_type() {
    let app = app();
    let response = respond(app.handle(&request(Method::Get, "/", None, b"")));
    assert_eq!(response.status, 200);
    assert_eq!(response.content_type, Some("text/html; charset=utf-8"));
    assert_eq!(body_text(&response), "<p>index.html</p>");
    let css = respond(app.handle(&request(Method::Get, "/style.css", None, b"")));
    assert_eq!(css.content_type, Some("text/css; charset=utf-8"));
}

#[test]
fn unknown_paths_get_the_error_page() {
    let response = respond(app().handle(&request(Method::Get, "/nope", None, b"")));
    assert_eq!(response.status, 404);
    assert_eq!(body_text(&response), "<p>error.html</p>");
}

#[test]
fn wrong_methods_get_405_with_allow_and_unknown_ones_501() {
    let app = app();
    let response = respond(app.handle(&request(Method::Put, "/message", None, b"")));
    assert_eq!(response.status, 405);
    assert!(response
        .headers
        .contains(&("Allow", "GET, HEAD, POST".into())));
    let response = respond(app.handle(&request(Method::Other("FOO".into()), "/", None, b"")));
    assert_eq!(response.status, 501);
}

#[test]
fn a_valid_form_is_forwarded() {
    let action = app().handle(&request(
        Method::Post,
        "/message",
        Some("application/x-www-form-urlencoded"),
        b"username=ann&message=a+%26+b",
    ));
    assert_eq!(
        action,
        AppAction::Forward(Submission {
            message: Message::new("ann".into(), "a & b".into()).unwrap(),
            retry: None,
        })
    );
}

#[test]
fn a_bad_form_gets_a_page_saying_what_is_wrong() {
    let app = app();
    let cases: &[(&[u8], &str)] = &[
        (b"username=&message=hi", "empty"),
        (b"message=hi", "missing"),
        (b"username=ann&message=%zz", "%"),
        (b"username=ann&message=%FF", "UTF-8"),
    ];
    for (body, needle) in cases {
        let response = respond(app.handle(&request(Method::Post, "/message", None, body)));
        assert_eq!(response.status, 400, "{}", String::from_utf8_lossy(body));
        let text = body_text(&response);
        assert!(text.contains("Message not sent"), "{text}");
        assert!(
            text.to_lowercase().contains(&needle.to_lowercase()),
            "{needle} not in {text}"
        );
    }
}

#[test]
fn forwarding_outcomes_map_to_answers() {
    let app = app();
    let stored = app.forwarded(&ForwardOutcome::Stored);
    assert_eq!(stored.status, 303);
    assert!(stored.headers.contains(&("Location", SENT_PAGE.into())));
    let unconfirmed = app.forwarded(&ForwardOutcome::NotAcknowledged(None));
    assert_eq!(unconfirmed.status, 503);
    let text = body_text(&unconfirmed);
    assert!(text.contains("may or may not have been saved"), "{text}");
    assert!(!text.contains("nothing was saved"), "{text}");
    assert_eq!(app.forwarded(&ForwardOutcome::Busy).status, 503);
    assert_eq!(app.forwarded(&ForwardOutcome::TooLarge).status, 413);
}

#[test]
fn an_unconfirmed_message_can_be_sent_again_from_its_page() {
    let retry = Retry {
        id: MessageId::new("abc.1-7".into()).unwrap(),
        message: Message::new("<ann>".into(), "a \"quoted\" </textarea> & more".into()).unwrap(),
    };
    let response = app().forwarded(&ForwardOutcome::NotAcknowledged(Some(retry)));
    assert_eq!(response.status, 503);
    let text = body_text(&response);
    assert!(
        text.contains("<input type=\"hidden\" name=\"retry\" value=\"abc.1-7\">"),
        "{text}"
    );
    assert!(text.contains("value=\"&lt;ann&gt;\""), "{text}");
    assert!(
        text.contains(">a &quot;quoted&quot; &lt;/textarea&gt; &amp; more</textarea>"),
        "{text}"
    );
    assert!(text.contains("not saved twice"), "{text}");
}

#[test]
fn the_retry_field_comes_back_as_an_id_or_is_dropped() {
    let app = app();
    let form = "application/x-www-form-urlencoded";
    let with = app.handle(&request(
        Method::Post,
        "/message",
        Some(form),
        b"username=a&message=b&retry=abc.1-7",
    ));
    let AppAction::Forward(submission) = with else {
        panic!("forwarded");
    };
    assert_eq!(
        submission.retry,
        Some(MessageId::new("abc.1-7".into()).unwrap())
    );
    // Not an id at all (a control character): the message still goes, under a new id.
    let bad = app.handle(&request(
        Method::Post,
        "/message",
        Some(form),
        b"username=a&message=b&retry=%01",
    ));
    let AppAction::Forward(submission) = bad else {
        panic!("forwarded");
    };
    assert_eq!(submission.retry, None);
}

#[test]
fn the_health_check_answers_ok_whatever_the_site() {
    for method in [Method::Get, Method::Head] {
        let response = respond(app().handle(&request(method, "/__ferry/health", None, b"")));
        assert_eq!(response.status, 200);
        assert_eq!(response.content_type, Some("text/plain; charset=utf-8"));
        assert_eq!(body_text(&response), "ok");
        assert_eq!(header(&response, "cache-control"), Some("no-store"));
    }
}
