//! HTTP methods: TRACE echoing requests back, and write methods advertised on the asset URL.

use reqwest::header::{ACCESS_CONTROL_ALLOW_METHODS, ALLOW, HeaderMap};
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::json;

use super::Observed;
use crate::rule::{Rule, excerpt};

const TRACE_ENABLED: Rule = Rule {
    id: "trace_enabled",
    title: "HTTP TRACE is enabled",
    severity: Severity::Low,
    score: 3.7,
    cwe: Some(200),
    description: "The server answers TRACE by echoing the request back, headers included. A \
        script that can send TRACE (through a flawed proxy or plugin) reads headers it could \
        not otherwise see, such as HttpOnly cookies and authorization headers (cross-site \
        tracing).",
    remediation: "Disable TRACE: `TraceEnable off` in Apache, reject it in nginx or the load \
        balancer (it is never needed in production).",
};

/// A 200 whose body contains the random value we sent in a header: a real echo, not a
/// server that answers every method with its home page.
pub(super) fn trace_enabled(observed: &Observed<'_>) -> Option<FindingDraft> {
    let answer = observed.trace?;
    let token = observed.trace_token.as_bytes();
    let echoed = !token.is_empty() && answer.body.windows(token.len()).any(|part| part == token);
    if answer.status != 200 || !echoed {
        return None;
    }
    Some(TRACE_ENABLED.titled(
        CheckKind::HttpProbes,
        observed.url.as_str(),
        "TRACE method enabled",
        json!({ "status": answer.status, "echoed_header": "x-s4e-trace" }),
    ))
}

/// Methods that change resources. WebDAV's (MKCOL, MOVE, …) come with PUT and DELETE in
/// practice, so these three are enough to notice a writable site.
const WRITE_METHODS: [&str; 3] = ["PUT", "DELETE", "PATCH"];

const UNSAFE_METHODS_ALLOWED: Rule = Rule {
    id: "unsafe_methods_allowed",
    title: "Unsafe HTTP methods are allowed",
    severity: Severity::Low,
    score: 3.1,
    cwe: Some(749),
    description: "OPTIONS on the asset URL advertises methods that change resources (PUT, \
        DELETE or PATCH). On a web page rather than an API this usually means WebDAV or a \
        default handler is on; if those methods are not authorised properly, anyone can \
        upload, overwrite or delete files. The methods themselves were not tried.",
    remediation: "Disable the methods the site does not use (WebDAV, default PUT/DELETE \
        handlers), and make sure those it does use require authorisation.",
};

/// Conservative: the answer must be a 2xx to a plain OPTIONS (no Origin, so not a CORS
/// preflight) listing a write method in `Allow`, and must carry no
/// `Access-Control-Allow-Methods` (a CORS layer answering every OPTIONS lists the methods
/// allowed cross-origin, which says nothing about what the resource accepts). A 405 with
/// `Allow` lists what *is* accepted but refused OPTIONS itself; it is not judged.
pub(super) fn unsafe_methods_allowed(observed: &Observed<'_>) -> Option<FindingDraft> {
    let answer = observed.options?;
    if !(200..300).contains(&answer.status)
        || answer.headers.contains_key(ACCESS_CONTROL_ALLOW_METHODS)
    {
        return None;
    }
    let listed = allowed_methods(&answer.headers);
    let unsafe_methods: Vec<&str> = WRITE_METHODS
        .iter()
        .copied()
        .filter(|method| listed.iter().any(|listed| listed == method))
        .collect();
    if unsafe_methods.is_empty() {
        return None;
    }
    let allow = listed.join(", ");
    Some(UNSAFE_METHODS_ALLOWED.titled(
        CheckKind::HttpProbes,
        observed.url.as_str(),
        &format!("Write methods allowed: {}", unsafe_methods.join(", ")),
        json!({ "status": answer.status, "headers": { "allow": excerpt(&allow) } }),
    ))
}

/// The methods of every `Allow` line, uppercased (method names are case-sensitive, but a
/// server writing `put` means PUT).
fn allowed_methods(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(ALLOW)
        .iter()
        .flat_map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .split(',')
                .map(|method| method.trim().to_ascii_uppercase())
                .filter(|method| !method.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::http_probes::Answer;
    use crate::http_probes::fixtures::answer;

    fn observe<T>(
        options: Option<&Answer>,
        trace: Option<&Answer>,
        judge: impl Fn(&Observed<'_>) -> T,
    ) -> T {
        let url = Url::parse("http://example.com/").unwrap();
        let plain = answer(200, &[], "");
        let observed = Observed {
            url: &url,
            plain: &plain,
            origin: "https://x.example",
            arbitrary_origin: None,
            null_origin: None,
            options,
            trace_token: "5eed1234cafe0000",
            trace,
        };
        judge(&observed)
    }

    fn trace(status: u16, body: &str) -> Option<FindingDraft> {
        let answer = answer(status, &[("content-type", "message/http")], body);
        observe(None, Some(&answer), trace_enabled)
    }

    #[test]
    fn trace_must_echo_the_request() {
        let echo = "TRACE / HTTP/1.1\r\nhost: example.com\r\nx-s4e-trace: 5eed1234cafe0000\r\n\r\n";
        let finding = trace(200, echo).unwrap();
        assert_eq!(finding.rule, "trace_enabled");
        assert_eq!(finding.location, "http://example.com/");
        assert_eq!(finding.evidence["status"], 200);
        // A 200 that is just the home page, or an echo with a refusal status, is no finding.
        assert!(trace(200, "<html>Welcome</html>").is_none());
        assert!(trace(405, echo).is_none());
        assert!(trace(200, "").is_none());
        assert!(observe(None, None, trace_enabled).is_none());
    }

    fn options(status: u16, headers: &[(&str, &str)]) -> Option<FindingDraft> {
        let answer = answer(status, headers, "");
        observe(Some(&answer), None, unsafe_methods_allowed)
    }

    #[test]
    fn write_methods_in_allow_are_reported() {
        let finding = options(200, &[("allow", "GET, HEAD, OPTIONS, PUT, delete")]).unwrap();
        assert_eq!(finding.rule, "unsafe_methods_allowed");
        assert_eq!(finding.title, "Write methods allowed: PUT, DELETE");
        assert_eq!(
            finding.evidence["headers"]["allow"],
            "GET, HEAD, OPTIONS, PUT, DELETE"
        );
        assert!(options(204, &[("allow", "GET"), ("allow", "PATCH")]).is_some());
    }

    #[test]
    fn safe_methods_refusals_and_cors_answers_are_not() {
        assert!(options(200, &[("allow", "GET, HEAD, OPTIONS, POST")]).is_none());
        assert!(options(200, &[]).is_none());
        assert!(options(405, &[("allow", "GET, PUT, DELETE")]).is_none());
        assert!(
            options(
                204,
                &[
                    ("allow", "GET, PUT, DELETE"),
                    ("access-control-allow-methods", "GET, PUT, DELETE"),
                ]
            )
            .is_none()
        );
        // PUTS is not PUT.
        assert!(options(200, &[("allow", "PUTS, DELETED")]).is_none());
    }
}
