//! How long a headers scan takes through the whole platform, from `POST /api/v1/scans` to
//! `completed`, next to the same check run bare in-process and to `curl` fetching the same page.
//!
//! cargo run --release -p s4e-e2e --bin scan-latency [-- RUNS]
//!
//! Needs the infrastructure of scripts/lib.sh (PostgreSQL, RabbitMQ, Redis, MongoDB).

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use s4e_checks::CheckContext;
use s4e_e2e::{Fleet, Target};
use s4e_egress::EgressPolicy;
use s4e_types::api::ScanView;

/// The same allocator as the service binaries, so the fleet measured here allocates the way
/// the deployed one does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn row(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name:<44} | {:>5} | {:>10.2} | {:>10.2} | {:>10.2} |",
        samples.len(),
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 95.0)),
        ms(*samples.last().expect("samples")),
    );
}

/// A headers-only scan through the fleet, from the POST to the run's end, checked to report
/// what the check itself reports.
async fn platform_scan(fleet: &Fleet, asset_id: &str, expected: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&serde_json::json!({"asset_id": asset_id, "checks": ["http_headers"]}))
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 202,
        "start scan: {}",
        response.status()
    );
    let run: serde_json::Value = response.json().await?;
    let run_id = run["id"].as_str().unwrap_or_default().to_string();
    loop {
        let view: ScanView = fleet
            .request(Method::GET, &format!("/scans/{run_id}"))
            .send()
            .await?
            .json()
            .await?;
        if view.run.status.is_final() {
            anyhow::ensure!(
                usize::try_from(view.run.findings_count) == Ok(expected),
                "unexpected result {view:?}"
            );
            return Ok(started.elapsed());
        }
        // Tight polling: the measurement should be the platform's latency, not the poller's.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|arg| arg.parse())
        .transpose()?
        .unwrap_or(50);
    let fleet = Fleet::start().await?;
    let target = Target::demo(false).await;
    let asset_id = fleet.create_url_asset(&target.url).await?;

    let context = CheckContext {
        egress: EgressPolicy::allowing_private(),
        timeout: Duration::from_secs(5),
        ..CheckContext::default()
    };
    let check_target = s4e_checks::Target::new(&target.url);
    let expected = s4e_checks::http_headers::run(&check_target, &context)
        .await?
        .findings
        .len();
    for _ in 0..3 {
        platform_scan(&fleet, &asset_id, expected).await?;
    }
    let mut platform = Vec::with_capacity(runs);
    for _ in 0..runs {
        platform.push(platform_scan(&fleet, &asset_id, expected).await?);
    }

    let mut bare = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        s4e_checks::http_headers::run(&check_target, &context).await?;
        bare.push(started.elapsed());
    }

    let mut curl = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let status = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-D", "/dev/null", &target.url])
            .status();
        match status {
            Ok(status) if status.success() => curl.push(started.elapsed()),
            _ => break,
        }
    }

    println!("headers scan of a local target, {runs} runs each (milliseconds)\n");
    println!(
        "| {:<44} | {:>5} | {:>10} | {:>10} | {:>10} |",
        "what", "runs", "median", "p95", "max"
    );
    println!(
        "|{:-<46}|{:->7}|{:->12}|{:->12}|{:->12}|",
        "", "", "", "", ""
    );
    row("s4e: POST /api/v1/scans -> completed", platform);
    row("same check in-process (s4e_checks, no fleet)", bare);
    if !curl.is_empty() {
        row("curl fetching the same page (new process)", curl);
    }
    fleet.stop().await
}
