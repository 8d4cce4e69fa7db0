//! CORS: which other sites the server lets read its responses.
//!
//! `Access-Control-Allow-Origin: *` without credentials is not a finding: public APIs and
//! CDNs say it on purpose, and browsers never send cookies with it. What matters is a server
//! that names an origin it cannot trust (any origin, by echoing it; or `null`, which
//! sandboxed frames and `data:` documents send), above all together with
//! `Access-Control-Allow-Credentials: true`, which lets that origin read responses made with
//! the visitor's cookies.

use reqwest::header::{ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, HeaderMap};
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::json;

use super::{Answer, Observed};
use crate::rule::{Rule, excerpt};

/// The single `Access-Control-Allow-Origin` value a browser would use; several lines make
/// browsers reject the response, so they allow nothing.
fn allowed_origin(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(ACCESS_CONTROL_ALLOW_ORIGIN).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    Some(String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
}

/// Browsers accept exactly `true` (case-sensitive).
fn allows_credentials(headers: &HeaderMap) -> bool {
    headers
        .get(ACCESS_CONTROL_ALLOW_CREDENTIALS)
        .is_some_and(|value| value.as_bytes().trim_ascii() == b"true")
}

fn evidence(sent_origin: &str, answer: &Answer) -> serde_json::Value {
    let header = |name| {
        answer
            .headers
            .get(name)
            .map(|value| excerpt(&String::from_utf8_lossy(value.as_bytes())))
    };
    json!({
        "request_origin": sent_origin,
        "status": answer.status,
        "headers": {
            "access-control-allow-origin": header(&ACCESS_CONTROL_ALLOW_ORIGIN),
            "access-control-allow-credentials": header(&ACCESS_CONTROL_ALLOW_CREDENTIALS),
        },
    })
}

const REFLECTED: &str = "cors_arbitrary_origin_reflected";
const REFLECTED_DESCRIPTION: &str = "The server copies any request's Origin into \
    Access-Control-Allow-Origin, so every website may read its responses from a visitor's \
    browser. With Access-Control-Allow-Credentials: true those responses are made with the \
    visitor's cookies: any site the visitor opens can read their data and act on it.";
const REFLECTED_REMEDIATION: &str = "Compare the Origin against a fixed list of trusted \
    origins and send Access-Control-Allow-Origin only for those; never echo it unchecked, \
    least of all with Access-Control-Allow-Credentials.";

const REFLECTED_WITH_CREDENTIALS: Rule = Rule {
    id: REFLECTED,
    title: "CORS reflects any origin",
    severity: Severity::High,
    score: 8.1,
    cwe: Some(942),
    description: REFLECTED_DESCRIPTION,
    remediation: REFLECTED_REMEDIATION,
};

const REFLECTED_WITHOUT_CREDENTIALS: Rule = Rule {
    id: REFLECTED,
    title: "CORS reflects any origin",
    severity: Severity::Low,
    score: 3.7,
    cwe: Some(942),
    description: REFLECTED_DESCRIPTION,
    remediation: REFLECTED_REMEDIATION,
};

pub(super) fn arbitrary_origin_reflected(observed: &Observed<'_>) -> Option<FindingDraft> {
    let answer = observed.arbitrary_origin?;
    let allowed = allowed_origin(&answer.headers)?;
    if !allowed.eq_ignore_ascii_case(observed.origin) {
        return None;
    }
    let (meta, title) = if allows_credentials(&answer.headers) {
        (
            &REFLECTED_WITH_CREDENTIALS,
            "CORS allows any origin, with credentials",
        )
    } else {
        (&REFLECTED_WITHOUT_CREDENTIALS, "CORS allows any origin")
    };
    Some(meta.titled(
        CheckKind::HttpProbes,
        observed.url.as_str(),
        title,
        evidence(observed.origin, answer),
    ))
}

const NULL_DESCRIPTION: &str = "The server answers the `null` origin with \
    Access-Control-Allow-Origin: null. Any site can send that origin, from a sandboxed iframe \
    or a data: document, and so read the responses (with the visitor's cookies when \
    Access-Control-Allow-Credentials: true is sent too).";
const NULL_REMEDIATION: &str = "Never allow the `null` origin: remove it from the list of \
    allowed origins.";

const NULL_WITH_CREDENTIALS: Rule = Rule {
    id: "cors_null_origin_allowed",
    title: "CORS allows the null origin",
    severity: Severity::High,
    score: 7.1,
    cwe: Some(942),
    description: NULL_DESCRIPTION,
    remediation: NULL_REMEDIATION,
};

const NULL_WITHOUT_CREDENTIALS: Rule = Rule {
    id: "cors_null_origin_allowed",
    title: "CORS allows the null origin",
    severity: Severity::Low,
    score: 3.7,
    cwe: Some(942),
    description: NULL_DESCRIPTION,
    remediation: NULL_REMEDIATION,
};

/// Only when arbitrary origins are not reflected already: a server echoing every origin
/// echoes `null` too, and that is one problem, reported once.
pub(super) fn null_origin_allowed(observed: &Observed<'_>) -> Option<FindingDraft> {
    if arbitrary_origin_reflected(observed).is_some() {
        return None;
    }
    let answer = observed.null_origin?;
    if allowed_origin(&answer.headers)? != "null" {
        return None;
    }
    let (meta, title) = if allows_credentials(&answer.headers) {
        (
            &NULL_WITH_CREDENTIALS,
            "CORS allows the null origin, with credentials",
        )
    } else {
        (&NULL_WITHOUT_CREDENTIALS, "CORS allows the null origin")
    };
    Some(meta.titled(
        CheckKind::HttpProbes,
        observed.url.as_str(),
        title,
        evidence("null", answer),
    ))
}

const WILDCARD_WITH_CREDENTIALS: Rule = Rule {
    id: "cors_wildcard_with_credentials",
    title: "CORS wildcard with credentials",
    severity: Severity::Low,
    score: 3.1,
    cwe: Some(942),
    description: "The server sends Access-Control-Allow-Origin: * together with \
        Access-Control-Allow-Credentials: true. Browsers refuse that combination, so it does \
        not leak data by itself, but it shows credentialed cross-origin access is intended: \
        the usual \"fix\" is to echo the Origin, which lets every site read the visitor's data.",
    remediation: "Decide which origins may read credentialed responses and name them \
        explicitly; otherwise drop Access-Control-Allow-Credentials.",
};

/// In the answer to either CORS request, reported once.
pub(super) fn wildcard_with_credentials(observed: &Observed<'_>) -> Option<FindingDraft> {
    let (sent, answer) = [
        (observed.origin, observed.arbitrary_origin),
        ("null", observed.null_origin),
    ]
    .into_iter()
    .find_map(|(sent, answer)| {
        let answer = answer?;
        let wildcard = allowed_origin(&answer.headers).as_deref() == Some("*");
        (wildcard && allows_credentials(&answer.headers)).then_some((sent, answer))
    })?;
    Some(WILDCARD_WITH_CREDENTIALS.titled(
        CheckKind::HttpProbes,
        observed.url.as_str(),
        "CORS wildcard origin sent with credentials",
        evidence(sent, answer),
    ))
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::http_probes::fixtures::answer;

    const ORIGIN: &str = "https://0123abcd.example";

    fn judge(arbitrary: &[(&str, &str)], null: &[(&str, &str)]) -> Vec<FindingDraft> {
        let url = Url::parse("https://example.com/").unwrap();
        let plain = answer(200, &[], "");
        let arbitrary = answer(200, arbitrary, "");
        let null = answer(200, null, "");
        let observed = Observed {
            url: &url,
            plain: &plain,
            origin: ORIGIN,
            arbitrary_origin: Some(&arbitrary),
            null_origin: Some(&null),
            options: None,
            trace_token: "t",
            trace: None,
        };
        [
            arbitrary_origin_reflected(&observed),
            null_origin_allowed(&observed),
            wildcard_with_credentials(&observed),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn rules(findings: &[FindingDraft]) -> Vec<&str> {
        findings.iter().map(|f| f.rule.as_str()).collect()
    }

    const CREDENTIALS: (&str, &str) = ("access-control-allow-credentials", "true");

    #[test]
    fn no_cors_headers_and_public_wildcards_are_fine() {
        assert!(judge(&[], &[]).is_empty());
        let wildcard = [("access-control-allow-origin", "*")];
        assert!(judge(&wildcard, &wildcard).is_empty());
        // A fixed trusted origin is not the one we sent.
        let fixed = [
            ("access-control-allow-origin", "https://app.example.com"),
            CREDENTIALS,
        ];
        assert!(judge(&fixed, &fixed).is_empty());
    }

    #[test]
    fn reflection_is_graded_by_credentials() {
        let reflected = [("access-control-allow-origin", ORIGIN)];
        let findings = judge(&reflected, &[("access-control-allow-origin", "null")]);
        // The null origin is the same problem here: reported once.
        assert_eq!(rules(&findings), [REFLECTED]);
        assert_eq!(findings[0].severity, Severity::Low);
        assert_eq!(findings[0].check, CheckKind::HttpProbes);
        assert_eq!(findings[0].evidence["request_origin"], ORIGIN);

        let findings = judge(&[("access-control-allow-origin", ORIGIN), CREDENTIALS], &[]);
        assert_eq!(rules(&findings), [REFLECTED]);
        assert_eq!(
            (findings[0].severity, findings[0].score),
            (Severity::High, 8.1)
        );
        assert_eq!(
            findings[0].evidence["headers"]["access-control-allow-credentials"],
            "true"
        );
        // Browsers require exactly "true".
        let findings = judge(
            &[
                ("access-control-allow-origin", ORIGIN),
                ("access-control-allow-credentials", "TRUE"),
            ],
            &[],
        );
        assert_eq!(findings[0].severity, Severity::Low);
    }

    #[test]
    fn two_allow_origin_lines_allow_nothing() {
        let doubled = [
            ("access-control-allow-origin", ORIGIN),
            ("access-control-allow-origin", ORIGIN),
            CREDENTIALS,
        ];
        assert!(judge(&doubled, &[]).is_empty());
    }

    #[test]
    fn the_null_origin_alone() {
        let findings = judge(&[], &[("access-control-allow-origin", "null"), CREDENTIALS]);
        assert_eq!(rules(&findings), ["cors_null_origin_allowed"]);
        assert_eq!(findings[0].severity, Severity::High);
        assert_eq!(findings[0].evidence["request_origin"], "null");
        let findings = judge(&[], &[("access-control-allow-origin", "null")]);
        assert_eq!(findings[0].severity, Severity::Low);
    }

    #[test]
    fn wildcard_with_credentials_is_reported_once() {
        let both = [("access-control-allow-origin", "*"), CREDENTIALS];
        assert_eq!(
            rules(&judge(&both, &both)),
            ["cors_wildcard_with_credentials"]
        );
        assert_eq!(
            rules(&judge(&[], &both)),
            ["cors_wildcard_with_credentials"]
        );
    }

    #[test]
    fn unanswered_requests_are_not_judged() {
        let url = Url::parse("https://example.com/").unwrap();
        let plain = answer(
            200,
            &[("access-control-allow-origin", "*"), CREDENTIALS],
            "",
        );
        let observed = Observed {
            url: &url,
            plain: &plain,
            origin: ORIGIN,
            arbitrary_origin: None,
            null_origin: None,
            options: None,
            trace_token: "t",
            trace: None,
        };
        assert!(arbitrary_origin_reflected(&observed).is_none());
        assert!(null_origin_allowed(&observed).is_none());
        assert!(wildcard_with_credentials(&observed).is_none());
    }
}
