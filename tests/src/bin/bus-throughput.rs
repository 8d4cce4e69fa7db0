//! The bus against the limit of this machine: publishing with confirms and consuming with
//! manual acks through `s4e-bus`, beside a bare `lapin` publisher and consumer of the same
//! messages (the same bytes and properties, the same queue, the same concurrency) in the same
//! run against the same RabbitMQ.
//!
//! cargo run --release -p s4e-e2e --bin bus-throughput [-- MESSAGES PUBLISHERS PREFETCH]
//!
//! Publishing: `PUBLISHERS` tasks (default 32) each send their share and wait for each
//! message's confirm before the next (s4e-bus's `publish`; bare: `basic_publish` then its
//! confirm, on one confirm-mode channel). Consuming: a queue filled with `MESSAGES` (default
//! 20,000) drained with `PREFETCH` (default 64) in flight, each acked after its handler
//! (s4e-bus: the envelope decoded and handed to a handler returning `Ack`; bare: the body
//! parsed as JSON, then `basic_ack`). Needs RabbitMQ (scripts/lib.sh starts it).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueuePurgeOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use s4e_bus::{Bus, BusOptions, Exchange, Outcome, Queue};
use s4e_test_support::TestEnv;
use s4e_types::envelope::ScanCompleted;
use s4e_types::{AssetId, CheckKind, Envelope, Message, OrgId, RunId, RunStatus};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUTING_KEY: &str = "http_headers";
const QUEUE: Queue = Queue::Jobs(CheckKind::HttpHeaders);

fn envelope(org: OrgId) -> Envelope {
    Envelope::new(
        org,
        Message::ScanCompleted(ScanCompleted {
            run_id: RunId::new(),
            asset_id: AssetId::new(),
            status: RunStatus::Completed,
            findings_count: 3,
        }),
    )
}

/// The properties `s4e-bus` sets on an envelope, for the bare publisher to send the same.
fn properties(envelope: &Envelope) -> BasicProperties {
    BasicProperties::default()
        .with_message_id(ShortString::from(envelope.id.to_string()))
        .with_content_type(ShortString::from("application/json"))
        .with_type(ShortString::from(envelope.message.type_name()))
        .with_delivery_mode(2)
}

fn args() -> anyhow::Result<(usize, usize, u16)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: usize| -> anyhow::Result<usize> {
        args.get(index)
            .map(|text| text.parse::<usize>())
            .transpose()
            .map(|value| value.unwrap_or(default).max(1))
            .map_err(|_| anyhow::anyhow!("usage: bus-throughput [MESSAGES PUBLISHERS PREFETCH]"))
    };
    Ok((
        number(0, 20_000)?,
        number(1, 32)?,
        u16::try_from(number(2, 64)?).unwrap_or(u16::MAX),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (messages, publishers, prefetch) = args()?;
    let env = TestEnv::new().await?;
    let bus = Bus::connect(&env.amqp_url, &env.namespace, BusOptions::default()).await?;
    let connection = Connection::connect(&env.amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let exchange = bus.topology().exchange(Exchange::Jobs);
    let queue = bus.topology().queue(QUEUE);
    let org = OrgId::new();
    println!(
        "{messages} messages of {} bytes; {publishers} publishers; prefetch {prefetch}; queue {queue}",
        serde_json::to_vec(&envelope(org))?.len()
    );
    let purge = || async {
        channel
            .queue_purge(
                ShortString::from(queue.as_str()),
                QueuePurgeOptions::default(),
            )
            .await
    };

    // Publishing, each through its own path, twice in turn (warm-up differences show).
    let mut rows = Vec::new();
    for round in 1..=2 {
        purge().await?;
        let started = Instant::now();
        let tasks: Vec<_> = (0..publishers)
            .map(|index| {
                let bus = bus.clone();
                let share = messages / publishers + usize::from(index < messages % publishers);
                tokio::spawn(async move {
                    for _ in 0..share {
                        bus.publish(Exchange::Jobs, ROUTING_KEY, &envelope(org))
                            .await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        rows.push((
            format!("publish, s4e-bus (round {round})"),
            started.elapsed(),
        ));

        purge().await?;
        let started = Instant::now();
        let tasks: Vec<_> = (0..publishers)
            .map(|index| {
                let channel = channel.clone();
                let exchange = exchange.clone();
                let share = messages / publishers + usize::from(index < messages % publishers);
                tokio::spawn(async move {
                    for _ in 0..share {
                        let envelope = envelope(org);
                        let body = serde_json::to_vec(&envelope)?;
                        channel
                            .basic_publish(
                                ShortString::from(exchange.as_str()),
                                ShortString::from(ROUTING_KEY),
                                BasicPublishOptions::default(),
                                &body,
                                properties(&envelope),
                            )
                            .await?
                            .await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        rows.push((
            format!("publish, bare lapin (round {round})"),
            started.elapsed(),
        ));
    }

    // Consuming: the queue filled (by the bare publisher, pipelined), then drained.
    for round in 1..=2 {
        fill(&channel, &exchange, org, messages).await?;
        let handled = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(tokio::sync::Notify::new());
        let shutdown = CancellationToken::new();
        let started = Instant::now();
        let consumer = {
            let (handled, done) = (handled.clone(), done.clone());
            bus.consume(QUEUE, prefetch, shutdown.clone(), move |_incoming| {
                let (handled, done) = (handled.clone(), done.clone());
                async move {
                    if handled.fetch_add(1, Ordering::SeqCst) + 1 == messages {
                        done.notify_one();
                    }
                    Outcome::Ack
                }
            })
        };
        tokio::time::timeout(Duration::from_secs(600), done.notified()).await?;
        rows.push((
            format!("consume, s4e-bus (round {round})"),
            started.elapsed(),
        ));
        shutdown.cancel();
        consumer.await?;

        fill(&channel, &exchange, org, messages).await?;
        let consumer_channel = connection.create_channel().await?;
        consumer_channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let mut deliveries = consumer_channel
            .basic_consume(
                ShortString::from(queue.as_str()),
                ShortString::from("bare"),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let started = Instant::now();
        let mut count = 0;
        while count < messages {
            use futures_util::StreamExt;
            let Some(delivery) = deliveries.next().await else {
                anyhow::bail!("the bare consumer stopped after {count}");
            };
            let delivery = delivery?;
            let _: serde_json::Value = serde_json::from_slice(&delivery.data)?;
            delivery.ack(BasicAckOptions::default()).await?;
            count += 1;
        }
        rows.push((
            format!("consume, bare lapin (round {round})"),
            started.elapsed(),
        ));
        consumer_channel.close(200, "done".into()).await?;
    }

    println!();
    println!("{:<36} {:>9} {:>12}", "path", "time (s)", "messages/s");
    for (name, elapsed) in &rows {
        println!(
            "{:<36} {:>9.3} {:>12.0}",
            name,
            elapsed.as_secs_f64(),
            messages as f64 / elapsed.as_secs_f64()
        );
    }
    bus.close().await;
    connection.close(200, "done".into()).await?;
    env.cleanup().await?;
    Ok(())
}

/// Publishes `messages` envelopes, confirms awaited together (only to fill the queue).
async fn fill(
    channel: &lapin::Channel,
    exchange: &str,
    org: OrgId,
    messages: usize,
) -> anyhow::Result<()> {
    let mut confirms = Vec::with_capacity(messages);
    for _ in 0..messages {
        let envelope = envelope(org);
        let body = serde_json::to_vec(&envelope)?;
        confirms.push(
            channel
                .basic_publish(
                    ShortString::from(exchange),
                    ShortString::from(ROUTING_KEY),
                    BasicPublishOptions::default(),
                    &body,
                    properties(&envelope),
                )
                .await?,
        );
    }
    for confirm in confirms {
        confirm.await?;
    }
    Ok(())
}
