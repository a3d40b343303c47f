//! Suite: a message sent again after a 503 (the web app did not hear the store's confirmation
//! in time) is stored once, however the first try ended.
//!
//! A relay between the web app and the socket server passes every message but drops every
//! acknowledgement for the first try, so the message is stored while its poster is told 503;
//! the page offers the same message again, and sending that form once acknowledgements flow
//! gets 303 without a second copy.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary.

use std::time::Duration;

use crate::check;
use crate::fixture;
use crate::post::post_form;
use crate::relay::{Faults, Relay};
use crate::server::Launch;
use crate::store;
use crate::temp::TempDir;

/// The 503 page says the message may have been stored and carries it in a form with its id;
/// sending that form stores nothing twice. Sending a changed message is a new message.
pub fn a_message_sent_again_after_a_503_is_stored_once(bin: &str) {
    let socket = Launch::socket(bin, TempDir::new("retry_socket")).start();
    let relay = Relay::start(socket.socket(), NO_FAULTS);
    relay.block_acks(true);
    let web = Launch::http(bin, fixture::sandbox("retry_http"), relay.address())
        .flag("--ack-timeout", "300ms")
        .start();
    let (username, message) = ("ann <a&b>", "first \"try\" </textarea>");
    let first = post_form(web.web(), &[("username", username), ("message", message)]);
    check::status(&first, 503, "the store's confirmation was held back");
    let page = first.text();
    assert!(
        page.contains("may or may not have been saved") && !page.contains("nothing was saved"),
        "the 503 page must not claim nothing was saved:\n{page}"
    );
    let stored = store::read_when(socket.store(), 1, STORE_WAIT);
    assert_eq!(stored.len(), 1, "the first try was stored: {stored:?}");

    let retry = hidden_value(&page, "retry").expect("the 503 page carries the try's id");
    assert_eq!(field_value(&page, "username").as_deref(), Some(username));
    assert_eq!(textarea(&page, "message").as_deref(), Some(message));
    relay.block_acks(false);
    let again = post_form(
        web.web(),
        &[
            ("retry", &retry),
            ("username", username),
            ("message", message),
        ],
    );
    check::status(&again, 303, "the same message sent again");
    let stored = store::read(socket.store());
    assert_eq!(stored.len(), 1, "sent again, stored once: {stored:?}");
    assert_eq!(stored[0].message, message);

    // The same id with other words is another message, stored as such.
    let changed = post_form(
        web.web(),
        &[
            ("retry", &retry),
            ("username", username),
            ("message", "second thoughts"),
        ],
    );
    check::status(&changed, 303, "a changed message under an old id");
    let stored = store::read(socket.store());
    assert_eq!(stored.len(), 2, "{stored:?}");
    drop(relay);
}

/// The value of the hidden input `name` in `page`, unescaped.
fn hidden_value(page: &str, name: &str) -> Option<String> {
    attribute_after(page, &format!("type=\"hidden\" name=\"{name}\""))
}

/// The `value` of the input whose `name` is `name`.
fn field_value(page: &str, name: &str) -> Option<String> {
    attribute_after(page, &format!("name=\"{name}\""))
}

fn attribute_after(page: &str, marker: &str) -> Option<String> {
    let rest = &page[page.find(marker)? + marker.len()..];
    let rest = &rest[..rest.find('>')?];
    let value = &rest[rest.find("value=\"")? + "value=\"".len()..];
    Some(unescape(&value[..value.find('"')?]))
}

/// The text of the textarea whose `name` is `name`.
fn textarea(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let rest = &page[page.find(&marker)?..];
    let text = &rest[rest.find('>')? + 1..];
    Some(unescape(&text[..text.find("</textarea>")?]))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The relay passes everything; only the acks are held back, on purpose.
const NO_FAULTS: Faults = Faults {
    drop: 0.0,
    duplicate: 0.0,
    reorder: 0.0,
};
/// Bounds the wait for the socket server to store the first try.
const STORE_WAIT: Duration = Duration::from_secs(10);
