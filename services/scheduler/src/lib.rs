//! s4e-scheduler: home of recurring scans. It starts like every service and checks that base
//! answers; it runs no schedule yet.

use s4e_client::BaseClient;
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Served};
use tokio::net::TcpListener;

pub const DEFAULT_PORT: u16 = 8085;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// URL of s4e-base's internal API.
    #[arg(long, env = "S4E_BASE_URL", value_name = "S4E_BASE_URL")]
    pub base_url: String,
}

pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let base = BaseClient::new(&config.base_url, config.common.service_token.expose())?;
    let metrics = Metrics::new();
    let readiness =
        Readiness::new().with_probe("base", base, |base| async move { base.ready().await });
    let router = s4e_runtime::health::router(readiness, metrics.clone());
    let router = s4e_runtime::with_common_layers(router, metrics);
    s4e_runtime::serve(listener, router, shutdown).await?;
    Ok(())
}

pub fn spawn(config: Config, listener: TcpListener) -> std::io::Result<Served> {
    Served::spawn(listener, move |listener, shutdown| {
        run(config, listener, shutdown)
    })
}
