//! What a crawl raises, judged over every page it fetched: forms that send passwords over
//! plain HTTP, directory listings anywhere on the site (the headers check only sees the
//! asset's own URL), secrets and personal data in responses (`leaks.rs`, masked), API
//! documents found away from the exposure check's paths (info), and the contact data a site
//! publishes (info). Each rule reports one finding per location, at most
//! [`MAX_PER_RULE`] per crawl.
//!
//! The exposure check's files (environment files, repositories, backups…) wherever the crawl
//! found them but at the site's root, where that check looks: each its own finding.
//!
//! And the headers check's rules on every page but the start: one finding per rule for the
//! whole site, at the start URL, saying how many pages break it and which, so that a site of a
//! thousand pages without a policy is one finding, not a thousand. Only rules the start page
//! keeps: one it breaks itself is the headers check's finding at the asset's URL already, and
//! the same gap on the other pages would repeat it; a gap the start page does not have is
//! what only a crawl can show.

use std::collections::{BTreeMap, BTreeSet};

use s4e_checks::{Rule, http_headers};
use s4e_types::crawl::LinkSource;
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

const API_DOCUMENTATION: Rule = Rule {
    id: "api_documentation_exposed",
    title: "API documentation exposed",
    severity: Severity::Info,
    score: 0.0,
    cwe: Some(200),
    description: "The crawl found an OpenAPI/Swagger description of an API. That is fine for a \
        public API; for an internal one it maps every endpoint and parameter for an attacker.",
    remediation: "If the API is not meant to be public, serve its documentation only to \
        authenticated users or only in development.",
};

/// The pages a site-wide finding names, besides counting them all.
pub const SITE_WIDE_EXAMPLES: usize = 10;

/// A rule of the headers check broken across a site: the first page's title and evidence,
/// how many pages, the first [`SITE_WIDE_EXAMPLES`] of them.
struct SiteWide {
    title: String,
    evidence: serde_json::Value,
    pages: usize,
    examples: Vec<String>,
}

/// Judges a crawl's pages one at a time (the finisher streams them, so its memory does not
/// grow with the site), each rule capped at [`MAX_PER_RULE`] findings.
#[derive(Default)]
pub struct Judge {
    password_forms: Vec<FindingDraft>,
    listings: Vec<FindingDraft>,
    api_documents: Vec<FindingDraft>,
    /// Secrets (one per page and kind) and personal data (one per page).
    leaks: Vec<FindingDraft>,
    /// The site's distinct contact data, at most 20.
    contacts: Vec<Leak>,
    /// By the headers check's rule id (at most one per rule of that check).
    site_wide: BTreeMap<String, SiteWide>,
    /// The headers check's rules the start page breaks.
    start_breaks: BTreeSet<String>,
    /// The exposure check's files found away from the site's root.
    exposed: Vec<FindingDraft>,
}

impl Judge {
    pub fn page(&mut self, record: &PageRecord) {
        self.password_forms(record);
        self.listing(record);
        self.api_document(record);
        self.leaks(record);
        self.header_weaknesses(record);
        if let Some(exposed) = &record.exposed
            && self.exposed.len() < MAX_PER_RULE * 2
        {
            self.exposed.push(exposed.clone());
        }
    }

    /// Every finding of a crawl that started at `start`.
    pub fn findings(self, start: Option<&str>) -> Vec<FindingDraft> {
        let mut findings = self.password_forms;
        findings.extend(self.listings);
        findings.extend(self.api_documents);
        findings.extend(self.leaks);
        findings.extend(self.exposed);
        let Some(start) = start else {
            return findings;
        };
        if !self.contacts.is_empty() {
            findings.push(CONTACT_DATA.finding(
                CheckKind::Crawl,
                start,
                json!({"found": self.contacts}),
            ));
        }
        for (id, site) in self.site_wide {
            let Some(rule) = http_headers::rule(&id).filter(|_| !self.start_breaks.contains(&id))
            else {
                continue;
            };
            let pages = if site.pages == 1 { "page" } else { "pages" };
            findings.push(rule.titled(
                CheckKind::Crawl,
                start,
                &format!("{} on {} {pages} of the site", site.title, site.pages),
                json!({
                    "pages": site.pages,
                    "examples": site.examples,
                    "first": site.evidence,
                }),
            ));
        }
        findings
    }

    fn header_weaknesses(&mut self, record: &PageRecord) {
        if record.page.found_by == LinkSource::Seed {
            self.start_breaks.extend(
                record
                    .header_weaknesses
                    .iter()
                    .map(|weakness| weakness.rule.clone()),
            );
            return;
        }
        for weakness in &record.header_weaknesses {
            let site = self
                .site_wide
                .entry(weakness.rule.clone())
                .or_insert_with(|| SiteWide {
                    title: weakness.title.clone(),
                    evidence: weakness.evidence.clone(),
                    pages: 0,
                    examples: Vec::new(),
                });
            site.pages += 1;
            if site.examples.len() < SITE_WIDE_EXAMPLES {
                site.examples.push(record.page.url.clone());
            }
        }
    }

    fn password_forms(&mut self, record: &PageRecord) {
        for form in record.page.forms.iter().filter(|form| form.has_password) {
            let insecure_page = record.page.url.starts_with("http://");
            let insecure_action = form.action.starts_with("http://");
            if !(insecure_page || insecure_action)
                || self.password_forms.len() >= MAX_PER_RULE
                || self
                    .password_forms
                    .iter()
                    .any(|f| f.location == form.action)
            {
                continue;
            }
            self.password_forms.push(PASSWORD_FORM_OVER_HTTP.finding(
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

    fn listing(&mut self, record: &PageRecord) {
        let Some(listing) = record.directory_listing.as_deref() else {
            return;
        };
        if self.listings.len() < MAX_PER_RULE {
            self.listings.push(DIRECTORY_LISTING.finding(
                CheckKind::Crawl,
                &record.page.url,
                json!({
                    "status": record.page.status,
                    "listing": listing,
                    "title": record.page.title,
                }),
            ));
        }
    }

    /// Documents the crawl read, but not at the paths the exposure check asks every site for
    /// (that check reports those).
    fn api_document(&mut self, record: &PageRecord) {
        let Some(document) = record.page.api_document.as_ref() else {
            return;
        };
        let (Some(version), Ok(url)) = (
            document.version.as_deref(),
            url::Url::parse(&record.page.url),
        ) else {
            return;
        };
        if s4e_checks::exposure::probes(url.path()) || self.api_documents.len() >= MAX_PER_RULE {
            return;
        }
        self.api_documents.push(API_DOCUMENTATION.finding(
            CheckKind::Crawl,
            &record.page.url,
            json!({
                "version": version,
                "base": document.base,
                "operations": document.operations.len(),
            }),
        ));
    }

    /// What a page gives away: one finding per secret kind, one for its personal data; its
    /// contact data joins the site's.
    fn leaks(&mut self, record: &PageRecord) {
        let mut kinds: Vec<LeakKind> = Vec::new();
        let mut personal: Vec<&Leak> = Vec::new();
        for leak in &record.leaks {
            match leak.kind {
                kind if kind.is_secret() && !kinds.contains(&kind) => kinds.push(kind),
                kind if kind.is_secret() => {}
                LeakKind::Email | LeakKind::Phone
                    if self.contacts.len() < 20
                        && !self
                            .contacts
                            .iter()
                            .any(|known| known.masked == leak.masked) =>
                {
                    self.contacts.push(leak.clone());
                }
                LeakKind::Email | LeakKind::Phone => {}
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
            self.push_leak(SECRET_EXPOSED.titled(
                CheckKind::Crawl,
                &format!("{}#{}", record.page.url, kind_name(kind)),
                &format!("{} exposed in a response", kind_title(kind)),
                json!({"page": record.page.url, "kind": kind, "masked": samples}),
            ));
        }
        if !personal.is_empty() {
            self.push_leak(PII_EXPOSED.finding(
                CheckKind::Crawl,
                &record.page.url,
                json!({"page": record.page.url, "found": personal}),
            ));
        }
    }

    fn push_leak(&mut self, finding: FindingDraft) {
        if self.leaks.len() < MAX_PER_RULE * 2 {
            self.leaks.push(finding);
        }
    }
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
