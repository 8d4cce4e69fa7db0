//! Consuming a queue: prefetch-bounded, manual acks after the handler's effects are stored,
//! dead letters with a reason, resumption after reconnects, and draining on shutdown.

use std::sync::Arc;
use std::time::Duration;

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

use crate::connection::{Bus, DeadLetter, Link, RETRIES_HEADER};
use crate::topology::DELIVERY_LIMIT;
use crate::topology::Queue;

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
    /// A transient failure: returned to the queue after a back-off. The queue's delivery limit
    /// dead-letters it if it keeps failing. On a job queue the back-off is spent in a delay
    /// queue (doubling from 250 ms up to `retry_delay_cap`), the tries are counted in a header,
    /// and the tenth failure dead-letters it.
    Retry(String),
    /// Cannot ever be handled: sent to the dead-letter queue with this reason.
    DeadLetter(String),
    /// Not now, and not a failure (a concurrency cap is reached): on a job queue, deferred
    /// through a delay queue for about a second without counting as a try; elsewhere like
    /// `Retry`.
    Later(String),
}

/// How long a job deferred by [`Outcome::Later`] waits.
const LATER: Duration = Duration::from_secs(1);

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
        let queue_name = self.topology().queue(queue);
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
        // Only jobs have delay queues leading back to their queue.
        let delayable = matches!(queue, Queue::Jobs(_));
        tokio::spawn(consume_loop(
            self.clone(),
            queue_name,
            prefetch.max(1),
            delayable,
            shutdown,
            process,
        ))
    }

    /// Consumes the dead-letter queue: each message, as it is, goes to `handler`, which stores
    /// it and returns [`Outcome::Ack`], or [`Outcome::Retry`] to have it back later (the
    /// dead-letter queue has no delivery limit, so a dead letter is never dropped). A
    /// [`Outcome::DeadLetter`] is treated as a retry.
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
        let queue_name = self.topology().queue(Queue::DeadLetters);
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
        tokio::spawn(consume_loop(
            self.clone(),
            queue_name,
            prefetch.max(1),
            false,
            shutdown,
            process,
        ))
    }
}

/// What a consumer does with one delivery, before settling it.
type Process = dyn Fn(&Delivery) -> BoxFuture<'static, Outcome> + Send + Sync;

async fn consume_loop(
    bus: Bus,
    queue: String,
    prefetch: u16,
    delayable: bool,
    shutdown: CancellationToken,
    process: Arc<Process>,
) {
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
        let opened = bus.while_linked(link.generation, open(&link, &queue, prefetch));
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
                            queue.clone(),
                            link.generation,
                            delayable,
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
    queue: String,
    generation: u64,
    delayable: bool,
    delivery: Delivery,
    process: Arc<Process>,
) {
    let context = header_text(&delivery, s4e_trace::HEADER)
        .as_deref()
        .and_then(s4e_trace::TraceContext::parse)
        .unwrap_or_else(s4e_trace::TraceContext::new_root);
    let span = tracing::info_span!("message", trace_id = %context.trace_id(), %queue);
    let outcome = s4e_trace::scope(context, process(&delivery).instrument(span.clone())).await;
    let outcome = match outcome {
        // A job waits in a delay queue instead of its consumer's hands: the slot is free
        // meanwhile, and the wait can grow past what holding the message would allow.
        Outcome::Retry(reason) if delayable => {
            let tries = retries(&delivery) + 1;
            if i64::from(tries) >= DELIVERY_LIMIT {
                Outcome::DeadLetter(format!("gave up after {tries} tries: {reason}"))
            } else {
                let wait = retry_delay(tries - 1, bus.inner.options.retry_delay_cap);
                let deferred = defer(&bus, &queue, generation, &delivery, wait, tries, &reason);
                return deferred.instrument(span).await;
            }
        }
        Outcome::Later(reason) if delayable => {
            let deferred = defer(
                &bus,
                &queue,
                generation,
                &delivery,
                LATER,
                retries(&delivery),
                &reason,
            );
            return deferred.instrument(span).await;
        }
        Outcome::Later(reason) => Outcome::Retry(reason),
        outcome => outcome,
    };
    settle(&bus, &queue, generation, &delivery, outcome)
        .instrument(span)
        .await;
}

/// Sends a job to wait in a delay queue, then acks it; if it cannot be republished it goes
/// back to its queue instead (kept, never dropped).
async fn defer(
    bus: &Bus,
    queue: &str,
    generation: u64,
    delivery: &Delivery,
    wait: Duration,
    tries: u32,
    reason: &str,
) {
    let delay = crate::topology::delay_for(wait).duration();
    tracing::info!(%queue, %reason, tries, retry_in_ms = delay.as_millis() as u64, "job deferred");
    let settled = match bus.defer(delivery, wait, tries).await {
        Ok(()) => {
            bus.while_linked(generation, delivery.ack(BasicAckOptions::default()))
                .await
        }
        Err(error) => {
            tracing::warn!(%error, %queue, "cannot defer, returning message to queue");
            let nack = delivery.nack(BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            });
            bus.while_linked(generation, nack).await
        }
    };
    if let Err(error) = settled {
        tracing::warn!(%error, %queue, "cannot settle message");
    }
}

/// Acks, requeues or dead-letters a handled message, on the channel it came from.
async fn settle(bus: &Bus, queue: &str, generation: u64, delivery: &Delivery, outcome: Outcome) {
    let settled = match outcome {
        Outcome::Ack => {
            bus.while_linked(generation, delivery.ack(BasicAckOptions::default()))
                .await
        }
        Outcome::Retry(reason) | Outcome::Later(reason) => {
            let attempt = delivery_count(delivery);
            let wait = retry_delay(attempt, bus.inner.options.retry_delay_cap);
            tracing::warn!(%queue, %reason, attempt, retry_in_ms = wait.as_millis() as u64, "message will be retried");
            tokio::time::sleep(wait).await;
            let nack = delivery.nack(BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            });
            bus.while_linked(generation, nack).await
        }
        Outcome::DeadLetter(reason) => {
            tracing::warn!(%queue, %reason, "dead-lettering message");
            match bus
                .dead_letter(&delivery.data, delivery.properties.clone(), queue, &reason)
                .await
            {
                Ok(()) => {
                    bus.while_linked(generation, delivery.ack(BasicAckOptions::default()))
                        .await
                }
                Err(error) => {
                    // Keep the message rather than lose it: it comes back and is judged again.
                    tracing::error!(%error, %queue, "cannot dead-letter, returning message to queue");
                    let nack = delivery.nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    });
                    bus.while_linked(generation, nack).await
                }
            }
        }
    };
    if let Err(error) = settled {
        // The channel is gone; the broker redelivers the message on the next connection.
        tracing::warn!(%error, %queue, "cannot settle message");
    }
}

/// How long a message a handler wants retried stays with us before it goes back to the queue:
/// short for the first attempts, doubling up to `cap` so a failing dependency is not hammered.
fn retry_delay(attempt: u32, cap: Duration) -> Duration {
    Duration::from_millis(250u64 << attempt.min(16)).min(cap)
}

fn header_text(delivery: &Delivery, name: &str) -> Option<String> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

/// How often a job was deferred for another try (see [`Outcome::Retry`] on job queues).
fn retries(delivery: &Delivery) -> u32 {
    let count = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(RETRIES_HEADER).cloned());
    match count {
        Some(AMQPValue::LongUInt(value)) => value,
        Some(AMQPValue::LongLongInt(value)) => u32::try_from(value).unwrap_or(0),
        Some(AMQPValue::LongInt(value)) => u32::try_from(value).unwrap_or(0),
        _ => 0,
    }
}

/// How often the broker delivered this message before (quorum queues count it for us).
fn delivery_count(delivery: &Delivery) -> u32 {
    let count = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-delivery-count").cloned());
    match count {
        Some(AMQPValue::LongLongInt(value)) => value.max(0) as u32,
        Some(AMQPValue::LongInt(value)) => value.max(0) as u32,
        Some(AMQPValue::LongUInt(value)) => value,
        Some(AMQPValue::ShortInt(value)) => value.max(0) as u32,
        _ => u32::from(delivery.redelivered),
    }
}
