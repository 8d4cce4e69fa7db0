//! Directory listings: the response body is an index a web server generated for a folder.
//!
//! Conservative by design: a page is a listing only when its title and its structure both
//! match one server's generated index (the title and heading of Apache, nginx, lighttpd,
//! Python's http.server, Tomcat or Jetty; IIS's parent link or `<dir>` rows in a `<pre>`). A
//! page that merely says "index" is not one.

use s4e_types::{FindingDraft, Severity};
use serde_json::json;

use super::rules::{Response, ResponseFinding, Rule, excerpt};

/// What the generated pages start their title and first heading with (lowercased).
const TITLE_AND_HEADING: [&str; 3] = ["index of /", "directory listing for", "directory: /"];

/// The server whose index `body` is, or `None` when it is not a generated listing.
pub fn listing_kind(body: &str) -> Option<&'static str> {
    let lower = body.to_ascii_lowercase();
    let title = element_text(&lower, "title").unwrap_or_default();
    let heading = element_text(&lower, "h1")
        .or_else(|| element_text(&lower, "h2"))
        .unwrap_or_default();
    for prefix in TITLE_AND_HEADING {
        if title.starts_with(prefix) && heading.starts_with(prefix) {
            return Some(match prefix {
                "index of /" => "Apache, nginx or lighttpd autoindex",
                "directory listing for" => "Python http.server or Tomcat listing",
                _ => "Jetty directory listing",
            });
        }
    }
    let in_pre = lower.contains("<pre>");
    if in_pre && lower.contains("[to parent directory]</a>") {
        return Some("IIS directory browsing");
    }
    // IIS at a site's root has no parent link: rows are "date time <dir> <A HREF=…>".
    if in_pre && heading.ends_with(" - /") && lower.contains("&lt;dir&gt; <a href=") {
        return Some("IIS directory browsing");
    }
    None
}

/// The trimmed text of the first `<tag>…</tag>` (attributes allowed), tags inside removed.
fn element_text(lower: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}");
    let mut from = 0;
    let start = loop {
        let at = from + lower[from..].find(&open)?;
        let after = &lower[at + open.len()..];
        // `<h1>` or `<h1 class=…>`, not `<h1x>`.
        if after.starts_with('>') || after.starts_with(char::is_whitespace) {
            break at + open.len() + after.find('>')? + 1;
        }
        from = at + open.len();
    };
    let end = start + lower[start..].find(&format!("</{tag}"))?;
    let mut text = String::new();
    let mut in_tag = false;
    for c in lower[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text.trim().to_owned())
}

pub(super) const DIRECTORY_LISTING: Rule = Rule {
    id: "directory_listing",
    title: "Directory listing enabled",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(548),
    description: "The server answers with an automatically generated directory index, showing \
        every file in the folder: backups, configuration and other files never meant to be \
        linked become easy to find and download.",
    remediation: "Turn directory listings off (`Options -Indexes` in Apache, `autoindex off` in \
        nginx, directory browsing in IIS) and serve an index page or a 403/404 instead.",
};

/// Only successful responses: an error page quoting a listing title is not a listing.
pub(super) fn directory_listing(response: &Response<'_>) -> Option<FindingDraft> {
    if !(200..300).contains(&response.status) {
        return None;
    }
    let kind = listing_kind(response.body)?;
    let lower = response.body.to_ascii_lowercase();
    let title = element_text(&lower, "title").unwrap_or_default();
    Some(DIRECTORY_LISTING.for_response(
        response,
        "Directory listing enabled",
        json!({
            "status": response.status,
            "listing": kind,
            "title": excerpt(&title),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;
    use url::Url;

    use super::*;

    const APACHE: &str = r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /backup</title>
 </head>
 <body>
<h1>Index of /backup</h1>
  <table>
   <tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>
<tr><td><a href="/">Parent Directory</a></td></tr>
<tr><td><a href="db.sql">db.sql</a></td></tr>
</table>
</body></html>"#;

    const NGINX: &str = "<html>\r\n<head><title>Index of /</title></head>\r\n<body>\r\n\
        <h1>Index of /</h1><hr><pre><a href=\"../\">../</a>\r\n\
        <a href=\"site.tar.gz\">site.tar.gz</a>  01-Jan-2024 10:00  1234\r\n</pre><hr></body>\r\n</html>";

    const PYTHON: &str = r#"<!DOCTYPE HTML>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Directory listing for /</title>
</head>
<body>
<h1>Directory listing for /</h1>
<hr>
<ul>
<li><a href=".env">.env</a></li>
</ul>
<hr>
</body>
</html>"#;

    const IIS: &str = "<html><head><title>www.example.com - /files/</title></head><body>\
        <H1>www.example.com - /files/</H1><hr>\r\n\r\n<pre><A HREF=\"/\">[To Parent Directory]</A><br><br>\
        Monday, January 1, 2024  1:00 PM        &lt;dir&gt; <A HREF=\"/files/old/\">old</A><br></pre><hr></body></html>";

    const IIS_ROOT: &str = "<html><head><title>www.example.com - /</title></head><body>\
        <H1>www.example.com - /</H1><hr>\r\n\r\n<pre>\
        Monday, January 1, 2024  1:00 PM        &lt;dir&gt; <A HREF=\"/aspnet_client/\">aspnet_client</A><br></pre><hr></body></html>";

    #[test]
    fn generated_indexes_are_recognised() {
        assert_eq!(
            listing_kind(APACHE),
            Some("Apache, nginx or lighttpd autoindex")
        );
        assert_eq!(
            listing_kind(NGINX),
            Some("Apache, nginx or lighttpd autoindex")
        );
        assert_eq!(
            listing_kind(PYTHON),
            Some("Python http.server or Tomcat listing")
        );
        assert_eq!(listing_kind(IIS), Some("IIS directory browsing"));
        assert_eq!(listing_kind(IIS_ROOT), Some("IIS directory browsing"));
        let tomcat = "<html><head><title>Directory Listing For [/]</title></head>\
            <body><h1>Directory Listing For [/]</h1></body></html>";
        assert!(listing_kind(tomcat).is_some());
        let jetty = "<HTML><HEAD><TITLE>Directory: /</TITLE></HEAD><BODY>\
            <H1 class=\"x\">Directory: /</H1></BODY></HTML>";
        assert!(listing_kind(jetty).is_some());
    }

    #[test]
    fn ordinary_pages_are_not_listings() {
        for body in [
            "",
            "<html><head><title>Index of products</title></head><body><h1>Index of /</h1></body></html>",
            "<html><head><title>Index of /docs</title></head><body><p>moved</p></body></html>",
            "<html><head><title>Shop</title></head><body><h1>Index of /</h1><pre>x</pre></body></html>",
            "<html><body><p>Directory listing for / is disabled</p></body></html>",
            "<html><title>Help</title><body><h1>Help</h1><p>Click [To Parent Directory] to go up</p></body></html>",
            "<h1x>Index of /</h1x>",
        ] {
            assert_eq!(listing_kind(body), None, "{body}");
        }
    }

    #[test]
    fn only_successful_responses_are_reported() {
        let url = Url::parse("http://example.com/backup/").unwrap();
        let headers = HeaderMap::new();
        let response = |status| Response {
            url: &url,
            status,
            headers: &headers,
            body: APACHE,
        };
        let finding = directory_listing(&response(200)).unwrap();
        assert_eq!(finding.rule, "directory_listing");
        assert_eq!(finding.location, "http://example.com/backup/");
        assert_eq!(finding.evidence["title"], "index of /backup");
        assert_eq!(
            (finding.severity, finding.cwe),
            (Severity::Medium, Some(548))
        );
        assert!(directory_listing(&response(404)).is_none());
        assert!(directory_listing(&response(301)).is_none());
    }
}
