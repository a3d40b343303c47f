//! The small static site the tests serve, with bodies known byte for byte.
//!
//! Owns the fixture files (pages, assets of every content type the SPEC lists, a subfolder, names
//! with spaces and a percent sign) and the secret file placed beside the static folder to catch
//! path traversal. It never starts a server.

use std::fs;
use std::path::Path;

use crate::temp::TempDir;

/// One file of the fixture site.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Where it lives under the static folder (`/`-separated).
    pub file: &'static str,
    /// The request target that names it (percent-encoded where needed).
    pub target: &'static str,
    /// Its exact contents.
    pub body: &'static [u8],
    /// The media types the answer may carry (any one; lower case, no parameters).
    pub media_types: &'static [&'static str],
}

/// Makes a scratch folder holding the fixture site in [`STATIC_DIR`] and [`SECRET_FILE`] beside
/// it; the store file ([`STORE_FILE`]) is left for the server to create.
pub fn sandbox(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    write_site(&dir.join(STATIC_DIR));
    write_file(&dir.join(SECRET_FILE), SECRET_BODY);
    dir
}

/// Writes every page and asset of the fixture site under `root`.
pub fn write_site(root: &Path) {
    for (file, body) in [
        ("index.html", INDEX_HTML.as_bytes()),
        ("message.html", MESSAGE_HTML.as_bytes()),
        ("sent.html", SENT_HTML.as_bytes()),
        ("error.html", ERROR_HTML.as_bytes()),
    ] {
        write_file(&root.join(file), body);
    }
    for asset in ASSETS {
        write_file(&root.join(asset.file), asset.body);
    }
}

fn write_file(path: &Path, body: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    }
    fs::write(path, body).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The static folder's name inside a sandbox.
pub const STATIC_DIR: &str = "static";

/// The store file's name inside a sandbox.
pub const STORE_FILE: &str = "data.json";

/// A file beside the static folder that no request may reach.
pub const SECRET_FILE: &str = "secret.txt";

/// The contents of [`SECRET_FILE`].
pub const SECRET_BODY: &[u8] = b"fixture secret: must never be served\n";

/// The fixture `index.html`.
pub const INDEX_HTML: &str = "<!doctype html>\n<title>fixture index</title>\n<p>index page</p>\n";

/// The fixture `message.html` (the form).
pub const MESSAGE_HTML: &str = "<!doctype html>\n<title>fixture form</title>\n\
    <form method=\"post\" action=\"/message\"><input name=\"username\">\
    <textarea name=\"message\"></textarea></form>\n";

/// The fixture `sent.html`.
pub const SENT_HTML: &str = "<!doctype html>\n<title>fixture sent</title>\n<p>sent</p>\n";

/// The fixture `error.html`, the body of every 404.
pub const ERROR_HTML: &str = "<!doctype html>\n<title>fixture error</title>\n<p>not here</p>\n";

/// The pages and what they answer to, as assets (`/` and `/message` map to pages too).
pub const PAGES: &[Asset] = &[
    page("/", INDEX_HTML),
    page("/index.html", INDEX_HTML),
    page("/message", MESSAGE_HTML),
    page("/message.html", MESSAGE_HTML),
    page("/sent", SENT_HTML),
];

/// Every other file of the site, one per content type the SPEC names, plus awkward names.
pub const ASSETS: &[Asset] = &[
    asset(
        "style.css",
        "/style.css",
        b"body { color: #123456; }\n",
        &["text/css"],
    ),
    asset("logo.png", "/logo.png", PNG_BYTES, &["image/png"]),
    asset(
        "js/app.js",
        "/js/app.js",
        b"console.log(\"fixture\");\n",
        &["text/javascript", "application/javascript"],
    ),
    asset(
        "photo.jpg",
        "/photo.jpg",
        b"\xff\xd8\xff\xe0fixture jpeg",
        &["image/jpeg"],
    ),
    asset("anim.gif", "/anim.gif", b"GIF89a fixture", &["image/gif"]),
    asset(
        "icon.svg",
        "/icon.svg",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n",
        &["image/svg+xml"],
    ),
    asset(
        "favicon.ico",
        "/favicon.ico",
        b"\x00\x00\x01\x00fixture ico",
        &["image/x-icon", "image/vnd.microsoft.icon"],
    ),
    asset(
        "image.webp",
        "/image.webp",
        b"RIFF\x00\x00\x00\x00WEBPfixture",
        &["image/webp"],
    ),
    asset(
        "data.json",
        "/data.json",
        b"{\"fixture\": true}\n",
        &["application/json"],
    ),
    asset(
        "notes.txt",
        "/notes.txt",
        b"plain fixture text\n",
        &["text/plain"],
    ),
    asset(
        "font.woff2",
        "/font.woff2",
        b"wOF2fixture font",
        &["font/woff2"],
    ),
    asset(
        "blob.bin",
        "/blob.bin",
        b"\x00\x01\x02fixture blob",
        &["application/octet-stream"],
    ),
    asset(
        "deep/er/page.html",
        "/deep/er/page.html",
        b"<p>deep page</p>\n",
        &["text/html"],
    ),
    asset(
        "my file.txt",
        "/my%20file.txt",
        b"a name with a space\n",
        &["text/plain"],
    ),
    asset(
        "100%.txt",
        "/100%25.txt",
        b"a name with a percent sign\n",
        &["text/plain"],
    ),
];

/// A PNG signature and header chunk, then bytes that are not UTF-8, so a lossy copy shows.
const PNG_BYTES: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\
    \x08\x06\x00\x00\x00\x1f\x15\xc4\x89\xff\xfe\x80fixture";

const fn page(target: &'static str, body: &'static str) -> Asset {
    Asset {
        file: "",
        target,
        body: body.as_bytes(),
        media_types: &["text/html"],
    }
}

const fn asset(
    file: &'static str,
    target: &'static str,
    body: &'static [u8],
    media_types: &'static [&'static str],
) -> Asset {
    Asset {
        file,
        target,
        body,
        media_types,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_holds_every_asset_and_the_secret() {
        let dir = sandbox("fixture_sandbox");
        for asset in ASSETS {
            let on_disk = fs::read(dir.join(STATIC_DIR).join(asset.file)).unwrap();
            assert_eq!(on_disk, asset.body, "{}", asset.file);
        }
        assert_eq!(fs::read(dir.join(SECRET_FILE)).unwrap(), SECRET_BODY);
        assert!(!dir.join(STORE_FILE).exists());
    }

    #[test]
    fn every_body_is_distinct_so_a_mixed_up_file_is_caught() {
        let mut bodies: Vec<&[u8]> = ASSETS.iter().map(|a| a.body).collect();
        bodies.extend([INDEX_HTML, MESSAGE_HTML, SENT_HTML, ERROR_HTML].map(str::as_bytes));
        let count = bodies.len();
        bodies.sort();
        bodies.dedup();
        assert_eq!(bodies.len(), count);
    }
}
