//! Status pages the server writes itself (400, 404 without a page, 408, 413, 503, ...), in the same
//! markup as the pages of the static folder so the site's stylesheet dresses them too.
//!
//! Owns HTML escaping of everything it interpolates; never reads a template from disk.

/// Whether a page reports success or a problem; picks the card's style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Notice,
    Problem,
}

/// A status page: a heading, one sentence, an optional detail line and links onward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a> {
    pub kind: PageKind,
    pub title: &'a str,
    pub lead: &'a str,
    pub detail: Option<&'a str>,
    /// Markup placed after the detail (a form), already escaped by whoever built it.
    pub extra: Option<&'a str>,
    /// The main link: (href, label).
    pub action: (&'a str, &'a str),
}

impl Page<'_> {
    /// Renders the page as UTF-8 HTML.
    pub fn render(&self) -> Vec<u8> {
        let mut html = String::with_capacity(1024);
        let modifier = match self.kind {
            PageKind::Notice => "notice",
            PageKind::Problem => "problem",
        };
        html.push_str(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
        );
        escape_into(&mut html, self.title);
        html.push_str(
            " · ferry</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n\
             <link rel=\"icon\" href=\"/logo.png\">\n</head>\n<body>\n\
             <header class=\"site\"><a class=\"brand\" href=\"/\">\
             <img src=\"/logo.png\" alt=\"\" width=\"32\" height=\"32\">ferry</a>\n\
             <nav><a href=\"/\">Home</a><a href=\"/message\">Send a message</a></nav></header>\n\
             <main class=\"card ",
        );
        html.push_str(modifier);
        html.push_str("\">\n<h1>");
        escape_into(&mut html, self.title);
        html.push_str("</h1>\n<p class=\"lead\">");
        escape_into(&mut html, self.lead);
        html.push_str("</p>\n");
        if let Some(detail) = self.detail {
            html.push_str("<p class=\"detail\">");
            escape_into(&mut html, detail);
            html.push_str("</p>\n");
        }
        if let Some(extra) = self.extra {
            html.push_str(extra);
        }
        html.push_str("<p class=\"actions\"><a class=\"button\" href=\"");
        escape_into(&mut html, self.action.0);
        html.push_str("\">");
        escape_into(&mut html, self.action.1);
        html.push_str("</a>");
        // The header links home already; a second Home beside an action that is Home itself
        // would be the same link twice.
        if self.action.0 != "/" {
            html.push_str(" <a href=\"/\">Home</a>");
        }
        html.push_str(
            "</p>\n</main>\n\
             <footer class=\"site\"><p>ferry · a tiny message board</p></footer>\n</body>\n</html>\n",
        );
        html.into_bytes()
    }
}

/// Appends `text` to `html` with the five HTML-significant characters escaped.
pub fn escape_into(html: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            _ => html.push(c),
        }
    }
}

/// The content type of every page rendered here.
pub const HTML: &str = "text/html; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_interpolated() {
        let page = Page {
            kind: PageKind::Problem,
            title: "<t>",
            lead: "a & b",
            detail: Some("\"x\" 'y'"),
            extra: None,
            action: ("/m?a=1&b=2", "Go"),
        };
        let html = String::from_utf8(page.render()).unwrap();
        assert!(html.contains("<h1>&lt;t&gt;</h1>"));
        assert!(html.contains("a &amp; b"));
        assert!(html.contains("&quot;x&quot; &#39;y&#39;"));
        assert!(html.contains("href=\"/m?a=1&amp;b=2\""));
        assert!(html.contains("class=\"card problem\""));
        assert!(html.contains("<footer class=\"site\">"));
    }
}
