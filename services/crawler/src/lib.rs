//! s4e-crawler: home of the crawl pipeline. It starts like every service and holds its
//! connections to the bus and the document store; it runs no crawl stage yet.

use std::time::Duration;

use s4e_bus::{Bus, BusOptions};
use s4e_runtime::AmqpArgs;
use s4e_runtime::{
    BoxError, CancellationToken, CommonConfig, Metrics, MongoArgs, Readiness, Service,
};
use s4e_store::RawOutputs;
use tokio::net::TcpListener;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    #[command(flatten)]
    pub amqp: AmqpArgs,

    #[command(flatten)]
    pub mongo: MongoArgs,
}

impl Service for Config {
    const NAME: &'static str = "s4e-crawler";
    const ABOUT: &'static str = "S4E crawler";
    const DEFAULT_PORT: u16 = 8083;

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
    let bus =
        s4e_runtime::retry::with_retries("rabbitmq", Duration::from_secs(60), &shutdown, || {
            Bus::connect(
                &config.amqp.url,
                &config.common.namespace,
                BusOptions::default(),
            )
        })
        .await?;
    let documents = RawOutputs::connect(&config.mongo.url, &config.mongo.database).await?;
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
