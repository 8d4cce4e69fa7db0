use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{Extension, Json};
use futures_util::Stream;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson, PublicQuery};
use s4e_types::api::{CrawlProgress, CreateScan, ErrorBody, List, RunProgress, ScanView};
use s4e_types::crawl::{SitePageList, SitePageQuery};
use s4e_types::{OrgId, RunId, RunPage, RunQuery, RunStatus, ScanJob, ScanRun};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// Scan an asset (scans:write)
///
/// With a profile: `full`, `light`, `single`, `crawl_only` or `custom`. Creates a run with one
/// job per check (the crawl is one job) and queues them; poll the run, or follow its events, until its
/// status is completed, failed or cancelled. An asset whose ownership is not verified (itself
/// or through a verified parent domain) gets one passive check at most (`http_headers` or
/// `tls_certificate`, as planned); anything more answers 403. An archived asset answers 409.
#[utoipa::path(post, path = "/api/v1/scans", operation_id = "createScan", tag = "scans",
    request_body = CreateScan,
    responses(
        (status = 202, description = "Queued", body = ScanRun),
        (status = 404, description = "No such asset", body = ErrorBody),
        (status = 409, description = "The asset is archived, or the profile is not available", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<CreateScan>,
) -> Result<(StatusCode, Json<ScanRun>), ApiError> {
    principal.require(Resource::Scans, Access::Write)?;
    principal.require_asset(body.asset_id, "asset")?;
    let run = state.scan.start_scan(principal.org_id, &body).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), scan_id = %run.id, "scan started");
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// List scans (scans:read)
///
/// The organization's scan runs, newest first, in pages. A user limited to assigned assets
/// lists one asset's scans at a time (`asset_id`).
//
// An organization-wide list would show a limited user the other assets' scans.
#[utoipa::path(get, path = "/api/v1/scans", operation_id = "listScans", tag = "scans",
    params(RunQuery),
    responses(
        (status = 200, description = "One page", body = RunPage),
        (status = 404, description = "No such asset", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(filter): PublicQuery<RunQuery>,
) -> Result<Json<RunPage>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    filter.validate().map_err(ApiError::bad_request)?;
    match filter.asset_id {
        Some(asset_id) => principal.require_asset(asset_id, "asset")?,
        None => principal.require_unlimited("listing every scan")?,
    }
    Ok(Json(state.base.list_runs(principal.org_id, &filter).await?))
}

/// A scan run with live progress (scans:read)
//
// The stored run, with live progress from Redis while it runs. Both are read at once; once the
// run has ended its own counts are the progress, since Redis may lag behind base.
#[utoipa::path(get, path = "/api/v1/scans/{scan_id}", operation_id = "getScan", tag = "scans",
    params(("scan_id" = RunId, Path)),
    responses((status = 200, description = "The run", body = ScanView)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(scan_id): ApiPath<RunId>,
) -> Result<Json<ScanView>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    let (run, progress) = tokio::join!(
        state.base.get_run(principal.org_id, scan_id),
        state.live.get(scan_id)
    );
    let run = run?;
    principal.require_asset(run.asset_id, "scan")?;
    let progress = if run.status.is_final() {
        Some(RunProgress::from(&run))
    } else {
        progress.unwrap_or_else(|error| {
            tracing::warn!(%error, "live status unavailable");
            None
        })
    };
    Ok(Json(ScanView { run, progress }))
}

/// A scan's jobs (scans:read)
///
/// In creation order: each check's target, status, attempts and error. For an asset whose
/// ownership is not proven, a job's error says only that the target could not be checked;
/// the reason is shown once the asset is verified.
//
// How a connection failed (refused, timed out, not HTTP, resolved to a refused address) would
// map someone else's hosts and ports through the scanner.
#[utoipa::path(get, path = "/api/v1/scans/{scan_id}/jobs", operation_id = "scanJobs", tag = "scans",
    params(("scan_id" = RunId, Path)),
    responses((status = 200, description = "The jobs", body = List<ScanJob>)))]
pub async fn jobs(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(scan_id): ApiPath<RunId>,
) -> Result<Json<List<ScanJob>>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    let run = state.base.get_run(principal.org_id, scan_id).await?;
    principal.require_asset(run.asset_id, "scan")?;
    let (asset, items) = tokio::join!(
        state.base.get_asset(principal.org_id, run.asset_id),
        state.base.run_jobs(principal.org_id, scan_id)
    );
    let mut items = items?;
    if asset?.verified_at.is_none() {
        for job in &mut items {
            job.error = job.error.take().map(coarse_error);
        }
    }
    Ok(Json(List { items }))
}

/// A scan's site map (scans:read)
///
/// The pages its crawl fetched, in URL order, `limit` at a time after the previous page's
/// `next_cursor`: each URL (normalised), how it was found, its depth, status, content type,
/// size, title, how many in-scope links it has and its forms. Empty for a scan without a
/// crawl, and while the crawl has fetched nothing yet.
#[utoipa::path(get, path = "/api/v1/scans/{scan_id}/site-map", operation_id = "scanSiteMap", tag = "scans",
    params(("scan_id" = RunId, Path), SitePageQuery),
    responses((status = 200, description = "One page of the site map", body = SitePageList)))]
pub async fn site_map(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(scan_id): ApiPath<RunId>,
    PublicQuery(query): PublicQuery<SitePageQuery>,
) -> Result<Json<SitePageList>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    query.limit().map_err(ApiError::bad_request)?;
    let run = state.base.get_run(principal.org_id, scan_id).await?;
    principal.require_asset(run.asset_id, "scan")?;
    let pages = state
        .crawler
        .site_pages(principal.org_id, scan_id, &query)
        .await?;
    Ok(Json(pages))
}

/// What an unproven asset's job error may say.
fn coarse_error(error: String) -> String {
    if error == "cancelled" {
        return error;
    }
    "the target could not be checked (the reason is shown once the asset is verified)".into()
}

/// Cancel a scan (scans:write)
///
/// The run and its unfinished jobs end cancelled at once; running checks are stopped and
/// their results ignored. A scan that has ended answers 409.
//
// Base ends the run and its unfinished jobs in one transaction, then the workers running its
// jobs are told to stop (a Redis flag they poll). If the flag cannot be set the running jobs
// finish and base ignores their reports.
#[utoipa::path(post, path = "/api/v1/scans/{scan_id}/cancel", operation_id = "cancelScan", tag = "scans",
    params(("scan_id" = RunId, Path)),
    responses(
        (status = 200, description = "The cancelled run", body = ScanRun),
        (status = 409, description = "The scan has ended", body = ErrorBody),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(scan_id): ApiPath<RunId>,
) -> Result<Json<ScanRun>, ApiError> {
    principal.require(Resource::Scans, Access::Write)?;
    if principal.asset_scope.is_some() {
        let run = state.base.get_run(principal.org_id, scan_id).await?;
        principal.require_asset(run.asset_id, "scan")?;
    }
    let run = state.base.cancel_run(principal.org_id, scan_id).await?;
    if let Err(error) = state.live.mark_cancelled(scan_id).await {
        tracing::warn!(%error, %scan_id, "cannot signal the cancellation to running jobs");
    }
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), %scan_id, "scan cancelled");
    Ok(Json(run))
}

/// One event of a run's stream, as the document describes it (the stream is written by
/// `Event`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ScanEvent {
    /// `progress`, then `end` once.
    event: ScanEventName,
    /// JSON: a `RunProgress` for `progress`, a `ScanView` for `end`.
    data: String,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum ScanEventName {
    Progress,
    End,
}

/// How often a run's event stream reads its progress from Redis.
const EVENTS_POLL: Duration = Duration::from_millis(250);
/// Every this many polls the stream also reads the run from base (about every 2 s), since a
/// run can end without its progress in Redis changing (failed because its jobs could not be
/// queued); base is read at once when Redis says the run ended.
const EVENTS_BASE_EVERY: u32 = 8;
/// A comment line this often keeps proxies from closing a quiet stream.
const EVENTS_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A scan's live progress as Server-Sent Events (scans:read)
///
/// The first event is the run's current state. Then an `event: progress` (data: a
/// `RunProgress`) whenever its progress or status changes, read from the live status every
/// 250 ms (and the stored run every 2 s); progress only moves forwards. While the run's crawl
/// is under way, `crawl` says its stage and how many URLs are done and queued. When the run ends one
/// `event: end` (data: a `ScanView`, the stored run with its final progress) is sent and the
/// stream closes; a finished run gets the end event alone. A comment line every 15 s keeps a
/// quiet stream open. Another organization's run is 404 before anything is streamed.
#[utoipa::path(get, path = "/api/v1/scans/{scan_id}/events", operation_id = "scanEvents", tag = "scans",
    params(("scan_id" = RunId, Path)),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream", body = ScanEvent)))]
pub async fn events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(scan_id): ApiPath<RunId>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    let run = state.base.get_run(principal.org_id, scan_id).await?;
    principal.require_asset(run.asset_id, "scan")?;
    let watch = RunWatch {
        state,
        org_id: principal.org_id,
        run,
        last: None,
        polls: 0,
        ended: false,
    };
    let stream = futures_util::stream::unfold(watch, |mut watch| async move {
        let event = watch.next().await?;
        Some((Ok(event), watch))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(EVENTS_KEEP_ALIVE)))
}

/// Where a run's event stream stands: the run as last read from base and the last progress
/// sent.
struct RunWatch {
    state: AppState,
    org_id: OrgId,
    run: ScanRun,
    last: Option<RunProgress>,
    polls: u32,
    ended: bool,
}

/// How far along a status is, so that progress is only ever sent forwards.
fn status_rank(status: &str) -> u8 {
    match RunStatus::parse(status) {
        Some(RunStatus::Queued) | None => 0,
        Some(RunStatus::Running) => 1,
        Some(RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled) => 2,
    }
}

fn ahead_of(candidate: &RunProgress, last: &RunProgress) -> bool {
    let key = |p: &RunProgress| {
        (
            p.jobs_done,
            status_rank(&p.status),
            p.findings,
            p.crawl.as_ref().map(CrawlProgress::rank),
        )
    };
    key(candidate) > key(last)
}

impl RunWatch {
    /// The next event, waiting for a change; `None` once the end was sent or the gateway is
    /// shutting down.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            if self.last.is_some() {
                tokio::select! {
                    () = tokio::time::sleep(EVENTS_POLL) => {}
                    () = self.state.shutdown.cancelled() => return None,
                }
                self.polls += 1;
            }
            let live = match self.state.live.get(self.run.id).await {
                Ok(live) => live,
                Err(error) => {
                    tracing::warn!(%error, "live status unavailable");
                    None
                }
            };
            let live_ended = live
                .as_ref()
                .is_some_and(|progress| status_rank(&progress.status) == 2);
            if self.last.is_some() && (live_ended || self.polls.is_multiple_of(EVENTS_BASE_EVERY)) {
                match self.state.base.get_run(self.org_id, self.run.id).await {
                    Ok(run) => self.run = run,
                    Err(error) => tracing::warn!(%error, "cannot read the run for its events"),
                }
            }
            if self.run.status.is_final() {
                self.ended = true;
                let view = ScanView {
                    progress: Some(RunProgress::from(&self.run)),
                    run: self.run.clone(),
                };
                return Some(
                    Event::default()
                        .event("end")
                        .data(serde_json::to_string(&view).unwrap_or_default()),
                );
            }
            // Redis runs ahead of the last base read, never behind base itself.
            let mut stored = RunProgress::from(&self.run);
            // Only the crawler records a crawl's progress: base's counts never carry it.
            stored.crawl = live.as_ref().and_then(|live| live.crawl.clone());
            let current = match live {
                Some(live) if ahead_of(&live, &stored) => live,
                _ => stored,
            };
            let send = match &self.last {
                None => true,
                Some(last) => ahead_of(&current, last),
            };
            if send {
                self.last = Some(current.clone());
                return Some(
                    Event::default()
                        .event("progress")
                        .data(serde_json::to_string(&current).unwrap_or_default()),
                );
            }
        }
    }
}
