//! s4e-crawler: the crawl pipeline. Each stage consumes its own queue and publishes to the
//! next, so any stage scales by running more replicas and a crawl survives every crawler being
//! killed:
//!
//! - `start` (`{ns}.jobs.crawl`): a crawl job from the scan service begins a crawl and queues
//!   its seeds;
//! - `fetch` (`{ns}.crawl.fetch`, the frontier): one URL fetched, its page recorded, its
//!   in-scope links queued; the last one done hands the crawl on;
//! - `fuzz` (`{ns}.crawl.fuzz`): a directory tried with the wordlist (`fuzz`), what answers
//!   queued for the fetch stage;
//! - `finish` (`{ns}.crawl.finish`): the crawl consolidated and reported as its job.
//!
//! A crawl's state (seen URLs, the frontier's count, its settings) lives in Redis
//! (`s4e_store::CrawlState`), its pages in MongoDB (`s4e_store::CrawlPages`), the URLs to
//! fetch on the broker: a crawler holds nothing of a crawl but the pages in flight.

mod api;
pub mod api_docs;
mod clients;
mod config;
pub mod extract;
mod fetch;
mod finish;
pub mod fuzz;
pub mod headless;
pub mod leaks;
mod page_writer;
mod pipeline;
mod politeness;
mod rules;
mod start;
pub mod urls;

use std::sync::Arc;
use std::time::Duration;

use s4e_bus::{Bus, BusOptions, Incoming, Outcome, Queue};
use s4e_client::BaseClient;
use s4e_egress::OwnServices;
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Service};
use s4e_store::{CrawlPages, CrawlState, LiveStatus, RawOutputs, Redis};
use s4e_types::CheckKind;
use tokio::net::TcpListener;

pub use config::{Config, Fuzzer, Settings};

use crate::pipeline::Crawler;

impl Service for Config {
    const NAME: &'static str = "s4e-crawler";
    const ABOUT: &'static str = "S4E crawler";
    const DEFAULT_PORT: u16 = 8083;

    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'static {
        run(self, listener, shutdown)
    }
}

/// Refuses to start with `S4E_CRAWL_FUZZER=ffuf` and no ffuf that runs: a crawl would find
/// out only at its first directory.
async fn ffuf_version(program: &std::path::Path) -> Result<(), BoxError> {
    let output = tokio::process::Command::new(program)
        .arg("-V")
        .output()
        .await
        .map_err(|error| {
            format!(
                "S4E_CRAWL_FUZZER=ffuf, but {} cannot be run: {error}",
                program.display()
            )
        })?;
    let version = String::from_utf8_lossy(&output.stdout);
    tracing::info!(program = %program.display(), version = %version.trim(), "fuzzing with ffuf");
    Ok(())
}

/// Refuses to start with `S4E_CRAWL_HEADLESS=true` and no Chromium that answers: the pages
/// would be crawled without it, and nobody told.
async fn browser(settings: &Settings) -> Result<headless::Browser, BoxError> {
    let browser = headless::Browser::new(
        settings.chromium_path.clone(),
        settings.chromium_sandbox,
        usize::from(settings.headless_concurrency),
    );
    let answered = tokio::time::timeout(Duration::from_secs(30), browser.version())
        .await
        .unwrap_or(Err(headless::CdpError::Timeout("starting chromium")));
    let version = answered.map_err(|error| {
        format!(
            "S4E_CRAWL_HEADLESS=true, but {} does not answer: {error}",
            settings.chromium_path.display()
        )
    })?;
    tracing::info!(program = %settings.chromium_path.display(), %version, "rendering pages in chromium");
    Ok(browser)
}

/// Which stage a consumer runs.
#[derive(Clone, Copy)]
enum Stage {
    Start,
    Fetch,
    Fuzz,
    Finish,
}

async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    if config.settings.fuzzer == Fuzzer::Ffuf {
        ffuf_version(&config.settings.ffuf_path).await?;
    }
    let browser = match config.settings.headless {
        true => Some(browser(&config.settings).await?),
        false => None,
    };
    let connect_deadline = Duration::from_secs(60);
    let bus = s4e_runtime::retry::with_retries("rabbitmq", connect_deadline, &shutdown, || {
        Bus::connect(
            &config.amqp.url,
            &config.common.namespace,
            BusOptions::default(),
        )
    })
    .await?;
    let redis = s4e_runtime::retry::with_retries("redis", connect_deadline, &shutdown, || {
        Redis::connect(&config.redis.url, None)
    })
    .await?;
    let base = BaseClient::new(&config.base.url, config.common.service_token.expose())?;
    let live = LiveStatus::new(&redis, &config.common.namespace);
    let raw = RawOutputs::connect(&config.mongo.url, &config.mongo.database).await?;
    let pages = CrawlPages::connect(&config.mongo.url, &config.mongo.database).await?;
    s4e_runtime::retry::with_retries("mongodb", connect_deadline, &shutdown, || {
        pages.ensure_indexes()
    })
    .await?;
    let metrics = Metrics::new();
    let readiness = Readiness::new()
        .with_flag("rabbitmq", {
            let bus = bus.clone();
            move || bus.is_connected()
        })
        .with_probe(
            "redis",
            live.clone(),
            |live| async move { live.ping().await },
        )
        .with_probe(
            "mongodb",
            raw.clone(),
            |raw| async move { raw.ping().await },
        )
        .with_probe(
            "base",
            base.clone(),
            |base| async move { base.ready().await },
        );
    // The platform's own services are never a target, whatever the policy allows.
    let own_services = OwnServices::resolve([
        config.base.url.clone(),
        config.amqp.url.clone(),
        config.redis.url.clone(),
        config.mongo.url.clone(),
        listener.local_addr()?.to_string(),
    ])
    .await;
    let crawler = Arc::new(Crawler {
        reports: s4e_jobs::JobReports {
            base: base.clone(),
            bus: bus.clone(),
            live: live.clone(),
        },
        state: CrawlState::new(&redis, &config.common.namespace),
        pages: pages.clone(),
        page_writer: page_writer::PageWriter::start(pages.clone()),
        egress: config.egress.policy(own_services),
        clients: Default::default(),
        browser,
        politeness: politeness::Politeness::new(
            s4e_store::RateLimiter::new(&redis, &config.common.namespace),
            config.settings.host_requests_per_second,
            config.settings.organization_requests_per_second,
        ),
        settings: config.settings.clone(),
        metrics: metrics.clone(),
        progress_written: Default::default(),
        cancelled: Default::default(),
        base,
        bus: bus.clone(),
        live,
        raw,
    });

    // Consumers stop on their own token after the HTTP server has stopped taking requests.
    let consumers = CancellationToken::new();
    let stages = [
        (Stage::Start, Queue::Jobs(CheckKind::Crawl), 4),
        (Stage::Fetch, Queue::CrawlFetch, config.settings.concurrency),
        (Stage::Fuzz, Queue::CrawlFuzz, 2),
        (Stage::Finish, Queue::CrawlFinish, 2),
    ];
    let tasks: Vec<_> = stages
        .into_iter()
        .map(|(stage, queue, prefetch)| {
            let crawler = crawler.clone();
            bus.consume(queue, prefetch, consumers.clone(), move |incoming| {
                let crawler = crawler.clone();
                async move { handle(&crawler, stage, incoming).await }
            })
        })
        .collect();

    let router = api::router(pages, config.common.service_token.clone())
        .merge(s4e_runtime::health::router(readiness, metrics.clone()));
    let router = s4e_runtime::with_common_layers(router, metrics);
    let served = s4e_runtime::serve(listener, router, shutdown).await;
    consumers.cancel();
    for task in tasks {
        let _ = task.await;
    }
    bus.close().await;
    if let Some(browser) = &crawler.browser {
        browser.close().await;
    }
    served?;
    Ok(())
}

async fn handle(crawler: &Crawler, stage: Stage, incoming: Incoming) -> Outcome {
    match stage {
        Stage::Start => crawler.start(incoming).await,
        Stage::Fetch => crawler.fetch(incoming).await,
        Stage::Fuzz => crawler.fuzz(incoming).await,
        Stage::Finish => crawler.finish(incoming).await,
    }
}
