//! Consuming a queue: prefetch-bounded, manual acks after the handler's effects are stored,
//! dead letters with a reason, retries that wait in a delay queue rather than in the consumer
//! (the `retry` module), resumption after reconnects, and draining on shutdown.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use s4e_types::Envelope;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::connection::{Bus, Link};
use crate::dead_letter::DeadLetter;
use crate::error::BusError;
use crate::publish::Headers;
use crate::retry::{Step, delivery_count, retries};
use crate::topology::{Queue, RetryPolicy};

/// A message handed to a handler.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub envelope: Envelope,
    /// True when the broker delivered this message before (a handler may have run already).
    pub redelivered: bool,
}

/// What the consumer does with a message once its handler returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Handled; effects stored. Removed from the queue.
    Ack,
    /// A transient failure: the message waits in a delay queue, doubling from its queue's
    /// first wait up to `retry_delay_cap`, and comes back; the try is counted, and the last of
    /// the queue's tries dead-letters it with `gave up after N tries: <reason>`.
    Retry(String),
    /// Cannot ever be handled: sent to the dead-letter queue with this reason.
    DeadLetter(String),
    /// Not now, and not a failure (a concurrency cap is reached): the message waits in a delay
    /// queue for its queue's `later` (a second) and comes back, not counted as a try.
    Later(String),
}

impl Bus {
    /// Starts consuming `queue` with at most `prefetch` messages in flight. The task resumes
    /// after reconnects and ends when `shutdown` is cancelled, after in-flight handlers finish
    /// and their messages are acked (or when the bus is closed under it).
    pub fn consume<F, Fut>(
        &self,
        queue: Queue,
        prefetch: u16,
        shutdown: CancellationToken,
        handler: F,
    ) -> JoinHandle<()>
    where
        F: Fn(Incoming) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let process: Arc<Process> = Arc::new(move |delivery: &Delivery| {
            let handler = handler.clone();
            let decoded = serde_json::from_slice::<Envelope>(&delivery.data);
            let attempt = delivery_count(delivery) + retries(delivery);
            let redelivered = delivery.redelivered;
            Box::pin(async move {
                match decoded {
                    Ok(mut envelope) => {
                        envelope.attempt = attempt;
                        let incoming = Incoming {
                            envelope,
                            redelivered,
                        };
                        handler(incoming).await
                    }
                    Err(error) => Outcome::DeadLetter(format!("malformed message: {error}")),
                }
            })
        });
        let consuming = Consuming {
            queue: self.topology().queue(queue),
            policy: queue.retry_policy(),
            carry: |_| Headers::new(),
        };
        tokio::spawn(consume_loop(
            self.clone(),
            Arc::new(consuming),
            prefetch.max(1),
            shutdown,
            process,
        ))
    }

    /// Consumes the dead-letter queue: each message, as it is, goes to `handler`, which stores
    /// it and returns [`Outcome::Ack`], or [`Outcome::Retry`] to have it back later, as often
    /// as it takes (a dead letter is never dropped). A [`Outcome::DeadLetter`] is treated as a
    /// retry.
    pub fn consume_dead_letters<F, Fut>(
        &self,
        prefetch: u16,
        shutdown: CancellationToken,
        handler: F,
    ) -> JoinHandle<()>
    where
        F: Fn(DeadLetter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let process: Arc<Process> = Arc::new(move |delivery: &Delivery| {
            let handler = handler.clone();
            let letter = DeadLetter::of(delivery);
            Box::pin(async move {
                match handler(letter).await {
                    Outcome::DeadLetter(reason) => Outcome::Retry(reason),
                    outcome => outcome,
                }
            })
        });
        let consuming = Consuming {
            queue: self.topology().queue(Queue::DeadLetters),
            policy: Queue::DeadLetters.retry_policy(),
            carry: |delivery| DeadLetter::of(delivery).carried(),
        };
        tokio::spawn(consume_loop(
            self.clone(),
            Arc::new(consuming),
            prefetch.max(1),
            shutdown,
            process,
        ))
    }
}

/// What a consumer does with one delivery, before settling it.
type Process = dyn Fn(&Delivery) -> BoxFuture<'static, Outcome> + Send + Sync;

/// The queue a consumer reads, and how its messages are tried again.
struct Consuming {
    queue: String,
    policy: RetryPolicy,
    /// Headers a deferred message takes along beyond its own: what the broker's bookkeeping,
    /// dropped on the way, said about it.
    carry: fn(&Delivery) -> Headers,
}

async fn consume_loop(
    bus: Bus,
    consuming: Arc<Consuming>,
    prefetch: u16,
    shutdown: CancellationToken,
    process: Arc<Process>,
) {
    let queue = consuming.queue.as_str();
    let mut in_flight = JoinSet::new();
    let mut failures = 0u32;
    'connection: while !shutdown.is_cancelled() {
        let link = tokio::select! {
            link = bus.wait_for_link(Duration::from_secs(3600)) => match link {
                Ok(link) => link,
                // Closed: no link will ever come (retrying would spin).
                Err(_) if bus.is_closed() => {
                    tracing::warn!(%queue, "the bus was closed under a running consumer");
                    break 'connection;
                }
                Err(_) => continue 'connection,
            },
            _ = shutdown.cancelled() => break 'connection,
        };
        let opened = bus.while_linked(link.generation, open(&link, queue, prefetch));
        let (channel, mut consumer) = match opened.await {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(%error, %queue, "cannot start consuming");
                wait_for_new_link(&bus, &link, failures, &shutdown).await;
                failures += 1;
                continue 'connection;
            }
        };
        failures = 0;
        tracing::info!(%queue, prefetch, "consuming");
        let mut link_watch = bus.inner.link.clone();
        loop {
            let generation = link.generation;
            let link_lost = async {
                let lost = link_watch.wait_for(|current| {
                    current
                        .as_ref()
                        .is_none_or(|current| current.generation != generation)
                });
                lost.await.map(|_| ())
            };
            tokio::select! {
                // A consumer stream does not always end when its connection does.
                _ = link_lost => {
                    tracing::warn!(%queue, "connection replaced or closed, consumer restarts");
                    break;
                }
                _ = shutdown.cancelled() => {
                    // Stop intake, then let what is in flight finish and settle on this
                    // channel: dropping the channel first would close it and return those
                    // messages to the queue (their acks would fail on a closed channel).
                    let cancel =
                        channel.basic_cancel(consumer.tag(), BasicCancelOptions::default());
                    let _ = bus.while_linked(link.generation, cancel).await;
                    while in_flight.join_next().await.is_some() {}
                    // Prefetched messages never handed to a handler go back to the queue.
                    let close = channel.close(200, ShortString::from("consumer stopped"));
                    let _ = bus.while_linked(link.generation, close).await;
                    break 'connection;
                }
                delivery = consumer.next() => match delivery {
                    Some(Ok(delivery)) => {
                        in_flight.spawn(handle(
                            bus.clone(),
                            consuming.clone(),
                            link.generation,
                            delivery,
                            process.clone(),
                        ));
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, %queue, "consumer interrupted");
                        break;
                    }
                    None => {
                        tracing::warn!(%queue, "consumer stream ended");
                        break;
                    }
                },
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            }
        }
        // Unacked messages of the lost channel go back to the queue on the broker's side.
        wait_for_new_link(&bus, &link, failures, &shutdown).await;
    }
    while in_flight.join_next().await.is_some() {}
    tracing::info!(%queue, "consumer stopped");
}

async fn open(
    link: &Link,
    queue: &str,
    prefetch: u16,
) -> Result<(lapin::Channel, lapin::Consumer), lapin::Error> {
    let channel = link.connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            ShortString::from(queue),
            ShortString::from(format!("{queue}.{}", uuid::Uuid::now_v7())),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

/// Waits until the supervisor replaces `link` (or a short back-off passes), so a broken link
/// is not retried in a hot loop.
async fn wait_for_new_link(bus: &Bus, link: &Link, failures: u32, shutdown: &CancellationToken) {
    let mut receiver = bus.inner.link.clone();
    let generation = link.generation;
    let wait = Duration::from_millis((200u64 << failures.min(4)).min(3_000));
    tokio::select! {
        _ = receiver.wait_for(|current| current.as_ref().is_some_and(|l| l.generation != generation)) => {}
        _ = tokio::time::sleep(wait) => {}
        _ = shutdown.cancelled() => {}
    }
}

/// Runs the handler on one delivery of link `generation` and settles the delivery.
async fn handle(
    bus: Bus,
    consuming: Arc<Consuming>,
    generation: u64,
    delivery: Delivery,
    process: Arc<Process>,
) {
    let queue = consuming.queue.as_str();
    let context = header_text(&delivery, s4e_trace::HEADER)
        .as_deref()
        .and_then(s4e_trace::TraceContext::parse)
        .unwrap_or_else(s4e_trace::TraceContext::new_root);
    let span = tracing::info_span!("message", trace_id = %context.trace_id(), %queue);
    let handled = AssertUnwindSafe(async {
        s4e_trace::scope(context, process(&delivery).instrument(span.clone())).await
    })
    .catch_unwind()
    .await;
    let settled = async {
        let Ok(outcome) = handled else {
            // No verdict, as when a consumer dies: the message goes back at once and the
            // broker counts the delivery, so one that keeps crashing its handler reaches the
            // delivery limit instead of holding a prefetch slot until the next reconnect.
            tracing::error!(%queue, "handler panicked, returning message to queue");
            return requeue(&bus, generation, &delivery).await;
        };
        let cap = bus.inner.options.retry_delay_cap;
        match consuming.policy.step(outcome, retries(&delivery), cap) {
            Step::Ack => ack(&bus, generation, &delivery).await,
            Step::DeadLetter(reason) => {
                tracing::warn!(%queue, %reason, "dead-lettering message");
                match bus.dead_letter(&delivery, queue, &reason).await {
                    Ok(()) => ack(&bus, generation, &delivery).await,
                    Err(error) => {
                        // Keep the message rather than lose it: it comes back and is judged again.
                        tracing::error!(%error, %queue, "cannot dead-letter, returning message to queue");
                        requeue(&bus, generation, &delivery).await
                    }
                }
            }
            Step::Defer {
                delay,
                retries,
                reason,
            } => {
                let retry_in_ms = delay.duration().as_millis() as u64;
                tracing::info!(%queue, %reason, retries, retry_in_ms, "message deferred");
                let carried = (consuming.carry)(&delivery);
                match bus.defer(&delivery, queue, delay, retries, carried).await {
                    Ok(()) => ack(&bus, generation, &delivery).await,
                    Err(error) => {
                        tracing::warn!(%error, %queue, "cannot defer, returning message to queue");
                        requeue(&bus, generation, &delivery).await
                    }
                }
            }
        }
    };
    if let Err(error) = settled.instrument(span).await {
        // The channel is gone; the broker redelivers the message on the next connection.
        tracing::warn!(%error, %queue, "cannot settle message");
    }
}

async fn ack(bus: &Bus, generation: u64, delivery: &Delivery) -> Result<(), BusError> {
    let ack = delivery.ack(BasicAckOptions::default());
    bus.while_linked(generation, ack).await.map(drop)
}

/// Returns a delivery to the head of its queue (the broker counts it as a delivery).
async fn requeue(bus: &Bus, generation: u64, delivery: &Delivery) -> Result<(), BusError> {
    let nack = delivery.nack(BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    });
    bus.while_linked(generation, nack).await.map(drop)
}

fn header_text(delivery: &Delivery, name: &str) -> Option<String> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}
