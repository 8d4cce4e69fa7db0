//! Findings written through base's own bulk path beside `COPY` of the same rows into the same
//! table with psql, in one run against one PostgreSQL.
//!
//! cargo run --release -p s4e-e2e --bin findings-write [-- FINDINGS PER_JOB WORKERS]
//!
//! Base (in this process, as a worker meets it): `WORKERS` (default 4) concurrent workers,
//! each ending the jobs of a run of its own with `POST …/jobs/{id}/finish`, `PER_JOB` (1,000)
//! findings a report, `FINDINGS` (50,000) in all: deduplicated by fingerprint (`UNNEST` upsert),
//! each occurrence recorded, the run advanced, in the report's transaction. Then the same
//! reports again in new runs (every finding seen again: updated, not inserted). Then psql's
//! `\copy findings (…) FROM STDIN (FORMAT csv)` of as many rows for another organization:
//! no deduplication, no occurrences, no run. The counts are checked after each step.
//! Needs PostgreSQL (scripts/lib.sh starts it) and psql.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use s4e_base::Config;
use s4e_client::BaseClient;
use s4e_runtime::{CommonConfig, Service, ServiceToken};
use s4e_test_support::{TestEnv, listener, wait_for};
use s4e_types::api::{FinishJob, NewScanJob, NewScanRun};
use s4e_types::{AssetKind, CheckKind, FindingDraft, JobStatus, NewAsset, OrgId, Severity};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn args() -> anyhow::Result<(usize, usize, usize)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: usize| -> anyhow::Result<usize> {
        args.get(index)
            .map(|text| text.parse::<usize>())
            .transpose()
            .map(|value| value.unwrap_or(default).max(1))
            .map_err(|_| anyhow::anyhow!("usage: findings-write [FINDINGS PER_JOB WORKERS]"))
    };
    Ok((number(0, 50_000)?, number(1, 1_000)?, number(2, 4)?))
}

/// The `index`th finding of a report: as a headers check writes them, each its own location.
fn draft(index: usize) -> FindingDraft {
    FindingDraft {
        check: CheckKind::HttpHeaders,
        rule: "missing_csp".into(),
        location: format!("https://shop.example.com/page/{index}"),
        title: "Content-Security-Policy header missing".into(),
        severity: Severity::Medium,
        score: 5.3,
        cwe: Some(693),
        description: "The response carries no Content-Security-Policy header.".into(),
        remediation: "Send a Content-Security-Policy that lists the page's sources.".into(),
        evidence: serde_json::json!({"status": 200, "headers": {"content-type": "text/html"}}),
    }
}

struct Counts {
    findings: i64,
    occurrences: i64,
}

fn psql(database_url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .args([database_url, "-At", "-c", sql])
        .output()
        .map_err(|error| {
            anyhow::anyhow!(
                "cannot run psql ({error}); on Debian: apt-get install -y postgresql-client"
            )
        })?;
    anyhow::ensure!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?.trim().to_string())
}

fn counts(database_url: &str, org: OrgId) -> anyhow::Result<Counts> {
    let findings = psql(
        database_url,
        &format!("SELECT count(*) FROM findings WHERE org_id = '{org}'"),
    )?;
    let occurrences = psql(
        database_url,
        &format!("SELECT count(*) FROM finding_occurrences WHERE org_id = '{org}'"),
    )?;
    Ok(Counts {
        findings: findings.parse()?,
        occurrences: occurrences.parse()?,
    })
}

/// One scan's reports through base: `workers` runs, one per asset (a run that completes fixes
/// what it did not see on its asset), each with its share of the jobs, ended concurrently.
async fn through_base(
    client: &BaseClient,
    org: OrgId,
    assets: &[s4e_types::AssetId],
    findings: usize,
    per_job: usize,
    workers: usize,
) -> anyhow::Result<Duration> {
    let jobs = findings.div_ceil(per_job);
    let mut runs = Vec::new();
    for (worker, asset) in assets.iter().enumerate().take(workers) {
        let share = jobs / workers + usize::from(worker < jobs % workers);
        let run = NewScanRun {
            asset_id: *asset,
            profile: "custom".into(),
            jobs: (0..share)
                .map(|_| NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: "https://shop.example.com/".into(),
                    ports: None,
                })
                .collect(),
            scheduled: None,
            rule: None,
        };
        runs.push(client.create_run(org, &run).await?);
    }
    let started = Instant::now();
    let mut next_job = 0usize;
    let mut tasks = Vec::new();
    for run in runs {
        let first = next_job;
        next_job += run.jobs.len();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for (offset, job) in run.jobs.iter().enumerate() {
                let from = (first + offset) * per_job;
                let to = (from + per_job).min(findings);
                let report = FinishJob {
                    status: JobStatus::Completed,
                    error: None,
                    raw_output_id: None,
                    findings: (from..to).map(draft).collect(),
                    observed: Default::default(),
                };
                client.finish_job(org, job.id, &report).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (findings, per_job, workers) = args()?;
    let env = TestEnv::new().await?;
    let config = Config {
        common: CommonConfig::new(
            ServiceToken::new(&env.service_token).map_err(anyhow::Error::msg)?,
            &env.namespace,
        ),
        database_url: env.database_url.clone(),
        database_max_connections: 10,
        migrate_on_start: true,
    };
    let base = config.spawn(listener().await)?;
    let client = BaseClient::new(&base.url(), &env.service_token)?;
    wait_for("base ready", Duration::from_secs(30), || async {
        client.ready().await.ok()
    })
    .await?;
    let asset_of = |org: OrgId, index: usize| {
        let client = client.clone();
        async move {
            let asset = NewAsset {
                kind: AssetKind::Url,
                value: format!("https://shop{index}.example.com/"),
                name: None,
                tags: Vec::new(),
                criticality: Default::default(),
                owner: None,
            };
            anyhow::Ok(client.create_asset(org, &asset).await?)
        }
    };
    let org = client.create_organization("writes").await?.id;
    let mut assets = Vec::new();
    for index in 0..workers {
        assets.push(asset_of(org, index).await?.id);
    }
    println!(
        "{findings} findings, {per_job} a report, {workers} workers; database {}",
        env.namespace
    );

    let first = through_base(&client, org, &assets, findings, per_job, workers).await?;
    let after_first = counts(&env.database_url, org)?;
    let again = through_base(&client, org, &assets, findings, per_job, workers).await?;
    let after_again = counts(&env.database_url, org)?;

    // COPY: the same columns base writes, for another organization's asset.
    let other = client.create_organization("copied").await?.id;
    let other_asset = asset_of(other, 0).await?;
    let run_id = s4e_types::RunId::new();
    let mut csv = Vec::with_capacity(findings * 400);
    for index in 0..findings {
        let draft = draft(index);
        let fingerprint = format!("{:064x}", index);
        let evidence = draft.evidence.to_string().replace('"', "\"\"");
        writeln!(
            csv,
            "{},{other},{},{fingerprint},{},{},{},{},{},{},{},{},{},\"{evidence}\",,{run_id},1",
            uuid::Uuid::now_v7(),
            other_asset.id,
            draft.check.as_str(),
            draft.rule,
            draft.location,
            draft.title,
            draft.severity.as_str(),
            draft.score,
            draft.cwe.unwrap_or_default(),
            draft.description,
            draft.remediation,
        )?;
    }
    let started = Instant::now();
    let mut copy = Command::new("psql")
        .args([
            env.database_url.as_str(),
            "-c",
            "\\copy findings (id, org_id, asset_id, fingerprint, check_kind, rule, location, \
             title, severity, score, cwe, description, remediation, evidence, raw_output_id, \
             last_run_id, occurrences) FROM STDIN (FORMAT csv)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    copy.stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("psql has no stdin"))?
        .write_all(&csv)?;
    anyhow::ensure!(copy.wait()?.success(), "psql \\copy failed");
    let copied = started.elapsed();
    let after_copy = counts(&env.database_url, other)?;

    println!();
    println!(
        "{:<44} {:>9} {:>10} {:>11} {:>12}",
        "path", "time (s)", "rows/s", "findings", "occurrences"
    );
    let rate = |elapsed: Duration| findings as f64 / elapsed.as_secs_f64();
    for (name, elapsed, counted) in [
        (
            "base, new findings (upsert + occurrences)",
            first,
            &after_first,
        ),
        ("base, the same findings again", again, &after_again),
        ("psql \\copy, plain rows", copied, &after_copy),
    ] {
        println!(
            "{:<44} {:>9.3} {:>10.0} {:>11} {:>12}",
            name,
            elapsed.as_secs_f64(),
            rate(elapsed),
            counted.findings,
            counted.occurrences
        );
    }
    println!(
        "\nbase's new findings at {:.0} % of COPY's rate; seen again at {:.0} %",
        100.0 * rate(first) / rate(copied),
        100.0 * rate(again) / rate(copied)
    );
    let n = findings as i64;
    anyhow::ensure!(
        after_first.findings == n && after_first.occurrences == n,
        "after the first scan: {} findings, {} occurrences (want {n} each)",
        after_first.findings,
        after_first.occurrences
    );
    anyhow::ensure!(
        after_again.findings == n && after_again.occurrences == 2 * n,
        "after the second scan: {} findings, {} occurrences (want {n} and {})",
        after_again.findings,
        after_again.occurrences,
        2 * n
    );
    base.stop()
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    env.cleanup().await?;
    Ok(())
}
