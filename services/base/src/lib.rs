//! s4e-base: the only service with a PostgreSQL connection. It owns the schema (refinery
//! migrations in `migrations/`) and serves tenant-scoped CRUD, bulk writes and aggregation to
//! the other services over an internal REST API guarded by the service token.

mod api;
mod config;
mod db;
pub mod migrate;

use std::time::Duration;

use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Service};
use tokio::net::TcpListener;

pub use config::Config;

/// Connects, optionally migrates, and serves until `shutdown` is cancelled.
impl Service for Config {
    const NAME: &'static str = "s4e-base";
    const ABOUT: &'static str = "S4E data service (PostgreSQL owner)";
    const DEFAULT_PORT: u16 = 8081;

    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'static {
        run(self, listener, shutdown)
    }
}

async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    if config.migrate_on_start {
        migrate::run(&config.database_url).await?;
    }
    let pool =
        s4e_runtime::retry::with_retries("postgres", Duration::from_secs(60), &shutdown, || {
            db::connect(&config.database_url, config.database_max_connections)
        })
        .await?;
    let metrics = Metrics::new();
    let readiness = Readiness::new().with("postgres", {
        let pool = pool.clone();
        move || {
            let pool = pool.clone();
            async move { db::ping(&pool).await.map_err(|error| error.to_string()) }
        }
    });
    let router = api::router(pool.clone(), config.common.service_token.clone())
        .merge(s4e_runtime::health::router(readiness, metrics.clone()));
    let router = s4e_runtime::with_common_layers(router, metrics);
    s4e_runtime::serve(listener, router, shutdown).await?;
    pool.close().await;
    Ok(())
}
