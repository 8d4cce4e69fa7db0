//! `s4e keys` and `s4e customers`.

use std::io::Write;

use reqwest::Method;
use serde_json::json;

use crate::cli::{CustomersCommand, KeysCommand};
use crate::client::Api;
use crate::error::{CliError, exit};
use crate::output::Output;

pub async fn keys(
    command: KeysCommand,
    api: &Api,
    output: &mut Output<'_>,
    err: &mut dyn Write,
) -> Result<i32, CliError> {
    match command {
        KeysCommand::List => {
            let page = api.get("/api-keys", &[("limit", "1000".into())]).await?;
            let keys = page["items"].as_array().cloned().unwrap_or_default();
            output.list(
                &keys,
                &["id", "name", "prefix", "scopes", "expires_at", "revoked"],
            )?;
        }
        KeysCommand::Create {
            name,
            scopes,
            expires_at,
        } => {
            let body = json!({"name": name, "scopes": scopes, "expires_at": expires_at});
            let created = api.call(Method::POST, "/api-keys", Some(&body)).await?;
            writeln!(err, "the key is shown this once: keep it now")?;
            output.object(&created, &["key", "id", "name", "scopes", "expires_at"])?;
        }
        KeysCommand::Revoke { id } => {
            let revoked = api
                .call(Method::DELETE, &format!("/api-keys/{id}"), None)
                .await?;
            output.object(&revoked, &["id", "name", "revoked"])?;
        }
    }
    Ok(exit::OK)
}

pub async fn customers(
    command: CustomersCommand,
    api: &Api,
    output: &mut Output<'_>,
) -> Result<i32, CliError> {
    match command {
        CustomersCommand::List => {
            let page = api.get("/customers", &[]).await?;
            let customers = page["items"].as_array().cloned().unwrap_or_default();
            output.list(&customers, &["id", "name", "created_at"])?;
        }
        CustomersCommand::Create { name } => {
            let created = api
                .call(Method::POST, "/customers", Some(&json!({"name": name})))
                .await?;
            output.object(&created, &["id", "name", "created_at"])?;
        }
    }
    Ok(exit::OK)
}
