//! `s4e auth`: store a key for a gateway, say who it is and where it lives, forget it.

use serde_json::Value;

use crate::Context;
use crate::cli::AuthCommand;
use crate::client::Api;
use crate::config::{self, Profile, Resolved, Source};
use crate::error::{CliError, exit};
use crate::output::Output;

pub async fn run(
    command: AuthCommand,
    context: &Context,
    profile: &str,
    url: Option<&str>,
    output: &mut Output<'_>,
) -> Result<i32, CliError> {
    let path = config::credentials_path(&context.config_dir);
    match command {
        AuthCommand::Login { token } => {
            let url = url
                .map(str::to_string)
                .or_else(|| context.url.clone())
                .ok_or_else(|| CliError::Usage("name the gateway: --url or S4E_URL".into()))?;
            let token = token.or_else(|| (context.stdin_token)()).ok_or_else(|| {
                CliError::Usage("give the key with --token or on standard input".into())
            })?;
            let credential = Resolved {
                url: url.clone(),
                token: token.clone(),
                source: Source::Environment,
            };
            // Checked before it is kept: a wrong key or URL is said now, not at the next command.
            let me = Api::new(&credential, None)?.get("/me", &[]).await?;
            let mut credentials = config::load(&path)?;
            credentials
                .profiles
                .insert(profile.to_string(), Profile { url, token });
            config::save(&path, &credentials)?;
            let summary = summary(
                &me,
                &format!("{} (profile {profile})", path.display()),
                &credential.url,
            );
            output.object(&summary, &["gateway", "organization", "as", "credential"])?;
            Ok(exit::OK)
        }
        AuthCommand::Status => {
            let credential = config::resolve(context, profile, url)?;
            let lives = match &credential.source {
                Source::Environment => "the environment (S4E_TOKEN)".to_string(),
                Source::File { path, profile } => format!("{} (profile {profile})", path.display()),
            };
            let me = Api::new(&credential, None)?.get("/me", &[]).await?;
            let summary = summary(&me, &lives, &credential.url);
            output.object(
                &summary,
                &["gateway", "organization", "as", "credential", "permissions"],
            )?;
            Ok(exit::OK)
        }
        AuthCommand::Logout => {
            let mut credentials = config::load(&path)?;
            if credentials.profiles.remove(profile).is_none() {
                return Err(CliError::Usage(format!("no profile {profile} to forget")));
            }
            config::save(&path, &credentials)?;
            Ok(exit::OK)
        }
    }
}

fn summary(me: &Value, lives: &str, url: &str) -> Value {
    let who = match (&me["user"], &me["api_key"]) {
        (Value::Object(user), _) => user
            .get("email")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        (_, Value::Object(key)) => format!(
            "API key {}",
            key.get("prefix")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    serde_json::json!({
        "gateway": url,
        "organization": me["org_id"],
        "as": who,
        "credential": lives,
        "permissions": me["permissions"],
    })
}
