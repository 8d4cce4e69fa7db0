//! `s4e scans`: start (and wait for), list, show, cancel and watch scans. Waiting follows the
//! run's event stream (Server-Sent Events) with a progress bar on standard error, then lists
//! the run's findings; `--fail-on` turns open findings at or above a severity into exit 3.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Continue, id_of, items};
use crate::Context;
use crate::cli::{ScansCommand, Severity};
use crate::client::Api;
use crate::error::{CliError, exit};
use crate::output::Output;

const COLUMNS: &[&str] = &[
    "id",
    "asset_id",
    "profile",
    "status",
    "jobs_total",
    "findings_count",
    "created_at",
];
const FIELDS: &[&str] = &[
    "id",
    "asset_id",
    "profile",
    "status",
    "jobs_total",
    "jobs_completed",
    "jobs_failed",
    "findings_count",
    "error",
    "created_at",
    "finished_at",
];

pub async fn run(
    command: ScansCommand,
    api: &Api,
    context: &Context,
    output: &mut Output<'_>,
    err: &mut dyn Write,
) -> Result<i32, CliError> {
    match command {
        ScansCommand::Start {
            asset_id,
            scan_profile,
            checks,
            wait,
            fail_on,
        } => {
            let mut body = json!({"asset_id": asset_id});
            if let Some(profile) = scan_profile {
                body["profile"] = json!(profile);
            }
            if !checks.is_empty() {
                body["checks"] = json!(checks);
            }
            let run = api.call(Method::POST, "/scans", Some(&body)).await?;
            if !wait {
                output.object(&run, FIELDS)?;
                return Ok(exit::OK);
            }
            writeln!(err, "scan {} started", id_of(&run))?;
            follow(api, &id_of(&run), context, output, err, fail_on).await
        }
        ScansCommand::List {
            asset_id,
            status,
            page,
        } => {
            let query = [("asset_id", asset_id), ("status", status)]
                .into_iter()
                .filter_map(|(key, value)| value.map(|value| (key, value)))
                .collect();
            let runs = items(api, "/scans", query, Continue::Before, &page, 500).await?;
            output.list(&runs, COLUMNS)?;
            Ok(exit::OK)
        }
        ScansCommand::Show { id } => {
            let view = api.get(&format!("/scans/{id}"), &[]).await?;
            output.object(&view, FIELDS)?;
            Ok(exit::OK)
        }
        ScansCommand::Cancel { id } => {
            let run = api
                .call(Method::POST, &format!("/scans/{id}/cancel"), None)
                .await?;
            output.object(&run, FIELDS)?;
            Ok(exit::OK)
        }
        ScansCommand::Watch { id, fail_on } => {
            follow(api, &id, context, output, err, fail_on).await
        }
    }
}

/// Follows the run to its end, then lists its findings; exit 3 with `fail_on` met, 1 when the
/// run did not complete.
async fn follow(
    api: &Api,
    id: &str,
    context: &Context,
    output: &mut Output<'_>,
    err: &mut dyn Write,
    fail_on: Option<Severity>,
) -> Result<i32, CliError> {
    let bar = ProgressBar::with_draw_target(
        None,
        if context.stderr_tty {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} jobs")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let end = watch_events(api, id, &bar).await?;
    bar.finish_and_clear();
    let status = end["status"].as_str().unwrap_or("unknown").to_string();
    writeln!(
        err,
        "scan {id} {status}: {} of {} jobs done, {} findings",
        end["jobs_completed"].as_i64().unwrap_or(0) + end["jobs_failed"].as_i64().unwrap_or(0),
        end["jobs_total"].as_i64().unwrap_or(0),
        end["findings_count"].as_i64().unwrap_or(0)
    )?;
    let findings = api
        .get(
            "/findings",
            &[("scan_id", id.to_string()), ("limit", "1000".into())],
        )
        .await?;
    let findings = findings["items"].as_array().cloned().unwrap_or_default();
    output.list(&findings, super::findings::COLUMNS)?;
    if status != "completed" {
        return Err(CliError::Other(format!("scan {id} ended {status}")));
    }
    if let Some(threshold) = fail_on {
        let failing = findings
            .iter()
            .filter(|finding| finding["status"] != "fixed")
            .filter(|finding| {
                Severity::parse(finding["severity"].as_str().unwrap_or_default()) >= Some(threshold)
            })
            .count();
        if failing > 0 {
            writeln!(
                err,
                "{failing} findings at or above {} (--fail-on)",
                threshold.as_str()
            )?;
            return Ok(exit::FINDINGS);
        }
    }
    Ok(exit::OK)
}

/// Reads the run's event stream until its `end` event; the run it carries.
async fn watch_events(api: &Api, id: &str, bar: &ProgressBar) -> Result<Value, CliError> {
    let mut response = api.stream(&format!("/scans/{id}/events")).await?;
    let mut buffer = String::new();
    let mut event = String::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| CliError::Unreachable {
                url: api.url().to_string(),
                detail: error.to_string(),
            })?;
        let Some(chunk) = chunk else {
            return Err(CliError::Other(format!(
                "the event stream of scan {id} ended before the scan"
            )));
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(newline) = buffer.find('\n') {
            let line = buffer[..newline].trim_end_matches('\r').to_string();
            buffer.drain(..=newline);
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data:") {
                let data: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
                match event.as_str() {
                    "progress" => {
                        bar.set_length(data["jobs_total"].as_u64().unwrap_or(0));
                        bar.set_position(data["jobs_done"].as_u64().unwrap_or(0));
                        bar.set_message(data["status"].as_str().unwrap_or_default().to_string());
                    }
                    // The stored run, flattened with its progress.
                    "end" => return Ok(data),
                    _ => {}
                }
            }
        }
    }
}
