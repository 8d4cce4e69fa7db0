//! What every stage shares: the crawler's connections, a crawl's settings as it began with
//! them, and adding URLs to a crawl's frontier.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use s4e_bus::topology::{
    CRAWL_FETCH_ROUTING_KEY, CRAWL_FINISH_ROUTING_KEY, CRAWL_FUZZ_ROUTING_KEY, Exchange,
};
use s4e_bus::{Bus, Outcome};
use s4e_client::BaseClient;
use s4e_egress::EgressPolicy;
use s4e_jobs::JobReports;
use s4e_runtime::Metrics;
use s4e_store::{CrawlMeta, CrawlPages, CrawlState, Discovered, LiveStatus, PageClaim, RawOutputs};
use s4e_types::api::CrawlProgress;
use s4e_types::crawl::LinkSource;
use s4e_types::envelope::{CrawlFetch, CrawlFinish, CrawlFuzz};
use s4e_types::{Envelope, JobId, Message, OrgId, RunId};
use url::Url;

use crate::clients::Clients;
use crate::config::Settings;
use crate::politeness::Politeness;
use crate::urls::{self, Scope};

/// The most directories one crawl fuzzes.
pub const MAX_FUZZED_DIRECTORIES: u64 = 25;

/// A fuzzed directory's key in the crawl's state (no URL has a space).
pub fn fuzz_key(directory: &Url) -> String {
    format!("fuzz {directory}")
}

/// How many links one call records in a crawl's state.
const DISCOVER_SLICE: usize = 1_000;

/// How often a replica writes a crawl's progress: the run's event stream reads it every 250 ms,
/// so writing on every page done would be round trips nobody reads.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// How long a replica trusts that a run was not cancelled before asking again (the checks'
/// workers look as often).
const CANCELLATION_EVERY: Duration = Duration::from_secs(1);

/// What a replica last learned or did for each run, and when (past 1,024 runs, those not
/// heard of for a minute are dropped).
#[derive(Default)]
pub struct PerRun<T> {
    entries: std::sync::Mutex<HashMap<RunId, (Instant, T)>>,
}

impl<T: Clone> PerRun<T> {
    /// The value kept for `run`, and how long ago it was kept.
    pub fn get(&self, run: RunId) -> Option<(Duration, T)> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(&run)
            .map(|(kept, value)| (kept.elapsed(), value.clone()))
    }

    pub fn keep(&self, run: RunId, value: T) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= 1_024 {
            entries.retain(|_, (kept, _)| kept.elapsed() < Duration::from_secs(60));
        }
        entries.insert(run, (Instant::now(), value));
    }
}

pub struct Crawler {
    pub base: BaseClient,
    pub bus: Bus,
    pub live: LiveStatus,
    pub state: CrawlState,
    pub pages: CrawlPages,
    /// The fetch stage's pages, written together.
    pub page_writer: crate::page_writer::PageWriter,
    pub raw: RawOutputs,
    pub reports: JobReports,
    pub egress: EgressPolicy,
    pub clients: Clients,
    /// Chromium, in the headless mode.
    pub browser: Option<crate::headless::Browser>,
    pub politeness: Politeness,
    pub settings: Settings,
    pub metrics: Metrics,
    /// When this replica last wrote each run's crawl progress.
    pub progress_written: PerRun<()>,
    /// Whether each run was cancelled, as last read.
    pub cancelled: PerRun<bool>,
}

/// The crawl a message belongs to.
#[derive(Clone, Copy, Debug)]
pub struct CrawlRef {
    pub org_id: OrgId,
    pub job_id: JobId,
    pub run_id: RunId,
}

/// A crawl's settings, fixed when it began (stored with its state), so that every replica
/// applies the same ones whatever its own configuration says.
#[derive(Clone, Debug)]
pub struct CrawlSettings {
    pub start: Url,
    pub scope: Scope,
    /// Unix milliseconds past which nothing more is fetched.
    pub deadline_ms: i64,
    pub max_pages: u64,
    pub max_depth: u32,
    pub max_per_template: u64,
    /// Directory levels the fuzzer works in (0: none).
    pub fuzz_depth: u32,
}

impl CrawlSettings {
    pub fn new(start: Url, settings: &Settings) -> Option<CrawlSettings> {
        let scope = Scope::of(&start)?;
        let time_limit = Duration::from_secs(settings.time_limit_seconds);
        Some(CrawlSettings {
            start,
            scope,
            deadline_ms: chrono::Utc::now().timestamp_millis()
                + i64::try_from(time_limit.as_millis()).unwrap_or(i64::MAX / 2),
            max_pages: settings.max_pages,
            max_depth: settings.max_depth,
            max_per_template: settings.max_per_template,
            fuzz_depth: settings.fuzz_depth,
        })
    }

    pub fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("start", self.start.to_string()),
            ("deadline_ms", self.deadline_ms.to_string()),
            ("max_pages", self.max_pages.to_string()),
            ("max_depth", self.max_depth.to_string()),
            ("max_per_template", self.max_per_template.to_string()),
            ("fuzz_depth", self.fuzz_depth.to_string()),
        ]
    }

    pub fn from_meta(meta: &CrawlMeta) -> Option<CrawlSettings> {
        let field = |name: &str| meta.settings.get(name).map(String::as_str);
        let start = Url::parse(field("start")?).ok()?;
        Some(CrawlSettings {
            scope: Scope::of(&start)?,
            start,
            deadline_ms: field("deadline_ms")?.parse().ok()?,
            max_pages: field("max_pages")?.parse().ok()?,
            max_depth: field("max_depth")?.parse().ok()?,
            max_per_template: field("max_per_template")?.parse().ok()?,
            fuzz_depth: field("fuzz_depth")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
    }

    pub fn out_of_time(&self) -> bool {
        chrono::Utc::now().timestamp_millis() > self.deadline_ms
    }
}

impl Crawler {
    /// Adds the in-scope `links` found by `parent` (empty for the seeds) to the crawl's
    /// frontier at `depth`: recorded in the crawl's state first, then published, so that a
    /// fetch killed halfway publishes its links again when its message comes back.
    pub async fn enqueue(
        &self,
        crawl: CrawlRef,
        settings: &CrawlSettings,
        parent: &str,
        links: Vec<(Url, LinkSource)>,
        depth: u32,
    ) -> Result<(), Outcome> {
        let mut seen = HashSet::new();
        let mut candidates = Vec::new();
        for (url, source) in links {
            let url = urls::normalize(url);
            if urls::is_trap(&url) || !seen.insert(url.to_string()) {
                continue;
            }
            candidates.push((url, source));
        }
        let keyed: Vec<(String, String)> = candidates
            .iter()
            .map(|(url, _)| (url.to_string(), urls::template(url)))
            .collect();
        let mut decisions = Vec::with_capacity(keyed.len());
        // In slices, so that one page with an index of everything is not one huge script call.
        for slice in keyed.chunks(DISCOVER_SLICE) {
            let decided = self
                .state
                .discover(
                    crawl.job_id,
                    parent,
                    slice,
                    settings.max_pages,
                    settings.max_per_template,
                )
                .await
                .map_err(|error| Outcome::Retry(format!("recording links: {error}")))?;
            decisions.extend(decided);
        }
        // Published together: the broker's confirms come back in one round trip's time.
        let publishes = candidates
            .into_iter()
            .zip(decisions)
            .filter(|(_, decision)| matches!(decision, Discovered::New | Discovered::Mine))
            .map(|((url, source), _)| {
                let message = Message::CrawlFetch(CrawlFetch {
                    job_id: crawl.job_id,
                    run_id: crawl.run_id,
                    url: url.to_string(),
                    depth,
                    found_by: source,
                });
                let envelope = Envelope::new(crawl.org_id, message);
                async move {
                    self.bus
                        .publish(Exchange::Crawl, CRAWL_FETCH_ROUTING_KEY, &envelope)
                        .await
                }
            });
        futures_util::future::try_join_all(publishes)
            .await
            .map_err(|error| Outcome::Retry(format!("queueing a page: {error}")))?;
        Ok(())
    }

    /// Claims `key` (a URL, or a directory to fuzz) of the crawl for the message `holder`,
    /// and gives the crawl's settings (read in the same step). `Err` is the message's outcome
    /// when it is not to be worked on: the crawl is over and forgotten (a late duplicate),
    /// its settings are unreadable, the key is done already (then the crawl is handed on if
    /// nothing is queued, in case the delivery that finished it died first), another copy is
    /// working on it (come back later), or it is unknown; or Redis is away.
    pub async fn claim(
        &self,
        crawl: CrawlRef,
        key: &str,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<CrawlSettings, Outcome> {
        let claimed = self
            .state
            .claim(crawl.job_id, key, holder, lease)
            .await
            .map_err(|error| Outcome::Retry(format!("reading the crawl: {error}")))?;
        let Some(meta) = claimed.meta else {
            return Err(Outcome::Ack);
        };
        let Some(settings) = CrawlSettings::from_meta(&meta) else {
            return Err(Outcome::DeadLetter(
                "the crawl's settings are unreadable".into(),
            ));
        };
        match claimed.claim {
            PageClaim::Fetch => Ok(settings),
            PageClaim::Busy => Err(Outcome::Later(format!(
                "another delivery is working on {key}"
            ))),
            PageClaim::Done if meta.queued <= 0 => Err(self.publish_finish(crawl).await),
            PageClaim::Done | PageClaim::Unknown => Err(Outcome::Ack),
        }
    }

    /// Queues `directory` (a URL ending in `/`) for the fuzzer when the crawl fuzzes at all,
    /// counted in the crawl's frontier like a page (its key `fuzz <url>`), at most
    /// [`MAX_FUZZED_DIRECTORIES`] per crawl: within the fuzzing depth with the wordlist, below
    /// it with the exposure check's file names alone.
    pub async fn enqueue_fuzz(
        &self,
        crawl: CrawlRef,
        settings: &CrawlSettings,
        parent: &str,
        directory: &Url,
        depth: u32,
    ) -> Result<(), Outcome> {
        let in_scope = settings.scope.level(directory).is_some();
        if settings.fuzz_depth == 0 || !in_scope || !directory.path().ends_with('/') {
            return Ok(());
        }
        let key = fuzz_key(directory);
        let decided = self
            .state
            .discover(
                crawl.job_id,
                parent,
                &[(key, "fuzz".to_string())],
                settings.max_pages,
                MAX_FUZZED_DIRECTORIES,
            )
            .await
            .map_err(|error| Outcome::Retry(format!("recording a directory: {error}")))?;
        if !matches!(decided.first(), Some(Discovered::New | Discovered::Mine)) {
            return Ok(());
        }
        let message = Message::CrawlFuzz(CrawlFuzz {
            job_id: crawl.job_id,
            run_id: crawl.run_id,
            directory: directory.to_string(),
            depth,
        });
        self.bus
            .publish(
                Exchange::Crawl,
                CRAWL_FUZZ_ROUTING_KEY,
                &Envelope::new(crawl.org_id, message),
            )
            .await
            .map_err(|error| Outcome::Retry(format!("queueing a directory: {error}")))
    }

    /// Marks a URL (or a fuzzed directory's key) of the crawl done, records where the crawl
    /// stands for its run's event stream, and hands the crawl to the finisher when its
    /// frontier is empty.
    pub async fn mark_done(&self, crawl: CrawlRef, key: &str) -> Outcome {
        let frontier = match self.state.finish_url(crawl.job_id, key).await {
            Ok(frontier) => frontier,
            Err(error) => return Outcome::Retry(format!("marking {key} done: {error}")),
        };
        let queued = frontier.queued.max(0);
        let written_lately = self
            .progress_written
            .get(crawl.run_id)
            .is_some_and(|(age, ())| age < PROGRESS_EVERY);
        if queued == 0 || !written_lately {
            self.progress_written.keep(crawl.run_id, ());
            self.record_progress(crawl.run_id, "fetch", frontier.seen - queued, queued)
                .await;
        }
        if queued == 0 {
            self.publish_finish(crawl).await
        } else {
            Outcome::Ack
        }
    }

    /// Where a crawl stands, for its run's event stream (a convenience: the crawl goes on
    /// without it).
    pub async fn record_progress(&self, run_id: RunId, stage: &str, done: i64, queued: i64) {
        let progress = CrawlProgress {
            stage: stage.to_string(),
            done,
            queued,
        };
        if let Err(error) = self.live.set_crawl(run_id, &progress).await {
            tracing::warn!(%error, %run_id, "cannot record crawl progress");
        }
    }

    /// Whether the crawl's run was cancelled, asked of Redis at most once per
    /// [`CANCELLATION_EVERY`] by this replica (a run once cancelled is not asked again).
    pub async fn is_cancelled(&self, run_id: RunId) -> bool {
        match self.cancelled.get(run_id) {
            Some((_, true)) => return true,
            Some((age, false)) if age < CANCELLATION_EVERY => return false,
            _ => {}
        }
        match self.live.is_cancelled(run_id).await {
            Ok(cancelled) => {
                self.cancelled.keep(run_id, cancelled);
                cancelled
            }
            // Redis away: go on (the fetch's own writes will fail and retry), and ask again
            // next time.
            Err(_) => false,
        }
    }

    /// Hands the crawl to the finisher (more than once is harmless: base takes one report).
    pub async fn publish_finish(&self, crawl: CrawlRef) -> Outcome {
        let message = Message::CrawlFinish(CrawlFinish {
            job_id: crawl.job_id,
            run_id: crawl.run_id,
        });
        match self
            .bus
            .publish(
                Exchange::Crawl,
                CRAWL_FINISH_ROUTING_KEY,
                &Envelope::new(crawl.org_id, message),
            )
            .await
        {
            Ok(()) => Outcome::Ack,
            Err(error) => Outcome::Retry(format!("queueing the crawl's finish: {error}")),
        }
    }
}
