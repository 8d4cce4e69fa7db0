//! Cookie attributes from `Set-Cookie`: what a browser will do with the cookies it is given.
//!
//! One finding per rule per response, naming the cookies concerned. Values are never kept:
//! a cookie value may be a session secret. A `Set-Cookie` that deletes a cookie (`Max-Age`
//! of zero or less, or an `Expires` in the past) stores nothing and is not judged.

use chrono::{DateTime, Utc};
use reqwest::header::SET_COOKIE;
use s4e_types::{FindingDraft, Severity};
use serde_json::json;

use super::parse;
use super::rules::{Response, ResponseFinding, Rule, excerpt};

/// One `Set-Cookie` line: the cookie's name and the attributes that matter here.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Cookie {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    /// The `SameSite` value as sent (trimmed), if any.
    pub same_site: Option<String>,
    /// `Max-Age` <= 0 or `Expires` in the past: the line removes the cookie.
    pub deletes: bool,
}

/// Parses a `Set-Cookie` value the way browsers do (RFC 6265 §5.2): the name is before the
/// first `=` of the first segment, attribute names are case-insensitive, unknown ones are
/// ignored. `None` for a line without a name-value pair.
pub(super) fn parse_set_cookie(line: &str, now: DateTime<Utc>) -> Option<Cookie> {
    let mut segments = line.split(';');
    let (name, _value) = segments.next()?.split_once('=')?;
    let mut cookie = Cookie {
        name: name.trim().to_owned(),
        secure: false,
        http_only: false,
        same_site: None,
        deletes: false,
    };
    for attribute in segments {
        let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("secure") {
            cookie.secure = true;
        } else if key.eq_ignore_ascii_case("httponly") {
            cookie.http_only = true;
        } else if key.eq_ignore_ascii_case("samesite") {
            cookie.same_site = Some(value.to_owned());
        } else if key.eq_ignore_ascii_case("max-age") {
            if let Ok(seconds) = value.parse::<i64>() {
                cookie.deletes = seconds <= 0;
            }
        } else if key.eq_ignore_ascii_case("expires")
            && let Ok(expires) = DateTime::parse_from_rfc2822(value)
        {
            cookie.deletes |= expires < now;
        }
    }
    Some(cookie)
}

/// The cookies the response sets (deletions left out), in order.
fn cookies(response: &Response<'_>) -> Vec<Cookie> {
    let now = Utc::now();
    parse::values(response.headers, &SET_COOKIE)
        .iter()
        .filter_map(|line| parse_set_cookie(line, now))
        .filter(|cookie| !cookie.deletes)
        .collect()
}

/// At most this many cookie names in the evidence.
const NAMES_LIMIT: usize = 20;

/// The names of the cookies, each once, in order; capped like other evidence.
fn names<'a>(cookies: impl Iterator<Item = &'a Cookie>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for cookie in cookies {
        let name = excerpt(&cookie.name);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.truncate(NAMES_LIMIT);
    names
}

fn finding(meta: &Rule, response: &Response<'_>, title: &str, names: Vec<String>) -> FindingDraft {
    meta.for_response(
        response,
        title,
        json!({ "status": response.status, "cookies": names }),
    )
}

pub(super) const COOKIE_WITHOUT_SECURE: Rule = Rule {
    id: "cookie_without_secure",
    title: "Cookie without the Secure attribute",
    severity: Severity::Medium,
    score: 4.3,
    cwe: Some(614),
    description: "A cookie set over HTTPS lacks the Secure attribute, so the browser also sends \
        it over plain HTTP, where anyone on the network can read it (a session cookie is then \
        a stolen session).",
    remediation: "Add `Secure` to every cookie of an HTTPS site (and `__Host-` prefixes for \
        session cookies).",
};

/// HTTPS only: over plain HTTP a browser refuses `Secure` cookies anyway.
pub(super) fn without_secure(response: &Response<'_>) -> Option<FindingDraft> {
    if response.url.scheme() != "https" {
        return None;
    }
    let cookies = cookies(response);
    let names = names(cookies.iter().filter(|cookie| !cookie.secure));
    (!names.is_empty()).then(|| {
        finding(
            &COOKIE_WITHOUT_SECURE,
            response,
            "Cookie set without the Secure attribute",
            names,
        )
    })
}

pub(super) const COOKIE_WITHOUT_HTTPONLY: Rule = Rule {
    id: "cookie_without_httponly",
    title: "Cookie without the HttpOnly attribute",
    severity: Severity::Low,
    score: 3.1,
    cwe: Some(1004),
    description: "A cookie lacks the HttpOnly attribute, so any script on the page can read it: \
        one cross-site scripting flaw is enough to steal it.",
    remediation: "Add `HttpOnly` to every cookie that scripts do not need to read, session \
        cookies above all.",
};

/// Anti-CSRF cookies of the double-submit pattern exist to be read by the page's scripts
/// (Angular's `XSRF-TOKEN`, Django's `csrftoken`, …): HttpOnly would break them.
const READ_BY_SCRIPTS: [&str; 5] = [
    "xsrf-token",
    "csrftoken",
    "csrf-token",
    "csrf_token",
    "_csrf",
];

pub(super) fn without_httponly(response: &Response<'_>) -> Option<FindingDraft> {
    let cookies = cookies(response);
    let names = names(cookies.iter().filter(|cookie| {
        !cookie.http_only
            && !READ_BY_SCRIPTS
                .iter()
                .any(|name| cookie.name.eq_ignore_ascii_case(name))
    }));
    (!names.is_empty()).then(|| {
        finding(
            &COOKIE_WITHOUT_HTTPONLY,
            response,
            "Cookie set without the HttpOnly attribute",
            names,
        )
    })
}

pub(super) const COOKIE_WITHOUT_SAMESITE: Rule = Rule {
    id: "cookie_without_samesite",
    title: "Cookie without the SameSite attribute",
    severity: Severity::Low,
    score: 3.1,
    cwe: Some(1275),
    description: "A cookie has no valid SameSite attribute (or SameSite=None without Secure), so \
        depending on the browser it is sent with requests other sites trigger, which enables \
        cross-site request forgery.",
    remediation: "Set `SameSite=Lax` (or `Strict`) on every cookie; a cookie that must be sent \
        cross-site needs `SameSite=None; Secure`.",
};

/// Missing or unknown values (browsers then apply their own default, which differs), and
/// `None` without `Secure` (rejected by Chromium, sent everywhere by older browsers).
pub(super) fn without_samesite(response: &Response<'_>) -> Option<FindingDraft> {
    let cookies = cookies(response);
    let weak = |cookie: &&Cookie| match cookie.same_site.as_deref() {
        Some(value) if value.eq_ignore_ascii_case("none") => !cookie.secure,
        Some(value) => !(value.eq_ignore_ascii_case("lax") || value.eq_ignore_ascii_case("strict")),
        None => true,
    };
    let flagged: Vec<&Cookie> = cookies.iter().filter(weak).collect();
    if flagged.is_empty() {
        return None;
    }
    let all_none = flagged.iter().all(|cookie| cookie.same_site.is_some());
    let title = if all_none {
        "Cookie set with SameSite=None without Secure, or an invalid SameSite"
    } else {
        "Cookie set without the SameSite attribute"
    };
    Some(finding(
        &COOKIE_WITHOUT_SAMESITE,
        response,
        title,
        names(flagged.into_iter()),
    ))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};
    use url::Url;

    use super::*;

    fn judge(url: &str, lines: &[&str]) -> Vec<FindingDraft> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(SET_COOKIE, HeaderValue::from_str(line).unwrap());
        }
        let url = Url::parse(url).unwrap();
        let response = Response {
            url: &url,
            status: 200,
            headers: &headers,
            body: "",
        };
        [
            without_secure(&response),
            without_httponly(&response),
            without_samesite(&response),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn rules(url: &str, lines: &[&str]) -> Vec<String> {
        judge(url, lines).into_iter().map(|f| f.rule).collect()
    }

    fn names_of(findings: &[FindingDraft], rule: &str) -> serde_json::Value {
        findings
            .iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("no {rule}"))
            .evidence["cookies"]
            .clone()
    }

    #[test]
    fn parses_attributes_case_insensitively() {
        let now = Utc::now();
        let cookie =
            parse_set_cookie(" sid = a=b ; SECURE; httponly ; SameSite = Lax", now).unwrap();
        assert_eq!(
            cookie,
            Cookie {
                name: "sid".into(),
                secure: true,
                http_only: true,
                same_site: Some("Lax".into()),
                deletes: false,
            }
        );
        assert!(parse_set_cookie("no-equals-sign", now).is_none());
        assert!(parse_set_cookie("a=; Max-Age=0", now).unwrap().deletes);
        assert!(
            parse_set_cookie("a=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT", now)
                .unwrap()
                .deletes
        );
        assert!(
            !parse_set_cookie("a=x; Expires=Fri, 01 Jan 2100 00:00:00 GMT", now)
                .unwrap()
                .deletes
        );
        assert!(!parse_set_cookie("a=x; Max-Age=3600", now).unwrap().deletes);
    }

    #[test]
    fn well_set_cookies_have_no_findings() {
        let good = "sid=s3cr3t; Path=/; Secure; HttpOnly; SameSite=Lax";
        assert!(rules("https://example.com/", &[good]).is_empty());
        assert!(
            rules(
                "https://example.com/",
                &["t=1; Secure; HttpOnly; SameSite=None"]
            )
            .is_empty()
        );
        assert!(rules("https://example.com/", &[]).is_empty());
        // Deleting a cookie sets nothing.
        assert!(rules("https://example.com/", &["sid=; Max-Age=0"]).is_empty());
    }

    #[test]
    fn each_missing_attribute_is_one_finding_naming_the_cookies() {
        let findings = judge(
            "https://example.com/",
            &[
                "sid=s3cr3t",
                "prefs=dark; Secure; HttpOnly; SameSite=Strict",
                "cart=42; Secure",
            ],
        );
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules,
            [
                "cookie_without_secure",
                "cookie_without_httponly",
                "cookie_without_samesite"
            ]
        );
        assert_eq!(names_of(&findings, "cookie_without_secure"), json!(["sid"]));
        assert_eq!(
            names_of(&findings, "cookie_without_httponly"),
            json!(["sid", "cart"])
        );
        assert_eq!(
            names_of(&findings, "cookie_without_samesite"),
            json!(["sid", "cart"])
        );
        // Values never appear.
        for finding in &findings {
            assert!(!finding.evidence.to_string().contains("s3cr3t"));
            assert_eq!(finding.evidence["status"], 200);
            assert_eq!(finding.location, "https://example.com/");
        }
    }

    #[test]
    fn secure_is_judged_over_https_only() {
        assert_eq!(
            rules("http://example.com/", &["sid=1; HttpOnly; SameSite=Lax"]),
            Vec::<String>::new()
        );
        assert_eq!(
            rules("https://example.com/", &["sid=1; HttpOnly; SameSite=Lax"]),
            ["cookie_without_secure"]
        );
    }

    #[test]
    fn samesite_none_needs_secure_and_values_must_be_known() {
        let findings = judge("http://example.com/", &["sid=1; HttpOnly; SameSite=None"]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, "cookie_without_samesite");
        assert_eq!(
            findings[0].title,
            "Cookie set with SameSite=None without Secure, or an invalid SameSite"
        );
        assert_eq!(
            rules(
                "http://example.com/",
                &["sid=1; HttpOnly; SameSite=sometimes"]
            ),
            ["cookie_without_samesite"]
        );
        assert!(rules("http://example.com/", &["sid=1; HttpOnly; samesite=STRICT"]).is_empty());
    }

    #[test]
    fn csrf_cookies_meant_for_scripts_may_lack_httponly() {
        assert!(
            rules(
                "https://example.com/",
                &["XSRF-TOKEN=abc; Secure; SameSite=Strict"]
            )
            .is_empty()
        );
        assert_eq!(
            rules(
                "https://example.com/",
                &["session=abc; Secure; SameSite=Strict"]
            ),
            ["cookie_without_httponly"]
        );
    }

    #[test]
    fn evidence_names_are_deduplicated_and_capped() {
        let lines: Vec<String> = (0..30).map(|i| format!("c{i}=v")).collect();
        let mut refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        refs.push("c0=again");
        let findings = judge("http://example.com/", &refs);
        let names = names_of(&findings, "cookie_without_httponly");
        assert_eq!(names.as_array().unwrap().len(), NAMES_LIMIT);
        assert_eq!(names[0], "c0");
        assert_eq!(names[1], "c1");
    }
}
