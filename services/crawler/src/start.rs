//! The first stage: a crawl job from the scan service becomes a crawl. Its settings are
//! recorded and its seeds (the start URL, `/robots.txt`, `/sitemap.xml`) enter the frontier.

use s4e_bus::{Incoming, Outcome};
use s4e_jobs::outcome_of;
use s4e_types::api::FinishJob;
use s4e_types::crawl::LinkSource;
use s4e_types::{JobStatus, Message};
use url::Url;

use crate::pipeline::{CrawlRef, CrawlSettings, Crawler};
use crate::urls;

impl Crawler {
    pub async fn start(&self, incoming: Incoming) -> Outcome {
        let org_id = incoming.envelope.org_id;
        let Message::ScanJob(spec) = incoming.envelope.message else {
            return Outcome::DeadLetter(format!(
                "unexpected message type {} on the crawl job queue",
                incoming.envelope.message.type_name()
            ));
        };
        // Base's job row is the truth: what to crawl comes from it, not from the message.
        let job = match self.base.start_job(org_id, spec.job_id).await {
            Ok(job) => job,
            Err(error) => return outcome_of(error, "starting job"),
        };
        let crawl = CrawlRef {
            org_id,
            job_id: job.id,
            run_id: job.run_id,
        };
        if job.status.is_final() {
            return match self.base.get_run(org_id, job.run_id).await {
                Ok(run) => self.reports.announce_if_final(&run).await,
                Err(error) => outcome_of(error, "reading run"),
            };
        }
        let settings = match Url::parse(&job.target)
            .ok()
            .and_then(|start| CrawlSettings::new(urls::normalize(start), &self.settings))
        {
            Some(settings) => settings,
            None => {
                let reason = format!("invalid target: {:?} is not an http(s) URL", job.target);
                return self.fail(crawl, reason).await;
            }
        };
        let began = match self.state.begin(job.id, &settings.fields()).await {
            Ok(began) => began,
            Err(error) => return Outcome::Retry(format!("recording the crawl: {error}")),
        };
        // The organization's own words, kept with the crawl before anything is fuzzed.
        let wordlist = match self.base.fuzz_wordlist(org_id).await {
            Ok(wordlist) => wordlist,
            Err(error) => return outcome_of(error, "reading the fuzzing words"),
        };
        if !wordlist.words.is_empty() || wordlist.replaces_bundled {
            let kept = serde_json::to_string(&wordlist).unwrap_or_default();
            if let Err(error) = self.state.keep_words(job.id, &kept).await {
                return Outcome::Retry(format!("keeping the crawl's words: {error}"));
            }
        }
        // A redelivered start goes on with the settings the crawl began with.
        let settings = if began {
            settings
        } else {
            match self.state.meta(job.id).await {
                Ok(Some(meta)) => CrawlSettings::from_meta(&meta).unwrap_or(settings),
                Ok(None) => settings,
                Err(error) => return Outcome::Retry(format!("reading the crawl: {error}")),
            }
        };
        let seeds = vec![
            (settings.start.clone(), LinkSource::Seed),
            (
                urls::site_file(&settings.start, "/robots.txt"),
                LinkSource::Robots,
            ),
            (
                urls::site_file(&settings.start, "/sitemap.xml"),
                LinkSource::Sitemap,
            ),
        ];
        if let Err(outcome) = self.enqueue(crawl, &settings, "", seeds, 0).await {
            return outcome;
        }
        // The start URL's directory is fuzzed whatever the start page answers.
        if let Ok(directory) = settings.start.join("./")
            && let Err(outcome) = self.enqueue_fuzz(crawl, &settings, "", &directory, 0).await
        {
            return outcome;
        }
        tracing::info!(job_id = %job.id, run_id = %job.run_id, start = %settings.start, began, "crawl started");
        self.metrics.inc(
            "s4e_crawler_crawls_started_total",
            "Crawls begun (a redelivered start counts again).",
            &[],
        );
        Outcome::Ack
    }

    /// Ends a crawl that cannot begin, with the reason as the job's error.
    async fn fail(&self, crawl: CrawlRef, reason: String) -> Outcome {
        let report = FinishJob {
            status: JobStatus::Failed,
            error: Some(reason),
            raw_output_id: None,
            findings: Vec::new(),
            observed: Default::default(),
        };
        match self
            .reports
            .report(crawl.org_id, crawl.job_id, report)
            .await
        {
            Ok(reported) => {
                self.reports.publish_progress(reported.run()).await;
                self.reports.announce_if_final(reported.run()).await
            }
            Err(outcome) => outcome,
        }
    }
}
