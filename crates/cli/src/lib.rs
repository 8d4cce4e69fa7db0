//! The `s4e` command line: the gateway's public API for people at a terminal and for CI
//! pipelines, in the conventions of `gh` and ProjectDiscovery's tools. Results go to standard
//! output (a table on a terminal, tab-separated when piped, JSON with `--json`); messages and
//! progress go to standard error. Exit codes: see [`error::exit`].
//!
//! [`run`] is the whole program over an explicit [`Context`] and output streams, so the tests
//! run it in-process against a real fleet; `main.rs` only wires it to the process.

mod cli;
mod client;
mod commands;
pub mod config;
pub mod error;
mod output;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Parser;

pub use error::{CliError, exit};

/// What the program reads from its environment.
#[derive(Clone, Debug)]
pub struct Context {
    /// The directory the credentials file lives under (`s4e/credentials.json`).
    pub config_dir: PathBuf,
    /// `S4E_URL`.
    pub url: Option<String>,
    /// `S4E_TOKEN`.
    pub token: Option<String>,
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    /// What `auth login` reads a key from when `--token` is not given.
    pub stdin_token: fn() -> Option<String>,
}

impl Context {
    /// The process's: `$XDG_CONFIG_HOME` (else `~/.config`), `S4E_URL`, `S4E_TOKEN`, and
    /// whether the streams are terminals (`NO_COLOR` needs nothing: nothing is colored).
    pub fn from_environment() -> Context {
        let config_dir = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
            .unwrap_or_else(|| PathBuf::from("."));
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Context {
            config_dir,
            url: var("S4E_URL"),
            token: var("S4E_TOKEN"),
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            stdin_token: || {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).ok()?;
                Some(line.trim().to_string()).filter(|token| !token.is_empty())
            },
        }
    }
}

/// Runs one command line; the exit code.
pub async fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    context: &Context,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let text = error.render().to_string();
            let _ = if error.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return code;
        }
    };
    let json = cli.json.as_ref().map(|fields| {
        fields
            .split(',')
            .map(str::trim)
            .filter(|field| !field.is_empty())
            .map(str::to_string)
            .collect()
    });
    let mut output = output::Output {
        out,
        tty: context.stdout_tty,
        json,
    };
    match commands::dispatch(cli, context, &mut output, err).await {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(err, "s4e: {error}");
            error.exit_code()
        }
    }
}
