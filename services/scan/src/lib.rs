//! s4e-scan: knows which checks exist and which apply to an asset (the catalog), turns a scan
//! request into a run with jobs (stored through base) and queues the jobs on the bus.

mod api;
pub mod catalog;
mod config;
pub mod ownership;

use std::time::Duration;

use s4e_bus::{Bus, BusOptions};
use s4e_client::BaseClient;
use s4e_egress::OwnServices;
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Service};
use tokio::net::TcpListener;

pub use config::Config;

#[derive(Clone)]
pub(crate) struct AppState {
    pub base: BaseClient,
    pub bus: Bus,
    pub metrics: Metrics,
    pub verifier: ownership::Verifier,
    pub require_ownership: bool,
}

impl Service for Config {
    const NAME: &'static str = "s4e-scan";
    const ABOUT: &'static str = "S4E scan manager";
    const DEFAULT_PORT: u16 = 8082;

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
    let token = config.common.service_token.clone();
    let base = BaseClient::new(&config.base.url, token.expose())?;
    let bus =
        s4e_runtime::retry::with_retries("rabbitmq", Duration::from_secs(60), &shutdown, || {
            Bus::connect(
                &config.amqp.url,
                &config.common.namespace,
                BusOptions::default(),
            )
        })
        .await?;
    let metrics = Metrics::new();
    let readiness = Readiness::new()
        .with_flag("rabbitmq", {
            let bus = bus.clone();
            move || bus.is_connected()
        })
        .with_probe(
            "base",
            base.clone(),
            |base| async move { base.ready().await },
        );
    // A site proving its ownership must not be one of the platform's own services either.
    let own_services = OwnServices::resolve([
        config.base.url.clone(),
        config.amqp.url.clone(),
        listener.local_addr()?.to_string(),
    ])
    .await;
    let state = AppState {
        base,
        bus: bus.clone(),
        metrics: metrics.clone(),
        verifier: ownership::Verifier {
            egress: config.egress.policy(own_services),
            timeout: Duration::from_secs(config.verification_timeout_seconds),
            // Without resolvers (no configuration, no resolv.conf) the DNS method says so.
            dns: s4e_egress::dns::DnsClient::new(&config.egress.dns_servers)
                .inspect_err(|error| tracing::warn!(%error, "dns verification unavailable"))
                .ok(),
            operator_ranges: config.operator_verified_ranges.clone(),
        },
        require_ownership: config.require_ownership_verification,
    };
    let router =
        api::router(state, token).merge(s4e_runtime::health::router(readiness, metrics.clone()));
    let router = s4e_runtime::with_common_layers(router, metrics);
    s4e_runtime::serve(listener, router, shutdown).await?;
    bus.close().await;
    Ok(())
}
