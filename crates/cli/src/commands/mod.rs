//! One module per resource; [`dispatch`] sends each command to its handler.

mod admin;
mod assets;
mod auth;
mod findings;
mod scans;

use std::io::Write;

use serde_json::Value;

use crate::cli::{Cli, Command, PageArgs};
use crate::client::Api;
use crate::error::{CliError, exit};
use crate::output::Output;
use crate::{Context, config};

pub async fn dispatch(
    cli: Cli,
    context: &Context,
    output: &mut Output<'_>,
    err: &mut dyn Write,
) -> Result<i32, CliError> {
    let api = || -> Result<Api, CliError> {
        let credential = config::resolve(context, &cli.profile, cli.url.as_deref())?;
        Api::new(&credential, cli.org.clone())
    };
    match cli.command {
        Command::Auth(command) => {
            auth::run(command, context, &cli.profile, cli.url.as_deref(), output).await
        }
        Command::Assets(command) => assets::run(command, &api()?, output).await,
        Command::Scans(command) => scans::run(command, &api()?, context, output, err).await,
        Command::Findings(command) => findings::run(command, &api()?, output).await,
        Command::Keys(command) => admin::keys(command, &api()?, output, err).await,
        Command::Customers(command) => admin::customers(command, &api()?, output).await,
        Command::Completion { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "s4e", &mut script);
            output.text(&String::from_utf8_lossy(&script))?;
            Ok(exit::OK)
        }
    }
}

/// How a list continues: the query parameter that takes the page's `next_cursor`.
#[derive(Clone, Copy)]
enum Continue {
    After,
    Before,
    WithCursor,
}

impl Continue {
    fn param(self) -> &'static str {
        match self {
            Continue::After => "after",
            Continue::Before => "before",
            Continue::WithCursor => "cursor",
        }
    }
}

/// The items of a list: one page of `limit`, or with `all` every page (each as large as the
/// API allows).
async fn items(
    api: &Api,
    path: &str,
    mut query: Vec<(&'static str, String)>,
    cursor: Continue,
    page: &PageArgs,
    max_limit: u32,
) -> Result<Vec<Value>, CliError> {
    let limit = if page.all {
        max_limit
    } else {
        page.limit.clamp(1, max_limit)
    };
    query.push(("limit", limit.to_string()));
    let mut items = Vec::new();
    loop {
        let body = api.get(path, &query).await?;
        if let Some(page_items) = body["items"].as_array() {
            items.extend(page_items.iter().cloned());
        }
        let next = match &body["next_cursor"] {
            Value::String(next) => next.clone(),
            _ => break,
        };
        if !page.all {
            break;
        }
        query.retain(|(key, _)| *key != cursor.param());
        query.push((cursor.param(), next));
    }
    Ok(items)
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_string()
}
