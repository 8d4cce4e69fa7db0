//! s4e-trigger: consumes the platform's events. Today it records them (log and metrics);
//! automation rules and outbound webhooks will act on them here.

use std::time::Duration;

use s4e_bus::{Bus, BusOptions, Incoming, Outcome, Queue};
use s4e_runtime::AmqpArgs;
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Service};
use s4e_types::Message;
use tokio::net::TcpListener;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    #[command(flatten)]
    pub amqp: AmqpArgs,
}

impl Service for Config {
    const NAME: &'static str = "s4e-trigger";
    const ABOUT: &'static str = "S4E trigger";
    const DEFAULT_PORT: u16 = 8086;

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
    let metrics = Metrics::new();
    let readiness = Readiness::new().with_flag("rabbitmq", {
        let bus = bus.clone();
        move || bus.is_connected()
    });
    let consumers = CancellationToken::new();
    let events = bus.consume(Queue::TriggerEvents, 32, consumers.clone(), {
        let metrics = metrics.clone();
        move |incoming| {
            let metrics = metrics.clone();
            async move { record(&metrics, incoming) }
        }
    });
    let router = s4e_runtime::health::router(readiness, metrics.clone());
    let router = s4e_runtime::with_common_layers(router, metrics);
    let served = s4e_runtime::serve(listener, router, shutdown).await;
    consumers.cancel();
    let _ = events.await;
    bus.close().await;
    served?;
    Ok(())
}

fn record(metrics: &Metrics, incoming: Incoming) -> Outcome {
    let envelope = incoming.envelope;
    let kind = envelope.message.type_name();
    metrics.inc(
        "s4e_trigger_events_total",
        "Platform events received, by type.",
        &[("type", kind)],
    );
    if let Message::ScanCompleted(done) = &envelope.message {
        tracing::info!(
            org_id = %envelope.org_id, run_id = %done.run_id, status = done.status.as_str(),
            findings = done.findings_count, "scan finished"
        );
    }
    Outcome::Ack
}
