//! Request and response bodies of the REST APIs (public and internal).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::finding::FindingDraft;
use crate::ids::{ApiKeyId, AssetId, OrgId};
use crate::scan::{CheckKind, PortScope, ScanJob, ScanProfile, ScanRun};
use crate::{AssetKind, JobStatus, Severity};

/// `{"error": {"code": "...", "message": "..."}}`, the one error body of every API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// Ends a run as failed (`POST /internal/v1/orgs/{org}/runs/{run}/fail`), with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRun {
    pub error: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub name: String,
    /// A partner (an MSSP, say) creates and manages customer organizations.
    #[serde(default)]
    pub is_partner: bool,
}

/// How many requests an organization's keys and sessions may make: the gateway multiplies its
/// per-key limit by the tier's factor.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RateTier {
    #[default]
    Standard,
    Professional,
    Enterprise,
}

impl RateTier {
    pub const ALL: &'static [RateTier] = &[
        RateTier::Standard,
        RateTier::Professional,
        RateTier::Enterprise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RateTier::Standard => "standard",
            RateTier::Professional => "professional",
            RateTier::Enterprise => "enterprise",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|tier| tier.as_str() == value)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRateTier {
    pub rate_tier: RateTier,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub is_partner: bool,
    pub rate_tier: RateTier,
    /// The partner that manages this organization, if one does.
    pub partner_org_id: Option<OrgId>,
}

/// A customer organization as a partner creates it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
}

/// One customer of a partner with its open findings, as base counts them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerFindings {
    pub organization: Organization,
    pub open_findings: SeverityCounts,
    /// The open findings weighed by severity and their asset's criticality (see
    /// `PENALTY_SQL` in base).
    #[serde(default)]
    pub penalty: f64,
    #[serde(default)]
    pub exposed_services: i64,
}

/// One line of a partner's portfolio: a customer, its open findings and its security score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortfolioEntry {
    pub organization: Organization,
    pub open_findings: SeverityCounts,
    /// 0–100, higher is better; see the gateway's documentation for the formula.
    pub score: u8,
    /// Services the port scans see listening on its assets now.
    pub exposed_services: i64,
}

/// An API key as stored: the secret never leaves the gateway, only its hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    /// The first characters of the key, kept in clear so a user can tell keys apart.
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    pub key_hash: String,
    pub scopes: Vec<String>,
    /// After this instant the key is refused; never when absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API key as listed: never the secret, never its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The rate-limit tier of the key's organization: what rate applies to the key.
    #[serde(default)]
    pub rate_tier: RateTier,
}

/// A key as a user asks the gateway for it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[schema(min_items = 1, max_items = 32, value_type = Vec<Scope>)]
    /// `read`, `write` or `admin`; at most the rights of the key that creates it.
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key's right, as the document describes it (a key's scopes are strings).
pub struct Scope;

impl utoipa::PartialSchema for Scope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some(
                "^(read|write|admin|(assets|scans|findings|api_keys|users|audit|automation|exports|customers):(read|write))$",
            ))
            .description(Some(
                "`read` (read assets, scans, findings, exports, automation), `write` (also register \
                 assets, start scans, triage findings), `admin` (everything), or `<family>:read` / \
                 `<family>:write` (write includes read) to narrow a key to one family. A key gets \
                 at most its creator's rights.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Scope {}

/// A new key with its secret: the only time the secret is shown.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    /// `s4e_`, 32 base62 characters and a 6-character checksum. Shown once.
    pub key: String,
}

/// A new scan as the gateway receives it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScan {
    pub asset_id: AssetId,
    /// The profile; absent: `custom` when `checks` are named, else the organization's default
    /// profile (`full` unless its scan settings say otherwise).
    #[serde(default)]
    pub profile: Option<ScanProfile>,
    /// The checks to run, with the `single` (exactly one) and `custom` profiles only.
    #[serde(default)]
    pub checks: Option<Vec<CheckKind>>,
}

/// A run with its jobs, as base creates it in one transaction.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewScanRun {
    pub asset_id: AssetId,
    pub profile: String,
    pub jobs: Vec<NewScanJob>,
    /// The schedule and due time that start it; base keeps one run per pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<crate::schedule::ScheduledFor>,
    /// The rule and event that start it; base keeps one run per pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<crate::rule::RuleCause>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewScanJob {
    pub check: CheckKind,
    pub target: String,
    /// The ports of a port-scan job; absent: the common ports.
    #[serde(default)]
    pub ports: Option<PortScope>,
}

/// An organization's scan settings. Every field may be left out of a `PUT`, which replaces the
/// whole settings: what is left out takes its default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanSettings {
    /// The profile of a scan that names neither a profile nor checks: `full` or `light`.
    #[serde(default = "default_profile")]
    pub default_profile: ScanProfile,
    /// Checks never planned for this organization, whatever the profile; a scan naming one is
    /// refused.
    #[serde(default)]
    pub disabled_checks: Vec<CheckKind>,
    /// The ports the port scan tries.
    #[serde(default)]
    pub port_scan: PortScope,
    /// Candidates that discovery finds under one of the organization's verified domains
    /// become assets at once (verified by inheritance), without waiting for approval. Others
    /// always wait. Default false.
    #[serde(default)]
    pub auto_approve_candidates: bool,
}

fn default_profile() -> ScanProfile {
    ScanProfile::Full
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            default_profile: default_profile(),
            disabled_checks: Vec::new(),
            port_scan: PortScope::Common,
            auto_approve_candidates: false,
        }
    }
}

impl ScanSettings {
    /// The settings in one form (disabled checks in catalog order, without repeats; the port
    /// list sorted), or what is wrong with them, naming the field.
    pub fn normalized(&self) -> Result<ScanSettings, String> {
        if !matches!(self.default_profile, ScanProfile::Full | ScanProfile::Light) {
            return Err(format!(
                "default_profile: must be full or light, not {} (a default cannot name checks, \
                 and a crawl alone is asked for)",
                self.default_profile.as_str()
            ));
        }
        let disabled_checks = CheckKind::ALL
            .iter()
            .copied()
            .filter(|kind| self.disabled_checks.contains(kind))
            .collect();
        Ok(ScanSettings {
            default_profile: self.default_profile,
            disabled_checks,
            port_scan: self.port_scan.normalized("port_scan")?,
            auto_approve_candidates: self.auto_approve_candidates,
        })
    }
}

/// An organization's own words for the crawl's directory fuzzing: tried after the bundled
/// wordlist, or instead of it. A crawl keeps the list it began with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FuzzWordlist {
    /// Names tried in every fuzzed directory (`admin`, `backup.zip`, `api/v2`): at most
    /// 10000, each 1–100 characters, without spaces, control characters, `?`, `#` or `%`, and
    /// not starting with `/` or `.`. Repeats are dropped, the first kept.
    #[schema(max_items = 10000)]
    pub words: Vec<String>,
    /// Only these words, not the bundled wordlist besides (default false).
    #[serde(default)]
    pub replaces_bundled: bool,
}

impl FuzzWordlist {
    pub const MAX_WORDS: usize = 10_000;
    pub const MAX_WORD_CHARS: usize = 100;

    /// The list without repeats, or what is wrong with it, naming the word.
    pub fn normalized(&self) -> Result<FuzzWordlist, String> {
        if self.words.len() > Self::MAX_WORDS {
            return Err(format!(
                "words: at most {} words, not {}",
                Self::MAX_WORDS,
                self.words.len()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::with_capacity(self.words.len());
        for (at, word) in self.words.iter().enumerate() {
            let bad = word.is_empty()
                || word.chars().count() > Self::MAX_WORD_CHARS
                || word.starts_with(['/', '.'])
                || word
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '%'));
            if bad {
                return Err(format!(
                    "words[{at}]: {word:?} is not a name to try (1-{} characters, no spaces,                      control characters, ?, # or %, not starting with / or .)",
                    Self::MAX_WORD_CHARS
                ));
            }
            if seen.insert(word.as_str()) {
                words.push(word.clone());
            }
        }
        Ok(FuzzWordlist {
            words,
            replaces_bundled: self.replaces_bundled,
        })
    }
}

/// One check of the catalog, as the gateway shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckDefinition {
    pub key: CheckKind,
    pub name: String,
    pub category: String,
    /// The worker that runs it: jobs go to the queue `jobs.<executor>`.
    pub executor: CheckKind,
    pub description: String,
    /// The most severe finding this check can report.
    pub max_severity: Severity,
    /// The asset kinds it can run against when named.
    pub applies_to: Vec<AssetKind>,
    /// The asset kinds the `full` profile runs it on.
    pub runs_by_default_on: Vec<AssetKind>,
}

/// The checks a profile plans, per kind of asset (URLs split by scheme, since the certificate
/// check runs by default on https URLs only). For `single` and `custom`: the checks that may
/// be named.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileChecks {
    pub http_url: Vec<CheckKind>,
    pub https_url: Vec<CheckKind>,
    pub domain: Vec<CheckKind>,
    pub ip: Vec<CheckKind>,
    #[serde(default)]
    pub cidr: Vec<CheckKind>,
    #[serde(default)]
    pub api: Vec<CheckKind>,
}

/// One scan profile of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileDefinition {
    pub key: ScanProfile,
    pub name: String,
    pub description: String,
    /// Whether a scan may use it now; when not, `unavailable_reason` says why.
    pub available: bool,
    #[serde(default)]
    pub unavailable_reason: Option<String>,
    /// Whether the request names the checks (`single`: exactly one; `custom`: any).
    pub takes_checks: bool,
    pub checks: ProfileChecks,
}

/// The catalog: every check and every profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Catalog {
    pub definitions: Vec<CheckDefinition>,
    pub profiles: Vec<ProfileDefinition>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScanRunWithJobs {
    pub run: ScanRun,
    pub jobs: Vec<ScanJob>,
}

/// A worker's report that a job ended: its findings are stored and the run advanced in one
/// transaction. Reporting the same job twice changes nothing the second time.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishJob {
    pub status: JobStatus,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub raw_output_id: Option<String>,
    #[serde(default)]
    pub findings: Vec<FindingDraft>,
    /// What the check saw for the inventory.
    #[serde(default)]
    pub observed: crate::inventory::Observations,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobFinished {
    pub run: ScanRun,
    pub job: ScanJob,
    /// False when the job had already been reported (a redelivered message).
    pub applied: bool,
    /// The findings the job's report created, whether this report or an earlier one applied
    /// it: what the worker announces as `finding.created`.
    #[serde(default)]
    pub created_findings: Vec<crate::envelope::FindingCreated>,
}

/// Live progress of a run, kept in Redis while it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunProgress {
    pub status: String,
    pub jobs_total: i64,
    pub jobs_done: i64,
    pub findings: i64,
    /// While the run's crawl is under way: where it stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crawl: Option<CrawlProgress>,
}

/// A crawl under way, as the crawler last recorded it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CrawlProgress {
    /// `fetch` (the frontier being crawled and fuzzed) or `finish` (being consolidated).
    pub stage: String,
    /// URLs done so far: pages fetched and directories fuzzed.
    pub done: i64,
    /// URLs found and not fetched yet.
    pub queued: i64,
}

impl CrawlProgress {
    /// How far along a crawl is, to order two snapshots: a later stage, then more done.
    pub fn rank(&self) -> (u8, i64) {
        (u8::from(self.stage == "finish"), self.done)
    }
}

/// A run as the gateway shows it: the stored run plus live progress when there is some.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanView {
    #[serde(flatten)]
    pub run: ScanRun,
    pub progress: Option<RunProgress>,
}

/// Which page of a list in its order (assets and users oldest first, API keys newest first):
/// `limit` items (1–1000, default 100), continuing after the previous page's `next_cursor`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams,
)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub after: Option<uuid::Uuid>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl PageQuery {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    /// The page size, or what is wrong with `limit`.
    pub fn page_size(&self) -> Result<u32, String> {
        page_size(self.limit)
    }

    /// The query as pairs, for an internal call.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(after) = self.after {
            pairs.push(("after", after.to_string()));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs
    }
}

/// `limit` checked against [`PageQuery`]'s bounds.
pub fn page_size(limit: Option<u32>) -> Result<u32, String> {
    match limit {
        None => Ok(PageQuery::DEFAULT_LIMIT),
        Some(limit) if (1..=PageQuery::MAX_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(format!("limit: between 1 and {}", PageQuery::MAX_LIMIT)),
    }
}

/// A page of a list and, when there is more, the `after` of the next page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<uuid::Uuid>,
}

/// A page of items.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
}

impl From<&ScanRun> for RunProgress {
    /// The progress a stored run records.
    fn from(run: &ScanRun) -> Self {
        RunProgress {
            status: run.status.as_str().to_string(),
            jobs_total: i64::from(run.jobs_total),
            jobs_done: i64::from(run.jobs_completed + run.jobs_failed),
            findings: i64::from(run.findings_count),
            crawl: None,
        }
    }
}

/// Open findings per severity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeverityCounts {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub info: i64,
}

impl SeverityCounts {
    /// Adds `n` (which may be negative) to the count of `severity`.
    pub fn add(&mut self, severity: crate::Severity, n: i64) {
        let count = match severity {
            crate::Severity::Critical => &mut self.critical,
            crate::Severity::High => &mut self.high,
            crate::Severity::Medium => &mut self.medium,
            crate::Severity::Low => &mut self.low,
            crate::Severity::Info => &mut self.info,
        };
        *count += n;
    }
}

/// The open findings at the end of one day (UTC); the last day's are today's so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrendPoint {
    pub day: chrono::NaiveDate,
    pub open_findings: SeverityCounts,
}

/// The dashboard of an organization, made by one query in base.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DashboardSummary {
    pub assets: i64,
    /// Findings still to be dealt with: open, in progress or reopened.
    pub open_findings: SeverityCounts,
    pub scans_queued: i64,
    pub scans_running: i64,
    /// When the latest scan run ended, if one has.
    pub last_scan_finished_at: Option<DateTime<Utc>>,
    /// Services the port scans see listening on the assets now.
    #[serde(default)]
    pub exposed_services: i64,
    /// The open findings weighed by severity and their asset's criticality: the score's
    /// penalty.
    #[serde(default)]
    pub penalty: f64,
    /// 0–100, higher is better (the formula is in the API's description of the portfolio).
    #[serde(default)]
    pub score: u8,
    /// The open findings at the end of each of the last 30 days, oldest first, today last.
    #[serde(default)]
    pub trend: Vec<TrendPoint>,
}

/// Base records the outcome of a verification attempt.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordVerification {
    /// How ownership was proven; `None` when no method proved it.
    pub proven_by: Option<crate::VerificationMethod>,
    /// When nothing was proven because no method could reach the asset: keep a proof younger
    /// than this many seconds instead of withdrawing it (re-verification's grace period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_proof_younger_than_seconds: Option<u32>,
}

/// Which method to prove ownership with; absent: every method that applies to the asset.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyAsset {
    #[serde(default)]
    pub method: Option<crate::VerificationMethod>,
}

/// A verification as the scan service runs it: the owner's request, or the scheduler's
/// re-verification, which may keep a recent proof through an outage.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    #[serde(default)]
    pub method: Option<crate::VerificationMethod>,
    /// When no method can reach the asset, keep a proof younger than this many seconds rather
    /// than withdrawing it, since an outage says nothing about who owns the asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_if_unreachable_seconds: Option<u32>,
}

/// What one method saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerificationAttempt {
    pub method: crate::VerificationMethod,
    pub proven: bool,
    /// Whether the site or name answered: a page or record without the token is an answer,
    /// a refused connection, a timeout or a failed lookup is not.
    #[serde(default)]
    pub reached: bool,
    /// Where it looked and what it found (or why it could not look).
    pub detail: String,
}

/// The outcome of a verification: the asset as now recorded, and each method's attempt.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerificationOutcome {
    pub asset: crate::Asset,
    pub verified: bool,
    pub attempts: Vec<VerificationAttempt>,
}

/// A message in the dead-letter queue, as the dispatcher keeps it until it is replayed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeadLetter)]
pub struct DeadLetterView {
    /// The envelope id when the message parses, else its message id, else a digest of it.
    pub id: String,
    /// The organization its envelope names; none when it does not parse.
    pub org_id: Option<OrgId>,
    /// `scan.job`, `scan.completed`; none when it does not parse.
    pub message_type: Option<String>,
    /// Why it was dead-lettered: a consumer's reason, or the broker's (`delivery_limit`).
    pub reason: String,
    pub source_queue: Option<String>,
    /// How often its queue had delivered it, when the broker said.
    pub delivery_count: Option<u32>,
    pub dead_lettered_at: DateTime<Utc>,
    /// The message as it was (decoded as UTF-8, invalid bytes replaced).
    pub body: String,
}

/// `null` and absent told apart: `Some(None)` clears, `None` keeps.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Option<String>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::FuzzWordlist;

    fn list(words: &[&str]) -> FuzzWordlist {
        FuzzWordlist {
            words: words.iter().map(|word| word.to_string()).collect(),
            replaces_bundled: false,
        }
    }

    #[test]
    fn a_wordlist_drops_repeats_and_refuses_what_is_not_a_name() {
        let normalized = list(&["admin", "api/v2", "admin", "backup.zip"])
            .normalized()
            .unwrap();
        assert_eq!(normalized.words, ["admin", "api/v2", "backup.zip"]);
        for bad in [
            "",
            "two words",
            "/root",
            ".git",
            "a?b",
            "a#b",
            "a%2f",
            "tab\there",
        ] {
            let error = list(&["ok", bad]).normalized().unwrap_err();
            assert!(error.starts_with("words[1]:"), "{bad:?}: {error}");
        }
        let long = "x".repeat(FuzzWordlist::MAX_WORD_CHARS + 1);
        assert!(list(&[&long]).normalized().is_err());
        let many: Vec<String> = (0..=FuzzWordlist::MAX_WORDS)
            .map(|n| n.to_string())
            .collect();
        let error = FuzzWordlist {
            words: many,
            replaces_bundled: true,
        }
        .normalized()
        .unwrap_err();
        assert!(error.starts_with("words: at most 10000"), "{error}");
    }
}
