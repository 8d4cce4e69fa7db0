//! s4e-dispatcher: takes jobs from the dispatch queue, routes each to the queue of its check
//! kind, and runs the check workers that consume those queues.

mod config;
pub mod dead_letters;
mod raw_outputs;
mod router;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use s4e_bus::{Bus, BusOptions, Queue};
use s4e_checks::CheckContext;
use s4e_client::BaseClient;
use s4e_egress::OwnServices;
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Service};
use s4e_store::{Leases, LiveStatus, RawOutputs, Redis};
use s4e_types::CheckKind;
use tokio::net::TcpListener;

pub use config::{Config, Role, Settings};

impl Service for Config {
    const NAME: &'static str = "s4e-dispatcher";
    const ABOUT: &'static str = "S4E job dispatcher and check workers";
    const DEFAULT_PORT: u16 = 8084;

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
    let connect_deadline = Duration::from_secs(60);
    let base = BaseClient::new(&config.base.url, config.common.service_token.expose())?;
    let bus = s4e_runtime::retry::with_retries("rabbitmq", connect_deadline, &shutdown, || {
        Bus::connect(
            &config.amqp.url,
            &config.common.namespace,
            BusOptions {
                retry_delay_cap: Duration::from_millis(
                    config.settings.retry_delay_cap_milliseconds,
                ),
                ..BusOptions::default()
            },
        )
    })
    .await?;
    let redis = s4e_runtime::retry::with_retries("redis", connect_deadline, &shutdown, || {
        Redis::connect(&config.redis.url, None)
    })
    .await?;
    let live = LiveStatus::new(&redis, &config.common.namespace);
    let leases = Leases::new(&redis, &config.common.namespace);
    let raw = RawOutputs::connect(&config.mongo.url, &config.mongo.database).await?;
    let metrics = Metrics::new();

    let readiness = Readiness::new()
        .with_flag("rabbitmq", {
            let bus = bus.clone();
            move || bus.is_connected()
        })
        .with_probe(
            "redis",
            live.clone(),
            |live| async move { live.ping().await },
        )
        .with_probe(
            "mongodb",
            raw.clone(),
            |raw| async move { raw.ping().await },
        )
        .with_probe(
            "base",
            base.clone(),
            |base| async move { base.ready().await },
        );

    // Consumers stop on their own token after the HTTP server has stopped taking requests.
    let consumers = CancellationToken::new();
    let mut tasks = Vec::new();
    if config.settings.role.routes() {
        tasks.push(router::start(
            &bus,
            config.settings.router_prefetch,
            consumers.clone(),
            metrics.clone(),
        ));
    }
    // The platform's own services are never a target, whatever the policy allows.
    let own_services = OwnServices::resolve([
        config.base.url.clone(),
        config.amqp.url.clone(),
        config.redis.url.clone(),
        config.mongo.url.clone(),
        listener.local_addr()?.to_string(),
    ])
    .await;
    let egress = config.egress.policy(own_services);
    let worker = Arc::new(worker::Worker {
        reports: s4e_jobs::JobReports {
            base: base.clone(),
            bus: bus.clone(),
            live: live.clone(),
        },
        base,
        bus: bus.clone(),
        live,
        raw: raw.clone(),
        metrics: metrics.clone(),
        checks: CheckContext {
            egress,
            timeout: Duration::from_secs(config.settings.check_timeout_seconds),
            port_scan_timeout: Duration::from_secs(config.settings.port_scan_timeout_seconds),
            dns_servers: config.egress.dns_servers.clone(),
            ..CheckContext::default()
        },
        cancel_poll: Duration::from_millis(config.settings.cancel_poll_milliseconds),
        leases,
        max_jobs_per_org: config.settings.max_jobs_per_org,
        max_jobs_per_host: config.settings.max_jobs_per_host,
    });
    let letters = dead_letters::LetterState {
        bus: bus.clone(),
        letters: raw.dead_letters(),
        metrics: metrics.clone(),
    };
    tasks.push(dead_letters::start(letters.clone(), consumers.clone()));
    let kinds = if config.settings.role.runs_checks() {
        CheckKind::CHECKS
    } else {
        &[]
    };
    for kind in kinds {
        tasks.push(worker::start(
            worker.clone(),
            Queue::Jobs(*kind),
            config.settings.worker_concurrency,
            consumers.clone(),
        ));
    }

    let router = dead_letters::router(letters, config.common.service_token.clone())
        .merge(raw_outputs::router(
            raw,
            config.common.service_token.clone(),
        ))
        .merge(s4e_runtime::health::router(readiness, metrics.clone()));
    let router = s4e_runtime::with_common_layers(router, metrics);
    let served = s4e_runtime::serve(listener, router, shutdown).await;
    consumers.cancel();
    for task in tasks {
        let _ = task.await;
    }
    bus.close().await;
    served?;
    Ok(())
}
