//! The content type of a file by its name's extension, for the web app's static folder and the
//! file server alike, so both answer a file with the same type.

/// The content type for a file name, by its extension (case-insensitive).
pub fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        // RFC 7763; with a charset, so a browser shows it as text instead of downloading it.
        Some("md" | "markdown") => "text/markdown; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_by_extension() {
        let cases = [
            ("a.html", "text/html; charset=utf-8"),
            ("A.HTML", "text/html; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("js/app.js", "text/javascript; charset=utf-8"),
            ("logo.png", "image/png"),
            ("p.jpg", "image/jpeg"),
            ("p.jpeg", "image/jpeg"),
            ("a.gif", "image/gif"),
            ("i.svg", "image/svg+xml"),
            ("favicon.ico", "image/x-icon"),
            ("a.webp", "image/webp"),
            ("d.json", "application/json"),
            ("r.txt", "text/plain; charset=utf-8"),
            ("README.md", "text/markdown; charset=utf-8"),
            ("f.woff2", "font/woff2"),
            ("archive.tar.gz", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ];
        for (path, expected) in cases {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }
}
