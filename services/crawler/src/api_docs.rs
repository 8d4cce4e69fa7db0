//! OpenAPI 3 and Swagger 2 documents wherever the crawl finds them (linked from a page, quoted
//! in a script, named in robots.txt), JSON or YAML, read with the `api_operations` check's
//! parser into their operations: the site map keeps them, and each GET operation that needs no
//! parameter becomes a URL of the crawl (its in-scope ones fetched like any page). A document
//! that claims to be one but does not parse is kept with the reason, never fatal.

use s4e_checks::api_operations::{self, ApiDocument};
use s4e_types::crawl::{SiteApiDocument, SiteApiOperation};
use url::Url;

/// The most operations kept of one document.
const OPERATION_LIMIT: usize = 500;

/// What a response is as an API document: `None` when it is not one; else the document (or why
/// it is invalid) and the URLs of its parameterless GET operations.
pub fn read(
    url: &Url,
    content_type: Option<&str>,
    body: &str,
) -> Option<(SiteApiDocument, Vec<Url>)> {
    if !claims_to_be_one(url, content_type, body) {
        return None;
    }
    Some(match api_operations::parse(body, url) {
        Ok(document) => {
            let links = links(&document);
            (summary(document), links)
        }
        Err(error) => (
            SiteApiDocument {
                version: None,
                base: None,
                operations: Vec::new(),
                error: Some(error),
            },
            Vec::new(),
        ),
    })
}

/// A JSON or YAML response (by type or by name) whose start names `openapi` or `swagger` as a
/// key: what is judged as a document, and reported when it does not parse.
fn claims_to_be_one(url: &Url, content_type: Option<&str>, body: &str) -> bool {
    let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
    let path = url.path().to_ascii_lowercase();
    let structured = content_type.contains("json")
        || content_type.contains("yaml")
        || [".json", ".yaml", ".yml"]
            .iter()
            .any(|ext| path.ends_with(ext));
    if !structured {
        return false;
    }
    let mut end = body.len().min(4096);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let start = &body[..end];
    ["\"openapi\"", "\"swagger\"", "openapi:", "swagger:"]
        .iter()
        .any(|key| start.contains(key))
}

fn links(document: &ApiDocument) -> Vec<Url> {
    document
        .operations
        .iter()
        .filter(|operation| operation.method == "GET" && operation.required.is_empty())
        .map(|operation| api_operations::endpoint(&document.base, &operation.path))
        .collect()
}

fn summary(document: ApiDocument) -> SiteApiDocument {
    SiteApiDocument {
        version: Some(document.version),
        base: Some(document.base.to_string()),
        operations: document
            .operations
            .into_iter()
            .take(OPERATION_LIMIT)
            .map(|operation| SiteApiOperation {
                method: operation.method,
                path: operation.path,
                secured: operation.secured,
                required: operation.required,
            })
            .collect(),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yaml_document_anywhere_gives_its_operations_and_its_parameterless_gets() {
        let url = Url::parse("http://shop.test/docs/api.yaml").unwrap();
        let yaml = "openapi: 3.0.3\nservers:\n  - url: /api/v1\npaths:\n  /status:\n    get: {}\n  \
                    /items/{id}:\n    get:\n      parameters:\n        - {name: id, in: path, required: true}\n  \
                    /orders:\n    post: {}\n";
        let (document, links) = read(&url, Some("text/plain"), yaml).unwrap();
        assert_eq!(document.version.as_deref(), Some("3.0.3"));
        assert_eq!(document.error, None);
        let operations: Vec<(&str, &str)> = document
            .operations
            .iter()
            .map(|op| (op.method.as_str(), op.path.as_str()))
            .collect();
        assert_eq!(
            operations,
            vec![
                ("GET", "/status"),
                ("GET", "/items/{id}"),
                ("POST", "/orders")
            ]
        );
        assert_eq!(
            links.iter().map(Url::as_str).collect::<Vec<_>>(),
            vec!["http://shop.test/api/v1/status"]
        );
    }

    #[test]
    fn an_invalid_document_is_kept_with_its_reason_and_others_are_not_documents() {
        let url = Url::parse("http://shop.test/broken.json").unwrap();
        let (document, links) = read(
            &url,
            Some("application/json"),
            r#"{"openapi": "3.0.0", "paths": "nope"}"#,
        )
        .unwrap();
        assert!(document.error.unwrap().contains("paths"));
        assert!(links.is_empty());
        let page = Url::parse("http://shop.test/about").unwrap();
        assert!(read(&page, Some("text/html"), "<p>our openapi: docs</p>").is_none());
        assert!(read(&url, Some("application/json"), r#"{"status": "ok"}"#).is_none());
    }
}
