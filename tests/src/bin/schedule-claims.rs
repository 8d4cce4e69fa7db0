//! Recurring scans at scale: SCHEDULES schedules (default 20,000; the figure is
//! 100,000), spread over 100 organizations, all due at the same minute — the worst moment of a
//! day — handled by two scheduler replicas at once. Measured: the wall time and the claim cost
//! per due schedule, and each schedule's drift (from the moment its time came to the moment
//! its outcome was stored), p50 and p99. All due times fall in a skip window, so what is
//! measured is the scheduler's own work (claim, decide, record); a second, smaller round
//! starts real scans (refused by base, their asset archived: the scan-start round trip without
//! the scans).
//!
//! cargo run --release -p s4e-e2e --bin schedule-claims [-- SCHEDULES]
//!
//! Needs the infrastructure of scripts/lib.sh (PostgreSQL, RabbitMQ, Redis, MongoDB).

use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use s4e_client::{BaseClient, ScanClient};
use s4e_e2e::Fleet;
use s4e_scheduler::schedules::Scheduler;
use s4e_types::{NewAsset, NewSchedule, OrgId, SkipWindow};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ORGANIZATIONS: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn scheduler(fleet: &Fleet) -> anyhow::Result<Scheduler> {
    let token = &fleet.env.service_token;
    Ok(Scheduler {
        base: BaseClient::new(&fleet.base.url(), token)?,
        scan: ScanClient::new(&fleet.scan.url(), token)?,
        metrics: s4e_runtime::Metrics::new(),
        lease: Duration::from_secs(120),
    })
}

/// Creates `count` schedules over the organizations, all due at the same minute; returns it.
async fn fill(
    base: &BaseClient,
    orgs: &[(OrgId, s4e_types::AssetId)],
    count: usize,
    cron: &str,
    windows: &[SkipWindow],
) -> anyhow::Result<DateTime<Utc>> {
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = count.div_ceil(16);
    for task in 0..16 {
        let (base, orgs, cron, windows) = (
            base.clone(),
            orgs.to_vec(),
            cron.to_string(),
            windows.to_vec(),
        );
        tasks.spawn(async move {
            let mut due = None;
            for index in task * per_task..((task + 1) * per_task).min(count) {
                let (org_id, asset_id) = orgs[index % orgs.len()];
                let schedule = base
                    .create_schedule(
                        org_id,
                        &NewSchedule {
                            asset_id: Some(asset_id),
                            tag: None,
                            name: None,
                            cron: cron.clone(),
                            timezone: "UTC".into(),
                            profile: None,
                            checks: None,
                            skip_windows: windows.clone(),
                            catch_up: Default::default(),
                            allow_overlap: true,
                            paused: false,
                        },
                    )
                    .await?;
                due = schedule.next_run_at;
            }
            anyhow::Ok(due)
        });
    }
    let mut due = None;
    while let Some(result) = tasks.join_next().await {
        due = due.or(result??);
    }
    due.ok_or_else(|| anyhow::anyhow!("no schedule made"))
}

/// Both replicas pass at `due`; the wall time, and how many each claimed.
async fn pass_twice(
    a: &Scheduler,
    b: &Scheduler,
    due: DateTime<Utc>,
) -> anyhow::Result<(Duration, usize, usize)> {
    let started = Instant::now();
    let (first, second) = tokio::join!(a.pass(due), b.pass(due));
    Ok((started.elapsed(), first?, second?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|arg| arg.parse())
        .transpose()?
        .unwrap_or(20_000);
    let fleet = Fleet::start().await?;
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token)?;
    let mut orgs = Vec::new();
    for index in 0..ORGANIZATIONS {
        let org = base
            .create_organization(&format!("customer {index}"))
            .await?;
        let asset = base
            .create_asset(
                org.id,
                &NewAsset {
                    kind: s4e_types::AssetKind::Domain,
                    value: format!("c{index}.example.com"),
                    name: None,
                    tags: Vec::new(),
                    criticality: Default::default(),
                    owner: None,
                },
            )
            .await?;
        orgs.push((org.id, asset.id));
    }
    // Every schedule due at the same minute, inside a window that covers it.
    let minute = (Utc::now().minute() + 3) % 60;
    let cron = format!("{minute} * * * *");
    let window = SkipWindow {
        cron: format!("{minute} * * * *"),
        minutes: 1,
    };
    let filling = Instant::now();
    let due = fill(&base, &orgs, count, &cron, std::slice::from_ref(&window)).await?;
    println!(
        "{count} schedules in {ORGANIZATIONS} organizations made through base in {:.1} s",
        filling.elapsed().as_secs_f64()
    );

    let (a, b) = (scheduler(&fleet)?, scheduler(&fleet)?);
    let wall_start = Utc::now();
    let (elapsed, first, second) = pass_twice(&a, &b, due).await?;
    // Drift: from the pass's start to the schedule's outcome stored (base's clock, same host).
    let mut drifts = Vec::with_capacity(count);
    for (org_id, _) in &orgs {
        for schedule in base.list_schedules(*org_id).await? {
            anyhow::ensure!(
                schedule.last_outcome == Some(s4e_types::ScheduleOutcome::SkippedWindow),
                "{schedule:?}"
            );
            drifts.push(
                (schedule.updated_at - wall_start)
                    .to_std()
                    .unwrap_or_default(),
            );
        }
    }
    drifts.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "\n| {:<46} | {:>9} | {:>9} | {:>14} | {:>9} | {:>9} |",
        "round", "schedules", "wall s", "per schedule", "drift p50", "drift p99"
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|",
        "-".repeat(48),
        "-".repeat(11),
        "-".repeat(11),
        "-".repeat(16),
        "-".repeat(11),
        "-".repeat(11)
    );
    println!(
        "| {:<46} | {:>9} | {:>9.2} | {:>11.3} ms | {:>6.0} ms | {:>6.0} ms |",
        "two replicas, all due at once (skip window)",
        first + second,
        elapsed.as_secs_f64(),
        ms(elapsed) / (first + second) as f64,
        ms(percentile(&drifts, 50.0)),
        ms(percentile(&drifts, 99.0)),
    );
    println!(
        "  (replica one claimed {first}, replica two {second}; each schedule once: {})",
        first + second == count
    );

    // A smaller round that starts scans: each start is refused by base (the asset archived
    // after the schedules were made), so the round trip is measured without the scans.
    let starts = (count / 10).clamp(100, 1000);
    let org = base.create_organization("starts").await?;
    let asset = base
        .create_asset(
            org.id,
            &NewAsset {
                kind: s4e_types::AssetKind::Domain,
                value: "starts.example.com".into(),
                name: None,
                tags: Vec::new(),
                criticality: Default::default(),
                owner: None,
            },
        )
        .await?;
    let minute = (minute + 2) % 60;
    let due = fill(
        &base,
        &[(org.id, asset.id)],
        starts,
        &format!("{minute} * * * *"),
        &[],
    )
    .await?;
    base.archive_asset(org.id, asset.id).await?;
    let (elapsed, first, second) = pass_twice(&a, &b, due).await?;
    println!(
        "| {:<46} | {:>9} | {:>9.2} | {:>11.3} ms | {:>9} | {:>9} |",
        "two replicas, each starting a scan (refused)",
        first + second,
        elapsed.as_secs_f64(),
        ms(elapsed) / (first + second).max(1) as f64,
        "-",
        "-",
    );
    fleet.stop().await?;
    Ok(())
}
