//! The message web app: what each request gets, decided once for both shells.
//!
//! [`MessageApp::handle`] answers a page request at once, or asks the shell to forward a valid
//! message to the socket server ([`AppAction::Forward`]); once the forwarding ends, the shell
//! asks [`MessageApp::forwarded`] for the answer (303 to the sent page, 413, or 503). The app
//! never sends anything itself.

use std::time::Duration;

use super::pages::{not_confirmed, not_stored, problem, see_sent_page, size_text};
use super::router::{route, Route};
use super::site::{Site, StaticFile};
use crate::datagram::{MessageId, Retry, SendError};
use crate::form::decode_submission;
use crate::http::conditional::{cache_control, if_none_match_holds, NO_CACHE};
use crate::http::{health_response, is_health_check, Body, Request, Response};
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
    /// The app serving `site`, whose form takes bodies up to `max_body` bytes (`message.html`
    /// says so where it has [`MAX_BODY_MARKER`]).
    pub fn new(mut site: Site, max_body: u64) -> Self {
        if let Some(form) = site.get("message.html") {
            let text = String::from_utf8_lossy(&form.body);
            if text.contains(MAX_BODY_MARKER) {
                let filled = text.replace(MAX_BODY_MARKER, &size_text(max_body));
                site.rewrite("message.html", filled.into_bytes());
            }
        }
        MessageApp { site }
    }

    /// Decides what a complete request gets. Every answer says how long it may be kept.
    pub fn handle(&self, request: &Request) -> AppAction {
        match self.decide(request) {
            AppAction::Respond(response) => AppAction::Respond(fresh_each_time(response)),
            forward => forward,
        }
    }

    fn decide(&self, request: &Request) -> AppAction {
        let head = &request.head;
        if is_health_check(&head.method, &head.target) {
            return AppAction::Respond(health_response());
        }
        match route(&self.site, &head.method, &head.target) {
            Route::File(file) => {
                AppAction::Respond(serve_static(file, head.header_str("if-none-match")))
            }
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
        fresh_each_time(match outcome {
            ForwardOutcome::Stored => see_sent_page(),
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
        })
    }

    fn not_found(&self) -> Response {
        // error.html is the site's own page; its caching is that of an answer, not a file.
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

/// Where a browser is sent after a stored message (`/sent` serves sent.html).
pub const SENT_PAGE: &str = "/sent";
/// How long a browser may keep the site's assets (stylesheet, images, scripts) without asking:
/// long enough that a visit does not ask for the same logo on every page, short enough that a
/// changed stylesheet shows within minutes. Pages are revalidated each time instead, since they
/// are the site's content.
pub const ASSET_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// Where `message.html` shows the largest message the form takes, filled in at start.
pub const MAX_BODY_MARKER: &str = "<!--ferry:max-body-->";

/// A file of the static folder: 304 when the client's copy is current (weak comparison, RFC
/// 9110 §13.1.2), else the file; with its validator and freshness either way. Pages are
/// revalidated on every use, assets kept for [`ASSET_MAX_AGE`].
fn serve_static(file: &StaticFile, if_none_match: Option<&str>) -> Response {
    let freshness = if file.content_type.starts_with("text/html") {
        NO_CACHE.to_string()
    } else {
        cache_control(ASSET_MAX_AGE)
    };
    let response = if if_none_match.is_some_and(|list| if_none_match_holds(list, &file.etag)) {
        Response::new(304)
    } else {
        Response::new(200).with_body(file.content_type, Body::Shared(file.body.clone()))
    };
    response
        .with_header("ETag", file.etag.clone())
        .with_header("Cache-Control", freshness)
}

/// Marks an answer that has no freshness of its own (pages the app writes, redirects, errors)
/// to be checked with the server before each use.
fn fresh_each_time(response: Response) -> Response {
    let has_one = response
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("cache-control"));
    if has_one {
        response
    } else {
        response.with_header("Cache-Control", NO_CACHE)
    }
}

#[cfg(test)]
mod tests;
