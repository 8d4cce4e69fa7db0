//! The stores against the real Redis and MongoDB servers.

use s4e_store::{CrawlPages, LiveStatus, PageDocument, RawOutputs, StoreError};
use s4e_test_support::TestEnv;
use s4e_types::api::{CrawlProgress, RunProgress};
use s4e_types::{JobId, OrgId, RunId};
use serde_json::json;

#[tokio::test]
async fn live_status_is_overwritten_not_accumulated() {
    let env = TestEnv::new().await.unwrap();
    let live = LiveStatus::connect(&env.redis_url, &env.namespace)
        .await
        .unwrap();
    let run = RunId::new();
    assert_eq!(live.get(run).await.unwrap(), None);
    let progress = RunProgress {
        status: "running".into(),
        jobs_total: 3,
        jobs_done: 1,
        findings: 4,
        crawl: None,
    };
    live.set(run, &progress).await.unwrap();
    // Writing the same counts again (a redelivered job) leaves them as they are.
    live.set(run, &progress).await.unwrap();
    assert_eq!(live.get(run).await.unwrap(), Some(progress.clone()));
    // A later snapshot wins; an older one arriving after it does not undo it.
    let done = RunProgress {
        status: "completed".into(),
        jobs_total: 3,
        jobs_done: 3,
        findings: 9,
        crawl: None,
    };
    live.set(run, &done).await.unwrap();
    live.set(run, &progress).await.unwrap();
    assert_eq!(live.get(run).await.unwrap(), Some(done));
    // Another namespace sees nothing.
    let other = LiveStatus::connect(&env.redis_url, &format!("{}x", env.namespace))
        .await
        .unwrap();
    assert_eq!(other.get(run).await.unwrap(), None);
    live.ping().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn a_crawls_progress_only_moves_forwards_beside_the_runs() {
    let env = TestEnv::new().await.unwrap();
    let live = LiveStatus::connect(&env.redis_url, &env.namespace)
        .await
        .unwrap();
    let run = RunId::new();
    let crawl = |stage: &str, done, queued| CrawlProgress {
        stage: stage.into(),
        done,
        queued,
    };
    live.set_crawl(run, &crawl("fetch", 10, 40)).await.unwrap();
    // A replica's older count arriving late changes nothing.
    live.set_crawl(run, &crawl("fetch", 7, 43)).await.unwrap();
    assert_eq!(
        live.get(run).await.unwrap().unwrap().crawl,
        Some(crawl("fetch", 10, 40))
    );
    // The run's counts are written beside it, neither undoing the other.
    let running = RunProgress {
        status: "running".into(),
        jobs_total: 1,
        jobs_done: 0,
        findings: 0,
        crawl: None,
    };
    live.set(run, &running).await.unwrap();
    live.set_crawl(run, &crawl("fetch", 50, 0)).await.unwrap();
    let read = live.get(run).await.unwrap().unwrap();
    assert_eq!((read.status.as_str(), read.jobs_total), ("running", 1));
    assert_eq!(read.crawl, Some(crawl("fetch", 50, 0)));
    // The finisher's stage is further along whatever the counts, and a late fetch does not
    // take the crawl back to it.
    live.set_crawl(run, &crawl("finish", 48, 0)).await.unwrap();
    live.set_crawl(run, &crawl("fetch", 51, 0)).await.unwrap();
    assert_eq!(
        live.get(run).await.unwrap().unwrap().crawl,
        Some(crawl("finish", 48, 0))
    );
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn raw_output_is_one_document_per_job_and_scoped_by_organization() {
    let env = TestEnv::new().await.unwrap();
    let raw = RawOutputs::connect(&env.mongodb_url, &env.namespace)
        .await
        .unwrap();
    let (org, run, job) = (OrgId::new(), RunId::new(), JobId::new());
    let first = raw
        .store(
            org,
            run,
            job,
            &json!({"status": 500, "headers": [["server", "x"]]}),
        )
        .await
        .unwrap();
    let second = raw
        .store(org, run, job, &json!({"status": 200, "headers": []}))
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(
        raw.get(org, &first).await.unwrap(),
        Some(json!({"status": 200, "headers": []}))
    );
    assert_eq!(raw.get(OrgId::new(), &first).await.unwrap(), None);
    assert_eq!(raw.get(org, "missing").await.unwrap(), None);
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn pages_written_together_are_each_stored_and_a_page_written_again_is_replaced() {
    let env = TestEnv::new().await.unwrap();
    let pages = CrawlPages::connect(&env.mongodb_url, &env.namespace)
        .await
        .unwrap();
    let (org, job, other_job) = (OrgId::new(), JobId::new(), JobId::new());
    let page = |job, url: &str, status: u16| {
        PageDocument::of(
            org,
            job,
            url,
            &json!({ "job_id": job, "url": url, "status": status }),
        )
        .unwrap()
    };
    // Two crawls in one command, one page of the first twice: the later one wins.
    let outcomes = pages
        .record_all(&[
            page(job, "http://a/1", 500),
            page(other_job, "http://b/1", 200),
            page(job, "http://a/2", 200),
            page(job, "http://a/1", 200),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![Ok(()); 4]);
    // And a page of the first written again alone.
    pages
        .record(
            org,
            job,
            "http://a/2",
            &json!({ "job_id": job, "url": "http://a/2", "status": 404 }),
        )
        .await
        .unwrap();
    let mut stored = Vec::new();
    pages
        .each_of_job(org, job, |page: serde_json::Value| {
            stored.push((page["url"].clone(), page["status"].clone()))
        })
        .await
        .unwrap();
    assert_eq!(
        stored,
        vec![
            (json!("http://a/1"), json!(200)),
            (json!("http://a/2"), json!(404))
        ]
    );
    // Another organization reads none of them.
    let mut foreign = 0;
    pages
        .each_of_job(OrgId::new(), job, |_: serde_json::Value| foreign += 1)
        .await
        .unwrap();
    assert_eq!(foreign, 0);
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn database_names_are_checked_before_use() {
    let result = RawOutputs::connect("mongodb://127.0.0.1:27017", "bad.name").await;
    assert!(matches!(result, Err(StoreError::InvalidName(_))));
}

/// A rate-limit counter as Redis holds it.
/// A rate limiter on the test's Redis, in its namespace.
async fn limiter(env: &TestEnv) -> s4e_store::RateLimiter {
    s4e_store::RateLimiter::connect(&env.redis_url, &env.namespace)
        .await
        .unwrap()
}

async fn counter(
    connection: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<u64> {
    redis::cmd("GET").arg(key).query_async(connection).await
}

/// Requests for the same buckets share round trips, yet each is decided as if they had gone one
/// by one: with 300 at once against a limit of 200, exactly 200 pass, each with its own
/// remaining count, and Redis counted all 300.
#[tokio::test]
async fn concurrent_hits_are_counted_exactly_once_each() {
    use std::time::Duration;

    let env = TestEnv::new().await.unwrap();
    let limiter = limiter(&env).await;
    let window = Duration::from_secs(60);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..300 {
        let limiter = limiter.clone();
        tasks.spawn(async move {
            limiter
                .hit_all(&[("ip:one", 1000), ("key:k", 200)], window)
                .await
        });
    }
    let mut remaining_on_key = Vec::new();
    let mut refused = 0;
    while let Some(result) = tasks.join_next().await {
        let decisions = result.unwrap().unwrap();
        assert_eq!(decisions.len(), 2);
        assert!(decisions[0].allowed, "the address bucket has room for all");
        assert!(decisions[1].reset_after <= window);
        if decisions[1].allowed {
            remaining_on_key.push(decisions[1].remaining);
        } else {
            refused += 1;
            assert_eq!(decisions[1].remaining, 0);
        }
    }
    remaining_on_key.sort_unstable();
    assert_eq!(remaining_on_key, (0..200).collect::<Vec<u32>>());
    assert_eq!(refused, 100);

    let client = redis::Client::open(env.redis_url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}:ratelimit:key:k", env.namespace);
    let count = counter(&mut connection, &key).await.unwrap();
    assert_eq!(count, 300);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "the window expires: {ttl}");

    // Another bucket starts from nothing.
    let other = limiter.hit("key:other", 1, window).await.unwrap();
    assert!(other.allowed);
    assert_eq!(other.remaining, 0);
    let again = limiter.hit("key:other", 1, window).await.unwrap();
    assert!(!again.allowed);

    // Callers that give up while their round trip is under way stall nobody else.
    let mut abandoned = Vec::new();
    for _ in 0..50 {
        let limiter = limiter.clone();
        abandoned.push(tokio::spawn(async move {
            limiter.hit("key:abandoned", 1000, window).await
        }));
    }
    for task in &abandoned {
        task.abort();
    }
    let after = tokio::time::timeout(
        Duration::from_secs(5),
        limiter.hit("key:abandoned", 1000, window),
    )
    .await
    .expect("a later hit is answered")
    .unwrap();
    assert!(after.allowed);
    let abandoned_key = format!("{}:ratelimit:key:abandoned", env.namespace);
    let counted = counter(&mut connection, &abandoned_key).await.unwrap();
    assert!(
        (1..=51).contains(&counted) && 1000 - u64::from(after.remaining) <= counted,
        "counted {counted}, remaining {}",
        after.remaining
    );
    env.cleanup().await.unwrap();
}

/// A session is read by its id, its idle period restarted on each read; an ended one is
/// gone.
#[tokio::test]
async fn a_session_is_read_and_its_idle_period_restarts() {
    use std::time::Duration;

    use s4e_store::{SessionData, SessionStore};

    let env = TestEnv::new().await.unwrap();
    let sessions = SessionStore::connect(&env.redis_url, &env.namespace, Duration::from_secs(600))
        .await
        .unwrap();
    let data = SessionData {
        user_id: s4e_types::UserId::new(),
        org_id: OrgId::new(),
        role: s4e_types::Role::Member,
        email: "a@example.com".into(),
        csrf_token: "csrf".into(),
        created_at: chrono::Utc::now(),
        ip: None,
        user_agent: None,
        rate_tier: Default::default(),
        asset_scope: None,
    };
    sessions.create("s1", &data).await.unwrap();
    assert_eq!(sessions.touch("gone").await.unwrap(), None);

    let client = redis::Client::open(env.redis_url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}:session:s1", env.namespace);
    let _: () = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(5_000)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(sessions.touch("s1").await.unwrap(), Some(data));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(
        ttl > 5_000 && ttl <= 600_000,
        "the idle period restarted: {ttl}"
    );
    env.cleanup().await.unwrap();
}

/// Sequential requests from many clients on one key, in waves of shared round trips: exactly
/// `limit` pass, each with its own remaining count, and every hit reaches Redis once.
#[tokio::test]
async fn requests_in_waves_stay_exact_and_are_all_counted() {
    use std::time::Duration;

    let env = TestEnv::new().await.unwrap();
    let limiter = limiter(&env).await;
    let window = Duration::from_secs(60);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let limiter = limiter.clone();
        tasks.spawn(async move {
            let mut decisions = Vec::new();
            for _ in 0..50 {
                decisions.push(limiter.hit("key:waves", 400, window).await.unwrap());
            }
            decisions
        });
    }
    let mut remaining = Vec::new();
    while let Some(decisions) = tasks.join_next().await {
        for decision in decisions.unwrap() {
            if decision.allowed {
                remaining.push(decision.remaining);
            }
        }
    }
    remaining.sort_unstable();
    assert_eq!(remaining, (0..400).collect::<Vec<u32>>());

    let client = redis::Client::open(env.redis_url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}:ratelimit:key:waves", env.namespace);
    s4e_test_support::wait_for("every hit counted", Duration::from_secs(5), || {
        let mut connection = connection.clone();
        let key = key.clone();
        async move {
            let count = counter(&mut connection, &key).await.ok()?;
            (count == 1000).then_some(())
        }
    })
    .await
    .unwrap();
    let count = counter(&mut connection, &key).await.unwrap();
    assert_eq!(count, 1000, "no hit counted twice");
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn an_idempotency_key_is_claimed_once_answered_once_and_tied_to_its_request() {
    use s4e_store::{Claim, Idempotency, Redis, StoredAnswer};

    let env = TestEnv::new().await.unwrap();
    let redis = Redis::connect(&env.redis_url, None).await.unwrap();
    let keys = Idempotency::new(&redis, &env.namespace, std::time::Duration::from_secs(60));
    let answer = StoredAnswer {
        status: 201,
        content_type: Some("application/json".into()),
        body: r#"{"id":"a"}"#.into(),
    };
    assert_eq!(keys.claim("org", "k", "req").await.unwrap(), Claim::Claimed);
    // A copy sent while the first runs, and another request under the same key.
    assert_eq!(keys.claim("org", "k", "req").await.unwrap(), Claim::Running);
    assert_eq!(
        keys.claim("org", "k", "other").await.unwrap(),
        Claim::OtherRequest
    );
    keys.keep("org", "k", "req", answer.clone()).await.unwrap();
    assert_eq!(
        keys.claim("org", "k", "req").await.unwrap(),
        Claim::Answered(answer)
    );
    assert_eq!(
        keys.claim("org", "k", "other").await.unwrap(),
        Claim::OtherRequest
    );
    // Another organization's key of the same name is its own.
    assert_eq!(
        keys.claim("other org", "k", "req").await.unwrap(),
        Claim::Claimed
    );
    // A key given up after a failure is claimed again by the retry.
    keys.release("other org", "k").await.unwrap();
    assert_eq!(
        keys.claim("other org", "k", "req").await.unwrap(),
        Claim::Claimed
    );
    env.cleanup().await.unwrap();
}
