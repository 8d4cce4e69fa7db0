//! The internal API: the catalog, and starting a scan.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use s4e_bus::Exchange;
use s4e_bus::topology::DISPATCH_ROUTING_KEY;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson, InternalRouter, ServiceToken};
use s4e_types::routes::scan as routes;
use std::time::Duration;

use s4e_runtime::CancellationToken;
use s4e_types::api::{
    Catalog, CreateScan, NewScanJob, NewScanRun, RecordVerification, ScanRunWithJobs, Verification,
    VerificationOutcome,
};
use s4e_types::rule::{RuleCause, RuleScan};
use s4e_types::schedule::{ScheduledFor, ScheduledScan};
use s4e_types::{AssetId, CheckKind, Envelope, JobSpec, Message, OrgId, ScanRun};

use crate::AppState;
use crate::catalog::{self, PlanError};
use crate::ownership;

pub fn router(state: AppState, token: ServiceToken) -> Router {
    Router::new()
        .at(routes::CATALOG, list_catalog)
        .at(routes::START_SCAN, start_scan)
        .at(routes::START_SCHEDULED_SCAN, start_scheduled_scan)
        .at(routes::START_RULE_SCAN, start_rule_scan)
        .at(routes::VERIFY_ASSET, verify_asset)
        .with_no_route_answer()
        .layer(axum::middleware::from_fn_with_state(
            token,
            s4e_runtime::service_token::require,
        ))
        .with_state(state)
}

async fn list_catalog() -> Json<Catalog> {
    Json(catalog::catalog())
}

/// Creates the run with its jobs, then queues each job. If the jobs cannot be queued the run is
/// ended as failed with the reason, so nothing waits forever for work that was never sent.
async fn start_scan(
    State(state): State<AppState>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<CreateScan>,
) -> Result<(StatusCode, Json<ScanRun>), ApiError> {
    start(state, org_id, body, Origin::default()).await
}

/// A schedule's scan: planned and judged like any other; base refuses a second run for the
/// same schedule and due time (409 `already_started`).
async fn start_scheduled_scan(
    State(state): State<AppState>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<ScheduledScan>,
) -> Result<(StatusCode, Json<ScanRun>), ApiError> {
    let scheduled = ScheduledFor {
        schedule_id: body.schedule_id,
        due_at: body.due_at,
    };
    let origin = Origin {
        scheduled: Some(scheduled),
        ..Origin::default()
    };
    start(state, org_id, body.scan, origin).await
}

/// A rule's scan: planned and judged like any other; base refuses a second run for the same
/// rule and event (409 `already_started`).
async fn start_rule_scan(
    State(state): State<AppState>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<RuleScan>,
) -> Result<(StatusCode, Json<ScanRun>), ApiError> {
    let origin = Origin {
        rule: Some(body.cause),
        ..Origin::default()
    };
    start(state, org_id, body.scan, origin).await
}

/// What started a run besides its caller: a schedule's due time, or a rule and its event.
#[derive(Default)]
struct Origin {
    scheduled: Option<ScheduledFor>,
    rule: Option<RuleCause>,
}

async fn start(
    state: AppState,
    org_id: OrgId,
    body: CreateScan,
    origin: Origin,
) -> Result<(StatusCode, Json<ScanRun>), ApiError> {
    let (asset, settings) = tokio::join!(
        state.base.get_asset(org_id, body.asset_id),
        state.base.scan_settings(org_id)
    );
    let asset = asset?;
    let settings = settings?;
    let plan = catalog::plan(&asset, body.profile, body.checks.as_deref(), &settings).map_err(
        |error| match error {
            PlanError::Invalid(message) => ApiError::bad_request(message),
            PlanError::Refused(message) => ApiError::conflict(message),
        },
    )?;
    let checks = plan.checks;
    if state.require_ownership
        && asset.verified_at.is_none()
        && !ownership::allowed_unverified(&checks)
    {
        let domains = state.base.verified_domains(org_id).await?;
        if ownership::inherited_from(&asset, &domains).is_none() {
            return Err(ApiError::forbidden(
                "the asset's ownership is not verified: verify it, or run one passive check \
                 (http_headers or tls_certificate) on it",
            ));
        }
    }
    let profile = plan.profile.as_str();
    let new_run = NewScanRun {
        scheduled: origin.scheduled,
        rule: origin.rule,
        asset_id: asset.id,
        profile: profile.to_string(),
        jobs: checks
            .iter()
            .flat_map(|check| {
                catalog::targets_for(*check, &asset)
                    .into_iter()
                    .map(|target| NewScanJob {
                        check: *check,
                        target,
                        // The organization's port choice travels with the job row the worker
                        // reads.
                        ports: (*check == CheckKind::Ports).then(|| settings.port_scan.clone()),
                    })
            })
            .collect(),
    };
    let created = state.base.create_run(org_id, &new_run).await?;
    // Queued on a task of its own: a caller hanging up must not leave half the jobs unsent.
    let queueing = tokio::spawn(queue_jobs(state.clone(), org_id, created.clone()));
    match queueing.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(error),
        Err(join_error) => return Err(ApiError::internal(join_error)),
    }
    state.metrics.inc(
        "s4e_scan_runs_started_total",
        "Scan runs created and queued.",
        &[("profile", profile)],
    );
    tracing::info!(run_id = %created.run.id, %org_id, jobs = created.jobs.len(), "scan queued");
    Ok((StatusCode::ACCEPTED, Json(created.run)))
}

/// Tries to prove the asset is its owner's and records the outcome: proven by the first method
/// that finds the token, or no longer proven when none does.
async fn verify_asset(
    State(state): State<AppState>,
    ApiPath((org_id, asset_id)): ApiPath<(OrgId, AssetId)>,
    ApiJson(body): ApiJson<Verification>,
) -> Result<Json<VerificationOutcome>, ApiError> {
    let asset = state.base.get_asset(org_id, asset_id).await?;
    let attempts = state
        .verifier
        .attempt(&asset, body.method)
        .await
        .map_err(ApiError::bad_request)?;
    let proven_by = attempts
        .iter()
        .find(|attempt| attempt.proven)
        .map(|attempt| attempt.method);
    // Re-verification keeps a recent proof through an outage: nothing answered is not a
    // withdrawn token.
    let unreachable = attempts.iter().all(|attempt| !attempt.reached);
    let record = RecordVerification {
        proven_by,
        keep_proof_younger_than_seconds: body.keep_if_unreachable_seconds.filter(|_| unreachable),
    };
    let asset = state
        .base
        .record_verification(org_id, asset_id, &record)
        .await?;
    let inherited = if asset.verified_at.is_none() {
        let domains = state.base.verified_domains(org_id).await?;
        ownership::inherited_from(&asset, &domains).is_some()
    } else {
        false
    };
    tracing::info!(%org_id, %asset_id, proven_by = proven_by.map(|m| m.as_str()), inherited, unreachable, "asset verification");
    Ok(Json(VerificationOutcome {
        verified: asset.verified_at.is_some() || inherited,
        asset,
        attempts,
    }))
}

/// Publishes every job of a new run. If they cannot all be queued, the run is ended `failed`
/// with the reason (retried, so a brief base outage does not leave it queued forever).
async fn queue_jobs(
    state: AppState,
    org_id: OrgId,
    created: ScanRunWithJobs,
) -> Result<(), ApiError> {
    for job in &created.jobs {
        let envelope = Envelope::new(org_id, Message::ScanJob(JobSpec::from(job)));
        let Err(error) = state
            .bus
            .publish(Exchange::Dispatch, DISPATCH_ROUTING_KEY, &envelope)
            .await
        else {
            continue;
        };
        tracing::error!(%error, run_id = %created.run.id, "cannot queue scan jobs");
        let reason = format!("could not queue the scan's jobs: {error}");
        let never = CancellationToken::new();
        let failed =
            s4e_runtime::retry::with_retries("base", Duration::from_secs(60), &never, || {
                state.base.fail_run(org_id, created.run.id, &reason)
            })
            .await;
        if let Err(error) = failed {
            tracing::error!(%error, run_id = %created.run.id, "cannot mark run failed");
        }
        return Err(ApiError::unavailable(
            "the job queue is unavailable, try again",
        ));
    }
    Ok(())
}
