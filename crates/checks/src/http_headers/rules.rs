//! The rules of the headers check: pure functions from a response to findings. The header
//! rules live here; CSP quality, cookies and directory listings have their own modules.

use reqwest::header::{
    CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY, HeaderMap, HeaderName,
    REFERRER_POLICY, SERVER, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::{Map, Value, json};
use url::Url;

use super::{cookies, csp, listing, parse};

static X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");

/// What every rule looks at.
pub(super) struct Response<'a> {
    pub url: &'a Url,
    pub status: u16,
    pub headers: &'a HeaderMap,
    /// The start of the body (the stored excerpt), decoded lossily.
    pub body: &'a str,
}

/// One rule's judgement of a response.
type Judge = fn(&Response<'_>) -> Option<FindingDraft>;

const RULES: [Judge; 14] = [
    missing_hsts,
    missing_csp,
    missing_x_content_type_options,
    missing_clickjacking_protection,
    missing_referrer_policy,
    server_version_disclosure,
    x_powered_by_disclosure,
    csp::unsafe_inline,
    csp::unsafe_eval,
    csp::wildcard_source,
    cookies::without_secure,
    cookies::without_httponly,
    cookies::without_samesite,
    listing::directory_listing,
];

/// Every rule of the check, in [`RULES`]'s order.
pub(super) const CATALOG: [&Rule; 14] = [
    &MISSING_HSTS,
    &MISSING_CSP,
    &MISSING_XCTO,
    &MISSING_CLICKJACKING,
    &MISSING_REFERRER_POLICY,
    &SERVER_VERSION,
    &X_POWERED_BY_DISCLOSURE,
    &csp::CSP_UNSAFE_INLINE,
    &csp::CSP_UNSAFE_EVAL,
    &csp::CSP_WILDCARD_SOURCE,
    &cookies::COOKIE_WITHOUT_SECURE,
    &cookies::COOKIE_WITHOUT_HTTPONLY,
    &cookies::COOKIE_WITHOUT_SAMESITE,
    &listing::DIRECTORY_LISTING,
];

/// All findings for one response, in a fixed rule order.
pub(super) fn evaluate(
    url: &Url,
    status: u16,
    headers: &HeaderMap,
    body: &str,
) -> Vec<FindingDraft> {
    let response = Response {
        url,
        status,
        headers,
        body,
    };
    RULES.iter().filter_map(|rule| rule(&response)).collect()
}

pub(super) use crate::rule::{Rule, excerpt};

/// The findings of this check: located at the requested URL, with the response as evidence.
pub(super) trait ResponseFinding {
    /// A finding with the status and the named headers (null when absent) as evidence.
    fn for_headers(
        &self,
        response: &Response<'_>,
        title: &str,
        evidence: &[&HeaderName],
    ) -> FindingDraft;

    /// A finding with evidence the rule built itself (say, cookie names without their values).
    fn for_response(&self, response: &Response<'_>, title: &str, evidence: Value) -> FindingDraft;
}

impl ResponseFinding for Rule {
    fn for_headers(
        &self,
        response: &Response<'_>,
        title: &str,
        evidence: &[&HeaderName],
    ) -> FindingDraft {
        let headers: Map<String, Value> = evidence
            .iter()
            .map(|name| {
                let value = parse::combined(response.headers, name)
                    .map_or(Value::Null, |value| Value::String(excerpt(&value)));
                (name.as_str().to_owned(), value)
            })
            .collect();
        self.for_response(
            response,
            title,
            json!({ "status": response.status, "headers": headers }),
        )
    }

    fn for_response(&self, response: &Response<'_>, title: &str, evidence: Value) -> FindingDraft {
        self.titled(
            CheckKind::HttpHeaders,
            response.url.as_str(),
            title,
            evidence,
        )
    }
}

pub(super) const MISSING_HSTS: Rule = Rule {
    id: "missing_hsts",
    title: "Strict-Transport-Security header missing",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(319),
    description: "The HTTPS response has no valid Strict-Transport-Security header, so browsers \
        will still try plain HTTP for this site (typed addresses, old links), where an attacker \
        on the network can intercept or downgrade the connection.",
    remediation: "Send `Strict-Transport-Security: max-age=31536000; includeSubDomains` on every \
        HTTPS response once the whole site (and its subdomains) works over HTTPS.",
};

/// HTTPS only: over plain HTTP browsers ignore the header, so its absence proves nothing.
/// Browsers process only the first header line, and ignore it without a valid `max-age`.
fn missing_hsts(response: &Response<'_>) -> Option<FindingDraft> {
    if response.url.scheme() != "https" {
        return None;
    }
    let first = parse::values(response.headers, &STRICT_TRANSPORT_SECURITY)
        .into_iter()
        .next();
    let title = match first.as_deref().map(parse::hsts_max_age) {
        None => "Strict-Transport-Security header missing",
        Some(None) => "Strict-Transport-Security header has no valid max-age",
        Some(Some(0)) => "Strict-Transport-Security disabled (max-age=0)",
        Some(Some(_)) => return None,
    };
    Some(MISSING_HSTS.for_headers(response, title, &[&STRICT_TRANSPORT_SECURITY]))
}

pub(super) const MISSING_CSP: Rule = Rule {
    id: "missing_csp",
    title: "Content-Security-Policy header missing",
    severity: Severity::Medium,
    score: 5.0,
    cwe: Some(693),
    description: "The response has no Content-Security-Policy, so nothing limits where scripts, \
        styles and frames may load from: an injection flaw (XSS) runs with the page's full \
        privileges.",
    remediation: "Define a Content-Security-Policy, e.g. starting from `default-src 'self'; \
        object-src 'none'; base-uri 'self'; frame-ancestors 'none'`, tested first with \
        Content-Security-Policy-Report-Only and then enforced.",
};

/// A report-only policy enforces nothing, so it does not count.
fn missing_csp(response: &Response<'_>) -> Option<FindingDraft> {
    if !parse::csp_directives(response.headers, &CONTENT_SECURITY_POLICY).is_empty() {
        return None;
    }
    let report_only = response
        .headers
        .contains_key(CONTENT_SECURITY_POLICY_REPORT_ONLY);
    let title = if report_only {
        "Content-Security-Policy is only report-only"
    } else {
        "Content-Security-Policy header missing"
    };
    let evidence = [
        &CONTENT_SECURITY_POLICY,
        &CONTENT_SECURITY_POLICY_REPORT_ONLY,
    ];
    Some(MISSING_CSP.for_headers(response, title, &evidence))
}

pub(super) const MISSING_XCTO: Rule = Rule {
    id: "missing_x_content_type_options",
    title: "X-Content-Type-Options header missing",
    severity: Severity::Low,
    score: 3.1,
    cwe: Some(693),
    description: "Without `X-Content-Type-Options: nosniff`, browsers may guess a response's \
        type from its content and run an uploaded or reflected file as script or HTML.",
    remediation: "Send `X-Content-Type-Options: nosniff` on every response, and serve each \
        resource with its correct Content-Type.",
};

/// Browsers (Fetch standard) look at the first value only, case-insensitively.
fn missing_x_content_type_options(response: &Response<'_>) -> Option<FindingDraft> {
    let items = parse::list(response.headers, &X_CONTENT_TYPE_OPTIONS);
    let title = match items.first() {
        Some(first) if first.eq_ignore_ascii_case("nosniff") => return None,
        Some(_) => "X-Content-Type-Options is not nosniff",
        None => "X-Content-Type-Options header missing",
    };
    Some(MISSING_XCTO.for_headers(response, title, &[&X_CONTENT_TYPE_OPTIONS]))
}

pub(super) const MISSING_CLICKJACKING: Rule = Rule {
    id: "missing_clickjacking_protection",
    title: "No clickjacking protection",
    severity: Severity::Medium,
    score: 4.3,
    cwe: Some(1021),
    description: "Neither X-Frame-Options nor a Content-Security-Policy `frame-ancestors` \
        directive stops other sites from framing this page, so a visitor can be tricked into \
        clicking its controls through a disguised overlay (clickjacking).",
    remediation: "Send `Content-Security-Policy: frame-ancestors 'none'` (or `'self'`), and for \
        older browsers `X-Frame-Options: DENY` (or `SAMEORIGIN`).",
};

fn missing_clickjacking_protection(response: &Response<'_>) -> Option<FindingDraft> {
    if x_frame_options_protects(response.headers) || frame_ancestors_protects(response.headers) {
        return None;
    }
    let evidence = [&X_FRAME_OPTIONS, &CONTENT_SECURITY_POLICY];
    Some(MISSING_CLICKJACKING.for_headers(response, "Clickjacking protection missing", &evidence))
}

/// DENY or SAMEORIGIN, in any case. Repeated values protect as long as each is one of these
/// (browsers block on conflicting ones); ALLOW-FROM is obsolete and ignored by browsers.
fn x_frame_options_protects(headers: &HeaderMap) -> bool {
    let items = parse::list(headers, &X_FRAME_OPTIONS);
    !items.is_empty()
        && items.iter().all(|item| {
            item.eq_ignore_ascii_case("deny") || item.eq_ignore_ascii_case("sameorigin")
        })
}

/// An enforced `frame-ancestors` directive, unless it allows any origin (`*`).
fn frame_ancestors_protects(headers: &HeaderMap) -> bool {
    parse::csp_directives(headers, &CONTENT_SECURITY_POLICY)
        .iter()
        .any(|directive| {
            directive.name == "frame-ancestors"
                && !directive
                    .value
                    .split_whitespace()
                    .any(|source| source == "*")
        })
}

pub(super) const MISSING_REFERRER_POLICY: Rule = Rule {
    id: "missing_referrer_policy",
    title: "Referrer-Policy header missing",
    severity: Severity::Low,
    score: 3.1,
    cwe: Some(200),
    description: "The response sets no Referrer-Policy (or an unsafe one), so the full URL of \
        this page — path and query, which may carry tokens or personal data — can be sent to \
        other sites in the Referer header.",
    remediation: "Send `Referrer-Policy: strict-origin-when-cross-origin` (or `no-referrer`, \
        `same-origin`); never `unsafe-url`.",
};

const REFERRER_POLICIES: [&str; 8] = [
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

/// Browsers use the last policy they recognise, so that a list can name a new policy after
/// an older fallback.
/// A CSP `referrer` directive is obsolete and does not count.
fn missing_referrer_policy(response: &Response<'_>) -> Option<FindingDraft> {
    let items = parse::list(response.headers, &REFERRER_POLICY);
    let effective = items.iter().rev().find_map(|item| {
        REFERRER_POLICIES
            .iter()
            .find(|known| item.eq_ignore_ascii_case(known))
    });
    let title = match effective {
        Some(&"unsafe-url") => "Referrer-Policy is unsafe-url",
        Some(_) => return None,
        None if items.is_empty() => "Referrer-Policy header missing",
        None => "Referrer-Policy has no valid value",
    };
    Some(MISSING_REFERRER_POLICY.for_headers(response, title, &[&REFERRER_POLICY]))
}

pub(super) const SERVER_VERSION: Rule = Rule {
    id: "server_version_disclosure",
    title: "Server version disclosed",
    severity: Severity::Low,
    score: 2.6,
    cwe: Some(200),
    description: "The Server header names the software version, letting an attacker pick \
        exploits for known vulnerabilities of that exact version without probing.",
    remediation: "Hide the version: `server_tokens off;` in nginx, `ServerTokens Prod` in \
        Apache, `removeServerHeader` in IIS, or strip the header at the proxy.",
};

fn server_version_disclosure(response: &Response<'_>) -> Option<FindingDraft> {
    let discloses = parse::values(response.headers, &SERVER)
        .iter()
        .any(|server| parse::discloses_version(server));
    discloses.then(|| {
        SERVER_VERSION.for_headers(
            response,
            "Server header discloses the software version",
            &[&SERVER],
        )
    })
}

pub(super) const X_POWERED_BY_DISCLOSURE: Rule = Rule {
    id: "x_powered_by_disclosure",
    title: "X-Powered-By header discloses the platform",
    severity: Severity::Low,
    score: 2.6,
    cwe: Some(200),
    description: "The X-Powered-By header names the application framework (often with its \
        version), telling an attacker which vulnerabilities to try.",
    remediation: "Remove the header: `expose_php = Off` in PHP, `app.disable('x-powered-by')` in \
        Express, `<httpProtocol><customHeaders><remove name=\"X-Powered-By\"/>` in IIS, or \
        strip it at the proxy.",
};

/// Any non-empty value: the header exists only to advertise the stack.
fn x_powered_by_disclosure(response: &Response<'_>) -> Option<FindingDraft> {
    let present = parse::values(response.headers, &X_POWERED_BY)
        .iter()
        .any(|value| !value.is_empty());
    present.then(|| {
        X_POWERED_BY_DISCLOSURE.for_headers(
            response,
            "X-Powered-By header discloses the technology stack",
            &[&X_POWERED_BY],
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use reqwest::header::HeaderValue;

    use super::*;

    const ALL_GOOD: &[(&str, &str)] = &[
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        ("server", "nginx"),
    ];

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    /// `ALL_GOOD` with `name` removed and `replacement` lines added.
    fn good_but(name: &str, replacement: &[(&str, &str)]) -> HeaderMap {
        let mut pairs: Vec<(&str, &str)> = ALL_GOOD
            .iter()
            .copied()
            .filter(|(header, _)| !header.eq_ignore_ascii_case(name))
            .collect();
        pairs.extend_from_slice(replacement);
        headers(&pairs)
    }

    fn rules_for(url: &str, status: u16, map: &HeaderMap) -> BTreeSet<String> {
        let url = Url::parse(url).unwrap();
        evaluate(&url, status, map, "")
            .into_iter()
            .map(|finding| finding.rule)
            .collect()
    }

    #[test]
    fn the_catalog_holds_every_rule_a_bare_response_breaks_once() {
        let ids: BTreeSet<&str> = CATALOG.iter().map(|rule| rule.id).collect();
        assert_eq!(ids.len(), CATALOG.len());
        // No headers, a cookie without attributes and a listing break most rules at once.
        let url = Url::parse("https://example.com/files/").unwrap();
        let bare = headers(&[("set-cookie", "sid=1"), ("x-powered-by", "PHP/8.1")]);
        let listing = "<html><head><title>Index of /files</title></head><body>\
                       <h1>Index of /files</h1><a href=\"../\">Parent Directory</a></body></html>";
        let findings = evaluate(&url, 200, &bare, listing);
        assert!(findings.len() >= 8, "{findings:?}");
        for finding in findings {
            let rule = super::super::rule(&finding.rule).unwrap();
            assert_eq!((rule.severity, rule.cwe), (finding.severity, finding.cwe));
        }
        assert!(super::super::rule("no_such_rule").is_none());
    }

    fn https_rules(map: &HeaderMap) -> BTreeSet<String> {
        rules_for("https://example.com/", 200, map)
    }

    fn set(rules: &[&str]) -> BTreeSet<String> {
        rules.iter().map(|rule| (*rule).to_owned()).collect()
    }

    fn find(url: &str, map: &HeaderMap, rule: &str) -> FindingDraft {
        let url = Url::parse(url).unwrap();
        evaluate(&url, 200, map, "")
            .into_iter()
            .find(|finding| finding.rule == rule)
            .unwrap_or_else(|| panic!("no {rule} finding"))
    }

    #[test]
    fn a_well_configured_response_has_no_findings() {
        assert!(https_rules(&headers(ALL_GOOD)).is_empty());
    }

    #[test]
    fn a_bare_response_has_every_missing_header_finding() {
        assert_eq!(
            https_rules(&HeaderMap::new()),
            set(&[
                "missing_hsts",
                "missing_csp",
                "missing_x_content_type_options",
                "missing_clickjacking_protection",
                "missing_referrer_policy",
            ])
        );
    }

    #[test]
    fn hsts_is_judged_over_https_only() {
        let without = good_but("strict-transport-security", &[]);
        assert_eq!(https_rules(&without), set(&["missing_hsts"]));
        assert!(rules_for("http://example.com/", 200, &without).is_empty());
        // An HSTS header sent over plain HTTP changes nothing either.
        assert!(rules_for("http://example.com/", 200, &headers(ALL_GOOD)).is_empty());
    }

    #[test]
    fn hsts_without_a_usable_max_age_is_missing() {
        for (value, title) in [
            (
                "max-age=0",
                "Strict-Transport-Security disabled (max-age=0)",
            ),
            (
                "includeSubDomains",
                "Strict-Transport-Security header has no valid max-age",
            ),
        ] {
            let map = good_but(
                "strict-transport-security",
                &[("strict-transport-security", value)],
            );
            let finding = find("https://example.com/", &map, "missing_hsts");
            assert_eq!(finding.title, title);
        }
        // Only the first line counts.
        let map = good_but(
            "strict-transport-security",
            &[
                ("strict-transport-security", "max-age=0"),
                ("strict-transport-security", "max-age=600"),
            ],
        );
        assert_eq!(https_rules(&map), set(&["missing_hsts"]));
    }

    #[test]
    fn report_only_csp_does_not_count() {
        let map = good_but(
            "content-security-policy",
            &[(
                "content-security-policy-report-only",
                "default-src 'self'; frame-ancestors 'none'",
            )],
        );
        // X-Frame-Options DENY still protects against framing.
        assert_eq!(https_rules(&map), set(&["missing_csp"]));
        let finding = find("https://example.com/", &map, "missing_csp");
        assert_eq!(finding.title, "Content-Security-Policy is only report-only");
        let empty = good_but(
            "content-security-policy",
            &[("content-security-policy", " ")],
        );
        assert_eq!(https_rules(&empty), set(&["missing_csp"]));
    }

    #[test]
    fn nosniff_is_case_insensitive_and_trimmed() {
        for value in ["NoSniff", "  nosniff  ", "nosniff, whatever"] {
            let map = good_but(
                "x-content-type-options",
                &[("x-content-type-options", value)],
            );
            assert!(https_rules(&map).is_empty(), "{value:?}");
        }
        for value in ["sniff", "no-sniff", "", "whatever, nosniff"] {
            let map = good_but(
                "x-content-type-options",
                &[("x-content-type-options", value)],
            );
            assert_eq!(
                https_rules(&map),
                set(&["missing_x_content_type_options"]),
                "{value:?}"
            );
        }
    }

    #[test]
    fn csp_frame_ancestors_satisfies_clickjacking() {
        let map = good_but("x-frame-options", &[]);
        assert!(https_rules(&map).is_empty());
        let no_frame_ancestors = headers(&[
            ("content-security-policy", "default-src 'self'"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("strict-transport-security", "max-age=600"),
        ]);
        assert_eq!(
            https_rules(&no_frame_ancestors),
            set(&["missing_clickjacking_protection"])
        );
        // The directive in a second header, in a different case, still counts.
        let mut second = no_frame_ancestors.clone();
        second.append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("FRAME-ANCESTORS 'self' https://partner.example"),
        );
        assert!(https_rules(&second).is_empty());
        // A wildcard allows any site to frame the page.
        let mut wildcard = no_frame_ancestors.clone();
        wildcard.append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors *"),
        );
        assert_eq!(
            https_rules(&wildcard),
            set(&["missing_clickjacking_protection"])
        );
    }

    #[test]
    fn x_frame_options_values() {
        let base: Vec<(&str, &str)> = ALL_GOOD
            .iter()
            .copied()
            .filter(|(name, _)| *name != "x-frame-options" && *name != "content-security-policy")
            .chain([("content-security-policy", "default-src 'self'")])
            .collect();
        let judge = |lines: &[(&str, &str)]| {
            let mut pairs = base.clone();
            pairs.extend_from_slice(lines);
            https_rules(&headers(&pairs)).contains("missing_clickjacking_protection")
        };
        assert!(!judge(&[("x-frame-options", "deny")]));
        assert!(!judge(&[("x-frame-options", " SameOrigin ")]));
        assert!(!judge(&[
            ("x-frame-options", "DENY"),
            ("x-frame-options", "DENY")
        ]));
        assert!(!judge(&[("x-frame-options", "DENY, SAMEORIGIN")]));
        assert!(judge(&[]));
        assert!(judge(&[(
            "x-frame-options",
            "ALLOW-FROM https://example.net"
        )]));
        assert!(judge(&[
            ("x-frame-options", "DENY"),
            ("x-frame-options", "ALLOWALL")
        ]));
        assert!(judge(&[("x-frame-options", "")]));
    }

    #[test]
    fn referrer_policy_rules() {
        let judge = |lines: &[(&str, &str)]| {
            let map = good_but("referrer-policy", lines);
            evaluate(&Url::parse("https://example.com/").unwrap(), 200, &map, "")
                .into_iter()
                .find(|finding| finding.rule == "missing_referrer_policy")
                .map(|finding| finding.title)
        };
        assert_eq!(
            judge(&[]).as_deref(),
            Some("Referrer-Policy header missing")
        );
        assert_eq!(
            judge(&[("referrer-policy", "Unsafe-URL")]).as_deref(),
            Some("Referrer-Policy is unsafe-url")
        );
        assert_eq!(
            judge(&[("referrer-policy", "bogus")]).as_deref(),
            Some("Referrer-Policy has no valid value")
        );
        // A CSP referrer directive is not a Referrer-Policy.
        let csp_only = judge(&[("content-security-policy", "referrer no-referrer")]);
        assert_eq!(csp_only.as_deref(), Some("Referrer-Policy header missing"));
        // The last recognised value wins, over lines and commas.
        assert_eq!(
            judge(&[("referrer-policy", "unsafe-url, strict-origin, new-thing")]),
            None
        );
        assert_eq!(
            judge(&[
                ("referrer-policy", "no-referrer"),
                ("referrer-policy", "unsafe-url")
            ])
            .as_deref(),
            Some("Referrer-Policy is unsafe-url")
        );
        assert_eq!(
            judge(&[("referrer-policy", "STRICT-ORIGIN-WHEN-CROSS-ORIGIN")]),
            None
        );
    }

    #[test]
    fn server_header_is_reported_only_with_a_version() {
        for server in [
            "nginx/1.18.0",
            "Apache/2.4.41 (Ubuntu)",
            "Microsoft-IIS/10.0",
        ] {
            let map = good_but("server", &[("server", server)]);
            assert_eq!(
                https_rules(&map),
                set(&["server_version_disclosure"]),
                "{server}"
            );
        }
        for server in ["nginx", "cloudflare", "NGINX"] {
            let map = good_but("server", &[("server", server)]);
            assert!(https_rules(&map).is_empty(), "{server}");
        }
        // Any of several Server lines.
        let map = good_but(
            "server",
            &[("server", "cloudflare"), ("server", "nginx/1.25.3")],
        );
        assert_eq!(https_rules(&map), set(&["server_version_disclosure"]));
    }

    #[test]
    fn any_x_powered_by_is_reported() {
        for value in ["PHP/7.4.3", "Express", "ASP.NET"] {
            let map = good_but("x-powered-by", &[("X-Powered-By", value)]);
            assert_eq!(
                https_rules(&map),
                set(&["x_powered_by_disclosure"]),
                "{value}"
            );
        }
        let empty = good_but("x-powered-by", &[("x-powered-by", "")]);
        assert!(https_rules(&empty).is_empty());
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let upper: Vec<(String, &str)> = ALL_GOOD
            .iter()
            .map(|(name, value)| (name.to_ascii_uppercase(), *value))
            .collect();
        let pairs: Vec<(&str, &str)> = upper.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        assert!(https_rules(&headers(&pairs)).is_empty());
    }

    #[test]
    fn findings_carry_their_metadata_and_evidence() {
        let map = headers(&[("server", "nginx/1.18.0"), ("x-frame-options", "DENY")]);
        let url = Url::parse("https://example.com/login").unwrap();
        let findings = evaluate(&url, 404, &map, "");
        for finding in &findings {
            assert_eq!(finding.check, CheckKind::HttpHeaders);
            assert_eq!(finding.location, "https://example.com/login");
            assert_eq!(finding.evidence["status"], 404);
            assert!((0.0..=10.0).contains(&finding.score));
            assert!(finding.cwe.is_some());
            assert!(!finding.title.is_empty());
            assert!(!finding.description.is_empty());
            assert!(!finding.remediation.is_empty());
        }
        let by_rule = |rule: &str| {
            findings
                .iter()
                .find(|finding| finding.rule == rule)
                .unwrap_or_else(|| panic!("no {rule}"))
        };
        let hsts = by_rule("missing_hsts");
        assert_eq!((hsts.severity, hsts.cwe), (Severity::Medium, Some(319)));
        assert_eq!(
            hsts.evidence["headers"]["strict-transport-security"],
            Value::Null
        );
        let server = by_rule("server_version_disclosure");
        assert_eq!((server.severity, server.cwe), (Severity::Low, Some(200)));
        assert_eq!(server.evidence["headers"]["server"], "nginx/1.18.0");
        let csp = by_rule("missing_csp");
        assert_eq!((csp.severity, csp.cwe), (Severity::Medium, Some(693)));
        let xcto = by_rule("missing_x_content_type_options");
        assert_eq!((xcto.severity, xcto.cwe), (Severity::Low, Some(693)));
        let referrer = by_rule("missing_referrer_policy");
        assert_eq!(
            (referrer.severity, referrer.cwe),
            (Severity::Low, Some(200))
        );
        // X-Frame-Options DENY: no clickjacking finding even on a 404.
        assert!(
            findings
                .iter()
                .all(|f| f.rule != "missing_clickjacking_protection")
        );
        let clickjacking = evaluate(&url, 500, &HeaderMap::new(), "")
            .into_iter()
            .find(|finding| finding.rule == "missing_clickjacking_protection")
            .unwrap();
        assert_eq!(
            (clickjacking.severity, clickjacking.cwe),
            (Severity::Medium, Some(1021))
        );
        assert_eq!(clickjacking.evidence["status"], 500);
        let powered = evaluate(&url, 200, &headers(&[("x-powered-by", "Express")]), "")
            .into_iter()
            .find(|finding| finding.rule == "x_powered_by_disclosure")
            .unwrap();
        assert_eq!((powered.severity, powered.cwe), (Severity::Low, Some(200)));
        assert_eq!(powered.evidence["headers"]["x-powered-by"], "Express");
    }
}
