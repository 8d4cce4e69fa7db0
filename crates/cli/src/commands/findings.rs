//! `s4e findings`: list, show, triage and export findings.

use reqwest::Method;
use serde_json::json;

use super::{Continue, items};
use crate::cli::FindingsCommand;
use crate::client::Api;
use crate::error::{CliError, exit};
use crate::output::Output;

pub const COLUMNS: &[&str] = &["id", "severity", "status", "rule", "location", "title"];

pub async fn run(
    command: FindingsCommand,
    api: &Api,
    output: &mut Output<'_>,
) -> Result<i32, CliError> {
    match command {
        FindingsCommand::List { filter, page } => {
            let findings = items(
                api,
                "/findings",
                filter.pairs(),
                Continue::WithCursor,
                &page,
                1000,
            )
            .await?;
            output.list(&findings, COLUMNS)?;
        }
        FindingsCommand::Show { id } => {
            let finding = api.get(&format!("/findings/{id}"), &[]).await?;
            output.object(
                &finding,
                &[
                    "id",
                    "severity",
                    "status",
                    "title",
                    "rule",
                    "check",
                    "location",
                    "asset_id",
                    "first_seen",
                    "last_seen",
                    "description",
                    "remediation",
                    "evidence",
                ],
            )?;
        }
        FindingsCommand::Triage {
            ids,
            status,
            reason,
        } => {
            let body = json!({"ids": ids, "status": status, "reason": reason});
            let result = api
                .call(Method::POST, "/findings/bulk-status", Some(&body))
                .await?;
            output.object(&result, &["changed", "unchanged"])?;
        }
        FindingsCommand::Export { format, filter } => {
            let mut query = filter.pairs();
            query.push(("format", format));
            let body = api.get_text("/findings/export", &query).await?;
            output.text(&body)?;
        }
    }
    Ok(exit::OK)
}
