//! Plain HTTP should only send visitors to HTTPS.

use reqwest::header::LOCATION;
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::json;
use url::Url;

use super::Observed;
use crate::rule::{Rule, excerpt};

const NO_HTTPS_REDIRECT: Rule = Rule {
    id: "no_https_redirect",
    title: "Plain HTTP does not redirect to HTTPS",
    severity: Severity::Medium,
    score: 4.8,
    cwe: Some(319),
    description: "The site answers plain HTTP without redirecting to HTTPS, so visitors who type \
        the address or follow an old link use an unencrypted connection that anyone on the \
        network can read and change.",
    remediation: "Answer every plain HTTP request with a 301 (or 308) redirect to the same URL \
        over HTTPS, and send HSTS on the HTTPS responses.",
};

/// For an `http://` asset URL only. The redirect must be a 3xx whose `Location` (resolved
/// against the URL; it is never followed) is `https://` on the same host, or on the same
/// host with or without a leading `www.` (sending example.com to https://www.example.com is
/// the usual and safe move).
pub(super) fn no_https_redirect(observed: &Observed<'_>) -> Option<FindingDraft> {
    let url = observed.url;
    if url.scheme() != "http" {
        return None;
    }
    let answer = observed.plain;
    let location = answer
        .headers
        .get(LOCATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned());
    let redirect = (300..400).contains(&answer.status);
    if redirect
        && let Some(target) = location.as_deref().and_then(|l| url.join(l).ok())
        && upgrades(url, &target)
    {
        return None;
    }
    let title = if redirect {
        "Plain HTTP redirects elsewhere than HTTPS of this site"
    } else {
        "Plain HTTP is served without a redirect to HTTPS"
    };
    Some(NO_HTTPS_REDIRECT.titled(
        CheckKind::HttpProbes,
        url.as_str(),
        title,
        json!({
            "status": answer.status,
            "headers": { "location": location.as_deref().map(excerpt) },
        }),
    ))
}

fn upgrades(from: &Url, to: &Url) -> bool {
    let bare = |host: &str| host.strip_prefix("www.").unwrap_or(host).to_owned();
    to.scheme() == "https"
        && match (from.host_str(), to.host_str()) {
            // The url crate lowercases domain names.
            (Some(from), Some(to)) => bare(from) == bare(to),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_probes::fixtures::answer;

    fn judge(url: &str, status: u16, location: Option<&str>) -> Option<FindingDraft> {
        let url = Url::parse(url).unwrap();
        let headers: Vec<(&str, &str)> = location.map(|l| ("location", l)).into_iter().collect();
        let plain = answer(status, &headers, "");
        let observed = Observed {
            url: &url,
            plain: &plain,
            origin: "https://x.example",
            arbitrary_origin: None,
            null_origin: None,
            options: None,
            trace_token: "t",
            trace: None,
        };
        no_https_redirect(&observed)
    }

    #[test]
    fn redirects_to_https_of_the_same_host_are_fine() {
        for location in [
            "https://example.com/",
            "https://EXAMPLE.com:8443/login?next=/",
            "https://www.example.com/",
        ] {
            for status in [301, 302, 307, 308] {
                assert!(
                    judge("http://example.com/", status, Some(location)).is_none(),
                    "{location}"
                );
            }
        }
        assert!(judge("http://www.example.com/", 301, Some("https://example.com/")).is_none());
        assert!(judge("http://127.0.0.1:8080/", 301, Some("https://127.0.0.1/")).is_none());
    }

    #[test]
    fn https_urls_are_not_judged() {
        assert!(judge("https://example.com/", 200, None).is_none());
    }

    #[test]
    fn anything_else_is_a_finding() {
        let served = judge("http://example.com/", 200, None).unwrap();
        assert_eq!(served.rule, "no_https_redirect");
        assert_eq!(
            served.title,
            "Plain HTTP is served without a redirect to HTTPS"
        );
        assert_eq!(served.evidence["status"], 200);
        for location in [
            "/login",
            "http://example.com/",
            "https://evil.example/",
            "https://notexample.com/",
            "https://example.com.evil.example/",
            "https://www2.example.com/",
        ] {
            let finding = judge("http://example.com/", 302, Some(location))
                .unwrap_or_else(|| panic!("{location}"));
            assert_eq!(
                finding.title,
                "Plain HTTP redirects elsewhere than HTTPS of this site"
            );
        }
        // A Location outside a redirect does not count.
        assert!(judge("http://example.com/", 200, Some("https://example.com/")).is_some());
        assert!(judge("http://example.com/", 301, None).is_some());
    }
}
