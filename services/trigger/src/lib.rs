//! s4e-trigger: acts on the platform's events. It records each event its organization's webhook
//! endpoints ask for as deliveries (`events.rs`) and delivers them, signed and retried
//! (`deliver.rs`, `signature.rs`); runs the automation rules each event fires (`rules.rs`);
//! judges the calls to inbound hooks the gateway hands over, starting their scans
//! (`inbound.rs`); and publishes the events base's own changes recorded (`outbox.rs`).

mod deliver;
mod events;
mod inbound;
mod outbox;
mod rules;
pub mod signature;

pub use deliver::Deliverer;

use std::sync::Arc;
use std::time::Duration;

use s4e_bus::{Bus, BusOptions, Queue};
use s4e_client::{BaseClient, ScanClient};
use s4e_egress::{EgressArgs, OwnServices};
use s4e_runtime::{AmqpArgs, BaseUrl, ScanUrl, SecretsKey};
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Service};
use s4e_secrets::SecretBox;
use tokio::net::TcpListener;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    #[command(flatten)]
    pub amqp: AmqpArgs,

    #[command(flatten)]
    pub base: BaseUrl,

    // Inbound hooks start scans.
    #[command(flatten)]
    pub scan: ScanUrl,

    // Where webhooks may be delivered: the same policy as the checks'.
    #[command(flatten)]
    pub egress: EgressArgs,

    #[command(flatten)]
    pub webhooks: WebhookSettings,

    /// How often to publish the events base's own changes recorded (a finding's status
    /// changed, an asset registered).
    #[arg(
        long,
        env = "S4E_OUTBOX_POLL_MILLISECONDS",
        value_name = "S4E_OUTBOX_POLL_MILLISECONDS",
        default_value_t = 200,
        value_parser = clap::value_parser!(u64).range(10..)
    )]
    pub outbox_poll_milliseconds: u64,
}

/// Outbound webhook delivery; every one has a default.
#[derive(Clone, Debug, clap::Args)]
pub struct WebhookSettings {
    #[command(flatten)]
    pub secrets: SecretsKey,

    /// How often to look for deliveries that are due.
    #[arg(
        long,
        env = "S4E_WEBHOOK_POLL_MILLISECONDS",
        value_name = "S4E_WEBHOOK_POLL_MILLISECONDS",
        default_value_t = 500,
        value_parser = clap::value_parser!(u64).range(10..)
    )]
    pub webhook_poll_milliseconds: u64,

    /// The longest one delivery attempt may take.
    #[arg(
        long,
        env = "S4E_WEBHOOK_TIMEOUT_SECONDS",
        value_name = "S4E_WEBHOOK_TIMEOUT_SECONDS",
        default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(1..=300)
    )]
    pub webhook_timeout_seconds: u64,

    /// Deliveries in flight at once per trigger replica.
    #[arg(
        long,
        env = "S4E_WEBHOOK_CONCURRENCY",
        value_name = "S4E_WEBHOOK_CONCURRENCY",
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..=10000)
    )]
    pub webhook_concurrency: u32,

    /// Deliveries of one endpoint in flight at once, across every replica: a slow endpoint
    /// holds no more of the deliverers' slots than this.
    #[arg(
        long,
        env = "S4E_WEBHOOK_ENDPOINT_CONCURRENCY",
        value_name = "S4E_WEBHOOK_ENDPOINT_CONCURRENCY",
        default_value_t = 8,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub webhook_endpoint_concurrency: u16,

    /// An endpoint whose every attempt failed for this long is disabled (default 5 days).
    #[arg(
        long,
        env = "S4E_WEBHOOK_DISABLE_AFTER_HOURS",
        value_name = "S4E_WEBHOOK_DISABLE_AFTER_HOURS",
        default_value_t = 120,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub webhook_disable_after_hours: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        s4e_runtime::config::defaults()
    }
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

impl Config {
    /// The deliverer these settings make (the service runs one; tests drive their own).
    pub async fn deliverer(&self, metrics: Metrics) -> Result<Deliverer, BoxError> {
        let token = self.common.service_token.expose();
        let base = BaseClient::new(&self.base.url, token)?;
        // Deliveries never reach the platform's own services, whatever the policy allows.
        let own_services =
            OwnServices::resolve([self.base.url.clone(), self.amqp.url.clone()]).await;
        let settings = &self.webhooks;
        let key = settings.secrets.material(&self.common);
        Ok(Deliverer {
            base,
            egress: self.egress.policy(own_services),
            secrets: SecretBox::new(key, s4e_types::webhook::SEALING_PURPOSE),
            metrics,
            timeout: Duration::from_secs(settings.webhook_timeout_seconds),
            disable_after: chrono::Duration::hours(i64::from(settings.webhook_disable_after_hours)),
            permits: Arc::new(tokio::sync::Semaphore::new(
                settings.webhook_concurrency as usize,
            )),
            per_endpoint: settings.webhook_endpoint_concurrency,
            wake: Arc::new(tokio::sync::Notify::new()),
        })
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
    let deliverer = config.deliverer(metrics.clone()).await?;
    let base = deliverer.base.clone();
    let wake = deliverer.wake.clone();
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
    let token = config.common.service_token.expose();
    let scan = ScanClient::new(&config.scan.url, token)?;
    let handler = events::EventHandler {
        base: base.clone(),
        metrics: metrics.clone(),
        wake: wake.clone(),
        rules: rules::RuleEngine {
            base: base.clone(),
            scan: scan.clone(),
            metrics: metrics.clone(),
            wake,
        },
    };
    let consumers = CancellationToken::new();
    let events = bus.consume(Queue::TriggerEvents, 32, consumers.clone(), {
        move |incoming| {
            let handler = handler.clone();
            async move { handler.handle(incoming).await }
        }
    });
    let secrets_key = config.webhooks.secrets.material(&config.common);
    let inbound = inbound::Inbound {
        base: base.clone(),
        scan,
        secrets: SecretBox::new(secrets_key, s4e_types::webhook::SEALING_PURPOSE),
    };
    let relaying = tokio::spawn(
        outbox::Relay {
            base,
            bus: bus.clone(),
            metrics: metrics.clone(),
        }
        .run(
            Duration::from_millis(config.outbox_poll_milliseconds),
            consumers.clone(),
        ),
    );
    let delivering = tokio::spawn(deliverer.run(
        Duration::from_millis(config.webhooks.webhook_poll_milliseconds),
        consumers.clone(),
    ));
    let router = inbound::router(inbound, config.common.service_token.clone())
        .merge(s4e_runtime::health::router(readiness, metrics.clone()));
    let router = s4e_runtime::with_common_layers(router, metrics);
    let served = s4e_runtime::serve(listener, router, shutdown).await;
    consumers.cancel();
    let _ = events.await;
    if let Err(error) = relaying.await {
        tracing::error!(%error, "outbox relay ended abnormally");
    }
    if let Err(error) = delivering.await {
        tracing::error!(%error, "delivery loop ended abnormally");
    }
    bus.close().await;
    served?;
    Ok(())
}
