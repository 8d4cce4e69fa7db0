//! The built binary, killed with SIGKILL in the middle of a crawl: the pages in flight go back
//! to the frontier with the lost connection, a second crawler process finishes the crawl, and
//! the site map is the same as an uninterrupted crawl's, with at most the pages that were in
//! flight fetched twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use s4e_bus::{Bus, BusOptions, Exchange};
use s4e_client::BaseClient;
use s4e_runtime::{CommonConfig, Service, ServiceToken};
use s4e_test_support::site::{self, SHOP_PAGES, TestSite};
use s4e_test_support::{TestEnv, listener, start_service_binary, wait_for};
use s4e_types::api::{NewScanJob, NewScanRun};
use s4e_types::crawl::SitePageQuery;
use s4e_types::{AssetKind, CheckKind, Envelope, JobSpec, JobStatus, Message, NewAsset, RunStatus};
use tokio::process::Child;

const BINARY: &str = env!("CARGO_BIN_EXE_s4e-crawler");
const DEADLINE: Duration = Duration::from_secs(60);
/// Pages one crawler fetches at once: the most a kill can leave half done.
const CONCURRENCY: usize = 4;

/// One crawler process against the test's infrastructure and base; ready when returned.
async fn start_crawler(env: &TestEnv, base_url: &str) -> (Child, String) {
    let extra = [
        ("S4E_BASE_URL", base_url.to_string()),
        ("S4E_EGRESS_ALLOW_PRIVATE", "true".to_string()),
        ("S4E_CRAWL_CONCURRENCY", CONCURRENCY.to_string()),
    ];
    start_service_binary(BINARY, env, &extra).await.unwrap()
}

#[tokio::test]
async fn a_crawler_killed_mid_crawl_resumes_and_finds_the_same_site() {
    let env = TestEnv::new().await.unwrap();
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
    // Slow pages, so the kill lands with pages in flight.
    let shop = TestSite::start(site::shop("127.0.0.1"), Duration::from_millis(100)).await;
    let start = format!("http://127.0.0.1:{}/", shop.port);
    let org = client.create_organization("killed").await.unwrap();
    let asset = client
        .create_asset(
            org.id,
            &NewAsset {
                kind: AssetKind::Url,
                value: start.clone(),
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
                    target: start.clone(),
                    ports: None,
                }],
            },
        )
        .await
        .unwrap();
    let job = &created.jobs[0];

    let (mut first, _) = start_crawler(&env, &base.url()).await;
    let bus = Bus::connect(&env.amqp_url, &env.namespace, BusOptions::default())
        .await
        .unwrap();
    let envelope = Envelope::new(org.id, Message::ScanJob(JobSpec::from(job)));
    bus.publish(Exchange::Jobs, CheckKind::Crawl.as_str(), &envelope)
        .await
        .unwrap();

    // The fuzzer's words and made-up names are asked beside the pages.
    let words: BTreeSet<String> = s4e_crawler::fuzz::bundled_words()
        .iter()
        .map(|word| format!("/{word}"))
        .collect();
    let made_up = |request: &str| {
        let name = request.trim_start_matches('/');
        matches!(name.len(), 12 | 20) && name.bytes().all(|b| b.is_ascii_hexdigit())
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
    let run = client.get_run(org.id, created.run.id).await.unwrap();
    assert_eq!(run.status, RunStatus::Running);

    // A second process picks the frontier up where the first left it.
    let (mut second, second_url) = start_crawler(&env, &base.url()).await;
    let run = wait_for("the crawl to finish", DEADLINE, || async {
        let run = client.get_run(org.id, created.run.id).await.ok()?;
        run.status.is_final().then_some(run)
    })
    .await
    .unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let jobs = client.run_jobs(org.id, created.run.id).await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Completed);
    assert!(shop.requests().len() > requested_before);

    // The same site map as an uninterrupted crawl.
    let pages = s4e_client::CrawlerClient::new(&second_url, &env.service_token)
        .unwrap()
        .site_pages(
            org.id,
            created.run.id,
            &SitePageQuery {
                limit: Some(1000),
                ..SitePageQuery::default()
            },
        )
        .await
        .unwrap()
        .items;
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
    let not_words: BTreeSet<String> = found.difference(&words).cloned().collect();
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
    base.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
