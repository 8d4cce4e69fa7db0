//! What a crawl raises, judged over every page it fetched: forms that send passwords over
//! plain HTTP, and directory listings anywhere on the site (the headers check only sees the
//! asset's own URL). Each rule reports one finding per location, at most
//! [`MAX_PER_RULE`] per crawl.

use s4e_checks::Rule;
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::json;

use crate::fetch::PageRecord;

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

pub fn judge(records: &[PageRecord]) -> Vec<FindingDraft> {
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
