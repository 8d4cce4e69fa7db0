//! Reads at an MSSP's size, through the gateway: a partner with 50 customer organizations of
//! skewed sizes (customer k holds a share proportional to 1/(k+1)), their assets and findings
//! written through base's own paths (one run per asset, its job's report of up to 1,000
//! findings: the dedup upsert the workers use), some findings triaged through the gateway (history
//! events and audit entries), then every read the console and the API's users make, by 20
//! concurrent clients, p50 and p99 of each, at each size in turn (the data grows in place).
//!
//! cargo run --release -p s4e-e2e --bin scale-reads [-- SIZES CLIENTS REQUESTS]
//!
//! SIZES: total findings at each step, comma-separated (default `50000,500000`; add
//! `5000000` for the top size, about a quarter of an hour of writing on two cores).
//! CLIENTS: concurrent readers (20). REQUESTS: requests per read and step (400). Reads act in
//! the largest customer (as its partner, `X-Organization-Id`), which holds about a fifth of
//! all findings. The program runs `ANALYZE` every 250,000 findings written and after each
//! step, as autovacuum would (a PostgreSQL configured for tests may run without it). Needs the
//! infrastructure of scripts/lib.sh.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use reqwest::Method;
use s4e_client::BaseClient;
use s4e_e2e::Fleet;
use s4e_types::api::{FinishJob, NewScanJob, NewScanRun};
use s4e_types::{AssetKind, CheckKind, FindingDraft, JobStatus, NewAsset, OrgId, Severity};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CUSTOMERS: usize = 50;
/// Findings per asset: at 5,000,000 findings, 50,000 assets.
const FINDINGS_PER_ASSET: usize = 100;
/// Concurrent writers of reports into base.
const WRITERS: usize = 8;
/// Assets written between two lines of progress (250,000 findings).
const PROGRESS_EVERY: usize = 2_500;
/// Of each customer's first page of findings, every n-th is triaged (history and audit).
const TRIAGE_EVERY: usize = 10;

/// The rules findings are drawn from: (check, rule, severity).
const RULES: [(CheckKind, &str, Severity); 10] = [
    (CheckKind::HttpHeaders, "missing_csp", Severity::Medium),
    (CheckKind::HttpHeaders, "missing_hsts", Severity::Medium),
    (
        CheckKind::HttpHeaders,
        "missing_referrer_policy",
        Severity::Low,
    ),
    (
        CheckKind::HttpHeaders,
        "server_version_disclosure",
        Severity::Low,
    ),
    (CheckKind::HttpProbes, "trace_enabled", Severity::Low),
    (
        CheckKind::Exposure,
        "git_repository_exposed",
        Severity::High,
    ),
    (CheckKind::Exposure, "env_file_exposed", Severity::Critical),
    (
        CheckKind::TlsCertificate,
        "certificate_expiring",
        Severity::Medium,
    ),
    (CheckKind::Ports, "database_exposed", Severity::High),
    (CheckKind::Dns, "missing_caa", Severity::Info),
];

struct Settings {
    sizes: Vec<usize>,
    clients: usize,
    requests: usize,
}

fn settings() -> anyhow::Result<Settings> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: scale-reads [SIZES CLIENTS REQUESTS]";
    let sizes = match args.first() {
        Some(list) => list
            .split(',')
            .map(|size| size.parse::<usize>().map_err(|_| anyhow::anyhow!(usage)))
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => vec![50_000, 500_000],
    };
    anyhow::ensure!(sizes.windows(2).all(|w| w[0] < w[1]), "SIZES must grow");
    let number = |index: usize, default: usize| -> anyhow::Result<usize> {
        args.get(index)
            .map(|text| text.parse::<usize>().map_err(|_| anyhow::anyhow!(usage)))
            .transpose()
            .map(|value| value.unwrap_or(default).max(1))
    };
    Ok(Settings {
        sizes,
        clients: number(1, 20)?,
        requests: number(2, 400)?,
    })
}

/// Customer `k`'s share of everything: 1/(k+1), normalised.
fn shares() -> Vec<f64> {
    let weights: Vec<f64> = (0..CUSTOMERS).map(|k| 1.0 / (k as f64 + 1.0)).collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|weight| weight / total).collect()
}

/// The `index`th finding of asset `asset`: a rule of [`RULES`], its own location.
fn draft(asset: usize, index: usize) -> FindingDraft {
    let (check, rule, severity) = RULES[(asset + index) % RULES.len()];
    FindingDraft {
        check,
        rule: rule.into(),
        location: format!("https://a{asset}.example.com/p/{index}"),
        title: format!("{rule} on a{asset}"),
        severity,
        score: 5.0,
        cwe: Some(693),
        description: "Generated for the scale benchmark.".into(),
        remediation: "None needed.".into(),
        evidence: json!({"status": 200, "index": index}),
    }
}

/// Where each customer stands: its id and how many assets it has so far.
struct Customer {
    id: OrgId,
    assets: usize,
}

/// Adds assets (each with its run and one report of [`FINDINGS_PER_ASSET`] findings) until
/// the customers hold `total` findings between them, each its share. Returns the time taken.
async fn grow(
    base: &BaseClient,
    database: &sqlx::PgPool,
    customers: &mut [Customer],
    total: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut work = Vec::new();
    for (customer, share) in customers.iter_mut().zip(shares()) {
        let wanted = ((total as f64 * share) / FINDINGS_PER_ASSET as f64).ceil() as usize;
        for asset in customer.assets..wanted {
            work.push((customer.id, asset));
        }
        customer.assets = customer.assets.max(wanted);
    }
    let work = std::sync::Arc::new(std::sync::Mutex::new(work));
    // How the rate changes as the tables grow: a line per PROGRESS_EVERY assets written.
    let progress = std::sync::Arc::new(std::sync::Mutex::new((0usize, Instant::now())));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (base, work, progress, database) = (
            base.clone(),
            work.clone(),
            progress.clone(),
            database.clone(),
        );
        writers.push(tokio::spawn(async move {
            loop {
                let next = work.lock().expect("work list").pop();
                let Some((org, asset)) = next else {
                    return anyhow::Ok(());
                };
                write_asset(&base, org, asset).await?;
                let mark = {
                    let mut progress = progress.lock().expect("progress");
                    progress.0 += 1;
                    (progress.0 % PROGRESS_EVERY == 0).then(|| {
                        let rate = (PROGRESS_EVERY * FINDINGS_PER_ASSET) as f64
                            / progress.1.elapsed().as_secs_f64();
                        progress.1 = Instant::now();
                        (progress.0, rate)
                    })
                };
                if let Some((written, rate)) = mark {
                    eprintln!("  {written} more assets written: {rate:.0} findings/s");
                    // What autovacuum does in a deployment (a PostgreSQL configured for
                    // tests may run without it): statistics that follow the tables, so that
                    // plans made while they were small are made again.
                    sqlx::query("ANALYZE").execute(&database).await?;
                }
            }
        }));
    }
    for writer in writers {
        writer.await??;
    }
    Ok(started.elapsed())
}

async fn write_asset(base: &BaseClient, org: OrgId, index: usize) -> anyhow::Result<()> {
    let asset = base
        .create_asset(
            org,
            &NewAsset {
                kind: AssetKind::Url,
                value: format!("https://a{index}.example.com/"),
                name: None,
                tags: vec![format!("tier={}", index % 3)],
                criticality: Default::default(),
                owner: None,
            },
        )
        .await?;
    let run = base
        .create_run(
            org,
            &NewScanRun {
                asset_id: asset.id,
                profile: "custom".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: asset.value.clone(),
                    ports: None,
                }],
                scheduled: None,
                rule: None,
            },
        )
        .await?;
    let report = FinishJob {
        status: JobStatus::Completed,
        error: None,
        raw_output_id: None,
        findings: (0..FINDINGS_PER_ASSET)
            .map(|finding| draft(index, finding))
            .collect(),
        observed: Default::default(),
    };
    base.finish_job(org, run.jobs[0].id, &report).await?;
    Ok(())
}

/// The gateway as the partner sees it, acting in `customer` when one is named.
#[derive(Clone)]
struct Gateway {
    http: reqwest::Client,
    base_url: String,
    key: String,
}

impl Gateway {
    fn request(
        &self,
        method: Method,
        path: &str,
        customer: Option<OrgId>,
    ) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base_url))
            .bearer_auth(&self.key);
        match customer {
            Some(customer) => request.header("x-organization-id", customer.to_string()),
            None => request,
        }
    }

    async fn json(&self, path: &str, customer: Option<OrgId>) -> anyhow::Result<Value> {
        let response = self.request(Method::GET, path, customer).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }
}

/// Triages every [`TRIAGE_EVERY`]th finding of each customer's first page: history events
/// and audit entries through the gateway's own path.
async fn triage(gateway: &Gateway, customers: &[Customer]) -> anyhow::Result<usize> {
    let mut triaged = 0;
    for customer in customers {
        let page = gateway
            .json("/findings?limit=1000&sort=first_seen", Some(customer.id))
            .await?;
        let ids: Vec<&Value> = page["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .step_by(TRIAGE_EVERY)
                    .map(|f| &f["id"])
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            continue;
        }
        let response = gateway
            .request(Method::POST, "/findings/bulk-status", Some(customer.id))
            .json(&json!({"ids": ids, "status": "accepted_risk", "reason": "benchmark triage"}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "bulk triage: {}",
            response.status()
        );
        triaged += ids.len();
    }
    Ok(triaged)
}

/// One read of the table: a name and the request made for it.
struct Read {
    name: &'static str,
    path: String,
    customer: Option<OrgId>,
}

struct Measured {
    name: &'static str,
    p50: Duration,
    p99: Duration,
    failed: usize,
}

/// `requests` GETs of `read` by `clients` concurrent clients; every latency kept.
async fn measure(gateway: &Gateway, read: &Read, clients: usize, requests: usize) -> Measured {
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (gateway, path, customer) = (gateway.clone(), read.path.clone(), read.customer);
        let count = requests / clients + usize::from(client < requests % clients);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            let mut failed = 0;
            for _ in 0..count {
                let started = Instant::now();
                let outcome = gateway.request(Method::GET, &path, customer).send().await;
                match outcome {
                    Ok(response) if response.status().is_success() => {
                        // The whole body, as a client reads it.
                        if response.bytes().await.is_err() {
                            failed += 1;
                        }
                    }
                    _ => failed += 1,
                }
                latencies.push(started.elapsed());
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (mine, fails) = task.await.unwrap_or_default();
        latencies.extend(mine);
        failed += fails;
    }
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Measured {
        name: read.name,
        p50: at(0.50),
        p99: at(0.99),
        failed,
    }
}

/// The cursor of page `depth` of the largest customer's findings (default sort).
async fn deep_cursor(gateway: &Gateway, customer: OrgId, depth: usize) -> anyhow::Result<String> {
    let mut cursor: Option<String> = None;
    for _ in 0..depth {
        let path = match &cursor {
            Some(cursor) => format!("/findings?limit=100&cursor={cursor}"),
            None => "/findings?limit=100".into(),
        };
        let page = gateway.json(&path, Some(customer)).await?;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    cursor.ok_or_else(|| anyhow::anyhow!("the list has a single page"))
}

async fn reads(gateway: &Gateway, largest: OrgId) -> anyhow::Result<Vec<Read>> {
    let first = gateway.json("/findings?limit=1", Some(largest)).await?;
    let finding = first["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let asset = first["items"][0]["asset_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let cursor = deep_cursor(gateway, largest, 50).await?;
    let read = |name, path: String| Read {
        name,
        path,
        customer: Some(largest),
    };
    Ok(vec![
        read(
            "findings, default (most severe first)",
            "/findings?limit=100".into(),
        ),
        read(
            "findings, status=open",
            "/findings?limit=100&status=open".into(),
        ),
        read(
            "findings, the three open statuses",
            "/findings?limit=100&status=open,in_progress,reopened".into(),
        ),
        read(
            "findings, severity=high",
            "/findings?limit=100&severity=high".into(),
        ),
        read(
            "findings, min_severity=high",
            "/findings?limit=100&min_severity=high".into(),
        ),
        read(
            "findings, check=exposure",
            "/findings?limit=100&check=exposure".into(),
        ),
        read(
            "findings, rule=missing_csp",
            "/findings?limit=100&rule=missing_csp".into(),
        ),
        read(
            "findings, one asset",
            format!("/findings?limit=100&asset_id={asset}"),
        ),
        read(
            "findings, sort=last_seen",
            "/findings?limit=100&sort=last_seen".into(),
        ),
        read(
            "findings, sort=first_seen asc",
            "/findings?limit=100&sort=first_seen&order=asc".into(),
        ),
        read(
            "findings, status=accepted_risk",
            "/findings?limit=100&status=accepted_risk".into(),
        ),
        read(
            "findings, page 51 by cursor",
            format!("/findings?limit=100&cursor={cursor}"),
        ),
        read("finding with history", format!("/findings/{finding}")),
        read("assets, first page", "/assets?limit=100".into()),
        read("dashboard", "/dashboard".into()),
        read(
            "audit log, one action",
            "/audit-log?action=findings.bulk_update_status&limit=100".into(),
        ),
        Read {
            name: "partner portfolio (50 customers)",
            path: "/portfolio".into(),
            customer: None,
        },
    ])
}

/// The gateway's cap on one export (`MAX_EXPORT`): more answers 400.
const EXPORT_CAP: usize = 50_000;

/// One export as its client saw it, and what it cost the fleet's process in memory.
struct Exported {
    rows: usize,
    first_byte: Duration,
    total: Duration,
    /// The most this process's resident memory grew above where it was when the export
    /// began (the fleet runs in this process), sampled every 10 ms.
    rss_growth_mib: f64,
}

/// One export of the largest customer's findings of one rule, read as it streams: rows, time
/// to the first byte and to the last, and memory. The customer is the largest whose rule holds
/// no more than the export cap (each rule holds a tenth of a customer's findings): the largest
/// export the cap allows.
async fn export(gateway: &Gateway, customers: &[Customer]) -> anyhow::Result<Exported> {
    let customer = customers
        .iter()
        .find(|customer| customer.assets * FINDINGS_PER_ASSET / RULES.len() <= EXPORT_CAP)
        .context("no customer's rule fits in one export")?;
    let before = resident_kib()?;
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let done = done.clone();
        async move {
            let mut most = before;
            while !done.load(Ordering::Relaxed) {
                most = most.max(resident_kib().unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            most
        }
    });
    let started = Instant::now();
    let mut response = gateway
        .request(
            Method::GET,
            "/findings/export?format=csv&rule=missing_csp",
            Some(customer.id),
        )
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "export: {}",
        response.status()
    );
    let mut lines = 0;
    let mut first_byte = None;
    while let Some(chunk) = response.chunk().await? {
        first_byte.get_or_insert_with(|| started.elapsed());
        lines += chunk.iter().filter(|byte| **byte == b'\n').count();
    }
    let total = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let most = sampler.await?;
    Ok(Exported {
        rows: lines.saturating_sub(1),
        first_byte: first_byte.unwrap_or(total),
        total,
        rss_growth_mib: most.saturating_sub(before) as f64 / 1024.0,
    })
}

/// This process's resident memory in KiB (`VmRSS` of /proc/self/status).
fn resident_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .context("no VmRSS in /proc/self/status")?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = settings()?;
    let mut fleet = Fleet::start().await?;
    // Limits out of reach: a read that met one would be measuring 429s.
    fleet
        .restart_core(|config| {
            config.settings.rate_limit_per_key = u32::MAX / 16;
            config.settings.rate_limit_per_ip = u32::MAX;
        })
        .await?;
    let key = s4e_core::create_admin_key_with(
        &fleet.base.url(),
        &fleet.env.service_token,
        "Scale MSSP",
        true,
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let gateway = Gateway {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        base_url: fleet.core.url(),
        key,
    };
    let mut customers = Vec::new();
    for k in 0..CUSTOMERS {
        let response = gateway
            .request(Method::POST, "/customers", None)
            .json(&json!({"name": format!("Customer {k:02}")}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "customer: {}",
            response.status()
        );
        let customer: Value = response.json().await?;
        let id = customer["id"].as_str().unwrap_or_default().parse()?;
        customers.push(Customer {
            id: OrgId(id),
            assets: 0,
        });
    }
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token)?;
    let database = sqlx::PgPool::connect(&fleet.env.database_url).await?;
    let largest = customers[0].id;

    let mut tables = Vec::new();
    for &size in &settings.sizes {
        let wrote = grow(&base, &database, &mut customers, size).await?;
        sqlx::query("ANALYZE").execute(&database).await?;
        let assets: usize = customers.iter().map(|customer| customer.assets).sum();
        let triaged = triage(&gateway, &customers).await?;
        eprintln!(
            "{size} findings: {assets} assets written in {:.1} s ({:.0} findings/s), {triaged} triaged",
            wrote.as_secs_f64(),
            (assets * FINDINGS_PER_ASSET) as f64 / wrote.as_secs_f64()
        );
        let mut rows = Vec::new();
        for read in reads(&gateway, largest).await? {
            rows.push(measure(&gateway, &read, settings.clients, settings.requests).await);
        }
        let exported = export(&gateway, &customers).await?;
        tables.push((size, assets, rows, exported));
    }

    println!(
        "\n{} clients, {} requests per read and size; reads in the largest customer (share {:.0} %)\n",
        settings.clients,
        settings.requests,
        shares()[0] * 100.0
    );
    print!("{:<40}", "read");
    for (size, ..) in &tables {
        print!(" {:>20}", format!("{size} p50/p99 ms"));
    }
    println!();
    let names: Vec<&str> = tables[0].2.iter().map(|row| row.name).collect();
    for (index, name) in names.iter().enumerate() {
        print!("{name:<40}");
        for (_, _, rows, _) in &tables {
            let row = &rows[index];
            let cell = format!(
                "{:.1} / {:.1}{}",
                row.p50.as_secs_f64() * 1e3,
                row.p99.as_secs_f64() * 1e3,
                if row.failed > 0 { " !" } else { "" }
            );
            print!(" {cell:>20}");
        }
        println!();
    }
    type Cell = fn(&Exported) -> String;
    let export_rows: [(&str, Cell); 3] = [
        ("export, one rule, CSV (rows in s)", |export| {
            format!("{} in {:.2}", export.rows, export.total.as_secs_f64())
        }),
        ("export: first byte (ms)", |export| {
            format!("{:.1}", export.first_byte.as_secs_f64() * 1e3)
        }),
        ("export: memory growth (MiB)", |export| {
            format!("{:.1}", export.rss_growth_mib)
        }),
    ];
    for (name, cell) in export_rows {
        print!("{name:<40}");
        for (_, _, _, export) in &tables {
            print!(" {:>20}", cell(export));
        }
        println!();
    }
    let failed: usize = tables
        .iter()
        .flat_map(|(_, _, rows, _)| rows.iter().map(|row| row.failed))
        .sum();
    println!("\nfailed requests: {failed} (a ! marks the reads that had some)");
    if std::env::var_os("S4E_SCALE_KEEP").is_some() {
        eprintln!("kept database {}", fleet.env.database_name);
        std::process::exit(0);
    }
    fleet.stop().await?;
    Ok(())
}
