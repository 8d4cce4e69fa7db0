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
            .with_current_span(false)
            .try_init()
    };
    if installed.is_ok() {
        tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
    }
}
