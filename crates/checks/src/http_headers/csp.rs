//! Content-Security-Policy quality: a policy that is there but does not stop injected scripts.
//!
//! Only enforced policies count (report-only enforces nothing). Scripts are governed by
//! `script-src`, or by `default-src` when a policy has no `script-src`; a policy with neither
//! does not restrict scripts, so it neither causes nor prevents these findings (a missing
//! policy is `missing_csp`'s business). A script must pass every enforced policy, so a weakness
//! is reported only when every policy that restricts scripts has it. `script-src-elem` and
//! `script-src-attr` (CSP 3) are not read: they only narrow what `script-src` allows further.

use reqwest::header::CONTENT_SECURITY_POLICY;
use s4e_types::{FindingDraft, Severity};

use super::parse::{self, Directive};
use super::rules::{Response, ResponseFinding, Rule};

/// The script source list of each enforced policy that restricts scripts, keywords lowercased.
fn script_source_lists(response: &Response<'_>) -> Vec<Vec<String>> {
    parse::csp_policies(response.headers, &CONTENT_SECURITY_POLICY)
        .iter()
        .filter_map(|policy| script_sources(policy))
        .collect()
}

/// `script-src`, else `default-src`, of one policy; a browser uses the first occurrence of a
/// directive and ignores repeats.
fn script_sources(policy: &[Directive]) -> Option<Vec<String>> {
    let directive = policy
        .iter()
        .find(|directive| directive.name == "script-src")
        .or_else(|| {
            policy
                .iter()
                .find(|directive| directive.name == "default-src")
        })?;
    Some(
        directive
            .value
            .split_ascii_whitespace()
            .map(str::to_ascii_lowercase)
            .collect(),
    )
}

/// Whether every list has the weakness (and there is at least one list).
fn every<T>(lists: &[Vec<String>], weakness: impl Fn(&[String]) -> Option<T>) -> Option<T> {
    let mut found = None;
    for list in lists {
        found = Some(weakness(list)?);
    }
    found
}

fn has(list: &[String], keyword: &str) -> bool {
    list.iter().any(|source| source == keyword)
}

/// A nonce or hash source: with one, CSP level 2+ browsers ignore `'unsafe-inline'`.
fn is_nonce_or_hash(source: &str) -> bool {
    ["'nonce-", "'sha256-", "'sha384-", "'sha512-"]
        .iter()
        .any(|prefix| source.starts_with(prefix))
}

/// `'unsafe-inline'` that a browser honours: not neutralised by a nonce, a hash or
/// `'strict-dynamic'`.
fn effective_unsafe_inline(list: &[String]) -> Option<()> {
    let neutralised =
        list.iter().any(|source| is_nonce_or_hash(source)) || has(list, "'strict-dynamic'");
    (has(list, "'unsafe-inline'") && !neutralised).then_some(())
}

fn unsafe_eval_source(list: &[String]) -> Option<()> {
    has(list, "'unsafe-eval'").then_some(())
}

/// The first source that lets scripts come from anywhere: `*`, a bare scheme (`https:`,
/// `data:`, …) or `scheme://*`. `'strict-dynamic'` makes browsers ignore all of them.
fn wildcard(list: &[String]) -> Option<String> {
    if has(list, "'strict-dynamic'") {
        return None;
    }
    list.iter()
        .find(|source| is_wildcard(source))
        .map(|source| crate::rule::excerpt(source))
}

fn is_wildcard(source: &str) -> bool {
    if source == "*" {
        return true;
    }
    if let Some(scheme) = source.strip_suffix(':') {
        return is_scheme(scheme);
    }
    match source.split_once("://") {
        Some((scheme, host)) => {
            let host = host.split([':', '/']).next().unwrap_or_default();
            is_scheme(scheme) && host == "*"
        }
        None => false,
    }
}

/// RFC 3986 scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

pub(super) const CSP_UNSAFE_INLINE: Rule = Rule {
    id: "csp_unsafe_inline",
    title: "Content-Security-Policy allows 'unsafe-inline'",
    severity: Severity::Medium,
    score: 4.7,
    cwe: Some(693),
    description: "The Content-Security-Policy allows inline scripts with 'unsafe-inline' (and no \
        nonce or hash that would make browsers ignore it), so an injected <script> or event \
        handler runs: the policy does not mitigate cross-site scripting.",
    remediation: "Remove 'unsafe-inline' from script-src (or default-src): move inline scripts to \
        files, or allow each one with a nonce ('nonce-…') or hash ('sha256-…').",
};

pub(super) fn unsafe_inline(response: &Response<'_>) -> Option<FindingDraft> {
    every(&script_source_lists(response), effective_unsafe_inline)?;
    Some(CSP_UNSAFE_INLINE.for_headers(
        response,
        "Content-Security-Policy allows inline scripts ('unsafe-inline')",
        &[&CONTENT_SECURITY_POLICY],
    ))
}

pub(super) const CSP_UNSAFE_EVAL: Rule = Rule {
    id: "csp_unsafe_eval",
    title: "Content-Security-Policy allows 'unsafe-eval'",
    severity: Severity::Low,
    score: 3.7,
    cwe: Some(693),
    description: "The Content-Security-Policy allows 'unsafe-eval', so strings can be run as \
        code (eval, new Function, string timers): an injection into data the page evaluates \
        becomes script execution.",
    remediation: "Remove 'unsafe-eval' from script-src (or default-src) and replace eval-style \
        code; 'wasm-unsafe-eval' is enough for WebAssembly.",
};

pub(super) fn unsafe_eval(response: &Response<'_>) -> Option<FindingDraft> {
    every(&script_source_lists(response), unsafe_eval_source)?;
    Some(CSP_UNSAFE_EVAL.for_headers(
        response,
        "Content-Security-Policy allows eval ('unsafe-eval')",
        &[&CONTENT_SECURITY_POLICY],
    ))
}

pub(super) const CSP_WILDCARD_SOURCE: Rule = Rule {
    id: "csp_wildcard_source",
    title: "Content-Security-Policy allows any source",
    severity: Severity::Medium,
    score: 4.7,
    cwe: Some(693),
    description: "The Content-Security-Policy lets scripts load from any host (a `*` source or a \
        bare scheme such as `https:` or `data:`), so an attacker who can inject a script tag \
        can point it at a server of their own: the policy does not stop cross-site scripting.",
    remediation: "List the exact origins scripts come from in script-src (or use nonces with \
        'strict-dynamic'), and never `*`, `http:`, `https:` or `data:`.",
};

pub(super) fn wildcard_source(response: &Response<'_>) -> Option<FindingDraft> {
    let source = every(&script_source_lists(response), wildcard)?;
    Some(CSP_WILDCARD_SOURCE.for_headers(
        response,
        &format!("Content-Security-Policy allows scripts from any source ({source})"),
        &[&CONTENT_SECURITY_POLICY],
    ))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};
    use url::Url;

    use super::*;

    fn rules(lines: &[&str]) -> Vec<&'static str> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(line).unwrap(),
            );
        }
        let url = Url::parse("https://example.com/").unwrap();
        let response = Response {
            url: &url,
            status: 200,
            headers: &headers,
            body: "",
        };
        [
            ("csp_unsafe_inline", unsafe_inline(&response)),
            ("csp_unsafe_eval", unsafe_eval(&response)),
            ("csp_wildcard_source", wildcard_source(&response)),
        ]
        .into_iter()
        .filter_map(|(rule, finding)| {
            finding.map(|finding| {
                assert_eq!(finding.rule, rule);
                rule
            })
        })
        .collect()
    }

    #[test]
    fn strict_policies_have_no_findings() {
        assert!(rules(&[]).is_empty());
        assert!(rules(&["default-src 'self'; frame-ancestors 'none'"]).is_empty());
        assert!(
            rules(&["script-src 'self' https://cdn.example.com 'wasm-unsafe-eval'"]).is_empty()
        );
        assert!(rules(&["default-src 'none'"]).is_empty());
        // Wildcards elsewhere do not concern scripts.
        assert!(rules(&["default-src 'self'; img-src *; style-src 'unsafe-inline'"]).is_empty());
        // Subdomain wildcards name a site's own hosts.
        assert!(rules(&["script-src https://*.example.com"]).is_empty());
    }

    #[test]
    fn unsafe_inline_is_reported_unless_neutralised() {
        assert_eq!(
            rules(&["script-src 'self' 'unsafe-inline'"]),
            ["csp_unsafe_inline"]
        );
        assert_eq!(
            rules(&["default-src 'self' 'UNSAFE-INLINE'"]),
            ["csp_unsafe_inline"]
        );
        // A nonce, a hash or 'strict-dynamic' makes CSP 2+ browsers ignore it.
        assert!(rules(&["script-src 'self' 'unsafe-inline' 'nonce-r4nd0m'"]).is_empty());
        assert!(rules(&["script-src 'unsafe-inline' 'sha256-abc='"]).is_empty());
        assert!(
            rules(&["script-src 'unsafe-inline' 'strict-dynamic' 'nonce-x' https:"]).is_empty()
        );
        // script-src wins over default-src.
        assert!(rules(&["default-src 'unsafe-inline'; script-src 'self'"]).is_empty());
        assert_eq!(
            rules(&["default-src 'self'; script-src 'unsafe-inline'"]),
            ["csp_unsafe_inline"]
        );
        // The first script-src of a policy counts; a repeat is ignored by browsers.
        assert!(rules(&["script-src 'self'; script-src 'unsafe-inline'"]).is_empty());
    }

    #[test]
    fn a_stricter_second_policy_blocks_the_weakness() {
        assert!(
            rules(&[
                "script-src 'unsafe-inline' 'unsafe-eval' *",
                "script-src 'self'"
            ])
            .is_empty()
        );
        assert!(rules(&["script-src 'unsafe-inline', default-src 'self'"]).is_empty());
        // A second policy that does not restrict scripts changes nothing.
        assert_eq!(
            rules(&["script-src 'unsafe-inline'", "frame-ancestors 'none'"]),
            ["csp_unsafe_inline"]
        );
    }

    #[test]
    fn unsafe_eval_is_reported_even_with_a_nonce() {
        assert_eq!(
            rules(&["script-src 'self' 'unsafe-eval' 'nonce-x'"]),
            ["csp_unsafe_eval"]
        );
        assert_eq!(
            rules(&["default-src 'self' 'unsafe-inline' 'unsafe-eval'"]),
            ["csp_unsafe_inline", "csp_unsafe_eval"]
        );
    }

    #[test]
    fn wildcards_and_bare_schemes() {
        for source in [
            "*",
            "https:",
            "http:",
            "data:",
            "HTTPS:",
            "blob:",
            "https://*",
            "https://*:443",
        ] {
            assert_eq!(
                rules(&[&format!("script-src 'self' {source}")]),
                ["csp_wildcard_source"],
                "{source}"
            );
        }
        assert_eq!(rules(&["default-src *"]), ["csp_wildcard_source"]);
        // default-src does not apply when script-src is there.
        assert!(rules(&["default-src *; script-src 'self'"]).is_empty());
        assert!(rules(&["script-src 'strict-dynamic' 'nonce-x' https: *"]).is_empty());
        for source in [
            "'self'",
            "https://cdn.example.com",
            "cdn.example.com:443",
            "'none'",
        ] {
            assert!(!is_wildcard(source), "{source}");
        }
    }

    #[test]
    fn report_only_policies_are_not_judged() {
        let mut headers = HeaderMap::new();
        headers.append(
            reqwest::header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
            HeaderValue::from_static("script-src * 'unsafe-inline'"),
        );
        let url = Url::parse("https://example.com/").unwrap();
        let response = Response {
            url: &url,
            status: 200,
            headers: &headers,
            body: "",
        };
        assert!(unsafe_inline(&response).is_none());
        assert!(wildcard_source(&response).is_none());
    }

    #[test]
    fn findings_show_the_policy() {
        let mut headers = HeaderMap::new();
        headers.append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("script-src https:"),
        );
        let url = Url::parse("https://example.com/").unwrap();
        let response = Response {
            url: &url,
            status: 200,
            headers: &headers,
            body: "",
        };
        let finding = wildcard_source(&response).unwrap();
        assert_eq!(
            finding.title,
            "Content-Security-Policy allows scripts from any source (https:)"
        );
        assert_eq!(
            finding.evidence["headers"]["content-security-policy"],
            "script-src https:"
        );
        assert_eq!(
            (finding.severity, finding.cwe),
            (Severity::Medium, Some(693))
        );
    }
}
