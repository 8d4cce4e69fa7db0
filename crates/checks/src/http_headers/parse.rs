//! Reading security headers the way browsers read them: every field line counts, lists are
//! comma-separated, names and keywords are case-insensitive.

use reqwest::header::{HeaderMap, HeaderName};

/// Every value of `name`, trimmed, in order; non-UTF-8 bytes decoded lossily.
pub(super) fn values(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
        .collect()
}

/// All lines of `name` joined the way HTTP combines repeated fields, or `None` when absent.
pub(super) fn combined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let values = values(headers, name);
    (!values.is_empty()).then(|| values.join(", "))
}

/// The comma-separated items of every line of `name`, trimmed, empty items dropped.
pub(super) fn list(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    values(headers, name)
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One directive of a Content-Security-Policy: a lowercase name and its (trimmed) value.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Directive {
    pub name: String,
    pub value: String,
}

/// The directives of every policy in `name`: each line may hold several comma-separated
/// policies, and a browser enforces all of them.
pub(super) fn csp_directives(headers: &HeaderMap, name: &HeaderName) -> Vec<Directive> {
    csp_policies(headers, name).into_iter().flatten().collect()
}

/// Every policy in `name` with its directives, one entry per policy: a resource must pass
/// each of them, so what one policy allows another may still forbid. Policies without any
/// directive are left out.
pub(super) fn csp_policies(headers: &HeaderMap, name: &HeaderName) -> Vec<Vec<Directive>> {
    list(headers, name)
        .iter()
        .map(|policy| {
            policy
                .split(';')
                .filter_map(|directive| {
                    let directive = directive.trim();
                    let (name, value) = directive
                        .split_once(char::is_whitespace)
                        .unwrap_or((directive, ""));
                    (!name.is_empty()).then(|| Directive {
                        name: name.to_ascii_lowercase(),
                        value: value.trim().to_owned(),
                    })
                })
                .collect::<Vec<_>>()
        })
        .filter(|policy| !policy.is_empty())
        .collect()
}

/// The `max-age` of a Strict-Transport-Security value, or `None` when it has no valid one
/// (and browsers therefore ignore the header).
pub(super) fn hsts_max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        value.trim().trim_matches('"').parse().ok()
    })
}

/// Whether a Server value names a version, e.g. `nginx/1.18.0`, `Apache/2.4.41 (Ubuntu)`,
/// `Microsoft-IIS/10.0`, `lighttpd 1.4.55` — but not `nginx`, `cloudflare`, `AmazonS3` or an
/// opaque node id like `ECS (dcb/7F83)`.
pub(super) fn discloses_version(server: &str) -> bool {
    server
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';')
        .filter(|token| !token.is_empty())
        .any(|token| match token.rsplit_once('/') {
            Some((_, version)) => looks_like_version(version, true),
            None => looks_like_version(token, false),
        })
}

/// `1.18`, `2.4.41`, `1.1.1f`, `9.4.44.v2021`; a bare number (`2`) only after a `/`, since on
/// its own it is as likely a year or a count.
fn looks_like_version(text: &str, after_slash: bool) -> bool {
    let numeric_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let numeric = &text[..numeric_len];
    if !numeric.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let parts = numeric.split('.').filter(|part| !part.is_empty()).count();
    parts >= 2 || (after_slash && numeric_len == text.len())
}

#[cfg(test)]
mod tests {
    use reqwest::header::{CONTENT_SECURITY_POLICY, HeaderValue, X_FRAME_OPTIONS};

    use super::*;

    #[test]
    fn lists_span_lines_and_commas() {
        let mut headers = HeaderMap::new();
        headers.append(X_FRAME_OPTIONS, HeaderValue::from_static(" DENY , "));
        headers.append(X_FRAME_OPTIONS, HeaderValue::from_static("sameorigin"));
        assert_eq!(list(&headers, &X_FRAME_OPTIONS), ["DENY", "sameorigin"]);
        assert_eq!(
            combined(&headers, &X_FRAME_OPTIONS).as_deref(),
            Some("DENY ,, sameorigin")
        );
        assert_eq!(combined(&HeaderMap::new(), &X_FRAME_OPTIONS), None);
    }

    #[test]
    fn csp_directives_of_all_policies() {
        let mut headers = HeaderMap::new();
        headers.append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; ; Frame-Ancestors  'none' , img-src *"),
        );
        headers.append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("upgrade-insecure-requests"),
        );
        let directives = csp_directives(&headers, &CONTENT_SECURITY_POLICY);
        let names: Vec<&str> = directives.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "default-src",
                "frame-ancestors",
                "img-src",
                "upgrade-insecure-requests"
            ]
        );
        assert_eq!(directives[1].value, "'none'");
        assert_eq!(directives[3].value, "");
    }

    #[test]
    fn hsts_max_age_is_parsed_leniently() {
        assert_eq!(
            hsts_max_age("max-age=31536000; includeSubDomains"),
            Some(31_536_000)
        );
        assert_eq!(
            hsts_max_age("includeSubDomains; MAX-AGE = \"600\""),
            Some(600)
        );
        assert_eq!(hsts_max_age("max-age=0"), Some(0));
        assert_eq!(hsts_max_age("includeSubDomains"), None);
        assert_eq!(hsts_max_age("max-age=soon"), None);
        assert_eq!(hsts_max_age(""), None);
    }

    #[test]
    fn server_versions_are_recognised() {
        for server in [
            "nginx/1.18.0",
            "Apache/2.4.41 (Ubuntu)",
            "Microsoft-IIS/10.0",
            "Apache/2",
            "lighttpd 1.4.55",
            "openresty/1.19.3.1",
            "Jetty(9.4.44.v20210927)",
            "Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips",
            "WSGIServer/0.2 CPython/3.8.10",
        ] {
            assert!(discloses_version(server), "{server}");
        }
        for server in [
            "nginx",
            "cloudflare",
            "Apache",
            "AmazonS3",
            "ECS (dcb/7F83)",
            "gws",
            "Microsoft-IIS",
            "",
            "istio-envoy",
            "server 2019",
        ] {
            assert!(!discloses_version(server), "{server}");
        }
    }
}
