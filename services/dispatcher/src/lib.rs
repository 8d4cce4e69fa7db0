//! s4e-dispatcher: takes jobs from the dispatch queue, routes each to the queue of its check
//! kind, and runs the check workers that consume those queues.

mod config;
pub mod dead_letters;
mod router;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use s4e_bus::{Bus, BusOptions, Queue};
use s4e_checks::CheckContext;
use s4e_client::BaseClient;
use s4e_egress::{EgressPolicy, OwnServices};
use s4e_runtime::{BoxError, CancellationToken, Metrics, Readiness, Served};
use s4e_store::{Leases, LiveStatus, RawOutputs};
use s4e_types::CheckKind;
use tokio::net::TcpListener;

pub use config::Config;

pub const DEFAULT_PORT: u16 = 8084;

pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let connect_deadline = Duration::from_secs(60);
    let base = BaseClient::new(&config.base_url, config.common.service_token.expose())?;
    let bus = s4e_runtime::retry::with_retries("rabbitmq", connect_deadline, &shutdown, || {
        Bus::connect(
            &config.amqp_url,
            &config.common.namespace,
            BusOptions {
                retry_delay_cap: Duration::from_millis(config.retry_delay_cap_milliseconds),
                ..BusOptions::default()
            },
        )
    })
    .await?;
    let live = s4e_runtime::retry::with_retries("redis", connect_deadline, &shutdown, || {
        LiveStatus::connect(&config.redis_url, &config.common.namespace)
    })
    .await?;
    let leases = s4e_runtime::retry::with_retries("redis", connect_deadline, &shutdown, || {
        Leases::connect(&config.redis_url, &config.common.namespace)
    })
    .await?;
    let raw = RawOutputs::connect(&config.mongodb_url, &config.mongodb_database).await?;
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
    let mut tasks = vec![router::start(
        &bus,
        config.router_prefetch,
        consumers.clone(),
        metrics.clone(),
    )];
    // The platform's own services are never a target, whatever the policy allows.
    let own_services = OwnServices::resolve([
        config.base_url.clone(),
        config.amqp_url.clone(),
        config.redis_url.clone(),
        config.mongodb_url.clone(),
        listener.local_addr()?.to_string(),
    ])
    .await;
    let egress = EgressPolicy {
        allow_private: config.egress_allow_private,
        ..EgressPolicy::default()
    }
    .refusing(own_services);
    let worker = Arc::new(worker::Worker {
        base,
        bus: bus.clone(),
        live,
        raw: raw.clone(),
        metrics: metrics.clone(),
        checks: CheckContext {
            egress,
            timeout: Duration::from_secs(config.check_timeout_seconds),
            port_scan_timeout: Duration::from_secs(config.port_scan_timeout_seconds),
            dns_servers: config.dns_servers.clone(),
            ..CheckContext::default()
        },
        cancel_poll: Duration::from_millis(config.cancel_poll_milliseconds),
        leases,
        max_jobs_per_org: config.max_jobs_per_org,
        max_jobs_per_host: config.max_jobs_per_host,
    });
    let letters = dead_letters::LetterState {
        bus: bus.clone(),
        letters: raw.dead_letters(),
        metrics: metrics.clone(),
    };
    tasks.push(dead_letters::start(letters.clone(), consumers.clone()));
    for kind in CheckKind::ALL {
        tasks.push(worker::start(
            worker.clone(),
            Queue::Jobs(*kind),
            config.worker_concurrency,
            consumers.clone(),
        ));
    }

    let router = dead_letters::router(letters, config.common.service_token.clone())
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

pub fn spawn(config: Config, listener: TcpListener) -> std::io::Result<Served> {
    Served::spawn(listener, move |listener, shutdown| {
        run(config, listener, shutdown)
    })
}
