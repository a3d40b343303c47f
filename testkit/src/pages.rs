//! Suite: what each path answers (SPEC, "Message web app"): pages, static files and their
//! content types, 404, HEAD, 405 with `Allow`, 501, and the pages shipped in the repository.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary; it starts its own
//! server on port 0. Nothing here posts messages; see [`crate::post`].

use std::fs;
use std::path::Path;

use crate::check;
use crate::client::{self, Client};
use crate::fixture::{self, ERROR_HTML};
use crate::server::{Launch, Server};
use crate::temp::TempDir;

/// Where `message.html` asks for the form's limit (the web app's `MAX_BODY_MARKER`).
const MAX_BODY_MARKER: &str = "<!--ferry:max-body-->";

/// `/`, `/index.html`, `/message`, `/message.html` and `/sent` answer 200 with their page as
/// `text/html; charset=utf-8`.
pub fn pages_are_served_as_utf8_html(bin: &str) {
    let server = Server::serve(bin, "pages_are_served_as_utf8_html");
    for page in fixture::PAGES {
        let response = client::get(server.web(), page.target);
        let what = format!("GET {}", page.target);
        check::page(&response, 200, page.body, page.media_types, &what);
        check::html_utf8(&response, &what);
    }
}

/// Every file under the static folder (subfolders and awkward names too) is served with the
/// content type of its extension.
pub fn static_files_have_their_content_types(bin: &str) {
    let server = Server::serve(bin, "static_files_have_their_content_types");
    for asset in fixture::ASSETS {
        let response = client::get(server.web(), asset.target);
        let what = format!("GET {} ({})", asset.target, asset.file);
        check::page(&response, 200, asset.body, asset.media_types, &what);
    }
}

/// Any other path, whatever the method, and any path that would leave the static folder, is
/// 404 with the body of `error.html`.
pub fn unknown_paths_are_404_with_the_error_page(bin: &str) {
    let server = Server::serve(bin, "unknown_paths_are_404_with_the_error_page");
    let cases = [
        "GET /nope",
        "GET /nope.html",
        "GET /js",
        "GET /js/",
        "GET /deep/er/",
        "GET /style.css/",
        "GET /static/style.css",
        "GET /../secret.txt",
        "GET /%2e%2e/secret.txt",
        "GET /..%2fsecret.txt",
        "GET /js/..%2f..%2fsecret.txt",
        "GET /%2E%2E/%2E%2E/secret.txt",
        "POST /nope",
        "DELETE /nope",
    ];
    for case in cases {
        let mut client = Client::connect(server.web());
        let raw =
            format!("{case} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let response = client.request(raw.as_bytes());
        check::page(&response, 404, ERROR_HTML.as_bytes(), &["text/html"], case);
        assert!(
            !response.body.windows(6).any(|w| w == b"secret"),
            "{case}: leaked a file"
        );
    }
}

/// HEAD answers with GET's status and headers and no body; the connection stays usable, which
/// shows no body bytes were sent after the head.
pub fn head_matches_get_without_a_body(bin: &str) {
    let server = Server::serve(bin, "head_matches_get_without_a_body");
    let mut client = Client::connect(server.web());
    for target in [
        "/",
        "/message",
        "/style.css",
        "/logo.png",
        "/js/app.js",
        "/nope",
    ] {
        client.send(format!("HEAD {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head = client.read_head_response();
        let get = client.request(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let what = format!("HEAD {target}");
        assert_eq!(head.status, get.status, "{what}: status differs from GET");
        for name in ["content-type", "content-length"] {
            assert_eq!(
                head.header(name),
                get.header(name),
                "{what}: {name} differs from GET"
            );
        }
        assert!(
            head.header("date").is_some_and(check::is_imf_fixdate),
            "{what}: no Date"
        );
        assert!(head.body.is_empty());
    }
}

/// A known method on a known path is 405 with the methods that path allows.
pub fn known_method_on_a_known_path_is_405_with_allow(bin: &str) {
    let server = Server::serve(bin, "known_method_on_a_known_path_is_405_with_allow");
    let cases = [
        ("POST /", "GET, HEAD"),
        ("PUT /index.html", "GET, HEAD"),
        ("DELETE /sent", "GET, HEAD"),
        ("POST /style.css", "GET, HEAD"),
        ("PUT /message", "GET, HEAD, POST"),
        ("DELETE /message", "GET, HEAD, POST"),
    ];
    for (case, allow) in cases {
        let mut client = Client::connect(server.web());
        let raw =
            format!("{case} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let response = client.request(raw.as_bytes());
        check::status(&response, 405, case);
        assert_eq!(
            check::allow_set(&response),
            check::methods(allow),
            "{case}: Allow"
        );
        check::date_and_length(&response, case);
    }
}

/// A method the server does not know is 501.
pub fn unknown_method_is_501(bin: &str) {
    let server = Server::serve(bin, "unknown_method_is_501");
    for case in ["FOO /", "FOO /index.html", "BREW /message"] {
        let mut client = Client::connect(server.web());
        let response = client
            .request(format!("{case} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
        check::status(&response, 501, case);
        check::date_and_length(&response, case);
    }
}

/// The pages shipped in the repository's `static/` folder: the form posts `username` and
/// `message` to `/message`, and every page and asset is served as it is on disk.
pub fn shipped_pages_have_the_form_and_assets(bin: &str) {
    let shipped = Path::new(SHIPPED_STATIC);
    let dir = TempDir::new("shipped_pages_have_the_form_and_assets");
    let server = Launch::serve(bin, dir).flag("--static", shipped).start();
    let read = |name: &str| {
        fs::read(shipped.join(name))
            .unwrap_or_else(|e| panic!("the repository's static/{name} is missing: {e}"))
    };
    for (target, file, media) in [
        ("/", "index.html", "text/html"),
        ("/message", "message.html", "text/html"),
        ("/sent", "sent.html", "text/html"),
        ("/style.css", "style.css", "text/css"),
        ("/logo.png", "logo.png", "image/png"),
    ] {
        let response = client::get(server.web(), target);
        // The form's limit is filled in from --max-body (default 64K) where the page asks.
        let expected = String::from_utf8_lossy(&read(file))
            .replace(MAX_BODY_MARKER, "64 KiB")
            .into_bytes();
        let expected = if file.ends_with(".png") {
            read(file)
        } else {
            expected
        };
        check::page(
            &response,
            200,
            &expected,
            &[media],
            &format!("shipped {target}"),
        );
    }
    let missing = client::get(server.web(), "/no-such-page");
    check::page(
        &missing,
        404,
        &read("error.html"),
        &["text/html"],
        "shipped 404",
    );

    let form_page = client::get(server.web(), "/message")
        .text()
        .to_ascii_lowercase();
    let start = form_page
        .find("<form")
        .expect("shipped message.html has no <form>");
    let end = form_page[start..]
        .find("</form>")
        .map_or(form_page.len(), |at| start + at);
    let form = &form_page[start..end];
    for (name, value) in [
        ("method", "post"),
        ("action", "/message"),
        ("name", "username"),
        ("name", "message"),
    ] {
        assert!(
            has_attribute(form, name, value),
            "the shipped form lacks {name}=\"{value}\""
        );
    }
}

/// True when `html` holds `name=value` with double, single or no quotes.
fn has_attribute(html: &str, name: &str, value: &str) -> bool {
    [
        format!("{name}=\"{value}\""),
        format!("{name}='{value}'"),
        format!("{name}={value}"),
    ]
    .iter()
    .any(|form| html.contains(form.as_str()))
}

/// The repository's static folder, next to this crate.
const SHIPPED_STATIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../static");

/// Every answer says how long it may be kept (issue 12.8): assets a few minutes with a
/// validator, pages and the app's own answers `no-cache`; a weak form of an asset's tag gets 304;
/// the form says how long a message may be (`--max-body`).
pub fn answers_say_how_long_they_may_be_kept(bin: &str) {
    let dir = TempDir::new("answers_say_how_long_they_may_be_kept");
    let server = Launch::serve(bin, dir)
        .flag("--static", SHIPPED_STATIC)
        .flag("--max-body", "2K")
        .start();
    let css = client::get(server.web(), "/style.css");
    check::status(&css, 200, "GET /style.css");
    assert_eq!(css.header("cache-control"), Some("max-age=300"));
    let etag = css
        .header("etag")
        .expect("an asset has an ETag")
        .to_string();
    let mut client = Client::connect(server.web());
    let cached = client.request(
        format!("GET /style.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: W/{etag}\r\n\r\n").as_bytes(),
    );
    check::status(&cached, 304, "If-None-Match with the weak tag");
    for target in ["/", "/message", "/sent", "/nope"] {
        let response = client::get(server.web(), target);
        assert_eq!(
            response.header("cache-control"),
            Some("no-cache"),
            "GET {target}"
        );
    }
    let form = client::get(server.web(), "/message").text();
    assert!(
        form.contains("Up to 2 KiB"),
        "the form shows its limit:\n{form}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_match_any_quoting() {
        assert!(has_attribute(
            "<form method=post action='/message'>",
            "method",
            "post"
        ));
        assert!(has_attribute(
            "<form method=post action='/message'>",
            "action",
            "/message"
        ));
        assert!(!has_attribute("<form method=\"get\">", "method", "post"));
    }
}
