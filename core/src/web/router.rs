//! The message web app's routes: which (method, target) pairs name a page, the form submission,
//! or nothing, and the `Allow` list when the method is wrong.
//!
//! Owns turning a request target into a path inside the static folder: percent-decoding,
//! dropping the query, and refusing anything that could leave the folder (`..`, `.`, NUL,
//! backslashes). Never looks at bodies or headers.

use crate::http::Method;
use crate::web::site::{Site, StaticFile};

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// A file of the static folder (GET or HEAD).
    File(&'a StaticFile),
    /// `POST /message`: the form submission.
    SubmitMessage,
    /// No such page; answered 404 with error.html.
    NotFound,
    /// A known path with a method it does not take; answered 405 with this `Allow` value.
    MethodNotAllowed(&'static str),
    /// A method the server does not know; answered 501.
    NotImplemented,
}

/// Routes a request.
pub fn route<'a>(site: &'a Site, method: &Method, target: &str) -> Route<'a> {
    if let Method::Other(_) = method {
        return Route::NotImplemented;
    }
    let Some(path) = static_path(target) else {
        return Route::NotFound;
    };
    let is_form = path == "message";
    let file = match path.as_str() {
        "" => site.get("index.html"),
        "message" => site.get("message.html"),
        "sent" => site.get("sent.html"),
        folder if folder.ends_with('/') => site.get(&format!("{folder}index.html")),
        file => site.get(file),
    };
    let Some(file) = file else {
        return Route::NotFound;
    };
    match (method, is_form) {
        (Method::Get | Method::Head, _) => Route::File(file),
        (Method::Post, true) => Route::SubmitMessage,
        (_, true) => Route::MethodNotAllowed(ALLOW_FORM),
        (_, false) => Route::MethodNotAllowed(ALLOW_PAGE),
    }
}

/// The path inside the static folder a target names, without the leading `/`, or `None` when
/// it is malformed or would leave the folder.
pub fn static_path(target: &str) -> Option<String> {
    let path = origin_path(target)?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(path.as_bytes())?;
    let decoded = String::from_utf8(decoded).ok()?;
    let relative = decoded.strip_prefix('/')?;
    if relative.contains(['\0', '\\']) {
        return None;
    }
    for segment in relative.split('/') {
        if segment == "." || segment == ".." {
            return None;
        }
    }
    Some(relative.to_owned())
}

/// The path part of an origin-form or absolute-form target.
fn origin_path(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    let scheme_end = target.find("://")?;
    let rest = &target[scheme_end + 3..];
    Some(rest.find('/').map_or("/", |i| &rest[i..]))
}

/// Decodes `%XX` escapes (a `+` stays a `+` in a path); `None` for a malformed escape.
fn percent_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let high = (hex[0] as char).to_digit(16)?;
            let low = (hex[1] as char).to_digit(16)?;
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The methods a page takes.
pub const ALLOW_PAGE: &str = "GET, HEAD";
/// The methods the form's path takes.
pub const ALLOW_FORM: &str = "GET, HEAD, POST";

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        let mut files: Vec<(String, Vec<u8>)> = crate::web::site::REQUIRED_PAGES
            .iter()
            .map(|p| (p.to_string(), p.as_bytes().to_vec()))
            .collect();
        for extra in [
            "style.css",
            "js/app.js",
            "docs/index.html",
            "a b.txt",
            "100%.txt",
            "c+d.txt",
        ] {
            files.push((extra.to_string(), extra.as_bytes().to_vec()));
        }
        Site::new(files).unwrap()
    }

    fn file_of(route: Route<'_>) -> Option<String> {
        match route {
            Route::File(f) => Some(String::from_utf8(f.body.to_vec()).unwrap()),
            _ => None,
        }
    }

    #[test]
    fn pages_and_aliases() {
        let site = site();
        let cases = [
            ("/", "index.html"),
            ("/index.html", "index.html"),
            ("/message", "message.html"),
            ("/message.html", "message.html"),
            ("/sent", "sent.html"),
            ("/style.css", "style.css"),
            ("/js/app.js", "js/app.js"),
            ("/docs/", "docs/index.html"),
            ("/a%20b.txt", "a b.txt"),
            ("/100%25.txt", "100%.txt"),
            ("/c+d.txt", "c+d.txt"),
            ("/style.css?v=3", "style.css"),
            ("http://example.com/style.css", "style.css"),
            ("http://example.com", "index.html"),
            ("/%6Dessage", "message.html"),
        ];
        for (target, expected) in cases {
            assert_eq!(
                file_of(route(&site, &Method::Get, target)).as_deref(),
                Some(expected),
                "{target}"
            );
            assert_eq!(
                file_of(route(&site, &Method::Head, target)).as_deref(),
                Some(expected),
                "{target}"
            );
        }
    }

    #[test]
    fn nothing_leaves_the_folder() {
        let site = site();
        let cases = [
            "/../Cargo.toml",
            "/js/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/js/%2e%2e/index.html",
            "/./index.html",
            "/..%5cindex.html",
            "/index.html%00.png",
            "/%zz",
            "/%",
            "/%ff",
            "/nope",
            "/js",
            "/docs",
            "//etc/passwd",
        ];
        for target in cases {
            assert_eq!(
                route(&site, &Method::Get, target),
                Route::NotFound,
                "{target}"
            );
        }
    }

    #[test]
    fn methods() {
        let site = site();
        assert_eq!(
            route(&site, &Method::Post, "/message"),
            Route::SubmitMessage
        );
        assert_eq!(
            route(&site, &Method::Put, "/message"),
            Route::MethodNotAllowed(ALLOW_FORM)
        );
        assert_eq!(
            route(&site, &Method::Post, "/"),
            Route::MethodNotAllowed(ALLOW_PAGE)
        );
        assert_eq!(
            route(&site, &Method::Post, "/message.html"),
            Route::MethodNotAllowed(ALLOW_PAGE)
        );
        assert_eq!(
            route(&site, &Method::Delete, "/style.css"),
            Route::MethodNotAllowed(ALLOW_PAGE)
        );
        assert_eq!(route(&site, &Method::Post, "/nope"), Route::NotFound);
        let foo = Method::Other("FOO".into());
        assert_eq!(route(&site, &foo, "/"), Route::NotImplemented);
        assert_eq!(route(&site, &foo, "/nope"), Route::NotImplemented);
    }
}
