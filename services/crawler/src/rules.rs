//! What a crawl raises, judged over every page it fetched: forms that send passwords over
//! plain HTTP, directory listings anywhere on the site (the headers check only sees the
//! asset's own URL), secrets and personal data in responses (`leaks.rs`, masked), and the
//! contact data a site publishes (info). Each rule reports one finding per location, at most
//! [`MAX_PER_RULE`] per crawl.

use s4e_checks::Rule;
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::json;

use crate::fetch::PageRecord;
use crate::leaks::{Leak, LeakKind};

/// The most findings one rule raises in one crawl: a site with a thousand listings needs one
/// fix, not a thousand findings.
pub const MAX_PER_RULE: usize = 50;

const PASSWORD_FORM_OVER_HTTP: Rule = Rule {
    id: "password_form_over_http",
    title: "Password form sent over plain HTTP",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(319),
    description: "A form with a password field is served over plain HTTP or submits to a plain \
        HTTP URL: anyone on the network path can read or change the credentials in transit.",
    remediation: "Serve the page and the form's action over HTTPS only, and redirect plain HTTP \
        to HTTPS with HSTS.",
};

const DIRECTORY_LISTING: Rule = Rule {
    id: "directory_listing",
    title: "Directory listing enabled",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(548),
    description: "A directory the crawl reached answers with an automatically generated index, \
        showing every file in it: backups, configuration and other files never meant to be \
        linked become easy to find and download.",
    remediation: "Turn directory listings off (`Options -Indexes` in Apache, `autoindex off` in \
        nginx, directory browsing in IIS) and serve an index page or a 403/404 instead.",
};

const SECRET_EXPOSED: Rule = Rule {
    id: "secret_exposed",
    title: "Secret exposed in a response",
    severity: Severity::High,
    score: 8.2,
    cwe: Some(200),
    description: "A page or file the crawl reached contains a credential: a private key, a \
        cloud access key, an API token or a signed session token. Anyone who reads the page can \
        use it.",
    remediation: "Remove the secret from what the site serves, revoke it and issue a new one, \
        and keep secrets in server-side configuration or a secret store.",
};

const PII_EXPOSED: Rule = Rule {
    id: "pii_exposed",
    title: "Personal data exposed in a response",
    severity: Severity::Medium,
    score: 6.5,
    cwe: Some(359),
    description: "A page or file the crawl reached shows personal data that passed its \
        checksum and sits next to words naming it: payment card numbers, IBANs or national \
        identity numbers.",
    remediation: "Stop serving the data (or mask it, as a receipt shows the last four digits of \
        a card), find out who could read it, and whether the exposure must be reported.",
};

const CONTACT_DATA: Rule = Rule {
    id: "contact_data_exposed",
    title: "E-mail addresses and phone numbers published",
    severity: Severity::Info,
    score: 0.0,
    cwe: None,
    description: "The site publishes e-mail addresses or phone numbers: the people and \
        mailboxes phishing and social engineering aim at first.",
    remediation: "Publish role addresses and contact forms rather than people's own addresses \
        where you can.",
};

/// What a page gives away, as findings: one per page and secret kind, one per page for personal
/// data, one for the whole site's contact data.
fn leak_findings(records: &[PageRecord], start: Option<&str>) -> Vec<FindingDraft> {
    let mut findings = Vec::new();
    let mut contacts: Vec<&Leak> = Vec::new();
    for record in records {
        let mut kinds: Vec<LeakKind> = Vec::new();
        let mut personal: Vec<&Leak> = Vec::new();
        for leak in &record.leaks {
            match leak.kind {
                kind if kind.is_secret() && !kinds.contains(&kind) => kinds.push(kind),
                kind if kind.is_secret() => {}
                LeakKind::Email | LeakKind::Phone => contacts.push(leak),
                // Cards pass Luhn one time in ten by chance: only with words naming them.
                _ if leak.in_context => personal.push(leak),
                _ => {}
            }
        }
        for kind in kinds {
            let samples: Vec<&str> = record
                .leaks
                .iter()
                .filter(|leak| leak.kind == kind)
                .map(|leak| leak.masked.as_str())
                .collect();
            findings.push(SECRET_EXPOSED.titled(
                CheckKind::Crawl,
                &format!("{}#{}", record.page.url, kind_name(kind)),
                &format!("{} exposed in a response", kind_title(kind)),
                json!({"page": record.page.url, "kind": kind, "masked": samples}),
            ));
        }
        if !personal.is_empty() {
            findings.push(PII_EXPOSED.finding(
                CheckKind::Crawl,
                &record.page.url,
                json!({"page": record.page.url, "found": personal}),
            ));
        }
    }
    let mut distinct: Vec<&Leak> = Vec::new();
    for leak in contacts {
        if distinct.len() < 20 && !distinct.iter().any(|known| known.masked == leak.masked) {
            distinct.push(leak);
        }
    }
    if let (false, Some(start)) = (distinct.is_empty(), start) {
        findings.push(CONTACT_DATA.finding(CheckKind::Crawl, start, json!({"found": distinct})));
    }
    findings
}

fn kind_name(kind: LeakKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn kind_title(kind: LeakKind) -> &'static str {
    match kind {
        LeakKind::PrivateKey => "Private key",
        LeakKind::AwsAccessKey => "AWS access key",
        LeakKind::GithubToken => "GitHub token",
        LeakKind::SlackToken => "Slack token",
        LeakKind::GoogleApiKey => "Google API key",
        LeakKind::StripeSecretKey => "Stripe secret key",
        LeakKind::Jwt => "JSON Web Token",
        _ => "Secret",
    }
}

/// Every finding of a crawl that started at `start`.
pub fn judge(records: &[PageRecord], start: Option<&str>) -> Vec<FindingDraft> {
    let mut findings = judge_pages(records);
    let mut leaks = leak_findings(records, start);
    leaks.truncate(MAX_PER_RULE * 3);
    findings.append(&mut leaks);
    findings
}

fn judge_pages(records: &[PageRecord]) -> Vec<FindingDraft> {
    let mut findings = Vec::new();
    let mut password_forms: Vec<FindingDraft> = Vec::new();
    for record in records {
        for form in record.page.forms.iter().filter(|form| form.has_password) {
            let insecure_page = record.page.url.starts_with("http://");
            let insecure_action = form.action.starts_with("http://");
            if !(insecure_page || insecure_action)
                || password_forms.len() >= MAX_PER_RULE
                || password_forms.iter().any(|f| f.location == form.action)
            {
                continue;
            }
            password_forms.push(PASSWORD_FORM_OVER_HTTP.finding(
                CheckKind::Crawl,
                &form.action,
                json!({
                    "page": record.page.url,
                    "action": form.action,
                    "method": form.method,
                    "fields": form.fields,
                }),
            ));
        }
    }
    findings.append(&mut password_forms);
    findings.extend(
        records
            .iter()
            .filter_map(|record| {
                let listing = record.directory_listing.as_deref()?;
                Some(DIRECTORY_LISTING.finding(
                    CheckKind::Crawl,
                    &record.page.url,
                    json!({
                        "status": record.page.status,
                        "listing": listing,
                        "title": record.page.title,
                    }),
                ))
            })
            .take(MAX_PER_RULE),
    );
    findings
}
