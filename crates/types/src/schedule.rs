//! Recurring scans. A schedule starts a scan of one asset, or of every asset carrying a tag, at
//! each time its cron pattern names in its time zone, except inside its skip windows; s4e-scheduler claims the schedules that are
//! due through base and starts their scans through s4e-scan (`s4e-schedule` computes the times).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AssetId, CheckKind, OrgId, RunId, RunStatus, ScanProfile, ScheduleId};

/// What a schedule does with a due time that passed while no scheduler ran (or while it was
/// late by more than one period): nothing (`skip`, the default), or one scan now (`run_once`),
/// never one per missed time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    #[default]
    Skip,
    RunOnce,
}

impl CatchUp {
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::RunOnce => "run_once",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "skip" => Some(CatchUp::Skip),
            "run_once" => Some(CatchUp::RunOnce),
            _ => None,
        }
    }
}

/// A maintenance window in which the schedule starts no scan: it opens at each time `cron`
/// names (in the schedule's time zone) and stays open `minutes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipWindow {
    /// A five-field cron pattern: when the window opens.
    #[schema(max_length = 100, example = "0 22 * * 5")]
    pub cron: String,
    /// How long it stays open, 1 minute to 7 days.
    #[schema(minimum = 1, maximum = 10080)]
    pub minutes: u32,
}

/// The longest skip window, in minutes (a week).
pub const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;
/// Skip windows per schedule.
pub const MAX_SKIP_WINDOWS: usize = 20;

fn utc() -> String {
    "UTC".into()
}

/// A new recurring scan.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    /// The asset to scan; or name a `tag` instead.
    #[serde(default)]
    pub asset_id: Option<AssetId>,
    /// Scan every asset carrying this tag (`key=value`, or a bare `key` with any value) at
    /// each due time, one scan each; or name an `asset_id` instead.
    #[serde(default)]
    #[schema(max_length = 265, example = "env=prod")]
    pub tag: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// When scans start: a five-field cron pattern (minute, hour, day of month, month, day of
    /// week) or a preset, `@hourly`, `@daily`, `@weekly` or `@monthly`; at most every 5
    /// minutes.
    #[schema(max_length = 100, example = "0 3 * * 1-5")]
    pub cron: String,
    /// The IANA time zone the pattern is read in (default `UTC`), e.g. `Europe/Berlin`.
    #[serde(default = "utc")]
    #[schema(max_length = 64, example = "Europe/Berlin")]
    pub timezone: String,
    /// The scans' profile and checks, as for `POST /api/v1/scans`.
    #[serde(default)]
    pub profile: Option<ScanProfile>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub checks: Option<Vec<CheckKind>>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub skip_windows: Vec<SkipWindow>,
    #[serde(default)]
    pub catch_up: CatchUp,
    /// Start a scan even while the previous one of this schedule is still queued or running
    /// (default false: that due time is skipped).
    #[serde(default)]
    pub allow_overlap: bool,
    #[serde(default)]
    pub paused: bool,
}

/// A change to a schedule: the fields named are replaced (`name: null` clears the name). The
/// asset, profile and checks stay: make another schedule for another scan.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSchedule {
    #[serde(default, with = "crate::api::double_option")]
    #[schema(max_length = 200, value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub cron: Option<String>,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub timezone: Option<String>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub skip_windows: Option<Vec<SkipWindow>>,
    #[serde(default)]
    pub catch_up: Option<CatchUp>,
    #[serde(default)]
    pub allow_overlap: Option<bool>,
    /// Pause (no scan starts, `next_run_at` is empty) or resume (from the next time the pattern
    /// names after now).
    #[serde(default)]
    pub paused: Option<bool>,
}

/// What a schedule did with its last due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleOutcome {
    /// A scan started (`last_run_id`).
    Started,
    /// The time fell in a skip window.
    SkippedWindow,
    /// The time passed while no scheduler ran and the catch-up policy is `skip`.
    SkippedMissed,
    /// The previous scan was still queued or running.
    SkippedOverlap,
    /// The scan could not start (`last_error` says why: the asset archived, a check disabled…).
    Failed,
}

impl ScheduleOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleOutcome::Started => "started",
            ScheduleOutcome::SkippedWindow => "skipped_window",
            ScheduleOutcome::SkippedMissed => "skipped_missed",
            ScheduleOutcome::SkippedOverlap => "skipped_overlap",
            ScheduleOutcome::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            ScheduleOutcome::Started,
            ScheduleOutcome::SkippedWindow,
            ScheduleOutcome::SkippedMissed,
            ScheduleOutcome::SkippedOverlap,
            ScheduleOutcome::Failed,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == value)
    }
}

/// A recurring scan as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schedule {
    pub id: ScheduleId,
    pub org_id: OrgId,
    /// What it scans: one asset, or every asset carrying `tag`.
    pub asset_id: Option<AssetId>,
    pub tag: Option<String>,
    pub name: Option<String>,
    pub cron: String,
    pub timezone: String,
    pub profile: Option<ScanProfile>,
    pub checks: Option<Vec<CheckKind>>,
    pub skip_windows: Vec<SkipWindow>,
    pub catch_up: CatchUp,
    pub allow_overlap: bool,
    pub paused: bool,
    /// When it is next due; empty while paused.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The last due time it handled, what it did then, and the scan it started (for a tag, the
    /// first of them).
    pub last_due_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<ScheduleOutcome>,
    pub last_run_id: Option<RunId>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Internal: a scheduler asks for the schedules due at `now`; each is leased to it for
/// `lease_seconds` (another scheduler skips it meanwhile).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimDueSchedules {
    pub now: DateTime<Utc>,
    pub limit: u16,
    pub lease_seconds: u32,
}

/// Internal: a due schedule and the status of the scan it last started (`running` while any
/// scan it started is queued or running).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DueSchedule {
    pub schedule: Schedule,
    pub last_run_status: Option<RunStatus>,
}

/// Internal: what a scheduler did with a due time, and when the schedule is due next. Applied
/// only while the schedule is still due at `due_at` (a change made meanwhile wins).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFired {
    pub due_at: DateTime<Utc>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub outcome: ScheduleOutcome,
    #[serde(default)]
    pub run_id: Option<RunId>,
    #[serde(default)]
    pub error: Option<String>,
}

/// Internal: the scan a schedule starts for one due time. Base keeps one run per schedule and
/// due time, so a scheduler that retries (or a second one) cannot start it twice.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledScan {
    pub schedule_id: ScheduleId,
    pub due_at: DateTime<Utc>,
    pub scan: crate::api::CreateScan,
}

/// Internal: on a run created by a schedule, which schedule and due time it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFor {
    pub schedule_id: ScheduleId,
    pub due_at: DateTime<Utc>,
}
