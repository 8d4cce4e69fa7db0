//! The finisher: a crawl whose frontier is empty is consolidated (its pages read back, its
//! endpoints unified, its findings judged, its technologies and the site's other host names
//! collected), stored as the job's raw output and reported to base like any job: findings
//! deduplicated, the run advanced, `finding.created` and `scan.completed` announced.
//!
//! Safe to repeat: base applies one report per job; the crawl's state is forgotten only once
//! the report is stored.

use std::collections::{BTreeMap, HashSet};

use s4e_bus::{Incoming, Outcome};
use s4e_jobs::{Reported, outcome_of};
use s4e_types::api::FinishJob;
use s4e_types::crawl::LinkSource;
use s4e_types::discovery::{DiscoveredName, DiscoverySource};
use s4e_types::inventory::{Observations, ObservedTechnology};
use s4e_types::{JobStatus, Message};
use serde::Serialize;
use url::Url;

use crate::fetch::PageRecord;
use crate::pipeline::{CrawlSettings, Crawler};
use crate::{rules, urls};

/// The crawl's summary, stored as its job's raw output (the pages themselves are the site map).
#[derive(Debug, Serialize)]
struct Summary {
    start: Option<String>,
    pages: usize,
    /// Pages by HTTP status (`error` for requests that failed).
    statuses: BTreeMap<String, usize>,
    /// Why the crawl stopped short (`pages`, `time`), if it did.
    truncated: Option<String>,
    /// URLs refused as traps (too many of one template).
    trapped: u64,
    endpoints: Vec<Endpoint>,
}

/// URLs of one template, collapsed: `/item/{id}` with one example and how many there were.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub template: String,
    pub example: String,
    pub count: usize,
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
            // Reported by an earlier delivery, or cancelled with its run.
            self.forget(order.job_id).await;
            return match self.base.get_run(org_id, job.run_id).await {
                Ok(run) => self.reports.announce_if_final(&run).await,
                Err(error) => outcome_of(error, "reading run"),
            };
        }
        let meta = match self.state.meta(order.job_id).await {
            Ok(meta) => meta.unwrap_or_default(),
            Err(error) => return Outcome::Retry(format!("reading the crawl: {error}")),
        };
        let records: Vec<PageRecord> = match self.pages.for_job(org_id, order.job_id).await {
            Ok(records) => records,
            Err(error) => return Outcome::Retry(format!("reading the crawl's pages: {error}")),
        };
        let settings = CrawlSettings::from_meta(&meta);
        let summary = Summary {
            start: settings.as_ref().map(|settings| settings.start.to_string()),
            pages: records.len(),
            statuses: statuses(&records),
            truncated: meta.truncated.clone(),
            trapped: meta.trapped,
            endpoints: endpoints(records.iter().map(|record| record.page.url.as_str())),
        };
        let raw = serde_json::to_value(&summary).unwrap_or_default();
        let raw_output_id = match self
            .raw
            .store(org_id, order.run_id, order.job_id, &raw)
            .await
        {
            Ok(id) => id,
            Err(error) => return Outcome::Retry(format!("storing the crawl's summary: {error}")),
        };
        let site_host = settings
            .as_ref()
            .map(|settings| settings.scope.host().to_string());
        // A site whose start URL could not be fetched at all was not crawled: the job fails
        // with the reason, as a check's would.
        let unreachable = records
            .iter()
            .find(|record| record.page.found_by == LinkSource::Seed)
            .and_then(|seed| seed.page.error.clone());
        let report = match unreachable {
            Some(error) => FinishJob {
                status: JobStatus::Failed,
                error: Some(error),
                raw_output_id: Some(raw_output_id),
                findings: Vec::new(),
                observed: Observations::default(),
            },
            None => FinishJob {
                status: JobStatus::Completed,
                error: None,
                raw_output_id: Some(raw_output_id),
                findings: rules::judge(
                    &records,
                    settings.as_ref().map(|settings| settings.start.as_str()),
                ),
                observed: Observations {
                    technologies: technologies(&records),
                    discovered: site_host
                        .map(|host| linked_names(&host, &records))
                        .unwrap_or_default(),
                    ..Observations::default()
                },
            },
        };
        let reported = match self.reports.report(org_id, order.job_id, report).await {
            Ok(reported) => reported,
            Err(outcome) => return outcome,
        };
        if let Reported::Applied { .. } = reported {
            tracing::info!(
                job_id = %order.job_id, run_id = %order.run_id, pages = records.len(),
                truncated = meta.truncated.as_deref(), "crawl finished"
            );
            self.metrics.inc(
                "s4e_crawler_crawls_finished_total",
                "Crawls reported to base.",
                &[],
            );
        }
        self.forget(order.job_id).await;
        self.reports.publish_progress(reported.run()).await;
        self.reports.announce_if_final(reported.run()).await
    }

    async fn forget(&self, job_id: s4e_types::JobId) {
        if let Err(error) = self.state.forget(job_id).await {
            // Its keys expire on their own.
            tracing::warn!(%error, %job_id, "cannot drop a finished crawl's state");
        }
    }
}

fn statuses(records: &[PageRecord]) -> BTreeMap<String, usize> {
    let mut statuses = BTreeMap::new();
    for record in records {
        let key = record
            .page
            .status
            .map_or_else(|| "error".to_string(), |status| status.to_string());
        *statuses.entry(key).or_default() += 1;
    }
    statuses
}

/// URL unification: the crawl's URLs grouped by template (`/item/1`, `/item/2` →
/// `/item/{id}`), in order of first appearance, each with its first URL as the example.
pub fn endpoints<'a>(urls: impl Iterator<Item = &'a str>) -> Vec<Endpoint> {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for text in urls {
        let Ok(url) = Url::parse(text) else { continue };
        let template = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            urls::template(&url)
        );
        match index.get(&template) {
            Some(at) => endpoints[*at].count += 1,
            None => {
                index.insert(template.clone(), endpoints.len());
                endpoints.push(Endpoint {
                    template,
                    example: text.to_string(),
                    count: 1,
                });
            }
        }
    }
    endpoints
}

/// Each technology once, a version preferred to none.
fn technologies(records: &[PageRecord]) -> Vec<ObservedTechnology> {
    let mut found: Vec<ObservedTechnology> = Vec::new();
    for technology in records.iter().flat_map(|record| &record.technologies) {
        match found.iter_mut().find(|known| known.name == technology.name) {
            Some(known) if known.version.is_none() && technology.version.is_some() => {
                *known = technology.clone();
            }
            Some(_) => {}
            None => found.push(technology.clone()),
        }
    }
    found
}

/// The site's other host names its pages link to: names under the crawled host's domain
/// (`www.` aside), proposed as candidate assets. An address is no domain to look under.
fn linked_names(site_host: &str, records: &[PageRecord]) -> Vec<DiscoveredName> {
    if site_host.parse::<std::net::IpAddr>().is_ok() || site_host.starts_with('[') {
        return Vec::new();
    }
    let domain = site_host.strip_prefix("www.").unwrap_or(site_host);
    let suffix = format!(".{domain}");
    let mut seen = HashSet::new();
    records
        .iter()
        .flat_map(|record| &record.linked_hosts)
        .filter(|host| host.ends_with(&suffix) && host.as_str() != site_host)
        .filter(|host| s4e_types::discovery::is_host_name(host))
        .filter(|host| seen.insert(host.to_string()))
        .take(s4e_types::discovery::MAX_DISCOVERED_PER_JOB)
        .map(|host| DiscoveredName {
            name: host.clone(),
            source: DiscoverySource::Crawl,
            addresses: Vec::new(),
        })
        .collect()
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
        let endpoints = endpoints(urls.into_iter());
        let summary: Vec<(&str, &str, usize)> = endpoints
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
