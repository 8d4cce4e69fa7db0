//! The command line, as clap reads it.

use clap::{Args, Parser, Subcommand};
pub use s4e_types::Severity;

/// s4e: attack-surface scanning from the terminal and from CI pipelines.
///
/// Exit codes: 0 ok, 1 error (refused, not found, gateway down), 2 usage, 3 findings at or
/// above `--fail-on`, 4 authentication (no credential, or the gateway refused it).
#[derive(Debug, Parser)]
#[command(name = "s4e", version, propagate_version = true)]
pub struct Cli {
    /// The profile of the credentials file to use.
    #[arg(long, global = true, default_value = "default")]
    pub profile: String,
    /// The gateway's URL, e.g. https://s4e.example.com (overrides S4E_URL and the profile's).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Act inside this customer organization (partners).
    #[arg(long, global = true, value_name = "ORG_ID")]
    pub org: Option<String>,
    /// Print JSON: every field, or the comma-separated fields named.
    #[arg(long, global = true, value_name = "FIELDS", num_args = 0..=1, default_missing_value = "")]
    pub json: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in to a gateway with an API key, and see where the credential lives.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// What the organization owns and scans.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// Scan runs.
    #[command(subcommand)]
    Scans(ScansCommand),
    /// What the scans found.
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// A partner's customer organizations.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion { shell: clap_complete::Shell },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Store a key for a gateway in the profile (checked first); the key is read from
    /// --token or, without it, from standard input.
    Login {
        #[arg(long)]
        token: Option<String>,
    },
    /// Who the credential is, and where it lives.
    Status,
    /// Forget the profile's credential.
    Logout,
}

#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// Register an asset: KIND is url, domain, ip, cidr or api.
    Add {
        kind: String,
        value: String,
        #[arg(long)]
        name: Option<String>,
        /// `key` or `key=value`; repeat for several.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// low, medium, high or critical.
        #[arg(long)]
        criticality: Option<String>,
    },
    /// List assets.
    List {
        #[arg(long)]
        tag: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One asset, with its verification token.
    Show { id: String },
    /// Prove the asset is the organization's (every method, or --method).
    Verify {
        id: String,
        #[arg(long)]
        method: Option<String>,
    },
    /// Add and remove tags on assets.
    Tag {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        add: Vec<String>,
        #[arg(long)]
        remove: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScansCommand {
    /// Start a scan of an asset.
    Start {
        asset_id: String,
        /// full, light, single or custom (default: the organization's).
        #[arg(long = "scan-profile", id = "scan_profile")]
        scan_profile: Option<String>,
        /// A check to run; repeat for several.
        #[arg(long = "check")]
        checks: Vec<String>,
        /// Wait for the end, with progress on standard error, then list the findings.
        #[arg(long)]
        wait: bool,
        /// With --wait: exit 3 when a finding at or above this severity is open.
        #[arg(long, value_name = "SEVERITY", requires = "wait", value_parser = severity)]
        fail_on: Option<Severity>,
    },
    /// List scans, newest first.
    List {
        #[arg(long = "asset")]
        asset_id: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One scan.
    Show { id: String },
    /// Cancel a scan that has not ended.
    Cancel { id: String },
    /// Follow a scan to its end, then list its findings.
    Watch {
        id: String,
        #[arg(long, value_name = "SEVERITY", value_parser = severity)]
        fail_on: Option<Severity>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// List findings (most severe first).
    List {
        #[command(flatten)]
        filter: FindingFilter,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One finding with its evidence and history.
    Show { id: String },
    /// Change the status of findings, all or none.
    Triage {
        #[arg(required = true)]
        ids: Vec<String>,
        /// open, acknowledged, false_positive, accepted_risk, fixed …
        #[arg(long)]
        status: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Export the filtered findings as json, csv or sarif (to standard output).
    Export {
        #[arg(long, default_value = "json")]
        format: String,
        #[command(flatten)]
        filter: FindingFilter,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List API keys.
    List,
    /// Create a key; its secret is shown once.
    Create {
        name: String,
        /// read, write or admin; repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// RFC 3339 time after which it is refused.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Revoke a key.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// List the partner's customers.
    List,
    /// Create a customer organization.
    Create { name: String },
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// How many to list (one page of at most this many).
    #[arg(long, default_value_t = 30)]
    pub limit: u32,
    /// Every page, not only the first.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct FindingFilter {
    /// open, fixed, … ; repeat for several.
    #[arg(long)]
    pub status: Vec<String>,
    /// Exact severities; repeat for several.
    #[arg(long)]
    pub severity: Vec<String>,
    #[arg(long, value_parser = severity)]
    pub min_severity: Option<Severity>,
    #[arg(long = "asset")]
    pub asset_id: Option<String>,
    #[arg(long = "scan")]
    pub scan_id: Option<String>,
    #[arg(long)]
    pub check: Option<String>,
    #[arg(long)]
    pub rule: Option<String>,
}

impl FindingFilter {
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        for status in &self.status {
            pairs.push(("status", status.clone()));
        }
        for severity in &self.severity {
            pairs.push(("severity", severity.clone()));
        }
        let single = [
            (
                "min_severity",
                self.min_severity.map(|s| s.as_str().to_string()),
            ),
            ("asset_id", self.asset_id.clone()),
            ("scan_id", self.scan_id.clone()),
            ("check", self.check.clone()),
            ("rule", self.rule.clone()),
        ];
        pairs.extend(
            single
                .into_iter()
                .filter_map(|(key, value)| value.map(|v| (key, v))),
        );
        pairs
    }
}

/// A severity as the command line takes it: `info`, `low`, `medium`, `high` or `critical`.
pub fn severity(text: &str) -> Result<Severity, String> {
    Severity::parse(text).ok_or_else(|| "one of info, low, medium, high, critical".to_string())
}
