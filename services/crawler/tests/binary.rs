//! The built binary. Killed with SIGKILL in the middle of a crawl: the pages in flight go back
//! to the frontier with the lost connection, a second crawler process finishes the crawl, and
//! the site map is the same as an uninterrupted crawl's, with at most the pages that were in
//! flight fetched twice. Told to fuzz with Debian's ffuf: ffuf asks the words and what it
//! finds joins the crawl; told so with no ffuf to run, it refuses to start. Told to render
//! pages in Chromium: what a page's scripts build and ask for joins the crawl, and nothing
//! outside the scope is asked; told so with no Chromium to run, it refuses to start.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use s4e_bus::{Bus, BusOptions, Exchange};
use s4e_client::BaseClient;
use s4e_runtime::{CommonConfig, Served, Service, ServiceToken};
use s4e_test_support::site::{self, SHOP_PAGES, TestSite};
use s4e_test_support::{TestEnv, listener, start_service_binary, wait_for};
use s4e_types::api::{NewScanJob, NewScanRun};
use s4e_types::crawl::{LinkSource, SitePage, SitePageQuery};
use s4e_types::{
    AssetKind, CheckKind, Envelope, JobSpec, JobStatus, Message, NewAsset, OrgId, RunId, RunStatus,
    ScanRun,
};
use tokio::process::Child;

const BINARY: &str = env!("CARGO_BIN_EXE_s4e-crawler");
const DEADLINE: Duration = Duration::from_secs(60);
/// Pages one crawler fetches at once: the most a kill can leave half done.
const CONCURRENCY: usize = 4;

/// One crawler process against the test's infrastructure and base, with `extra` settings;
/// ready when returned.
async fn start_crawler(env: &TestEnv, base_url: &str, extra: &[(&str, String)]) -> (Child, String) {
    let mut settings = vec![
        ("S4E_BASE_URL", base_url.to_string()),
        ("S4E_EGRESS_ALLOW_PRIVATE", "true".to_string()),
        ("S4E_CRAWL_CONCURRENCY", CONCURRENCY.to_string()),
    ];
    settings.extend(extra.iter().cloned());
    start_service_binary(BINARY, env, &settings).await.unwrap()
}

/// A crawl-only run of `start` in a new organization of a base of the test's own, and its
/// job's message for the crawlers (not published yet).
struct Order {
    base: Served,
    client: BaseClient,
    org: OrgId,
    run: RunId,
    message: Envelope,
}

async fn order_crawl(env: &TestEnv, start: &str) -> Order {
    let base = s4e_base::Config {
        common: CommonConfig::new(
            ServiceToken::new(&env.service_token).unwrap(),
            &env.namespace,
        ),
        database_url: env.database_url.clone(),
        database_max_connections: 5,
        migrate_on_start: true,
    }
    .spawn(listener().await)
    .unwrap();
    let client = BaseClient::new(&base.url(), &env.service_token).unwrap();
    wait_for("base ready", DEADLINE, || async {
        client.ready().await.ok()
    })
    .await
    .unwrap();
    let org = client.create_organization("crawled").await.unwrap();
    let asset = client
        .create_asset(
            org.id,
            &NewAsset {
                kind: AssetKind::Url,
                value: start.to_string(),
                name: None,
                tags: Vec::new(),
                criticality: Default::default(),
                owner: None,
            },
        )
        .await
        .unwrap();
    let created = client
        .create_run(
            org.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "crawl_only".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::Crawl,
                    target: start.to_string(),
                    ports: None,
                }],
            },
        )
        .await
        .unwrap();
    let message = Envelope::new(org.id, Message::ScanJob(JobSpec::from(&created.jobs[0])));
    Order {
        base,
        client,
        org: org.id,
        run: created.run.id,
        message,
    }
}

impl Order {
    /// Publishes the job for the crawlers.
    async fn publish(&self, env: &TestEnv) -> Bus {
        let bus = Bus::connect(&env.amqp_url, &env.namespace, BusOptions::default())
            .await
            .unwrap();
        bus.publish(Exchange::Jobs, CheckKind::Crawl.as_str(), &self.message)
            .await
            .unwrap();
        bus
    }

    /// The run once it ended.
    async fn ended(&self) -> ScanRun {
        wait_for("the crawl to finish", DEADLINE, || async {
            let run = self.client.get_run(self.org, self.run).await.ok()?;
            run.status.is_final().then_some(run)
        })
        .await
        .unwrap()
    }

    /// Every page of the run's site map, read from the crawler at `crawler_url`.
    async fn site_map(&self, env: &TestEnv, crawler_url: &str) -> Vec<SitePage> {
        s4e_client::CrawlerClient::new(crawler_url, &env.service_token)
            .unwrap()
            .site_pages(
                self.org,
                self.run,
                &SitePageQuery {
                    limit: Some(1000),
                    ..SitePageQuery::default()
                },
            )
            .await
            .unwrap()
            .items
    }
}

#[tokio::test]
async fn a_crawler_killed_mid_crawl_resumes_and_finds_the_same_site() {
    let env = TestEnv::new().await.unwrap();
    // Slow pages, so the kill lands with pages in flight.
    let shop = TestSite::start(site::shop("127.0.0.1"), Duration::from_millis(100)).await;
    let start = format!("http://127.0.0.1:{}/", shop.port);
    let order = order_crawl(&env, &start).await;
    let (client, org) = (&order.client, order.org);
    let (mut first, _) = start_crawler(&env, &order.base.url(), &[]).await;
    let bus = order.publish(&env).await;

    // The fuzzer's words and made-up names are asked beside the pages.
    let words: BTreeSet<String> = s4e_crawler::fuzz::bundled_words()
        .iter()
        .map(|word| format!("/{word}"))
        .collect();
    // And in every directory the calibration's made-up names and the exposure check's files.
    let made_up = |request: &str| {
        let name = request.rsplit('/').next().unwrap_or_default();
        let calibration =
            matches!(name.len(), 12 | 20) && name.bytes().all(|b| b.is_ascii_hexdigit());
        calibration
            || s4e_checks::exposure::file_names()
                .iter()
                .any(|file| request.ends_with(&format!("/{file}")))
    };
    let pages_asked = || {
        shop.requests()
            .iter()
            .filter(|request| !words.contains(*request) && !made_up(request))
            .count()
    };
    // A third of the way in, with pages in flight: SIGKILL, nothing acked or cleaned up.
    wait_for("the crawl to be under way", DEADLINE, || async {
        (pages_asked() >= 20).then_some(())
    })
    .await
    .unwrap();
    first.start_kill().unwrap();
    let status = tokio::time::timeout(DEADLINE, first.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "{status}");
    let requested_before = shop.requests().len();
    let run = client.get_run(org, order.run).await.unwrap();
    assert_eq!(run.status, RunStatus::Running);

    // A second process picks the frontier up where the first left it.
    let (mut second, second_url) = start_crawler(&env, &order.base.url(), &[]).await;
    let run = order.ended().await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let jobs = client.run_jobs(org, order.run).await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Completed);
    assert!(shop.requests().len() > requested_before);

    // The same site map as an uninterrupted crawl.
    let pages = order.site_map(&env, &second_url).await;
    let found: BTreeSet<String> = pages
        .iter()
        .map(|page| {
            let url = url::Url::parse(&page.url).unwrap();
            match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_string(),
            }
        })
        .collect();
    let (calendar, others): (BTreeSet<String>, BTreeSet<String>) = found
        .iter()
        .cloned()
        .partition(|target| target.starts_with("/calendar?"));
    let expected: BTreeSet<String> = SHOP_PAGES.iter().map(|p| p.to_string()).collect();
    assert_eq!(others, expected);
    assert_eq!(calendar.len(), 25);
    // Nothing fetched that the crawl did not keep, and only pages in flight at the kill
    // fetched twice (the fuzzer's words and made-up names aside: a directory being fuzzed at
    // the kill is fuzzed again).
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for request in shop.requests() {
        if !words.contains(&request) && !made_up(&request) {
            *counts.entry(request).or_default() += 1;
        }
    }
    let not_words: BTreeSet<String> = found
        .difference(&words)
        .filter(|page| !made_up(page))
        .cloned()
        .collect();
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), not_words);
    let twice: Vec<&String> = counts
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(url, _)| url)
        .collect();
    assert!(counts.values().all(|count| *count <= 2), "{counts:?}");
    assert!(twice.len() <= CONCURRENCY, "{twice:?}");

    second.start_kill().unwrap();
    let _ = second.wait().await;
    bus.close().await;
    order.base.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn told_to_fuzz_with_ffuf_the_crawler_runs_it_and_keeps_what_it_finds() {
    let env = TestEnv::new().await.unwrap();
    let shop = TestSite::start(site::shop("127.0.0.1"), Duration::ZERO).await;
    let start = format!("http://127.0.0.1:{}/", shop.port);
    let order = order_crawl(&env, &start).await;
    let ffuf = [("S4E_CRAWL_FUZZER", "ffuf".to_string())];
    let (mut crawler, url) = start_crawler(&env, &order.base.url(), &ffuf).await;
    let bus = order.publish(&env).await;
    let run = order.ended().await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    // ffuf asked every word in the start directory, and what nothing links to was found by
    // it and fetched once by the crawl.
    let requests = shop.requests();
    for word in s4e_crawler::fuzz::bundled_words() {
        let path = format!("/{word}");
        assert!(requests.contains(&path), "{path} not asked");
    }
    let pages = order.site_map(&env, &url).await;
    let backup = pages
        .iter()
        .find(|page| page.url == format!("{start}backup"))
        .expect("/backup in the site map");
    assert_eq!(backup.found_by, LinkSource::Fuzz);
    assert_eq!(backup.status, Some(200));
    crawler.start_kill().unwrap();
    let _ = crawler.wait().await;
    bus.close().await;
    order.base.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// What the binary said, started with `extra` settings that make it refuse to start (a base
/// that is not there: it never gets that far).
async fn refusal(env: &TestEnv, extra: &[(&str, &str)]) -> String {
    let output = tokio::process::Command::new(BINARY)
        .env("S4E_SERVICE_TOKEN", &env.service_token)
        .env("S4E_NAMESPACE", &env.namespace)
        .env("S4E_LISTEN", "127.0.0.1:0")
        .env("S4E_BASE_URL", "http://127.0.0.1:9")
        .env("S4E_AMQP_URL", &env.amqp_url)
        .env("S4E_REDIS_URL", &env.redis_url)
        .env("S4E_MONGODB_URL", &env.mongodb_url)
        .envs(extra.iter().copied())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn told_to_fuzz_with_an_ffuf_that_is_not_there_the_crawler_refuses_to_start() {
    let env = TestEnv::new().await.unwrap();
    let said = refusal(
        &env,
        &[
            ("S4E_CRAWL_FUZZER", "ffuf"),
            ("S4E_CRAWL_FFUF_PATH", "/nonexistent/ffuf"),
        ],
    )
    .await;
    assert!(
        said.contains("S4E_CRAWL_FUZZER=ffuf, but /nonexistent/ffuf cannot be run"),
        "{said}"
    );
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn told_to_render_the_crawler_finds_what_scripts_build_and_asks_nothing_outside() {
    let env = TestEnv::new().await.unwrap();
    let outside = TestSite::start(
        std::sync::Arc::new(|_: &str| Some(site::Page::html("outside"))),
        Duration::ZERO,
    )
    .await;
    let app = TestSite::start(site::single_page_application(outside.port), Duration::ZERO).await;
    let start = format!("http://127.0.0.1:{}/", app.port);
    let order = order_crawl(&env, &start).await;
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    // Chromium's profile goes where the test removes it: a crawler killed has no time to.
    let profiles = std::env::temp_dir().join(format!("s4e-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&profiles).unwrap();
    let headless = [
        ("TMPDIR", profiles.display().to_string()),
        ("S4E_CRAWL_HEADLESS", "true".to_string()),
        ("S4E_CRAWL_CHROMIUM_PATH", chromium),
        ("S4E_CRAWL_FUZZ_DEPTH", "0".to_string()),
    ];
    let (mut crawler, url) = start_crawler(&env, &order.base.url(), &headless).await;
    let bus = order.publish(&env).await;
    let run = order.ended().await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let pages = order.site_map(&env, &url).await;
    let found_by = |path: &str| {
        pages
            .iter()
            .find(|page| page.url == format!("{start}{}", &path[1..]))
            .map(|page| page.found_by)
    };
    // Built by the script, and linked from the data the script asked for.
    assert_eq!(found_by("/rendered-only"), Some(LinkSource::Browser));
    assert_eq!(found_by("/from-data"), Some(LinkSource::Browser));
    assert_eq!(found_by("/api/live"), Some(LinkSource::Browser));
    // The script's `src` is in the page's text: read there first.
    assert_eq!(found_by("/app.js"), Some(LinkSource::Script));
    // The POST was recorded, never sent (the crawl fetches its URL as a page, with GET); the
    // other site was never asked.
    assert_eq!(found_by("/api/submit"), Some(LinkSource::Browser));
    assert!(outside.requests().is_empty(), "{:?}", outside.requests());
    crawler.start_kill().unwrap();
    let _ = crawler.wait().await;
    let _ = std::fs::remove_dir_all(&profiles);
    bus.close().await;
    order.base.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn told_to_render_with_a_chromium_that_is_not_there_the_crawler_refuses_to_start() {
    let env = TestEnv::new().await.unwrap();
    let said = refusal(
        &env,
        &[
            ("S4E_CRAWL_HEADLESS", "true"),
            ("S4E_CRAWL_CHROMIUM_PATH", "/nonexistent/chromium"),
        ],
    )
    .await;
    assert!(
        said.contains("S4E_CRAWL_HEADLESS=true, but /nonexistent/chromium does not answer"),
        "{said}"
    );
    env.cleanup().await.unwrap();
}
