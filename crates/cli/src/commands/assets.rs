//! `s4e assets`: register, list, show, verify and tag assets.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Continue, items};
use crate::cli::AssetsCommand;
use crate::client::Api;
use crate::error::{CliError, exit};
use crate::output::Output;

const COLUMNS: &[&str] = &["id", "kind", "value", "verified_at", "criticality", "tags"];
const FIELDS: &[&str] = &[
    "id",
    "kind",
    "value",
    "name",
    "criticality",
    "owner",
    "tags",
    "verification_token",
    "verified_at",
    "verification_method",
    "created_at",
];

pub async fn run(
    command: AssetsCommand,
    api: &Api,
    output: &mut Output<'_>,
) -> Result<i32, CliError> {
    match command {
        AssetsCommand::Add {
            kind,
            value,
            name,
            tags,
            criticality,
        } => {
            let mut body = json!({"kind": kind, "value": value, "tags": tags});
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(criticality) = criticality {
                body["criticality"] = json!(criticality);
            }
            let asset = api.call(Method::POST, "/assets", Some(&body)).await?;
            output.object(&asset, FIELDS)?;
        }
        AssetsCommand::List { tag, page } => {
            let query = tag.map(|tag| ("tag", tag)).into_iter().collect();
            let assets = items(api, "/assets", query, Continue::After, &page, 1000).await?;
            output.list(&assets, COLUMNS)?;
        }
        AssetsCommand::Show { id } => {
            let asset = api.get(&format!("/assets/{id}"), &[]).await?;
            output.object(&asset, FIELDS)?;
        }
        AssetsCommand::Verify { id, method } => {
            let body = match method {
                Some(method) => json!({"method": method}),
                None => json!({}),
            };
            let outcome = api
                .call(Method::POST, &format!("/assets/{id}/verify"), Some(&body))
                .await?;
            if output.json.is_some() {
                output.object(&outcome, &[])?;
            } else {
                let attempts = outcome["attempts"].as_array().cloned().unwrap_or_default();
                output.list(&attempts, &["method", "proven", "detail"])?;
            }
            if outcome["verified"] != Value::Bool(true) {
                return Err(CliError::Other(format!("asset {id} is not verified")));
            }
        }
        AssetsCommand::Tag { ids, add, remove } => {
            if add.is_empty() && remove.is_empty() {
                return Err(CliError::Usage("name a tag to --add or to --remove".into()));
            }
            let body = json!({"asset_ids": ids, "add": add, "remove": remove});
            let result = api
                .call(Method::POST, "/assets/bulk-tags", Some(&body))
                .await?;
            output.object(&result, &["changed"])?;
        }
    }
    Ok(exit::OK)
}
