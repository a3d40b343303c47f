//! The pages the web app writes itself (a bad form, a message not confirmed, a busy server),
//! in the markup of the site's own pages, and the bits of text they share with it.
//!
//! Owns the retry form: the page answering a message the store did not confirm holds the
//! message again, with the id of the failed try, so sending it again is safe.

use crate::datagram::Retry;
use crate::form::RETRY;
use crate::http::page::{escape_into, Page, PageKind, HTML};
use crate::http::{Body, Response};

use super::app::SENT_PAGE;

/// 303 to the sent page, with a body for clients that do not follow redirects.
pub(super) fn see_sent_page() -> Response {
    Response::new(303)
        .with_header("Location", SENT_PAGE)
        .with_body(HTML, Body::Owned(SEE_SENT_PAGE.to_vec()))
}

/// 503 after the store did not confirm in time: the message may have been stored or not, so
/// the page says so and, when the sender still knows the try, holds a form that sends the same
/// message again under the same id, which the socket server stores at most once.
pub(super) fn not_confirmed(retry: Option<&Retry>) -> Response {
    let mut form = String::new();
    if let Some(retry) = retry {
        form.push_str("<form method=\"post\" action=\"/message\">\n<input type=\"hidden\" name=\"");
        form.push_str(RETRY);
        form.push_str("\" value=\"");
        escape_into(&mut form, retry.id.as_str());
        form.push_str(
            "\">\n<div class=\"field\">\n<label for=\"username\">Your name</label>\n\
             <input type=\"text\" id=\"username\" name=\"username\" required maxlength=\"100\" value=\"",
        );
        escape_into(&mut form, &retry.message.username);
        form.push_str(
            "\">\n</div>\n<div class=\"field\">\n<label for=\"message\">Message</label>\n\
             <textarea id=\"message\" name=\"message\" rows=\"6\" required>",
        );
        escape_into(&mut form, &retry.message.message);
        form.push_str(
            "</textarea>\n</div>\n<p class=\"actions\"><button class=\"button\" type=\"submit\">\
             Send again</button></p>\n</form>\n",
        );
    }
    let lead = if retry.is_some() {
        "The message store did not confirm in time, so the message may or may not have been \
         saved. Sending it again below is safe: if it was saved, it is not saved twice."
    } else {
        "The message store did not confirm in time, so the message may or may not have been \
         saved. Check before sending it again, or it may be saved twice."
    };
    let page = Page {
        kind: PageKind::Problem,
        title: "Message not confirmed",
        lead,
        detail: None,
        extra: (!form.is_empty()).then_some(form.as_str()),
        action: ("/message", "Back to the form"),
    };
    Response::new(503)
        .with_body(HTML, Body::Owned(page.render()))
        .with_header("Retry-After", "1")
}

/// 503: the message may be sent again, since nothing of it was kept.
pub(super) fn not_stored(detail: &str) -> Response {
    problem(
        503,
        "Message not stored",
        "Message not stored, try again.",
        detail,
    )
    .with_header("Retry-After", "1")
}

pub(super) fn problem(status: u16, title: &str, lead: &str, detail: &str) -> Response {
    let page = Page {
        kind: PageKind::Problem,
        title,
        lead,
        detail: (!detail.is_empty()).then_some(detail),
        extra: None,
        action: ("/message", "Back to the form"),
    };
    Response::new(status).with_body(HTML, Body::Owned(page.render()))
}

/// A size as a person reads it: `64 KiB`, `1 MiB`, `1500 bytes`.
pub(super) fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A body for clients that do not follow redirects.
const SEE_SENT_PAGE: &[u8] = b"<!doctype html><title>Sent</title><p>Message stored. \
    <a href=\"/sent\">Continue</a></p>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size_text(64 * 1024), "64 KiB");
        assert_eq!(size_text(2 * 1024 * 1024), "2 MiB");
        assert_eq!(size_text(1500), "1500 bytes");
    }
}
