//! Outbound webhooks through the whole platform: `scan.completed` events published on the bus
//! are recorded by the trigger, delivered signed to a local receiver, and timed from publish to
//! arrival. Next to it, the limit of this machine: a bare HTTP client POSTing the same number of
//! signed bodies to the same receiver at the same concurrency. Then the same events while a
//! second endpoint of the organization answers 2 s late, to show what a slow endpoint costs the
//! others.
//!
//! cargo run --release -p s4e-e2e --bin webhook-delivery [-- EVENTS]
//!
//! Needs the infrastructure of scripts/lib.sh (PostgreSQL, RabbitMQ, Redis, MongoDB).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use s4e_bus::{Bus, BusOptions, Exchange};
use s4e_e2e::{Fleet, Receiver};
use s4e_types::envelope::ScanCompleted;
use s4e_types::{AssetId, Envelope, Message, OrgId, RunId, RunStatus};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn row(name: &str, count: usize, mut latencies: Vec<Duration>, elapsed: Option<Duration>) {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p99) = if latencies.is_empty() {
        ("-".to_string(), "-".to_string())
    } else {
        (
            format!("{:.1}", ms(percentile(&latencies, 50.0))),
            format!("{:.1}", ms(percentile(&latencies, 99.0))),
        )
    };
    let rate = elapsed.map_or("-".to_string(), |elapsed| {
        format!("{:.0}", count as f64 / elapsed.as_secs_f64())
    });
    println!("| {name:<60} | {count:>6} | {p50:>8} | {p99:>8} | {rate:>10} |");
}

async fn add_endpoint(fleet: &Fleet, url: &str) -> anyhow::Result<()> {
    let response = fleet
        .request(Method::POST, "/webhooks")
        .json(&json!({"url": url}))
        .send()
        .await?;
    anyhow::ensure!(response.status() == 201, "endpoint: {}", response.status());
    Ok(())
}

/// Publishes `count` events from 32 publishers at once (each waiting for its confirms); when
/// each was published, by event id.
async fn publish(
    bus: &Bus,
    org_id: OrgId,
    count: usize,
) -> anyhow::Result<HashMap<String, Instant>> {
    let mut publishers = tokio::task::JoinSet::new();
    for publisher in 0..32 {
        let bus = bus.clone();
        let share = count / 32 + usize::from(publisher < count % 32);
        publishers.spawn(async move {
            let mut sent = Vec::with_capacity(share);
            for _ in 0..share {
                let event = Envelope::new(
                    org_id,
                    Message::ScanCompleted(ScanCompleted {
                        run_id: RunId::new(),
                        asset_id: AssetId::new(),
                        status: RunStatus::Completed,
                        findings_count: 3,
                    }),
                );
                sent.push((event.id.to_string(), Instant::now()));
                bus.publish(Exchange::Events, "scan.completed", &event)
                    .await?;
            }
            anyhow::Ok(sent)
        });
    }
    let mut sent = HashMap::with_capacity(count);
    while let Some(published) = publishers.join_next().await {
        sent.extend(published??);
    }
    Ok(sent)
}

/// Waits until `receiver` has `count` requests (at most `limit`); the latency of each event
/// that arrived, and when the last did.
async fn arrivals(
    receiver: &Receiver,
    sent: &HashMap<String, Instant>,
    count: usize,
    limit: Duration,
) -> (Vec<Duration>, Instant) {
    let deadline = Instant::now() + limit;
    while receiver.count() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let received = receiver.received();
    let last = received
        .iter()
        .map(|r| r.at)
        .max()
        .unwrap_or_else(Instant::now);
    let latencies = received
        .iter()
        .filter_map(|r| Some(r.at - *sent.get(&r.headers["webhook-id"])?))
        .collect();
    (latencies, last)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: usize = std::env::args()
        .nth(1)
        .map(|arg| arg.parse())
        .transpose()?
        .unwrap_or(2000);
    let fleet = Fleet::start().await?;
    let me: Value = fleet.get_json("/me").await;
    let org_id: OrgId = me["org_id"].as_str().unwrap_or_default().parse()?;
    let bus = Bus::connect(
        &fleet.env.amqp_url,
        &fleet.env.namespace,
        BusOptions::default(),
    )
    .await?;
    let fast = Receiver::start().await;
    add_endpoint(&fleet, &fast.url).await?;

    println!(
        "| {:<60} | {:>6} | {:>8} | {:>8} | {:>10} |",
        "what", "events", "p50 ms", "p99 ms", "per second"
    );
    println!(
        "|{}|{}|{}|{}|{}|",
        "-".repeat(62),
        "-".repeat(8),
        "-".repeat(10),
        "-".repeat(10),
        "-".repeat(12)
    );

    // Warm-up.
    let sent = publish(&bus, org_id, 50).await?;
    arrivals(&fast, &sent, 50, Duration::from_secs(60)).await;
    let base_count = fast.count();

    // One at a time: the latency of a lone event.
    let mut lone = Vec::new();
    for _ in 0..100 {
        let expected = fast.count() + 1;
        let sent = publish(&bus, org_id, 1).await?;
        let (latencies, _) = arrivals(&fast, &sent, expected, Duration::from_secs(10)).await;
        lone.extend(
            latencies
                .into_iter()
                .filter(|l| *l < Duration::from_secs(60)),
        );
    }
    row(
        "s4e: one event at a time, publish -> received",
        100,
        lone,
        None,
    );

    // A burst: every event at once.
    let before = fast.count();
    let started = Instant::now();
    let sent = publish(&bus, org_id, events).await?;
    let (latencies, last) = arrivals(&fast, &sent, before + events, Duration::from_secs(300)).await;
    let burst: Vec<Duration> = latencies
        .into_iter()
        .filter(|l| *l < Duration::from_secs(600))
        .collect();
    let delivered = burst.len();
    row(
        "s4e: a burst, publish -> received",
        delivered,
        burst,
        Some(last - started),
    );

    // The limit: the same number of signed POSTs from one client, 64 at a time.
    let bare = Receiver::start().await;
    let client = reqwest::Client::new();
    let body = serde_json::to_vec(
        &json!({"type": "scan.completed", "timestamp": "2026-01-01T00:00:00Z", "data": {}}),
    )?;
    let secret = s4e_trigger::signature::new_secret();
    let started = Instant::now();
    let mut sends = sixty_four_at_a_time(events, |index| {
        let (client, url, body, secret) = (
            client.clone(),
            bare.url.clone(),
            body.clone(),
            secret.clone(),
        );
        async move {
            let id = format!("bare-{index}");
            let now = chrono::Utc::now().timestamp();
            let signature = s4e_trigger::signature::sign(&[secret], &id, now, &body);
            let sent_at = Instant::now();
            let _ = client
                .post(&url)
                .header("webhook-id", &id)
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            sent_at.elapsed()
        }
    });
    let mut bare_latencies = Vec::with_capacity(events);
    while let Some(latency) = sends.join_next().await {
        bare_latencies.push(latency?);
    }
    row(
        "bare reqwest POSTs, 64 at a time (the machine's limit)",
        events,
        bare_latencies,
        Some(started.elapsed()),
    );

    // A second endpoint that answers 2 s late receives the same events.
    let slow = Receiver::start().await;
    slow.answer_after(Duration::from_secs(2));
    add_endpoint(&fleet, &slow.url).await?;
    let before = fast.count();
    let started = Instant::now();
    let sent = publish(&bus, org_id, events).await?;
    let (latencies, last) = arrivals(&fast, &sent, before + events, Duration::from_secs(300)).await;
    let beside_slow: Vec<Duration> = latencies
        .into_iter()
        .filter(|l| *l < Duration::from_secs(600))
        .collect();
    row(
        "s4e: the same burst beside an endpoint 2 s slow (fast one)",
        beside_slow.len(),
        beside_slow,
        Some(last - started),
    );
    println!(
        "\nthe slow endpoint received {} of {events} in the same time; {} warm-up deliveries before",
        slow.count(),
        base_count
    );
    bus.close().await;
    fleet.stop().await?;
    Ok(())
}

/// Runs `count` futures made by `make`, 64 at a time.
fn sixty_four_at_a_time<F, Fut>(count: usize, make: F) -> tokio::task::JoinSet<Duration>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Duration> + Send + 'static,
{
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let mut set = tokio::task::JoinSet::new();
    for index in 0..count {
        let permits = permits.clone();
        let future = make(index);
        set.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("open");
            future.await
        });
    }
    set
}
