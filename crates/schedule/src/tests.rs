use chrono::{DateTime, Utc};
use s4e_types::schedule::{DueSchedule, ScheduleOutcome, SkipWindow};
use s4e_types::{AssetId, CatchUp, OrgId, RunStatus, Schedule, ScheduleId};

use super::{Decision, Timing, plan};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn timing(cron: &str, zone: &str) -> Timing {
    Timing::parse(cron, zone, &[]).unwrap()
}

fn window(cron: &str, minutes: u32) -> SkipWindow {
    SkipWindow {
        cron: cron.into(),
        minutes,
    }
}

#[test]
fn what_is_not_a_schedule_is_refused_naming_the_field() {
    let refused = |cron: &str, zone: &str, windows: &[SkipWindow]| {
        Timing::parse(cron, zone, windows).unwrap_err()
    };
    assert!(refused("every day", "UTC", &[]).starts_with("cron: \"every day\" is not a cron"));
    assert!(refused("", "UTC", &[]).starts_with("cron: a cron pattern is required"));
    // Seconds and years are not ours to give.
    assert!(refused("0 0 3 * * *", "UTC", &[]).starts_with("cron:"));
    assert!(refused("0 3 * * *", "Mars/Olympus", &[]).starts_with("timezone:"));
    assert!(refused("*/2 * * * *", "UTC", &[]).contains("more often than every 5 minutes"));
    assert!(refused("0 3 30 2 *", "UTC", &[]).starts_with("cron:"));
    assert!(
        refused("0 3 * * *", "UTC", &[window("0 22 * * 5", 0)])
            .starts_with("skip_windows[0].minutes")
    );
    assert!(
        refused(
            "0 3 * * *",
            "UTC",
            &[window("0 22 * * 5", 60), window("x", 60)]
        )
        .starts_with("skip_windows[1].cron")
    );
    let many = vec![window("0 22 * * 5", 60); 21];
    assert!(refused("0 3 * * *", "UTC", &many).starts_with("skip_windows: at most 20"));
    // What is fine.
    for cron in [
        "*/5 * * * *",
        "0 3 * * 1-5",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
    ] {
        assert!(Timing::parse(cron, "Europe/Berlin", &[]).is_ok(), "{cron}");
    }
}

#[test]
fn a_pattern_is_read_in_its_time_zone() {
    let nine = timing("0 9 * * *", "Europe/Berlin");
    // Winter: Berlin is UTC+1; summer: UTC+2.
    assert_eq!(
        nine.next_after(at("2027-01-10T12:00:00Z")),
        Some(at("2027-01-11T08:00:00Z"))
    );
    assert_eq!(
        nine.next_after(at("2027-07-10T12:00:00Z")),
        Some(at("2027-07-11T07:00:00Z"))
    );
    let new_york = timing("0 9 * * *", "America/New_York");
    assert_eq!(
        new_york.next_after(at("2027-01-10T12:00:00Z")),
        Some(at("2027-01-10T14:00:00Z"))
    );
    // Strictly after: the time itself is not next.
    assert_eq!(
        nine.next_after(at("2027-01-11T08:00:00Z")),
        Some(at("2027-01-12T08:00:00Z"))
    );
    let daily = timing("@daily", "UTC");
    assert_eq!(
        daily.next_after(at("2027-01-10T12:00:00Z")),
        Some(at("2027-01-11T00:00:00Z"))
    );
}

#[test]
fn a_time_skipped_by_the_spring_forward_runs_at_the_end_of_the_gap_once() {
    // Berlin, 2027-03-28: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
    let half_past_two = timing("30 2 * * *", "Europe/Berlin");
    let first = half_past_two
        .next_after(at("2027-03-27T12:00:00Z"))
        .unwrap();
    assert_eq!(first, at("2027-03-28T01:00:00Z"), "03:00 CEST");
    assert_eq!(
        half_past_two.next_after(first),
        Some(at("2027-03-29T00:30:00Z")),
        "02:30 CEST the next day"
    );
}

#[test]
fn a_time_repeated_by_the_fall_back_runs_once() {
    // Berlin, 2027-10-31: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    let half_past_two = timing("30 2 * * *", "Europe/Berlin");
    let first = half_past_two
        .next_after(at("2027-10-30T12:00:00Z"))
        .unwrap();
    assert_eq!(first, at("2027-10-31T00:30:00Z"), "02:30 CEST");
    assert_eq!(
        half_past_two.next_after(first),
        Some(at("2027-11-01T01:30:00Z")),
        "not 02:30 CET again, but the next day"
    );
    // An hourly pattern runs at every matching instant of the repeated hour.
    let hourly = timing("0 * * * *", "Europe/Berlin");
    let mut times = vec![at("2027-10-30T23:30:00Z")];
    for _ in 0..4 {
        let next = hourly.next_after(*times.last().unwrap()).unwrap();
        times.push(next);
    }
    assert_eq!(
        times[1..],
        [
            at("2027-10-31T00:00:00Z"),
            at("2027-10-31T01:00:00Z"),
            at("2027-10-31T02:00:00Z"),
            at("2027-10-31T03:00:00Z"),
        ]
    );
}

#[test]
fn a_skip_window_covers_its_opening_to_its_end() {
    // Fridays 22:00 to 01:00 (Berlin).
    let timing = Timing::parse("0 * * * *", "Europe/Berlin", &[window("0 22 * * 5", 180)]).unwrap();
    // 2027-01-15 is a Friday; Berlin is UTC+1.
    assert!(!timing.in_window(at("2027-01-15T20:59:00Z")));
    assert!(timing.in_window(at("2027-01-15T21:00:00Z")));
    assert!(timing.in_window(at("2027-01-15T23:30:00Z")));
    assert!(timing.in_window(at("2027-01-15T23:59:00Z")));
    assert!(!timing.in_window(at("2027-01-16T00:00:00Z")));
    assert!(!timing.in_window(at("2027-01-14T21:30:00Z")), "a Thursday");
}

fn due(cron: &str, due_at: &str) -> DueSchedule {
    DueSchedule {
        schedule: Schedule {
            id: ScheduleId::new(),
            org_id: OrgId::new(),
            asset_id: Some(AssetId::new()),
            tag: None,
            name: None,
            cron: cron.into(),
            timezone: "UTC".into(),
            profile: None,
            checks: None,
            skip_windows: Vec::new(),
            catch_up: CatchUp::Skip,
            allow_overlap: false,
            paused: false,
            next_run_at: Some(at(due_at)),
            last_due_at: None,
            last_outcome: None,
            last_run_id: None,
            last_error: None,
            created_at: at("2027-01-01T00:00:00Z"),
            updated_at: at("2027-01-01T00:00:00Z"),
        },
        last_run_status: None,
    }
}

#[test]
fn a_due_schedule_starts_its_scan_and_is_next_due_after_now() {
    let hourly = due("0 * * * *", "2027-01-10T10:00:00Z");
    let timing = Timing::of(&hourly.schedule).unwrap();
    let now = at("2027-01-10T10:00:02Z");
    assert_eq!(
        plan(&timing, &hourly, now),
        (Decision::Start, Some(at("2027-01-10T11:00:00Z")))
    );
    // A few minutes late is still on time.
    let now = at("2027-01-10T10:40:00Z");
    assert_eq!(plan(&timing, &hourly, now).0, Decision::Start);
}

#[test]
fn after_downtime_a_missed_time_is_skipped_or_run_once_never_repeated() {
    let mut hourly = due("0 * * * *", "2027-01-10T10:00:00Z");
    let timing = Timing::of(&hourly.schedule).unwrap();
    // Away for five hours: five times passed.
    let now = at("2027-01-10T15:20:00Z");
    assert_eq!(
        plan(&timing, &hourly, now),
        (
            Decision::Skip(ScheduleOutcome::SkippedMissed),
            Some(at("2027-01-10T16:00:00Z"))
        )
    );
    hourly.schedule.catch_up = CatchUp::RunOnce;
    assert_eq!(
        plan(&timing, &hourly, now),
        (Decision::Start, Some(at("2027-01-10T16:00:00Z")))
    );
}

#[test]
fn a_time_in_a_skip_window_or_over_a_running_scan_is_skipped() {
    let mut nightly = due("0 23 * * *", "2027-01-15T23:00:00Z");
    nightly.schedule.skip_windows = vec![window("0 22 * * 5", 180)];
    let timing = Timing::of(&nightly.schedule).unwrap();
    let now = at("2027-01-15T23:00:01Z");
    assert_eq!(
        plan(&timing, &nightly, now),
        (
            Decision::Skip(ScheduleOutcome::SkippedWindow),
            Some(at("2027-01-16T23:00:00Z"))
        )
    );

    let mut hourly = due("0 * * * *", "2027-01-10T10:00:00Z");
    let timing = Timing::of(&hourly.schedule).unwrap();
    let now = at("2027-01-10T10:00:01Z");
    for status in [RunStatus::Queued, RunStatus::Running] {
        hourly.last_run_status = Some(status);
        assert_eq!(
            plan(&timing, &hourly, now).0,
            Decision::Skip(ScheduleOutcome::SkippedOverlap)
        );
    }
    hourly.schedule.allow_overlap = true;
    assert_eq!(plan(&timing, &hourly, now).0, Decision::Start);
    hourly.schedule.allow_overlap = false;
    for status in [
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ] {
        hourly.last_run_status = Some(status);
        assert_eq!(plan(&timing, &hourly, now).0, Decision::Start);
    }
}
