//! The fuzzing stage (`{ns}.crawl.fuzz`): one directory of a crawl tried with the wordlist;
//! what answers joins the crawl's frontier (`found_by: fuzz`) and is fetched and recorded like
//! any page. A directory is counted in the crawl's frontier until it is done, so the crawl
//! does not finish under a fuzzer, and it is claimed like a page: a redelivery (a killed
//! crawler) fuzzes it again, a duplicate copy waits.

use std::collections::HashSet;
use std::time::Duration;

use s4e_bus::{Incoming, Outcome};
use s4e_types::Message;
use s4e_types::api::FuzzWordlist;
use s4e_types::crawl::LinkSource;
use tokio::time::Instant;
use url::Url;

use super::{FfufRun, FuzzOptions, bundled_words, fuzz_directory};
use crate::config::Fuzzer;
use crate::pipeline::{CrawlRef, CrawlSettings, Crawler, fuzz_key};

/// The longest one directory is fuzzed (the crawl's own deadline may come first).
const DIRECTORY_LIMIT: Duration = Duration::from_secs(300);

impl Crawler {
    pub async fn fuzz(&self, incoming: Incoming) -> Outcome {
        let org_id = incoming.envelope.org_id;
        let Message::CrawlFuzz(order) = &incoming.envelope.message else {
            return Outcome::DeadLetter(format!(
                "unexpected message type {} on the crawl fuzz queue",
                incoming.envelope.message.type_name()
            ));
        };
        let crawl = CrawlRef {
            org_id,
            job_id: order.job_id,
            run_id: order.run_id,
        };
        let Ok(directory) = Url::parse(&order.directory) else {
            return Outcome::DeadLetter(format!("{:?} is not a URL", order.directory));
        };
        let key = fuzz_key(&directory);
        let holder = incoming.envelope.id.to_string();
        let lease = DIRECTORY_LIMIT + Duration::from_secs(60);
        let settings = match self.claim(crawl, &key, &holder, lease).await {
            Ok(settings) => settings,
            Err(outcome) => return outcome,
        };
        let cancelled = self.is_cancelled(crawl.run_id).await;
        if !settings.out_of_time() && !cancelled {
            let within_depth = settings
                .scope
                .level(&directory)
                .is_some_and(|level| level < settings.fuzz_depth as usize);
            let words = match self.words(crawl, within_depth).await {
                Ok(words) => words,
                Err(outcome) => return outcome,
            };
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let found = self.fuzz_hits(crawl, &settings, &directory, &words).await;
            let links = found
                .into_iter()
                .filter(|url| settings.scope.contains(url))
                .map(|url| (url, LinkSource::Fuzz))
                .collect();
            if let Err(outcome) = self
                .enqueue(crawl, &settings, &key, links, order.depth + 1)
                .await
            {
                return outcome;
            }
        }
        self.mark_done(crawl, &key).await
    }

    /// The words a directory is fuzzed with: the exposure check's file names (`.env`,
    /// `.git/HEAD`, backups…) everywhere; within the fuzzing depth also the bundled wordlist
    /// and the organization's own words the crawl began with (or those alone, when they
    /// replace the bundled list).
    async fn words(&self, crawl: CrawlRef, within_depth: bool) -> Result<Vec<String>, Outcome> {
        let files = s4e_checks::exposure::file_names();
        if !within_depth {
            return Ok(files.iter().map(|name| name.to_string()).collect());
        }
        let kept = self
            .state
            .words(crawl.job_id)
            .await
            .map_err(|error| Outcome::Retry(format!("reading the crawl's words: {error}")))?;
        let own: FuzzWordlist = kept
            .and_then(|kept| serde_json::from_str(&kept).ok())
            .unwrap_or_default();
        let mut words: Vec<String> = if own.replaces_bundled {
            Vec::new()
        } else {
            bundled_words()
                .iter()
                .map(|word| word.to_string())
                .collect()
        };
        let mut seen: HashSet<String> = words.iter().cloned().collect();
        words.extend(
            own.words
                .into_iter()
                .filter(|word| seen.insert(word.clone())),
        );
        words.extend(
            files
                .iter()
                .map(|name| name.to_string())
                .filter(|name| seen.insert(name.clone())),
        );
        Ok(words)
    }

    /// The URLs of `directory` that answered as something other than "not found"; none when
    /// the directory cannot be reached (its page's fetch records why).
    async fn fuzz_hits(
        &self,
        crawl: CrawlRef,
        settings: &CrawlSettings,
        directory: &Url,
        words: &[&str],
    ) -> Vec<Url> {
        let host = directory.host_str().unwrap_or_default().to_string();
        let timeout = Duration::from_secs(self.settings.request_timeout_seconds);
        let crawl_left = Duration::from_millis(
            u64::try_from(settings.deadline_ms - chrono::Utc::now().timestamp_millis())
                .unwrap_or(0),
        );
        let time_limit = DIRECTORY_LIMIT.min(crawl_left);
        let deadline = Instant::now() + time_limit;
        let options = FuzzOptions {
            concurrency: usize::from(self.settings.fuzz_concurrency),
            extensions: self.settings.fuzz_extensions.clone(),
            timeout,
            ..FuzzOptions::default()
        };
        if self.settings.fuzzer == Fuzzer::Ffuf {
            return self
                .ffuf_hits(directory, words, &options, deadline, time_limit)
                .await;
        }
        let client = match self
            .clients
            .for_url(directory, &self.egress, deadline, timeout)
            .await
        {
            Ok(client) => client,
            Err(error) => {
                tracing::info!(%error, %directory, "directory not fuzzed");
                return Vec::new();
            }
        };
        let outcome = fuzz_directory(&client, directory, words, &options, deadline, || {
            self.politeness.admit(crawl.org_id, &host)
        })
        .await;
        if let Some(not_found) = outcome.not_found {
            let model = serde_json::to_string(&not_found).unwrap_or_default();
            if let Err(error) = self
                .state
                .record_not_found(crawl.job_id, directory.as_str(), &model)
                .await
            {
                // Only the marking of soft-404 pages there is lost.
                tracing::warn!(%error, %directory, "cannot record the directory's not found");
            }
        }
        self.metrics.add(
            "s4e_crawler_fuzz_requests_total",
            "Requests the fuzzing stage sent.",
            &[],
            outcome.requests as f64,
        );
        tracing::info!(
            %directory, hits = outcome.hits.len(), requests = outcome.requests,
            failed = outcome.failed, throttled = outcome.throttled, "directory fuzzed"
        );
        outcome
            .hits
            .iter()
            .filter_map(|hit| Url::parse(&hit.url).ok())
            .collect()
    }

    /// The directory fuzzed by the ffuf program, pointed at the address the egress policy
    /// approved; none when it cannot be reached or ffuf fails (said in the log).
    async fn ffuf_hits(
        &self,
        directory: &Url,
        words: &[&str],
        options: &FuzzOptions,
        deadline: Instant,
        time_limit: Duration,
    ) -> Vec<Url> {
        let timeout = options.timeout;
        let addr =
            match s4e_egress::http::approve(directory.as_str(), &self.egress, deadline, timeout)
                .await
            {
                Ok((_, addr)) => addr,
                Err(error) => {
                    tracing::info!(%error, %directory, "directory not fuzzed");
                    return Vec::new();
                }
            };
        let run = FfufRun {
            program: &self.settings.ffuf_path,
            directory,
            addr,
            words,
            options,
            time_limit,
        };
        match run.hits().await {
            Ok(hits) => {
                tracing::info!(%directory, hits = hits.len(), "directory fuzzed by ffuf");
                hits
            }
            Err(error) => {
                tracing::warn!(%error, %directory, "ffuf failed, directory not fuzzed");
                Vec::new()
            }
        }
    }
}
