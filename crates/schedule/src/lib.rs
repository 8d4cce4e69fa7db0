//! When recurring scans are due. A [`Timing`] is a schedule's cron pattern read in its IANA
//! time zone, with its skip windows; [`plan`] decides what a scheduler does with a schedule
//! that came due. Base uses it to validate a schedule and to set its first due time, the
//! scheduler to decide each due time and the next.
//!
//! Daylight saving time follows croner's rules (the Open Cron Pattern Specification, as
//! Vixie cron): a fixed time that a spring-forward gap skips runs at the end of the gap, on the
//! same day; a fixed time that a fall-back repeats runs once, at its first occurrence; patterns
//! with a wildcard or a step in the hour run at every matching instant.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use s4e_types::schedule::{
    DueSchedule, MAX_SKIP_WINDOWS, MAX_WINDOW_MINUTES, ScheduleOutcome, SkipWindow,
};
use s4e_types::{CatchUp, RunStatus, Schedule};

/// The shortest time between two scans of one schedule.
pub const MIN_INTERVAL: Duration = Duration::minutes(5);
/// How many upcoming times are looked at to judge the interval.
const INTERVAL_SAMPLES: usize = 16;

/// A cron pattern read in a time zone.
#[derive(Clone, Debug)]
pub struct Recurrence {
    cron: Cron,
    zone: Tz,
}

impl Recurrence {
    /// A five-field pattern (or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`) in the
    /// zone named `timezone`. The error names the field at fault.
    pub fn parse(field: &str, pattern: &str, timezone: &str) -> Result<Self, String> {
        let zone = Tz::from_str(timezone)
            .map_err(|_| format!("timezone: {timezone:?} is not an IANA time zone"))?;
        if pattern.trim().is_empty() {
            return Err(format!("{field}: a cron pattern is required"));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(pattern)
            .map_err(|error| format!("{field}: {pattern:?} is not a cron pattern ({error})"))?;
        let recurrence = Recurrence { cron, zone };
        if recurrence.next_after(Utc::now()).is_none() {
            return Err(format!("{field}: {pattern:?} never comes"));
        }
        Ok(recurrence)
    }

    /// The first time the pattern names strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.zone), false)
            .ok()
            .map(|next| next.with_timezone(&Utc))
    }

    /// The first time at or after `from`.
    fn next_from(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&from.with_timezone(&self.zone), true)
            .ok()
            .map(|next| next.with_timezone(&Utc))
    }

    /// Refuses a pattern that comes more often than [`MIN_INTERVAL`] (judged on the times it
    /// names over the next few occurrences from `from`).
    fn check_interval(&self, field: &str, from: DateTime<Utc>) -> Result<(), String> {
        let mut previous = self.next_after(from);
        for _ in 0..INTERVAL_SAMPLES {
            let (Some(at), Some(next)) = (previous, previous.and_then(|at| self.next_after(at)))
            else {
                break;
            };
            if next - at < MIN_INTERVAL {
                return Err(format!(
                    "{field}: scans would start more often than every {} minutes",
                    MIN_INTERVAL.num_minutes()
                ));
            }
            previous = Some(next);
        }
        Ok(())
    }
}

/// A skip window: it opens at each time its pattern names and stays open `length`.
#[derive(Clone, Debug)]
pub struct Window {
    opens: Recurrence,
    length: Duration,
}

impl Window {
    /// Whether `at` falls inside an opening of the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.opens
            .next_from(at - self.length + Duration::seconds(1))
            .is_some_and(|opened| opened <= at)
    }
}

/// A schedule's pattern and skip windows.
#[derive(Clone, Debug)]
pub struct Timing {
    pub recurrence: Recurrence,
    pub windows: Vec<Window>,
}

impl Timing {
    /// Validates what a person gives: the pattern, the time zone and the windows (each read in
    /// the schedule's zone). The error names the field at fault.
    pub fn parse(cron: &str, timezone: &str, windows: &[SkipWindow]) -> Result<Self, String> {
        let timing = Self::read(cron, timezone, windows)?;
        timing.recurrence.check_interval("cron", Utc::now())?;
        Ok(timing)
    }

    /// The timing of a stored schedule (validated, interval included, when it was stored).
    pub fn of(schedule: &Schedule) -> Result<Self, String> {
        Self::read(&schedule.cron, &schedule.timezone, &schedule.skip_windows)
    }

    fn read(cron: &str, timezone: &str, windows: &[SkipWindow]) -> Result<Self, String> {
        let recurrence = Recurrence::parse("cron", cron, timezone)?;
        if windows.len() > MAX_SKIP_WINDOWS {
            return Err(format!("skip_windows: at most {MAX_SKIP_WINDOWS} windows"));
        }
        let windows = windows
            .iter()
            .enumerate()
            .map(|(index, window)| {
                let field = format!("skip_windows[{index}].cron");
                if window.minutes == 0 || window.minutes > MAX_WINDOW_MINUTES {
                    return Err(format!(
                        "skip_windows[{index}].minutes: between 1 and {MAX_WINDOW_MINUTES}"
                    ));
                }
                Ok(Window {
                    opens: Recurrence::parse(&field, &window.cron, timezone)?,
                    length: Duration::minutes(i64::from(window.minutes)),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Timing {
            recurrence,
            windows,
        })
    }

    /// When a schedule of this timing is due after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.recurrence.next_after(after)
    }

    pub fn in_window(&self, at: DateTime<Utc>) -> bool {
        self.windows.iter().any(|window| window.contains(at))
    }
}

/// What a scheduler does with a due schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Start,
    Skip(ScheduleOutcome),
}

/// What to do at `now` with a schedule that came due, and when it is due next: always the
/// first time after `now`, so downtime never leaves a burst of runs behind.
///
/// A due time counts as missed when a later one has passed too (the scheduler was away for a
/// whole period): the catch-up policy then skips it or runs once now. A scan that would start
/// inside a skip window, or while the schedule's previous scan is still queued or running
/// (unless overlap is allowed), is skipped.
pub fn plan(
    timing: &Timing,
    due: &DueSchedule,
    now: DateTime<Utc>,
) -> (Decision, Option<DateTime<Utc>>) {
    let schedule = &due.schedule;
    let next = timing.next_after(now);
    let Some(due_at) = schedule.next_run_at else {
        return (Decision::Skip(ScheduleOutcome::SkippedMissed), next);
    };
    let missed = timing.next_after(due_at).is_some_and(|later| later <= now);
    let starts_at = match (missed, schedule.catch_up) {
        (true, CatchUp::Skip) => {
            return (Decision::Skip(ScheduleOutcome::SkippedMissed), next);
        }
        (true, CatchUp::RunOnce) => now,
        (false, _) => due_at,
    };
    if timing.in_window(starts_at) {
        return (Decision::Skip(ScheduleOutcome::SkippedWindow), next);
    }
    let previous_running = matches!(
        due.last_run_status,
        Some(RunStatus::Queued | RunStatus::Running)
    );
    if previous_running && !schedule.allow_overlap {
        return (Decision::Skip(ScheduleOutcome::SkippedOverlap), next);
    }
    (Decision::Start, next)
}

#[cfg(test)]
mod tests;
