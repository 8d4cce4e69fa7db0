//! Serving a router until shutdown, and the handle tests use to run a service in-process.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::Limited;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::{self, Metrics};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bodies larger than this are refused with 413 (a route may set a lower limit, not a higher
/// one).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Adds what every service's HTTP surface has: the body limit, request metrics, the trace
/// context, as one layer ([`observed`]): each axum middleware layer clones the whole stack
/// beneath it on every request.
pub fn with_common_layers(router: Router, metrics: Metrics) -> Router {
    router.layer(axum::middleware::from_fn_with_state(metrics, observe))
}

async fn observe(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    observed(&metrics, request, |request| next.run(request)).await
}

/// Serves `request` through `inner` with what every service's HTTP surface has: its trace
/// context, the request metrics, and the body limit. For a service whose own first layer does
/// more (the gateway's), instead of [`with_common_layers`]. Not an `async fn`, like
/// [`crate::telemetry::traced`].
pub fn observed<F, Fut>(
    metrics: &Metrics,
    request: Request,
    inner: F,
) -> impl Future<Output = Response>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    // Extractors answer 413 when they meet this limit's error.
    let request = request.map(|body| Body::new(Limited::new(body, DEFAULT_BODY_LIMIT)));
    crate::telemetry::traced(request, |request| {
        metrics::track_http(metrics, request, inner)
    })
}

/// Serves until `shutdown` is cancelled, then lets in-flight requests finish. Handlers can read
/// the TCP peer as `ConnectInfo<SocketAddr>` (the gateway's rate limiter does).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}

/// A service running in this process: its address, and how to stop it.
pub struct Served {
    pub local_addr: SocketAddr,
    pub shutdown: CancellationToken,
    task: JoinHandle<Result<(), BoxError>>,
}

impl Served {
    /// Runs `run(listener, shutdown)` on a task.
    pub fn spawn<F, Fut>(listener: TcpListener, run: F) -> std::io::Result<Self>
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let local_addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(listener, shutdown.clone()));
        Ok(Self {
            local_addr,
            shutdown,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Requests shutdown and waits for the service to drain (at most 30 s).
    pub async fn stop(self) -> Result<(), BoxError> {
        self.shutdown.cancel();
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(Box::new(join_error)),
            Err(_) => Err("service did not stop within 30 s".into()),
        }
    }
}
