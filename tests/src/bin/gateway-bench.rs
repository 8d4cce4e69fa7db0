//! Authenticated, rate-limited GETs at the gateway next to a bare axum handler answering the
//! same body, all loaded by wrk in the same run: `GET /api/v1/me` (what the gateway itself
//! costs: key, permissions, rate limit, no backend call) and `GET /api/v1/assets` (the same
//! plus a call to base and its PostgreSQL query), and `GET /healthz` through the same layers
//! (tracing, metrics, header stripping) without authentication or rate limiting.
//!
//! cargo run --release -p s4e-e2e --bin gateway-bench [-- SECONDS CONNECTIONS [LOADS [ROUNDS]]]
//!
//! LOADS picks some of `me,assets,healthz,bare` (all by default), for profiling one of them.
//! The loads run one after the other, ROUNDS times (3 by default): on a shared machine one
//! run of each can differ by several percent, so the table gives each load's median round
//! (and its worst p99), and the gateway / bare ratios are taken round by round, between runs
//! made a few seconds apart. The gateway counts every request in Redis against limits set
//! out of reach, and a load with any failed request (a 429, say) stops the run: failures are
//! cheaper to answer than the real thing and would flatter the gateway.
//!
//! Needs wrk (Debian's package `wrk`) and the infrastructure of scripts/lib.sh.

use std::process::Command;

use axum::Router;
use axum::routing::get;
use s4e_e2e::{Fleet, Target};

/// The same allocator as the service binaries, so the fleet measured here allocates the way
/// the deployed one does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone)]
struct Load {
    requests_per_second: f64,
    p99: String,
    p50: String,
    errors: String,
}

/// A wrk latency (`812.00us`, `4.26ms`, `1.02s`) in microseconds.
fn micros(latency: &str) -> f64 {
    let (number, unit) = latency
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((latency, ""), |at| latency.split_at(at));
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number,
        "ms" => number * 1e3,
        "s" => number * 1e6,
        _ => f64::NAN,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs wrk and reads its summary (`--latency` prints the percentiles).
fn wrk(url: &str, header: Option<&str>, seconds: u32, connections: u32) -> anyhow::Result<Load> {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    if let Some(header) = header {
        command.args(["-H", header]);
    }
    let output = command
        .arg(url)
        .output()
        .map_err(|error| anyhow::anyhow!("wrk: {error} (install Debian's wrk)"))?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    anyhow::ensure!(output.status.success(), "wrk failed: {text}");
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let errors = text
        .lines()
        .find(|line| line.contains("Non-2xx") || line.contains("Socket errors"))
        .map(str::trim)
        .unwrap_or("none")
        .to_string();
    Ok(Load {
        requests_per_second: field("Requests/sec:").parse().unwrap_or(0.0),
        p99: field("99%"),
        p50: field("50%"),
        errors,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let connections: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50);
    let loads = args
        .next()
        .unwrap_or_else(|| "me,assets,healthz,bare".to_string());
    let rounds: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(3)
        .max(1);
    let wanted = move |name: &str| loads.split(',').any(|load| load == name);

    let mut fleet = Fleet::start().await?;
    // Every request is counted in Redis as in production, against limits no run reaches: a
    // load that met one would be measuring 429s.
    fleet
        .restart_core(|config| {
            config.settings.rate_limit_per_key = u32::MAX / 16;
            config.settings.rate_limit_per_ip = u32::MAX;
        })
        .await?;
    let target = Target::demo(false).await;
    fleet.create_url_asset(&target.url).await?;
    let body = fleet
        .request(reqwest::Method::GET, "/assets")
        .send()
        .await?
        .text()
        .await?;

    // The floor: the same bytes from a handler that does nothing else.
    let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_url = format!("http://{}/api/v1/assets", bare.local_addr()?);
    let app = Router::new().route(
        "/api/v1/assets",
        get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    tokio::spawn(async move { axum::serve(bare, app).await });

    let gateway_url = fleet.api("/assets");
    let me_url = fleet.api("/me");
    let health_url = format!("{}/healthz", fleet.core.url());
    let auth = format!("Authorization: Bearer {}", fleet.admin_key);
    let runs = tokio::task::spawn_blocking(move || {
        let loads: Vec<_> = [
            (
                "me",
                "gateway GET /api/v1/me (key, rate limit)",
                me_url,
                Some(auth.clone()),
            ),
            (
                "assets",
                "gateway GET /api/v1/assets (key, rate limit)",
                gateway_url,
                Some(auth),
            ),
            (
                "healthz",
                "gateway GET /healthz (its layers, no key/limit)",
                health_url,
                None,
            ),
            ("bare", "bare axum handler, same body", bare_url, None),
        ]
        .into_iter()
        .filter(|(name, ..)| wanted(name))
        .collect();
        // Round by round, every load once: what one load met, the next met a moment later.
        let mut runs = Vec::new();
        for number in 1..=rounds {
            let mut round = Vec::new();
            for (name, title, url, header) in &loads {
                let load = wrk(url, header.as_deref(), seconds, connections)?;
                // Failed requests are cheaper than served ones: a load with any is no measure.
                anyhow::ensure!(
                    load.errors == "none",
                    "{name}, round {number}: {}",
                    load.errors
                );
                round.push((*name, *title, load));
            }
            runs.push(round);
        }
        anyhow::Ok(runs)
    })
    .await??;
    // Each load's median round, and its worst p99 over all rounds.
    let results: Vec<(&str, &str, Load, String)> = runs[0]
        .iter()
        .enumerate()
        .map(|(index, (name, title, _))| {
            let mut loads: Vec<Load> = runs.iter().map(|round| round[index].2.clone()).collect();
            loads.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
            let worst = loads
                .iter()
                .max_by(|a, b| micros(&a.p99).total_cmp(&micros(&b.p99)))
                .map(|load| load.p99.clone())
                .unwrap_or_default();
            (*name, *title, loads[loads.len() / 2].clone(), worst)
        })
        .collect();

    println!(
        "wrk -t2 -c{connections} -d{seconds}s --latency, same machine, same run, \
         median of {rounds} round(s), every request answered 2xx\n"
    );
    println!(
        "| {:<46} | {:>10} | {:>8} | {:>8} | {:>9} |",
        "endpoint", "req/s", "p50", "p99", "worst p99"
    );
    println!(
        "|{:-<48}|{:->12}|{:->10}|{:->10}|{:->11}|",
        "", "", "", "", ""
    );
    for (_, title, load, worst) in &results {
        println!(
            "| {title:<46} | {:>10.0} | {:>8} | {:>8} | {worst:>9} |",
            load.requests_per_second, load.p50, load.p99
        );
    }
    let rate = |round: &[(&str, &str, Load)], name: &str| {
        round
            .iter()
            .find(|(load, ..)| *load == name)
            .map(|(.., load)| load.requests_per_second)
    };
    for name in ["me", "assets"] {
        let ratios: Vec<f64> = runs
            .iter()
            .filter_map(|round| Some(100.0 * rate(round, name)? / rate(round, "bare")?.max(1.0)))
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let each: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.1}")).collect();
        println!(
            "gateway / bare throughput, {name}: median {:.1}% (rounds: {})",
            median(ratios),
            each.join(", ")
        );
    }
    fleet.stop().await
}
