//! `/healthz` (the process is alive), `/readyz` (its dependencies answer) and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::future::BoxFuture;
use serde_json::json;

use crate::metrics::Metrics;

pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The dependencies a service needs to do its work, each with a cheap probe.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, ReadinessCheck)>,
    redacted: bool,
}

/// A probe that takes longer than this counts as down: a hanging dependency must not hang the
/// orchestrator's probe too.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with<F, Fut>(mut self, name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks
            .push((name, Arc::new(move || Box::pin(probe()))));
        self
    }

    /// Answer `unavailable` instead of the probe's error (which can name internal addresses);
    /// the error is still logged. For services that face the public.
    pub fn redacted(mut self) -> Self {
        self.redacted = true;
        self
    }

    /// A dependency whose state the service already tracks as a flag.
    pub fn with_flag<F>(self, name: &'static str, flag: F) -> Self
    where
        F: Fn() -> bool + Send + Sync + 'static,
    {
        self.with(name, move || {
            let up = flag();
            async move { up.then_some(()).ok_or_else(|| "not connected".to_string()) }
        })
    }

    /// A dependency probed through a handle the service holds: `probe(handle.clone())`.
    pub fn with_probe<T, F, Fut, E>(self, name: &'static str, handle: T, probe: F) -> Self
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        self.with(name, move || {
            let probed = probe(handle.clone());
            async move { probed.await.map_err(|error| error.to_string()) }
        })
    }

    /// Runs every probe concurrently; returns each dependency's state.
    pub async fn probe(&self) -> Vec<(&'static str, Result<(), String>)> {
        let probes = self.checks.iter().map(|(name, check)| async move {
            let result = match tokio::time::timeout(PROBE_TIMEOUT, check()).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
            };
            (*name, result)
        });
        futures_util::future::join_all(probes).await
    }
}

/// The health and metrics routes. Mounted outside the service-token guard: probes and
/// scrapers come from the cluster, not from callers with a token.
pub fn router(readiness: Readiness, metrics: Metrics) -> Router {
    probes(readiness).merge(metrics_router(metrics))
}

/// `/healthz` and `/readyz` alone.
pub fn probes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

/// `/metrics` alone, for services that guard it.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .with_state(metrics)
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    let results = readiness.probe().await;
    let ready = results.iter().all(|(_, result)| result.is_ok());
    let body: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(name, result)| {
            let value = match result {
                Ok(()) => json!("ok"),
                Err(error) => {
                    tracing::warn!(dependency = name, %error, "dependency not ready");
                    if readiness.redacted {
                        json!("unavailable")
                    } else {
                        json!(error)
                    }
                }
            };
            (name.to_string(), value)
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({ "ready": ready, "dependencies": body })),
    )
        .into_response()
}

async fn metrics_text(State(metrics): State<Metrics>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
        .into_response()
}
