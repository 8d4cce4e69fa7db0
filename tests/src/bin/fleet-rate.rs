//! How many light scans per second the whole fleet sustains against 500 local targets, and the
//! CPU time each process spends per scan, so the cost of every hop is visible: the gateway, the
//! scan service, the dispatcher's router and its worker, base, and the infrastructure under
//! them. Beside it, in the same run, the physical limit: the same GETs of the same targets from
//! this process alone.
//!
//! cargo run --release -p s4e-e2e --bin fleet-rate [-- TARGETS SCANS SUBMITTERS]
//!
//! Every service is its own process (this program started again in the service's role, with
//! the deployed defaults), the dispatcher as two replicas: one `router`, one `worker`. CPU time
//! is read from /proc before and after the measured scans (user + system, every thread).
//! Needs the infrastructure of scripts/lib.sh (PostgreSQL, RabbitMQ, Redis, MongoDB).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt, stream};
use s4e_e2e::Target;
use s4e_test_support::{TestEnv, start_service_binary, wait_for};
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROLE: &str = "S4E_BENCH_ROLE";

/// Runs the service named by `role` in this process, as its binary would.
fn serve(role: &str) -> ExitCode {
    let result = match role {
        "base" => s4e_runtime::main::<s4e_base::Config>(),
        "scan" => s4e_runtime::main::<s4e_scan::Config>(),
        "core" => s4e_runtime::main::<s4e_core::Config>(),
        "dispatcher" => s4e_runtime::main::<s4e_dispatcher::Config>(),
        "crawler" => s4e_runtime::main::<s4e_crawler::Config>(),
        "scheduler" => s4e_runtime::main::<s4e_scheduler::Config>(),
        "trigger" => s4e_runtime::main::<s4e_trigger::Config>(),
        other => {
            eprintln!("fleet-rate: unknown role {other}");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn main() -> ExitCode {
    if let Ok(role) = std::env::var(ROLE) {
        return serve(&role);
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    match runtime.block_on(bench()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fleet-rate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    targets: usize,
    scans: usize,
    submitters: usize,
}

fn args() -> anyhow::Result<Args> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: usize| -> anyhow::Result<usize> {
        args.get(index)
            .map(|text| text.parse::<usize>())
            .transpose()
            .map(|value| value.unwrap_or(default).max(1))
            .context("usage: fleet-rate [TARGETS SCANS SUBMITTERS]")
    };
    Ok(Args {
        targets: number(0, 500)?,
        scans: number(1, 2_000)?,
        submitters: number(2, 32)?,
    })
}

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU time of a process, in clock ticks, with its command name.
fn cpu_ticks(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_string();
    // After the name: state, ppid, …; utime and stime are the 14th and 15th fields.
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// The infrastructure's processes by command name (every PostgreSQL backend, RabbitMQ's
/// Erlang VM, Redis, the MongoDB-protocol server), as rows of the table.
const INFRASTRUCTURE: [(&str, &str); 4] = [
    ("postgres", "PostgreSQL (all processes)"),
    ("beam.smp", "RabbitMQ"),
    ("redis-server", "Redis"),
    ("nx-27017", "MongoDB-protocol server"),
];

fn infrastructure_ticks() -> Vec<u64> {
    let mut ticks = vec![0; INFRASTRUCTURE.len()];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return ticks;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some((name, spent)) = cpu_ticks(pid)
            && let Some(index) = INFRASTRUCTURE.iter().position(|(comm, _)| *comm == name)
        {
            ticks[index] += spent;
        }
    }
    ticks
}

/// CPU ticks of every row: the services, the infrastructure, this process.
fn snapshot(services: &[(&'static str, u32)]) -> Vec<u64> {
    let mut ticks: Vec<u64> = services
        .iter()
        .map(|(_, pid)| cpu_ticks(*pid).map_or(0, |(_, spent)| spent))
        .collect();
    ticks.extend(infrastructure_ticks());
    ticks.push(cpu_ticks(std::process::id()).map_or(0, |(_, spent)| spent));
    ticks
}

struct Outcome {
    completed: i64,
    failed: i64,
    /// First POST sent to the last run finished, by the database's clock.
    wall: Duration,
    p50: Duration,
    p95: Duration,
}

/// Sends `scans` light scans, `submitters` at a time, round-robin over `assets`, and waits
/// until every run has ended.
async fn fleet_scans(
    http: &reqwest::Client,
    gateway: &str,
    key: &str,
    database: &sqlx::PgPool,
    assets: &[String],
    scans: usize,
    submitters: usize,
) -> anyhow::Result<Outcome> {
    let since: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(database)
        .await?;
    let url = format!("{gateway}/api/v1/scans");
    stream::iter(0..scans)
        .map(|index| {
            let request = http
                .post(&url)
                .bearer_auth(key)
                .json(&json!({"asset_id": assets[index % assets.len()], "profile": "light"}));
            async move {
                let response = request.send().await?;
                anyhow::ensure!(
                    response.status() == 202,
                    "start scan: {}",
                    response.status()
                );
                anyhow::Ok(())
            }
        })
        .buffer_unordered(submitters)
        .try_collect::<()>()
        .await?;
    let (completed, failed) = wait_for("every run to end", Duration::from_secs(1800), || async {
        let (completed, failed): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'completed'),
                        count(*) FILTER (WHERE status = 'failed')
                 FROM scan_runs WHERE created_at >= $1",
        )
        .bind(since)
        .fetch_one(database)
        .await
        .ok()?;
        (completed + failed >= scans as i64).then_some((completed, failed))
    })
    .await?;
    let (wall, p50, p95): (f64, f64, f64) = sqlx::query_as(
        "SELECT extract(epoch FROM max(finished_at) - $1)::float8,
                extract(epoch FROM percentile_cont(0.5)
                    WITHIN GROUP (ORDER BY finished_at - created_at))::float8,
                extract(epoch FROM percentile_cont(0.95)
                    WITHIN GROUP (ORDER BY finished_at - created_at))::float8
         FROM scan_runs WHERE created_at >= $1",
    )
    .bind(since)
    .fetch_one(database)
    .await?;
    Ok(Outcome {
        completed,
        failed,
        wall: Duration::from_secs_f64(wall),
        p50: Duration::from_secs_f64(p50),
        p95: Duration::from_secs_f64(p95),
    })
}

/// The same GETs from this process alone, `concurrency` at a time: what one job's fetch costs
/// without the platform around it.
async fn bare_gets(urls: &[String], count: usize, concurrency: usize) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    stream::iter(0..count)
        .map(|index| {
            let request = http.get(&urls[index % urls.len()]);
            async move {
                let response = request.send().await?;
                anyhow::ensure!(response.status().is_success(), "{}", response.status());
                response.bytes().await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed())
}

async fn bench() -> anyhow::Result<()> {
    let args = args()?;
    let env = TestEnv::new().await?;
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().context("the program's path is not UTF-8")?;
    let role = |name: &str| (ROLE, name.to_string());

    // Each service with the deployed defaults, but for what a local benchmark needs: loopback
    // targets, no ownership proof, rate limits out of reach.
    let (base, base_url) = start_service_binary(
        exe,
        &env,
        &[
            role("base"),
            ("S4E_DATABASE_URL", env.database_url.clone()),
            ("S4E_MIGRATE_ON_START", "true".into()),
        ],
    )
    .await?;
    let egress = ("S4E_EGRESS_ALLOW_PRIVATE", "true".to_string());
    let (scan, scan_url) = start_service_binary(
        exe,
        &env,
        &[
            role("scan"),
            ("S4E_BASE_URL", base_url.clone()),
            ("S4E_REQUIRE_OWNERSHIP_VERIFICATION", "false".into()),
            egress.clone(),
        ],
    )
    .await?;
    let dispatcher = |dispatcher_role: &str| {
        vec![
            role("dispatcher"),
            ("S4E_DISPATCHER_ROLE", dispatcher_role.to_string()),
            ("S4E_BASE_URL", base_url.clone()),
            egress.clone(),
        ]
    };
    let (router, _) = start_service_binary(exe, &env, &dispatcher("router")).await?;
    let (worker, worker_url) = start_service_binary(exe, &env, &dispatcher("worker")).await?;
    let (trigger, trigger_url) = start_service_binary(
        exe,
        &env,
        &[
            role("trigger"),
            ("S4E_BASE_URL", base_url.clone()),
            ("S4E_SCAN_URL", scan_url.clone()),
            egress.clone(),
        ],
    )
    .await?;
    let (crawler, crawler_url) = start_service_binary(
        exe,
        &env,
        &[
            role("crawler"),
            ("S4E_BASE_URL", base_url.clone()),
            egress.clone(),
        ],
    )
    .await?;
    let (core, gateway) = start_service_binary(
        exe,
        &env,
        &[
            role("core"),
            ("S4E_BASE_URL", base_url.clone()),
            ("S4E_SCAN_URL", scan_url.clone()),
            ("S4E_DISPATCHER_URL", worker_url),
            ("S4E_TRIGGER_URL", trigger_url),
            ("S4E_CRAWLER_URL", crawler_url),
            ("S4E_RATE_LIMIT_PER_KEY", "1000000".into()),
            ("S4E_RATE_LIMIT_PER_IP", "1000000".into()),
        ],
    )
    .await?;
    let (scheduler, _) = start_service_binary(
        exe,
        &env,
        &[
            role("scheduler"),
            ("S4E_BASE_URL", base_url.clone()),
            ("S4E_SCAN_URL", scan_url),
        ],
    )
    .await?;
    let pid = |child: &tokio::process::Child| child.id().context("a service exited early");
    let services = [
        ("s4e-core (gateway)", pid(&core)?),
        ("s4e-scan", pid(&scan)?),
        ("s4e-dispatcher, router", pid(&router)?),
        ("s4e-dispatcher, worker", pid(&worker)?),
        ("s4e-base", pid(&base)?),
        ("s4e-trigger", pid(&trigger)?),
        ("s4e-crawler", pid(&crawler)?),
        ("s4e-scheduler", pid(&scheduler)?),
    ];

    let key = s4e_core::create_admin_key(&base_url, &env.service_token, "fleet-rate")
        .await
        .map_err(|error| anyhow::anyhow!(error))?;
    let database = sqlx::PgPool::connect(&env.database_url).await?;
    let http = reqwest::Client::new();
    let mut targets = Vec::with_capacity(args.targets);
    let mut assets = Vec::with_capacity(args.targets);
    for _ in 0..args.targets {
        let target = Target::demo(false).await;
        let response = http
            .post(format!("{gateway}/api/v1/assets"))
            .bearer_auth(&key)
            .json(&json!({"kind": "url", "value": target.url}))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "asset: {}", response.status());
        let asset: serde_json::Value = response.json().await?;
        assets.push(asset["id"].as_str().context("asset id")?.to_string());
        targets.push(target);
    }
    let urls: Vec<String> = targets.iter().map(|target| target.url.clone()).collect();

    // Warm-up, not counted: connections, queues, the workers' first jobs.
    fleet_scans(&http, &gateway, &key, &database, &assets, 50, 8).await?;

    let before = snapshot(&services);
    let outcome = fleet_scans(
        &http,
        &gateway,
        &key,
        &database,
        &assets,
        args.scans,
        args.submitters,
    )
    .await?;
    let after = snapshot(&services);
    let bare_before = snapshot(&services);
    let bare_wall = bare_gets(&urls, args.scans, args.submitters).await?;
    let bare_after = snapshot(&services);

    let ticks = clock_ticks();
    let ms_per = |spent: u64, count: usize| spent as f64 * 1000.0 / ticks / count as f64;
    let spent: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let total: u64 = spent.iter().sum();
    let own = *bare_after.last().unwrap_or(&0) - *bare_before.last().unwrap_or(&0);

    println!(
        "{} light scans (one http_headers job each) of {} local demo shops, {} sent at a time \
         through the gateway; {} completed, {} failed\n",
        args.scans, args.targets, args.submitters, outcome.completed, outcome.failed
    );
    println!(
        "| {:<44} | {:>6} | {:>8} | {:>8} | {:>12} | {:>8} | {:>8} |",
        "what", "count", "wall (s)", "per s", "CPU ms each", "p50 ms", "p95 ms"
    );
    println!(
        "|{:-<46}|{:->8}|{:->10}|{:->10}|{:->14}|{:->10}|{:->10}|",
        "", "", "", "", "", "", ""
    );
    let secs = outcome.wall.as_secs_f64();
    println!(
        "| {:<44} | {:>6} | {:>8.2} | {:>8.0} | {:>12.2} | {:>8.1} | {:>8.1} |",
        "fleet: POST /scans {profile: light} -> ended",
        args.scans,
        secs,
        args.scans as f64 / secs,
        ms_per(total, args.scans),
        outcome.p50.as_secs_f64() * 1000.0,
        outcome.p95.as_secs_f64() * 1000.0,
    );
    let bare_secs = bare_wall.as_secs_f64();
    println!(
        "| {:<44} | {:>6} | {:>8.2} | {:>8.0} | {:>12.2} | {:>8} | {:>8} |",
        "bare: the same GETs from one process",
        args.scans,
        bare_secs,
        args.scans as f64 / bare_secs,
        ms_per(own, args.scans),
        "-",
        "-",
    );

    println!("\nCPU time per scan in each process (user + system):\n");
    println!(
        "| {:<44} | {:>10} | {:>6} |",
        "process", "ms / scan", "share"
    );
    println!("|{:-<46}|{:->12}|{:->8}|", "", "", "");
    let names = services
        .iter()
        .map(|(name, _)| *name)
        .chain(INFRASTRUCTURE.iter().map(|(_, label)| *label))
        .chain(["targets + submitters (this program)"]);
    for (name, spent) in names.zip(&spent) {
        println!(
            "| {name:<44} | {:>10.3} | {:>5.1}% |",
            ms_per(*spent, args.scans),
            *spent as f64 * 100.0 / total.max(1) as f64
        );
    }
    println!(
        "| {:<44} | {:>10.3} | {:>5.1}% |",
        "total",
        ms_per(total, args.scans),
        100.0
    );

    drop(targets);
    database.close().await;
    for mut child in [
        core, scheduler, trigger, crawler, scan, router, worker, base,
    ] {
        let _ = child.kill().await;
    }
    env.cleanup().await
}
