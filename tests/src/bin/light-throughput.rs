//! How many light-profile scans the platform finishes per minute: 50 demo shops (each its own
//! local server) registered as assets, 50 light scans started at once through the gateway, and
//! the time until every run is completed. Next to it, in the same run and over the same URLs:
//! WhatWeb at aggression 1 (one request per URL, technology fingerprinting) when it is
//! installed, and `curl` fetching each page (one process per URL, all at once) as the floor.
//!
//! cargo run --release -p s4e-e2e --bin light-throughput [-- SCANS]
//!
//! Needs the infrastructure of scripts/lib.sh (PostgreSQL, RabbitMQ, Redis, MongoDB).

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use s4e_e2e::{Fleet, Target};
use s4e_types::ScanRun;
use s4e_types::api::ScanView;
use serde_json::json;

/// The same allocator as the service binaries, so the fleet measured here allocates the way
/// the deployed one does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn micros_since_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros() as i64
}

/// One line of the table; `latencies` empty when the tool gives no per-URL times.
fn row(name: &str, count: usize, wall: Duration, mut latencies: Vec<Duration>) {
    latencies.sort();
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let (p50, p95) = if latencies.is_empty() {
        ("-".to_string(), "-".to_string())
    } else {
        (
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 95.0)),
        )
    };
    println!(
        "| {name:<46} | {count:>5} | {:>8.2} | {:>9.0} | {p50:>8} | {p95:>8} |",
        wall.as_secs_f64(),
        count as f64 * 60.0 / wall.as_secs_f64(),
    );
}

/// Starts one light scan and returns its run and when the request was sent (µs since epoch).
async fn start_light_scan(fleet: &Fleet, asset_id: &str) -> anyhow::Result<(ScanRun, i64)> {
    let sent = micros_since_epoch();
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset_id, "profile": "light"}))
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 202,
        "start scan: {}",
        response.status()
    );
    Ok((response.json().await?, sent))
}

/// Every `scans` light scan started at once; waits until all are completed. Latency per scan is
/// from sending its `POST` to the run's `finished_at` as base recorded it, so the waiting here
/// (a poll every 100 ms, light on the fleet) does not add to it.
async fn platform(fleet: &Fleet, assets: &[String]) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let started = Instant::now();
    let first_sent = micros_since_epoch();
    let mut starts = tokio::task::JoinSet::new();
    for asset_id in assets {
        let fleet_request = fleet
            .request(Method::POST, "/scans")
            .json(&json!({"asset_id": asset_id, "profile": "light"}));
        starts.spawn(async move {
            let sent = micros_since_epoch();
            let response = fleet_request.send().await?;
            anyhow::ensure!(
                response.status() == 202,
                "start scan: {}",
                response.status()
            );
            let run: ScanRun = response.json().await?;
            Ok((run, sent))
        });
    }
    let mut runs = Vec::with_capacity(assets.len());
    while let Some(joined) = starts.join_next().await {
        runs.push(joined??);
    }
    let mut latencies = Vec::with_capacity(runs.len());
    let mut last_finished = first_sent;
    for (run, sent) in &runs {
        anyhow::ensure!(run.profile == "light" && run.jobs_total == 1, "{run:?}");
        let view = fleet
            .wait_for_scan(&run.id.to_string(), Duration::from_secs(300))
            .await?;
        anyhow::ensure!(
            view.run.status == s4e_types::RunStatus::Completed && view.run.findings_count > 0,
            "unexpected result {view:?}"
        );
        let finished = view
            .run
            .finished_at
            .expect("a completed run has finished")
            .timestamp_micros();
        latencies.push(Duration::from_micros((finished - sent).max(0) as u64));
        last_finished = last_finished.max(finished);
    }
    let wall = Duration::from_micros((last_finished - first_sent).max(0) as u64);
    // Sanity: the wall time by the database's clock is within what this program waited.
    anyhow::ensure!(wall <= started.elapsed() + Duration::from_millis(50));
    Ok((wall, latencies))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scans: usize = std::env::args()
        .nth(1)
        .map(|arg| arg.parse())
        .transpose()?
        .unwrap_or(50);
    let fleet = Fleet::start().await?;
    let mut targets = Vec::with_capacity(scans);
    let mut assets = Vec::with_capacity(scans);
    for _ in 0..scans {
        let target = Target::demo(false).await;
        assets.push(fleet.create_url_asset(&target.url).await?);
        targets.push(target);
    }
    let urls: Vec<String> = targets.iter().map(|target| target.url.clone()).collect();

    // Warm-up: connections, queues and workers, not counted.
    for asset_id in assets.iter().take(3) {
        let (run, _) = start_light_scan(&fleet, asset_id).await?;
        let _: ScanView = fleet
            .wait_for_scan(&run.id.to_string(), Duration::from_secs(60))
            .await?;
    }

    let (platform_wall, platform_latencies) = platform(&fleet, &assets).await?;

    let whatweb = {
        let started = Instant::now();
        let status = Command::new("whatweb")
            .args(["--aggression", "1", "--no-errors", "--quiet"])
            .arg("--log-brief=/dev/null")
            .args(&urls)
            .status();
        match status {
            Ok(status) if status.success() => Some(started.elapsed()),
            _ => None,
        }
    };

    let curl = {
        let started = Instant::now();
        let mut children = Vec::with_capacity(urls.len());
        for url in &urls {
            let child = tokio::process::Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-D", "/dev/null", url])
                .spawn();
            match child {
                Ok(child) => children.push((Instant::now(), child)),
                Err(error) => {
                    eprintln!("curl: {error}");
                    break;
                }
            }
        }
        let mut latencies = Vec::with_capacity(children.len());
        for (spawned, mut child) in children {
            let status = child.wait().await?;
            if status.success() {
                latencies.push(spawned.elapsed());
            } else {
                eprintln!("curl: {status}");
            }
        }
        (latencies.len() == urls.len()).then(|| (started.elapsed(), latencies))
    };

    println!(
        "{scans} light scans of {scans} local demo shops, all started at once (latency: request \
         to completed, ms)\n"
    );
    println!(
        "| {:<46} | {:>5} | {:>8} | {:>9} | {:>8} | {:>8} |",
        "what", "URLs", "wall (s)", "per min", "p50", "p95"
    );
    println!(
        "|{:-<48}|{:->7}|{:->10}|{:->11}|{:->10}|{:->10}|",
        "", "", "", "", "", ""
    );
    row(
        "s4e: POST /scans {profile: light} -> completed",
        scans,
        platform_wall,
        platform_latencies,
    );
    match whatweb {
        Some(wall) => row(
            "whatweb --aggression 1 (one process)",
            scans,
            wall,
            Vec::new(),
        ),
        None => println!("(whatweb is not installed or failed: no row)"),
    }
    if let Some((wall, latencies)) = curl {
        row(
            "curl, one process per URL, all at once",
            scans,
            wall,
            latencies,
        );
    }
    drop(targets);
    fleet.stop().await
}
