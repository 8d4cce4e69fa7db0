//! Structured logs: JSON lines for collectors, or human-readable for a terminal.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The filter comes from `RUST_LOG` (default `info`). Calling
/// it twice is harmless, which lets tests start several services in one process.
pub fn init(service: &'static str, format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = if format == "pretty" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
    if installed.is_ok() {
        tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
    }
}

/// Runs `inner` for the request inside the trace context it arrived with (`traceparent`), or a
/// new one, and inside a span carrying its trace id, so every log line of the request and every
/// call it makes can be followed across services. Not an `async fn`: the future it returns is
/// `inner`'s, wrapped, and nothing beside it (every request's future is moved as a whole).
pub fn traced<F, Fut>(
    request: axum::extract::Request,
    inner: F,
) -> impl std::future::Future<Output = axum::response::Response>
where
    F: FnOnce(axum::extract::Request) -> Fut,
    Fut: std::future::Future<Output = axum::response::Response>,
{
    use tracing::Instrument;

    // Parsed once, not on every request.
    const TRACE_HEADER: axum::http::HeaderName =
        axum::http::HeaderName::from_static(s4e_trace::HEADER);
    let context = request
        .headers()
        .get(TRACE_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(s4e_trace::TraceContext::parse)
        .unwrap_or_else(s4e_trace::TraceContext::new_root);
    let span = tracing::info_span!(
        "request",
        trace_id = %context.trace_id(),
        method = %request.method(),
        path = %request.uri().path(),
    );
    s4e_trace::scope(context, inner(request).instrument(span))
}
