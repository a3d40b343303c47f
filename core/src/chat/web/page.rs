//! What the chat's web port serves over plain HTTP: the chat page, its script and stylesheet
//! (compiled in, so the port needs no static folder), and where its WebSockets are.
//!
//! The page loads nothing from elsewhere, and its Content-Security-Policy says so: the script
//! and stylesheet come from this origin, connections go back to it, nothing is inline, so even
//! a message that slipped past the script's escaping could not run.

use crate::http::{Body, Method, Response};

/// The chat's WebSocket.
pub const WS_PATH: &str = "/ws";
/// The echo WebSocket, when served.
pub const ECHO_PATH: &str = "/echo";

/// The answer to `method` on `path` (neither a WebSocket nor the health check).
pub fn respond(method: &Method, path: &str) -> Response {
    let asset = match path {
        "/" | "/index.html" => Some(("text/html; charset=utf-8", PAGE)),
        "/chat.js" => Some(("text/javascript; charset=utf-8", SCRIPT)),
        "/chat.css" => Some(("text/css; charset=utf-8", STYLE)),
        _ => None,
    };
    let Some((content_type, text)) = asset else {
        return Response::new(404).with_body(
            "text/plain; charset=utf-8",
            Body::Shared(NOT_FOUND.as_bytes().into()),
        );
    };
    if !matches!(method, Method::Get | Method::Head) {
        return Response::new(405).with_header("Allow", "GET, HEAD");
    }
    Response::new(200)
        .with_body(content_type, Body::Shared(text.as_bytes().into()))
        .with_header("Content-Security-Policy", POLICY)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Cache-Control", "no-cache")
}

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");
const NOT_FOUND: &str = "not found: the chat is at /\n";
/// Only this origin's script, stylesheet and connections (CSP 3: `'self'` covers `ws:` and
/// `wss:` to the same host).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
                      frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_page_and_its_assets_and_nothing_else() {
        for path in ["/", "/index.html", "/chat.js", "/chat.css"] {
            let response = respond(&Method::Get, path);
            assert_eq!(response.status, 200, "{path}");
            assert!(!response.body.is_empty());
        }
        assert_eq!(respond(&Method::Get, "/style.css").status, 404);
        assert_eq!(respond(&Method::Post, "/").status, 405);
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_never_writes_html_from_text() {
        for text in [PAGE, SCRIPT, STYLE] {
            assert!(!text.contains("http://") && !text.contains("https://"));
            assert!(!text.contains("//cdn"));
        }
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"));
        assert!(!PAGE.contains("<script>") && !PAGE.contains("<style>"));
    }
}
