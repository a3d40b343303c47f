//! The message web app: what each request gets, decided once for both shells.
//!
//! [`MessageApp::handle`] answers a page request at once, or asks the shell to forward a valid
//! message to the socket server ([`AppAction::Forward`]); once the forwarding ends, the shell
//! asks [`MessageApp::forwarded`] for the answer (303 to the sent page, 413, or 503). The app
//! never sends anything itself.

use crate::datagram::{MessageId, Retry, SendError};
use crate::form::{decode_submission, RETRY};
use crate::http::page::{escape_into, Page, PageKind, HTML};
use crate::http::{Body, Request, Response};
use crate::web::router::{route, Route};
use crate::web::site::Site;
use crate::Message;

/// The message web app over a static site.
#[derive(Debug, Clone)]
pub struct MessageApp {
    site: Site,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppAction {
    /// Send this response now.
    Respond(Response),
    /// Forward this message to the socket server, then answer with [`MessageApp::forwarded`].
    Forward(Submission),
}

/// A message the form submitted, to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub message: Message,
    /// The id of an earlier try of this message, from the page answering its failure: the
    /// sender reuses it if it knows it (`DatagramSender::send_again`), so a copy of the earlier
    /// try that was stored after all is not stored twice.
    pub retry: Option<MessageId>,
}

/// How forwarding a message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardOutcome {
    /// The socket server acknowledged that the message is stored.
    Stored,
    /// No acknowledgement came before the deadline: the message may have been stored or not.
    /// With the failed try, when the sender still has it, to offer sending it again.
    NotAcknowledged(Option<Retry>),
    /// The message does not fit in one datagram.
    TooLarge,
    /// Too many messages are already in flight.
    Busy,
}

impl From<SendError> for ForwardOutcome {
    fn from(error: SendError) -> Self {
        match error {
            SendError::TooLarge => ForwardOutcome::TooLarge,
            SendError::Busy => ForwardOutcome::Busy,
        }
    }
}

impl MessageApp {
    /// The app serving `site`.
    pub fn new(site: Site) -> Self {
        MessageApp { site }
    }

    /// Decides what a complete request gets.
    pub fn handle(&self, request: &Request) -> AppAction {
        let head = &request.head;
        match route(&self.site, &head.method, &head.target) {
            Route::File(file) => AppAction::Respond(
                Response::new(200).with_body(file.content_type, Body::Shared(file.body.clone())),
            ),
            Route::SubmitMessage => {
                match decode_submission(head.header_str("content-type"), &request.body) {
                    Ok((message, retry)) => AppAction::Forward(Submission {
                        message,
                        // A tampered or stale id is no reason to refuse the message: it is
                        // sent under a new id.
                        retry: retry.and_then(|id| MessageId::new(id).ok()),
                    }),
                    Err(error) => AppAction::Respond(problem(
                        error.status(),
                        "Message not sent",
                        "The form could not be accepted; nothing was stored.",
                        &error.to_string(),
                    )),
                }
            }
            Route::NotFound => AppAction::Respond(self.not_found()),
            Route::MethodNotAllowed(allow) => AppAction::Respond(
                problem(
                    405,
                    "Method not allowed",
                    "This page cannot be used that way.",
                    &format!("{} is not one of {allow}", head.method.as_str()),
                )
                .with_header("Allow", allow),
            ),
            Route::NotImplemented => AppAction::Respond(problem(
                501,
                "Not implemented",
                "This server does not know that method.",
                head.method.as_str(),
            )),
        }
    }

    /// The answer once forwarding a message ended.
    pub fn forwarded(&self, outcome: &ForwardOutcome) -> Response {
        match outcome {
            ForwardOutcome::Stored => Response::new(303)
                .with_header("Location", SENT_PAGE)
                .with_body(HTML, Body::Owned(SEE_SENT_PAGE.to_vec())),
            ForwardOutcome::NotAcknowledged(retry) => not_confirmed(retry.as_ref()),
            ForwardOutcome::Busy => {
                not_stored("The server is handling too many messages at once; nothing was saved.")
            }
            ForwardOutcome::TooLarge => problem(
                413,
                "Message too long",
                "The message is too long to be stored; nothing was saved.",
                "Shorten the message and send it again.",
            ),
        }
    }

    fn not_found(&self) -> Response {
        match self.site.get("error.html") {
            Some(page) => {
                Response::new(404).with_body(page.content_type, Body::Shared(page.body.clone()))
            }
            None => problem(
                404,
                "Page not found",
                "There is no page at this address.",
                "",
            ),
        }
    }
}

/// 503 after the store did not confirm in time: the message may have been stored or not, so
/// the page says so and, when the sender still knows the try, holds a form that sends the same
/// message again under the same id, which the socket server stores at most once.
fn not_confirmed(retry: Option<&Retry>) -> Response {
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
fn not_stored(detail: &str) -> Response {
    problem(
        503,
        "Message not stored",
        "Message not stored, try again.",
        detail,
    )
    .with_header("Retry-After", "1")
}

fn problem(status: u16, title: &str, lead: &str, detail: &str) -> Response {
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

/// Where a browser is sent after a stored message (`/sent` serves sent.html).
pub const SENT_PAGE: &str = "/sent";
/// A body for clients that do not follow redirects.
const SEE_SENT_PAGE: &[u8] = b"<!doctype html><title>Sent</title><p>Message stored. \
    <a href=\"/sent\">Continue</a></p>\n";

#[cfg(test)]
mod tests;
