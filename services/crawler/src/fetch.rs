//! The fetch stage (the deep crawl): one URL of a crawl's frontier fetched through the egress
//! policy, its page recorded, its in-scope links added to the frontier; when the frontier is
//! empty, the crawl goes to the finisher.
//!
//! Safe to repeat: a page is recorded under its crawl and URL (replaced if fetched again), its
//! links are recorded before they are published, and it is marked done last. A message whose
//! URL is done already is acknowledged without a request.

use std::time::Duration;

use reqwest::Method;
use s4e_bus::{Incoming, Outcome};
use s4e_checks::http_headers::{self, listing_kind};
use s4e_checks::{CheckError, exposure, fingerprint};
use s4e_egress::ReachError;
use s4e_egress::http::{self, Request};
use s4e_store::PageDocument;
use s4e_types::crawl::{LinkSource, SitePage};
use s4e_types::envelope::CrawlFetch;
use s4e_types::{CheckKind, Message};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use url::Url;

use crate::fuzz::{self, Shape};
use crate::leaks::{self, Leak};
use crate::pipeline::{CrawlRef, CrawlSettings, Crawler};
use crate::{api_docs, extract, headless};

/// A fetched page as the crawl keeps it: its public site-map entry and what the finisher
/// judges and reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PageRecord {
    #[serde(flatten)]
    pub page: SitePage,
    #[serde(default)]
    pub technologies: Vec<s4e_types::inventory::ObservedTechnology>,
    /// Hosts outside the scope that the page links to.
    #[serde(default)]
    pub linked_hosts: Vec<String>,
    /// Which server generated the page as a directory index, when it is one.
    #[serde(default)]
    pub directory_listing: Option<String>,
    /// Personal data and secrets in the body, masked.
    #[serde(default)]
    pub leaks: Vec<Leak>,
    /// The headers check's rules the response breaks: on an HTML page every rule, on other
    /// responses the cookie rules (a policy or frame header means nothing on a script or an
    /// image); a listing aside, which the crawl reports with its pages.
    #[serde(default)]
    pub header_weaknesses: Vec<HeaderWeakness>,
    /// What the answer looked like (status, size, words, lines), for telling a soft-404.
    #[serde(default)]
    pub shape: Option<Shape>,
    /// A file of the exposure check's that the page is (an environment file, a repository, a
    /// backup…) away from the site's root, where that check looks itself.
    #[serde(default)]
    pub exposed: Option<s4e_types::FindingDraft>,
}

/// A rule of the headers check that a page's response breaks, with its finding's own title
/// and evidence (header values cut short, cookie names without their values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeaderWeakness {
    pub rule: String,
    pub title: String,
    pub evidence: serde_json::Value,
}

/// How much longer than one request a fetch holds its page's claim (recording the page and
/// queueing its links).
const CLAIM_MARGIN: Duration = Duration::from_secs(30);

/// The headers check's rule for listings, which the crawl's own `directory_listing` reports.
const DIRECTORY_LISTING_RULE: &str = "directory_listing";

/// The most out-of-scope hosts kept per page.
const LINKED_HOSTS_LIMIT: usize = 50;

impl Crawler {
    pub async fn fetch(&self, incoming: Incoming) -> Outcome {
        let org_id = incoming.envelope.org_id;
        let Message::CrawlFetch(order) = &incoming.envelope.message else {
            return Outcome::DeadLetter(format!(
                "unexpected message type {} on the crawl fetch queue",
                incoming.envelope.message.type_name()
            ));
        };
        let crawl = CrawlRef {
            org_id,
            job_id: order.job_id,
            run_id: order.run_id,
        };
        let holder = incoming.envelope.id.to_string();
        let timeout = Duration::from_secs(self.settings.request_timeout_seconds);
        // A rendered page takes its request's time twice: fetched, then loaded in Chromium.
        let renders = if self.browser.is_some() { 2 } else { 1 };
        let lease = timeout * renders + CLAIM_MARGIN;
        let settings = match self.claim(crawl, &order.url, &holder, lease).await {
            Ok(settings) => settings,
            Err(outcome) => return outcome,
        };
        if let Err(outcome) = self.crawl_page(crawl, &settings, order).await {
            return outcome;
        }
        self.mark_done(crawl, &order.url).await
    }

    /// Fetches and records one page and queues its links, unless the crawl is out of time or
    /// its run was cancelled (then the URL is only marked done, and the frontier drains).
    async fn crawl_page(
        &self,
        crawl: CrawlRef,
        settings: &CrawlSettings,
        order: &CrawlFetch,
    ) -> Result<(), Outcome> {
        if settings.out_of_time() {
            self.state
                .truncate(crawl.job_id, "time")
                .await
                .map_err(|error| Outcome::Retry(format!("recording the time limit: {error}")))?;
            return Ok(());
        }
        if self.is_cancelled(crawl.run_id).await {
            return Ok(());
        }
        let Ok(url) = Url::parse(&order.url) else {
            return Ok(());
        };
        self.politeness
            .admit(crawl.org_id, url.host_str().unwrap_or_default())
            .await;
        let fetched = self.request(&url).await;
        let mut record = PageRecord {
            page: SitePage {
                run_id: crawl.run_id,
                job_id: crawl.job_id,
                url: order.url.clone(),
                depth: order.depth,
                found_by: order.found_by,
                status: None,
                error: None,
                content_type: None,
                size: 0,
                title: None,
                links: 0,
                forms: Vec::new(),
                api_document: None,
                soft_404: false,
                fetched_at: chrono::Utc::now(),
            },
            technologies: Vec::new(),
            linked_hosts: Vec::new(),
            directory_listing: None,
            leaks: Vec::new(),
            header_weaknesses: Vec::new(),
            shape: None,
            exposed: None,
        };
        let mut links = Vec::new();
        match fetched {
            Err(error) => {
                // Worded as a check's job error, which the crawl's becomes when its start URL
                // fails.
                record.page.error = Some(CheckError::from(error).job_error());
                self.count_page("error");
            }
            Ok(fetched) => {
                let headers = &fetched.raw.headers;
                let page = &mut record.page;
                page.status = Some(fetched.raw.status);
                page.content_type = headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                    .map(|(_, value)| value.clone());
                page.size = fetched.body.len() as u64;
                // Judged as the fuzzer's calibration saw its answers: cut at its body limit. A
                // longer page is no directory's "not found", and its words are not counted.
                record.shape = (fetched.body.len() <= fuzz::BODY_LIMIT)
                    .then(|| Shape::of(fetched.raw.status, &fetched.body));
                record.exposed = (!exposure::probes(url.path()))
                    .then(|| {
                        exposure::judge_file(
                            CheckKind::Crawl,
                            &url,
                            fetched.raw.status,
                            &fetched.body,
                        )
                    })
                    .flatten();
                let extracted = extract::response(&url, headers, &fetched.body);
                page.title = extracted.title;
                page.forms = extracted.forms;
                // Images, fonts and archives are not read as text.
                let text = if is_text(page.content_type.as_deref()) {
                    String::from_utf8_lossy(&fetched.body)
                } else {
                    Default::default()
                };
                let mut found = extracted.links;
                if let Some((document, operations)) =
                    api_docs::read(&url, page.content_type.as_deref(), &text)
                {
                    page.api_document = Some(document);
                    found.extend(operations.into_iter().map(|url| (url, LinkSource::Api)));
                }
                if is_html(page.content_type.as_deref()) && (200..300).contains(&fetched.raw.status)
                {
                    found.extend(self.render(crawl, settings, &url, &fetched).await);
                }
                for (link, source) in found {
                    if settings.scope.contains(&link) {
                        links.push((link, source));
                    } else if let Some(host) = link.host_str()
                        && record.linked_hosts.len() < LINKED_HOSTS_LIMIT
                        && !record.linked_hosts.iter().any(|known| known == host)
                    {
                        record.linked_hosts.push(host.to_ascii_lowercase());
                    }
                }
                record.page.links = u32::try_from(links.len()).unwrap_or(u32::MAX);
                record.technologies = fingerprint::identify(headers, &text);
                record.leaks = leaks::scan(&text);
                let html = is_html(record.page.content_type.as_deref());
                record.header_weaknesses =
                    http_headers::judge(&url, fetched.raw.status, &fetched.headers, &text)
                        .into_iter()
                        .filter(|finding| {
                            finding.rule != DIRECTORY_LISTING_RULE
                                && (html || finding.rule.starts_with("cookie_"))
                        })
                        .map(|finding| HeaderWeakness {
                            rule: finding.rule,
                            title: finding.title,
                            evidence: finding.evidence,
                        })
                        .collect();
                record.directory_listing = (200..300)
                    .contains(&fetched.raw.status)
                    .then(|| listing_kind(&text))
                    .flatten()
                    .map(str::to_string);
                self.count_page("fetched");
            }
        }
        let document = PageDocument::of(crawl.org_id, crawl.job_id, &order.url, &record)
            .map_err(|error| Outcome::Retry(format!("recording a page: {error}")))?;
        self.page_writer
            .record(document)
            .await
            .map_err(|error| Outcome::Retry(format!("recording a page: {error}")))?;
        if order.depth < settings.max_depth && !links.is_empty() {
            self.enqueue(crawl, settings, &order.url, links, order.depth + 1)
                .await?;
        }
        // A directory that answers (or refuses: it exists) is worth the wordlist.
        if record
            .page
            .status
            .is_some_and(|status| (200..300).contains(&status) || matches!(status, 401 | 403))
        {
            self.enqueue_fuzz(crawl, settings, &order.url, &url, order.depth)
                .await?;
        }
        Ok(())
    }

    /// One GET through the egress policy: the address approved first (or recently, for the
    /// same origin), the body read up to the crawler's limit (a response's compression is
    /// never undone: no bomb can grow it).
    async fn request(&self, url: &Url) -> Result<http::Fetched, ReachError> {
        let timeout = Duration::from_secs(self.settings.request_timeout_seconds);
        let deadline = Instant::now() + timeout;
        let client = self
            .clients
            .for_url(url, &self.egress, deadline, timeout)
            .await?;
        let limit = usize::try_from(self.settings.body_limit_bytes).unwrap_or(usize::MAX);
        client
            .send(url, &Request::new(Method::GET, limit), deadline, timeout)
            .await
    }

    /// In the headless mode, what the page's scripts requested and linked to once Chromium
    /// ran them (see `headless`), the requests it makes answered through the crawl's own
    /// egress client and budget. A page that does not render keeps the links read from its
    /// text.
    async fn render(
        &self,
        crawl: CrawlRef,
        settings: &CrawlSettings,
        url: &Url,
        fetched: &http::Fetched,
    ) -> Vec<(Url, LinkSource)> {
        let Some(browser) = &self.browser else {
            return Vec::new();
        };
        let document = headless::Document {
            url,
            status: fetched.raw.status,
            headers: &fetched.raw.headers,
            body: &fetched.body,
        };
        let answer = |url: Url| async move {
            self.politeness
                .admit(crawl.org_id, url.host_str().unwrap_or_default())
                .await;
            self.count_page("rendering");
            let fetched = self.request(&url).await.ok()?;
            Some(headless::Answer {
                status: fetched.raw.status,
                headers: fetched.raw.headers,
                body: fetched.body,
            })
        };
        let limit = Duration::from_secs(self.settings.request_timeout_seconds);
        // One tab per crawl: its pages share a session, no other crawl's do.
        let owner = crawl.job_id.to_string();
        match browser
            .render(&owner, document, &settings.scope, limit, answer)
            .await
        {
            Ok(rendered) => {
                self.metrics.inc(
                    "s4e_crawler_renders_total",
                    "Pages rendered in the headless mode, by outcome.",
                    &[("outcome", "rendered")],
                );
                rendered
                    .requested
                    .into_iter()
                    .chain(rendered.links)
                    .map(|link| (link, LinkSource::Browser))
                    .collect()
            }
            Err(error) => {
                tracing::warn!(%error, url = %url, "cannot render a page");
                self.metrics.inc(
                    "s4e_crawler_renders_total",
                    "Pages rendered in the headless mode, by outcome.",
                    &[("outcome", "failed")],
                );
                Vec::new()
            }
        }
    }

    fn count_page(&self, outcome: &str) {
        self.metrics.inc(
            "s4e_crawler_pages_total",
            "Pages the fetch stage requested, by outcome.",
            &[("outcome", outcome)],
        );
    }
}

/// Whether a response is an HTML document.
fn is_html(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|content_type| content_type.to_ascii_lowercase().contains("html"))
}

/// Whether a response is text worth reading (not an image, a font or an archive).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type.map(str::to_ascii_lowercase) else {
        return false;
    };
    ["text/", "json", "javascript", "xml", "yaml"]
        .iter()
        .any(|kind| content_type.contains(kind))
}
