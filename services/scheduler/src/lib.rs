//! s4e-scheduler: the platform's recurring work: recurring scans (`schedules.rs`), and proving
//! again, at intervals, that verified assets are still their owners' (a domain sold or a file
//! removed must stop full scans). Several replicas may run.

mod reverify;
pub mod schedules;

use std::time::Duration;

use s4e_client::{BaseClient, ScanClient};
use s4e_runtime::{BaseUrl, ScanUrl};
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Service};
use tokio::net::TcpListener;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    #[command(flatten)]
    pub base: BaseUrl,

    // s4e-scan runs the verifications.
    #[command(flatten)]
    pub scan: ScanUrl,

    /// A verified asset is proven again once its last proof is this old.
    #[arg(
        long,
        env = "S4E_REVERIFY_AFTER_SECONDS",
        value_name = "S4E_REVERIFY_AFTER_SECONDS",
        default_value_t = 24 * 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub reverify_after_seconds: u64,

    /// How often to look for assets due to be proven again.
    #[arg(
        long,
        env = "S4E_REVERIFY_POLL_SECONDS",
        value_name = "S4E_REVERIFY_POLL_SECONDS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub reverify_poll_seconds: u64,

    /// A verified asset that cannot be reached at all (no answer to any method: down, or its
    /// name does not resolve) keeps its proof this long after it was last proven, and is asked
    /// again every re-verification period meanwhile; after that it loses it.
    #[arg(
        long,
        env = "S4E_REVERIFY_GRACE_SECONDS",
        value_name = "S4E_REVERIFY_GRACE_SECONDS",
        default_value_t = 7 * 24 * 3600,
        value_parser = clap::value_parser!(u32)
    )]
    pub reverify_grace_seconds: u32,

    /// How often to look for recurring scans that are due.
    #[arg(
        long,
        env = "S4E_SCHEDULE_POLL_SECONDS",
        value_name = "S4E_SCHEDULE_POLL_SECONDS",
        default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub schedule_poll_seconds: u64,

    /// How long a due schedule a scheduler claimed stays its own: if the scheduler dies, another
    /// takes the schedule over after this.
    #[arg(
        long,
        env = "S4E_SCHEDULE_LEASE_SECONDS",
        value_name = "S4E_SCHEDULE_LEASE_SECONDS",
        default_value_t = 120,
        value_parser = clap::value_parser!(u64).range(1..=86400)
    )]
    pub schedule_lease_seconds: u64,
}

impl Service for Config {
    const NAME: &'static str = "s4e-scheduler";
    const ABOUT: &'static str = "S4E scheduler";
    const DEFAULT_PORT: u16 = 8085;

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
    let token = config.common.service_token.expose();
    let base = BaseClient::new(&config.base.url, token)?;
    let scan = ScanClient::new(&config.scan.url, token)?;
    let metrics = Metrics::new();
    let readiness = Readiness::new()
        .with_probe(
            "base",
            base.clone(),
            |base| async move { base.ready().await },
        )
        .with_probe(
            "scan",
            scan.clone(),
            |scan| async move { scan.ready().await },
        );
    let scheduler = schedules::Scheduler {
        base: base.clone(),
        scan: scan.clone(),
        metrics: metrics.clone(),
        lease: Duration::from_secs(config.schedule_lease_seconds),
    };
    let scheduling = tokio::spawn(scheduler.run(
        Duration::from_secs(config.schedule_poll_seconds),
        shutdown.clone(),
    ));
    let reverifier = reverify::Reverifier {
        base,
        scan,
        metrics: metrics.clone(),
        older_than: Duration::from_secs(config.reverify_after_seconds),
        grace_seconds: config.reverify_grace_seconds,
    };
    let every = Duration::from_secs(config.reverify_poll_seconds);
    let work = tokio::spawn(reverifier.run(every, shutdown.clone()));
    let router = s4e_runtime::health::router(readiness, metrics.clone());
    let router = s4e_runtime::with_common_layers(router, metrics);
    let served = s4e_runtime::serve(listener, router, shutdown.clone()).await;
    // Serving ends on shutdown or failure; the loop must end with it either way.
    shutdown.cancel();
    if let Err(error) = work.await {
        tracing::error!(%error, "re-verification loop ended abnormally");
    }
    if let Err(error) = scheduling.await {
        tracing::error!(%error, "scheduling loop ended abnormally");
    }
    served?;
    Ok(())
}
