//! The finisher: a crawl whose frontier is empty is consolidated (its pages streamed back one
//! at a time, its URLs unified into templates, its findings judged, its technologies and the
//! site's other host names collected), stored as the job's raw output and reported to base
//! like any job: findings deduplicated, the run advanced, `finding.created`,
//! `crawl.completed` and `scan.completed` announced.
//!
//! Safe to repeat: base applies one report per job; the crawl's state is forgotten only once
//! the report is stored. Its memory does not grow with the site: what it keeps per page is
//! bounded (templates, findings, names and documents each have a cap).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use s4e_bus::topology::Exchange;
use s4e_bus::{Incoming, Outcome};
use s4e_jobs::{Reported, outcome_of};
use s4e_types::api::FinishJob;
use s4e_types::crawl::LinkSource;
use s4e_types::discovery::{DiscoveredName, DiscoverySource, MAX_DISCOVERED_PER_JOB};
use s4e_types::envelope::CrawlCompleted;
use s4e_types::inventory::{Observations, ObservedTechnology};
use s4e_types::{Envelope, JobId, JobStatus, Message, ScanRun};
use serde::Serialize;
use url::Url;
use uuid::Uuid;

use crate::fetch::PageRecord;
use crate::fuzz::NotFound;
use crate::pipeline::{CrawlSettings, Crawler};
use crate::rules::Judge;
use crate::urls;

/// The most templates a summary lists (the rest are counted in `pages`).
const ENDPOINT_LIMIT: usize = 10_000;
/// The most API documents a summary lists.
const DOCUMENT_LIMIT: usize = 100;
/// The most pages one crawl marks as soft-404s (the rest are counted).
const SOFT_404_LIMIT: usize = 1_000;

/// The crawl's summary, stored as its job's raw output (the pages themselves are the site map).
#[derive(Debug, Default, Serialize)]
struct Summary {
    start: Option<String>,
    pages: usize,
    /// Pages by HTTP status (`error` for requests that failed).
    statuses: BTreeMap<String, usize>,
    /// Why the crawl stopped short (`pages`, `time`), if it did.
    truncated: Option<String>,
    /// URLs refused as traps (too many of one template).
    trapped: u64,
    /// Pages that answered like their directory's "not found" (counted in `pages` and
    /// `statuses`, nothing else).
    soft_404: usize,
    endpoints: Vec<Endpoint>,
    /// More templates than the summary lists.
    endpoints_truncated: bool,
    /// The API documents read, and those that claimed to be one but could not be read.
    api_documents: Vec<serde_json::Value>,
}

/// URLs of one template, collapsed: `/item/{id}` with one example and how many there were.
#[derive(Debug, PartialEq, Eq, Serialize)]
struct Endpoint {
    template: String,
    example: String,
    count: usize,
}

/// URL unification, one URL at a time: templates in order of first appearance, each with its
/// first URL as the example, at most `limit` of them.
struct Unifier {
    endpoints: Vec<Endpoint>,
    index: HashMap<String, usize>,
    limit: usize,
    truncated: bool,
}

impl Unifier {
    fn new(limit: usize) -> Self {
        Unifier {
            endpoints: Vec::new(),
            index: HashMap::new(),
            limit,
            truncated: false,
        }
    }

    fn add(&mut self, text: &str) {
        let Ok(url) = Url::parse(text) else { return };
        let template = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            urls::template(&url)
        );
        match self.index.get(&template) {
            Some(at) => self.endpoints[*at].count += 1,
            None if self.endpoints.len() >= self.limit => self.truncated = true,
            None => {
                self.index.insert(template.clone(), self.endpoints.len());
                self.endpoints.push(Endpoint {
                    template,
                    example: text.to_string(),
                    count: 1,
                });
            }
        }
    }
}

/// What the finisher keeps of a crawl while its pages stream by.
struct Consolidation {
    summary: Summary,
    unifier: Unifier,
    judge: Judge,
    technologies: Vec<ObservedTechnology>,
    /// The crawled host, and the suffix of names under its domain.
    site: Option<(String, String)>,
    names: BTreeSet<String>,
    /// Why the start URL could not be fetched, if it could not.
    seed_error: Option<String>,
    /// What "not found" looks like in each directory the crawl fuzzed, by directory URL.
    not_found: HashMap<String, NotFound>,
    /// The pages to mark as soft-404s, at most [`SOFT_404_LIMIT`].
    soft_404: Vec<PageRecord>,
}

impl Consolidation {
    fn new(settings: Option<&CrawlSettings>, not_found: HashMap<String, NotFound>) -> Self {
        // An address has no domain to look under.
        let site = settings
            .map(|settings| settings.scope.host().to_string())
            .filter(|host| host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('['))
            .map(|host| {
                let suffix = format!(".{}", host.strip_prefix("www.").unwrap_or(&host));
                (host, suffix)
            });
        Consolidation {
            summary: Summary {
                start: settings.map(|settings| settings.start.to_string()),
                ..Summary::default()
            },
            unifier: Unifier::new(ENDPOINT_LIMIT),
            judge: Judge::default(),
            technologies: Vec::new(),
            site,
            names: BTreeSet::new(),
            seed_error: None,
            not_found,
            soft_404: Vec::new(),
        }
    }

    /// Whether a page answered like its directory's "not found" in the fuzzer's calibration
    /// there (a directory's own page is judged by its parent's). Only the exact models count
    /// (the same bytes, or a page echoing the name): a real page may share a word or line
    /// count with the not-found page, and must not be hidden. The start page never is.
    fn is_soft_404(&self, record: &PageRecord) -> bool {
        let (Some(shape), Ok(url)) = (record.shape, Url::parse(&record.page.url)) else {
            return false;
        };
        let parent = if url.path().ends_with('/') {
            "../"
        } else {
            "./"
        };
        let Some(model) = url
            .join(parent)
            .ok()
            .filter(|directory| *directory != url && record.page.found_by != LinkSource::Seed)
            .and_then(|directory| self.not_found.get(directory.as_str()))
        else {
            return false;
        };
        let name = url
            .path_segments()
            .and_then(|mut segments| segments.next_back())
            .unwrap_or_default();
        matches!(model, NotFound::Size(..) | NotFound::Echo { .. })
            && model.is_soft_404(name, &shape)
    }

    fn add(&mut self, record: PageRecord) {
        let page = &record.page;
        self.summary.pages += 1;
        let status = page
            .status
            .map_or_else(|| "error".to_string(), |status| status.to_string());
        *self.summary.statuses.entry(status).or_default() += 1;
        if self.is_soft_404(&record) {
            self.summary.soft_404 += 1;
            if self.soft_404.len() < SOFT_404_LIMIT {
                let mut marked = record.clone();
                marked.page.soft_404 = true;
                self.soft_404.push(marked);
            }
            return;
        }
        self.unifier.add(&page.url);
        if let Some(document) = &page.api_document
            && self.summary.api_documents.len() < DOCUMENT_LIMIT
        {
            self.summary.api_documents.push(serde_json::json!({
                "url": page.url,
                "version": document.version,
                "operations": document.operations.len(),
                "error": document.error,
            }));
        }
        if page.found_by == LinkSource::Seed {
            self.seed_error.clone_from(&page.error);
        }
        // Each technology once, a version preferred to none.
        for technology in &record.technologies {
            match self
                .technologies
                .iter_mut()
                .find(|known| known.name == technology.name)
            {
                Some(known) if known.version.is_none() && technology.version.is_some() => {
                    *known = technology.clone();
                }
                Some(_) => {}
                None => self.technologies.push(technology.clone()),
            }
        }
        // The site's other host names its pages link to, proposed as candidate assets.
        if let Some((host, suffix)) = &self.site {
            for linked in &record.linked_hosts {
                if linked.ends_with(suffix.as_str())
                    && linked != host
                    && s4e_types::discovery::is_host_name(linked)
                    && self.names.len() < MAX_DISCOVERED_PER_JOB
                {
                    self.names.insert(linked.clone());
                }
            }
        }
        self.judge.page(&record);
    }

    /// The summary to store and the report to send with its id.
    fn finish(mut self, truncated: Option<String>, trapped: u64) -> (Summary, Report) {
        self.summary.truncated = truncated;
        self.summary.trapped = trapped;
        self.summary.endpoints = self.unifier.endpoints;
        self.summary.endpoints_truncated = self.unifier.truncated;
        let start = self.summary.start.clone();
        let report = match self.seed_error {
            // A site whose start URL could not be fetched at all was not crawled: the job
            // fails with the reason, as a check's would.
            Some(error) => Report::Unreachable(error),
            None => Report::Crawled {
                findings: self.judge.findings(start.as_deref()),
                observed: Observations {
                    technologies: self.technologies,
                    discovered: self
                        .names
                        .into_iter()
                        .map(|name| DiscoveredName {
                            name,
                            source: DiscoverySource::Crawl,
                            addresses: Vec::new(),
                        })
                        .collect(),
                    ..Observations::default()
                },
            },
        };
        (self.summary, report)
    }
}

enum Report {
    Unreachable(String),
    Crawled {
        findings: Vec<s4e_types::FindingDraft>,
        observed: Observations,
    },
}

impl Crawler {
    pub async fn finish(&self, incoming: Incoming) -> Outcome {
        let org_id = incoming.envelope.org_id;
        let Message::CrawlFinish(order) = incoming.envelope.message else {
            return Outcome::DeadLetter(format!(
                "unexpected message type {} on the crawl finish queue",
                incoming.envelope.message.type_name()
            ));
        };
        let job = match self.base.get_job(org_id, order.job_id).await {
            Ok(job) => job,
            Err(error) => return outcome_of(error, "reading job"),
        };
        if job.status.is_final() {
            // Reported by an earlier delivery (which may have died before announcing), or
            // cancelled with its run.
            self.forget(order.job_id).await;
            let run = match self.base.get_run(org_id, job.run_id).await {
                Ok(run) => run,
                Err(error) => return outcome_of(error, "reading run"),
            };
            let summary = match self.raw.get(org_id, &order.job_id.to_string()).await {
                Ok(summary) => summary.unwrap_or_default(),
                Err(error) => {
                    return Outcome::Retry(format!("reading the crawl's summary: {error}"));
                }
            };
            if let Err(outcome) = self
                .announce_crawl(&run, job.id, job.status, &summary)
                .await
            {
                return outcome;
            }
            return self.reports.announce_if_final(&run).await;
        }
        let meta = match self.state.meta(order.job_id).await {
            Ok(meta) => meta.unwrap_or_default(),
            Err(error) => return Outcome::Retry(format!("reading the crawl: {error}")),
        };
        let done = i64::try_from(meta.seen).unwrap_or(i64::MAX);
        self.record_progress(order.run_id, "finish", done, 0).await;
        let settings = CrawlSettings::from_meta(&meta);
        let not_found = match self.state.not_found(order.job_id).await {
            Ok(models) => models
                .into_iter()
                .filter_map(|(directory, model)| {
                    Some((directory, serde_json::from_str(&model).ok()?))
                })
                .collect(),
            Err(error) => {
                return Outcome::Retry(format!("reading the crawl's not-found pages: {error}"));
            }
        };
        let mut consolidation = Consolidation::new(settings.as_ref(), not_found);
        if let Err(error) = self
            .pages
            .each_of_job(org_id, order.job_id, |record: PageRecord| {
                consolidation.add(record);
            })
            .await
        {
            return Outcome::Retry(format!("reading the crawl's pages: {error}"));
        }
        // Marked before the crawl is reported, so a finished crawl's site map says it.
        for marked in std::mem::take(&mut consolidation.soft_404) {
            let url = marked.page.url.clone();
            if let Err(error) = self.pages.record(org_id, order.job_id, &url, &marked).await {
                return Outcome::Retry(format!("marking a soft-404 page: {error}"));
            }
        }
        let (summary, report) = consolidation.finish(meta.truncated.clone(), meta.trapped);
        let pages = summary.pages;
        let raw = serde_json::to_value(&summary).unwrap_or_default();
        let raw_output_id = match self
            .raw
            .store(org_id, order.run_id, order.job_id, &raw)
            .await
        {
            Ok(id) => Some(id),
            Err(error) => return Outcome::Retry(format!("storing the crawl's summary: {error}")),
        };
        let report = match report {
            Report::Unreachable(error) => FinishJob {
                status: JobStatus::Failed,
                error: Some(error),
                raw_output_id,
                findings: Vec::new(),
                observed: Observations::default(),
            },
            Report::Crawled { findings, observed } => FinishJob {
                status: JobStatus::Completed,
                error: None,
                raw_output_id,
                findings,
                observed,
            },
        };
        let reported = match self.reports.report(org_id, order.job_id, report).await {
            Ok(reported) => reported,
            Err(outcome) => return outcome,
        };
        if let Reported::Applied { .. } = reported {
            tracing::info!(
                job_id = %order.job_id, run_id = %order.run_id, pages,
                truncated = meta.truncated.as_deref(), "crawl finished"
            );
            self.metrics.inc(
                "s4e_crawler_crawls_finished_total",
                "Crawls reported to base.",
                &[],
            );
        }
        // The status stored is known unless another delivery reported first (then it is read).
        let status = match &reported {
            Reported::Applied { status, .. } => *status,
            Reported::Cancelled { .. } => JobStatus::Cancelled,
            Reported::AlreadyReported { .. } => {
                match self.base.get_job(org_id, order.job_id).await {
                    Ok(job) => job.status,
                    Err(error) => return outcome_of(error, "reading job"),
                }
            }
        };
        if let Err(outcome) = self
            .announce_crawl(reported.run(), order.job_id, status, &raw)
            .await
        {
            return outcome;
        }
        self.forget(order.job_id).await;
        self.reports.publish_progress(reported.run()).await;
        self.reports.announce_if_final(reported.run()).await
    }

    /// Publishes `crawl.completed` for a crawl whose report base stored (none for one cancelled
    /// with its run), its counts read from the crawl's summary. The event id is derived from
    /// the job, so consumers recognise the repeat a redelivery announces; `Retry` when the bus
    /// refuses it.
    async fn announce_crawl(
        &self,
        run: &ScanRun,
        job_id: JobId,
        status: JobStatus,
        summary: &serde_json::Value,
    ) -> Result<(), Outcome> {
        if !matches!(status, JobStatus::Completed | JobStatus::Failed) {
            return Ok(());
        }
        let listed = |field: &str| {
            summary[field]
                .as_array()
                .map_or(0, |list| list.len() as u64)
        };
        let mut event = Envelope::new(
            run.org_id,
            Message::CrawlCompleted(CrawlCompleted {
                run_id: run.id,
                job_id,
                asset_id: run.asset_id,
                status,
                pages: summary["pages"].as_u64().unwrap_or(0),
                endpoints: listed("endpoints"),
                api_documents: listed("api_documents"),
                truncated: summary["truncated"].as_str().map(str::to_string),
            }),
        );
        event.id = Uuid::new_v5(&job_id.0, b"crawl.completed");
        event.caused_by = run.caused_by.clone();
        self.bus
            .publish(Exchange::Events, "crawl.completed", &event)
            .await
            .map_err(|error| Outcome::Retry(format!("publishing crawl.completed: {error}")))
    }

    async fn forget(&self, job_id: s4e_types::JobId) {
        if let Err(error) = self.state.forget(job_id).await {
            // Its keys expire on their own.
            tracing::warn!(%error, %job_id, "cannot drop a finished crawl's state");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parametric_urls_collapse_into_one_endpoint_with_an_example_and_a_count() {
        let urls = [
            "http://s.test/",
            "http://s.test/item/1",
            "http://s.test/item/2?color=red",
            "http://s.test/item/3",
            "http://s.test/item/4?color=blue",
            "http://s.test/about",
        ];
        let mut unifier = Unifier::new(usize::MAX);
        urls.into_iter().for_each(|url| unifier.add(url));
        let summary: Vec<(&str, &str, usize)> = unifier
            .endpoints
            .iter()
            .map(|e| (e.template.as_str(), e.example.as_str(), e.count))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("http://s.test/", "http://s.test/", 1),
                ("http://s.test/item/{id}", "http://s.test/item/1", 2),
                (
                    "http://s.test/item/{id}?color",
                    "http://s.test/item/2?color=red",
                    2
                ),
                ("http://s.test/about", "http://s.test/about", 1),
            ]
        );
    }
}
