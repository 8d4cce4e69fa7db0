//! s4e-crawler: home of the crawl pipeline. It starts like every service and holds its
//! connections to the bus and the document store; it runs no crawl stage yet.

use std::time::Duration;

use s4e_bus::{Bus, BusOptions};
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Served};
use s4e_store::RawOutputs;
use tokio::net::TcpListener;

pub const DEFAULT_PORT: u16 = 8083;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// RabbitMQ URL, e.g. amqp://user:pass@host:5672/%2f
    #[arg(
        long,
        env = "S4E_AMQP_URL",
        value_name = "S4E_AMQP_URL",
        hide_env_values = true
    )]
    pub amqp_url: String,

    /// MongoDB URL for crawl results.
    #[arg(
        long,
        env = "S4E_MONGODB_URL",
        value_name = "S4E_MONGODB_URL",
        hide_env_values = true
    )]
    pub mongodb_url: String,

    /// MongoDB database name.
    #[arg(
        long,
        env = "S4E_MONGODB_DATABASE",
        value_name = "S4E_MONGODB_DATABASE",
        default_value = "s4e"
    )]
    pub mongodb_database: String,
}

pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let bus =
        s4e_runtime::retry::with_retries("rabbitmq", Duration::from_secs(60), &shutdown, || {
            Bus::connect(
                &config.amqp_url,
                &config.common.namespace,
                BusOptions::default(),
            )
        })
        .await?;
    let documents = RawOutputs::connect(&config.mongodb_url, &config.mongodb_database).await?;
    let metrics = Metrics::new();
    let readiness = Readiness::new()
        .with_flag("rabbitmq", {
            let bus = bus.clone();
            move || bus.is_connected()
        })
        .with_probe("mongodb", documents, |documents| async move {
            documents.ping().await
        });
    let router = s4e_runtime::health::router(readiness, metrics.clone());
    let router = s4e_runtime::with_common_layers(router, metrics);
    let served = s4e_runtime::serve(listener, router, shutdown).await;
    bus.close().await;
    served?;
    Ok(())
}

pub fn spawn(config: Config, listener: TcpListener) -> std::io::Result<Served> {
    Served::spawn(listener, move |listener, shutdown| {
        run(config, listener, shutdown)
    })
}
