//! Where the credential lives: `S4E_URL`/`S4E_TOKEN` from the environment, else a profile of
//! the credentials file (`$XDG_CONFIG_HOME/s4e/credentials.json`, else
//! `~/.config/s4e/credentials.json`), written with 0600 permissions in a 0700 directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// One gateway and the key to use there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub url: String,
    pub token: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// Where a credential in use came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Environment,
    File { path: PathBuf, profile: String },
}

/// The gateway and key a command uses.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub url: String,
    pub token: String,
    pub source: Source,
}

pub fn credentials_path(config_dir: &Path) -> PathBuf {
    config_dir.join("s4e").join("credentials.json")
}

pub fn load(path: &Path) -> Result<Credentials, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|error| {
            CliError::Other(format!(
                "{} is not a credentials file: {error}",
                path.display()
            ))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
        Err(error) => Err(CliError::Other(format!(
            "cannot read {}: {error}",
            path.display()
        ))),
    }
}

/// Writes the file anew, readable by its owner alone.
pub fn save(path: &Path, credentials: &Credentials) -> Result<(), CliError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let text = serde_json::to_string_pretty(credentials)
        .map_err(|error| CliError::Other(error.to_string()))?;
    // A new file each time: its mode is set when it is made, never widened.
    let temporary = path.with_extension("json.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

/// The credential to use: the environment's, else the profile's; `url` (the `--url` flag)
/// overrides the gateway either way.
pub fn resolve(
    context: &crate::Context,
    profile: &str,
    url: Option<&str>,
) -> Result<Resolved, CliError> {
    if let Some(token) = &context.token {
        let url = url
            .map(str::to_string)
            .or_else(|| context.url.clone())
            .ok_or_else(|| CliError::Auth("S4E_TOKEN is set but not S4E_URL (or --url)".into()))?;
        return Ok(Resolved {
            url,
            token: token.clone(),
            source: Source::Environment,
        });
    }
    let path = credentials_path(&context.config_dir);
    let credentials = load(&path)?;
    let Some(stored) = credentials.profiles.get(profile) else {
        return Err(CliError::Auth(format!(
            "not signed in (profile {profile}): run `s4e auth login`, or set S4E_URL and S4E_TOKEN"
        )));
    };
    Ok(Resolved {
        url: url
            .map(str::to_string)
            .or_else(|| context.url.clone())
            .unwrap_or_else(|| stored.url.clone()),
        token: stored.token.clone(),
        source: Source::File {
            path,
            profile: profile.to_string(),
        },
    })
}
