//! The supervised connection: one task owns it, reconnects after loss, and publishes the
//! current link to publishers and consumers through a watch channel.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Event};
use s4e_types::Envelope;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::BusError;
use crate::topology::{DELIVERY_LIMIT, Exchange, Queue, Topology};

/// Header carrying why a message was dead-lettered by one of our consumers.
pub(crate) const DEAD_REASON_HEADER: &str = "x-s4e-dead-reason";
/// Header carrying the queue a dead-lettered message was taken from.
pub(crate) const SOURCE_QUEUE_HEADER: &str = "x-s4e-source-queue";
/// Header counting how often a job was deferred for another try (a deferred message is a new
/// message to the broker, whose delivery count starts again).
pub(crate) const RETRIES_HEADER: &str = "x-s4e-retries";

#[derive(Clone, Debug)]
pub struct BusOptions {
    /// How long a publisher waits for the broker (connection and confirm) before failing.
    pub publish_timeout: Duration,
    /// How long [`Bus::connect`] waits for the first connection.
    pub connect_timeout: Duration,
    /// The longest a consumer holds a message its handler wants retried before returning it
    /// to the queue. Delays double from 250 ms up to this cap; with the queues' delivery limit
    /// this sets how long a dependency may be away before its messages are dead-lettered.
    pub retry_delay_cap: Duration,
}

impl Default for BusOptions {
    fn default() -> Self {
        Self {
            publish_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(60),
            // 250 ms, 0.5, 1, 2, 4, 8, 16, then 30 s: about two minutes over ten deliveries.
            retry_delay_cap: Duration::from_secs(30),
        }
    }
}

/// One live connection and its confirm-mode publishing channel.
#[derive(Clone)]
pub(crate) struct Link {
    pub connection: Arc<Connection>,
    pub publisher: Channel,
    pub generation: u64,
    /// Asks the supervisor for a new connection: the broker can close the publishing channel
    /// and keep the connection, and a closed channel never reopens by itself.
    pub broken: Arc<tokio::sync::Notify>,
}

#[derive(Clone)]
pub struct Bus {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub topology: Topology,
    pub options: BusOptions,
    pub link: watch::Receiver<Option<Link>>,
    /// Stops the supervisor; cancelled by [`Bus::close`].
    supervisor: CancellationToken,
}

/// A message taken from the dead-letter queue.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    pub body: Vec<u8>,
    /// Our consumers' reason, or the broker's (`delivery_limit`, `rejected`, …).
    pub reason: String,
    pub source_queue: Option<String>,
    /// The AMQP message id (our publishers set it to the envelope id).
    pub message_id: Option<String>,
    /// How often the source queue delivered it (`x-delivery-count`), when it says.
    pub delivery_count: Option<u32>,
}

impl DeadLetter {
    pub(crate) fn of(delivery: &lapin::message::Delivery) -> Self {
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        let text = |key: &str| match headers.inner().get(key) {
            Some(AMQPValue::LongString(value)) => Some(value.to_string()),
            Some(AMQPValue::ShortString(value)) => Some(value.to_string()),
            _ => None,
        };
        let reason = text(DEAD_REASON_HEADER)
            .or_else(|| text("x-first-death-reason"))
            .unwrap_or_else(|| "unknown".into());
        let source_queue = text(SOURCE_QUEUE_HEADER).or_else(|| text("x-first-death-queue"));
        let delivery_count = match headers.inner().get("x-delivery-count") {
            Some(AMQPValue::LongLongInt(value)) => u32::try_from(*value).ok(),
            Some(AMQPValue::LongInt(value)) => u32::try_from(*value).ok(),
            Some(AMQPValue::LongUInt(value)) => Some(*value),
            Some(AMQPValue::ShortInt(value)) => u32::try_from(*value).ok(),
            _ => None,
        };
        DeadLetter {
            body: delivery.data.clone(),
            reason,
            source_queue,
            message_id: delivery
                .properties
                .message_id()
                .as_ref()
                .map(ToString::to_string),
            delivery_count,
        }
    }
}

impl Bus {
    /// Connects, declares the topology and starts supervising the connection. Fails when no
    /// connection could be made within `connect_timeout`.
    pub async fn connect(
        url: &str,
        namespace: &str,
        options: BusOptions,
    ) -> Result<Self, BusError> {
        let topology = Topology::new(namespace);
        let (sender, mut receiver) = watch::channel(None);
        let supervisor = CancellationToken::new();
        tokio::spawn(supervise(
            url.to_string(),
            topology.clone(),
            sender,
            supervisor.clone(),
        ));
        let connected =
            tokio::time::timeout(options.connect_timeout, receiver.wait_for(Option::is_some))
                .await
                .is_ok_and(|result| result.is_ok());
        if !connected {
            supervisor.cancel();
            return Err(BusError::Unavailable(format!(
                "no connection to the message broker within {:?}",
                options.connect_timeout
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                topology,
                options,
                link: receiver,
                supervisor,
            }),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// True once [`Bus::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.supervisor.is_cancelled()
    }

    /// True while a connection is up (for readiness probes).
    pub fn is_connected(&self) -> bool {
        self.inner
            .link
            .borrow()
            .as_ref()
            .is_some_and(|link| link.connection.status().connected())
    }

    /// The current link, waiting for one up to `timeout`.
    pub(crate) async fn wait_for_link(&self, timeout: Duration) -> Result<Link, BusError> {
        let mut receiver = self.inner.link.clone();
        match tokio::time::timeout(timeout, receiver.wait_for(Option::is_some)).await {
            Ok(Ok(link)) => Ok(link.clone().expect("waited for Some")),
            Ok(Err(_)) => Err(BusError::Unavailable("bus closed".into())),
            Err(_) => Err(BusError::Unavailable(format!(
                "no connection to the message broker within {timeout:?}"
            ))),
        }
    }

    /// Runs `operation` on the connection of link `generation`, giving up as soon as the
    /// supervisor reports that connection lost. lapin can leave an operation queued just as its
    /// connection dies unresolved forever (seen with acks); whatever it was is void anyway: the
    /// broker returns the unsettled messages of a lost connection to their queues.
    pub(crate) async fn while_linked<T>(
        &self,
        generation: u64,
        operation: impl Future<Output = Result<T, lapin::Error>>,
    ) -> Result<T, BusError> {
        let mut receiver = self.inner.link.clone();
        let lost = receiver.wait_for(|current| {
            current
                .as_ref()
                .is_none_or(|link| link.generation != generation)
        });
        tokio::select! {
            biased;
            result = operation => result.map_err(BusError::from),
            _ = lost => Err(BusError::Unavailable(
                "lost the message broker connection".into(),
            )),
        }
    }

    /// Publishes an envelope and waits for the broker's confirm. While the broker is away it
    /// retries on the next connection until `publish_timeout`, then fails.
    pub async fn publish(
        &self,
        exchange: Exchange,
        routing_key: &str,
        envelope: &Envelope,
    ) -> Result<(), BusError> {
        let body = serde_json::to_vec(envelope)?;
        let mut properties = BasicProperties::default()
            .with_message_id(ShortString::from(envelope.id.to_string()))
            .with_content_type(ShortString::from("application/json"))
            .with_type(ShortString::from(envelope.message.type_name()))
            .with_delivery_mode(2);
        if let Some(traceparent) = s4e_trace::outgoing() {
            let mut headers = BTreeMap::new();
            headers.insert(
                ShortString::from(s4e_trace::HEADER),
                AMQPValue::LongString(LongString::from(traceparent)),
            );
            properties = properties.with_headers(FieldTable::from(headers));
        }
        self.publish_raw(exchange, routing_key, &body, properties)
            .await
    }

    pub(crate) async fn publish_raw(
        &self,
        exchange: Exchange,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), BusError> {
        let exchange_name = self.inner.topology.exchange(exchange);
        let deadline = tokio::time::Instant::now() + self.inner.options.publish_timeout;
        let mut last_error = None;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                let detail = last_error
                    .map(|error: BusError| error.to_string())
                    .unwrap_or_else(|| "timed out".into());
                return Err(BusError::Unavailable(detail));
            }
            let link = self.wait_for_link(remaining).await?;
            let attempt = async {
                let confirm = link
                    .publisher
                    .basic_publish(
                        ShortString::from(exchange_name.as_str()),
                        ShortString::from(routing_key),
                        BasicPublishOptions {
                            mandatory: true,
                            ..BasicPublishOptions::default()
                        },
                        body,
                        properties.clone(),
                    )
                    .await?;
                confirm.await
            };
            match tokio::time::timeout(remaining, attempt).await {
                Ok(Ok(Confirmation::Ack(None))) => return Ok(()),
                Ok(Ok(Confirmation::Ack(Some(_)))) => {
                    return Err(BusError::Unroutable {
                        exchange: exchange_name,
                        routing_key: routing_key.to_string(),
                    });
                }
                Ok(Ok(Confirmation::Nack(_))) => {
                    return Err(BusError::Refused("the broker nacked the message".into()));
                }
                Ok(Ok(Confirmation::NotRequested)) => {
                    return Err(BusError::Broker("publisher confirms are off".into()));
                }
                Ok(Err(error)) => {
                    // The connection broke under us: wait for the supervisor's next link.
                    tracing::warn!(%error, exchange = %exchange_name, "publish failed, retrying on a new connection");
                    last_error = Some(BusError::from(error));
                    if !link.publisher.status().connected() {
                        link.broken.notify_one();
                    }
                    let mut receiver = self.inner.link.clone();
                    let generation = link.generation;
                    let _ = tokio::time::timeout(
                        remaining,
                        receiver.wait_for(|current| {
                            current.as_ref().is_none_or(|l| l.generation != generation)
                        }),
                    )
                    .await;
                }
                Err(_) => {
                    return Err(BusError::Unavailable(
                        "no confirm from the message broker in time".into(),
                    ));
                }
            }
        }
    }

    /// Sends a message to the dead-letter queue with the reason, confirmed.
    pub(crate) async fn dead_letter(
        &self,
        body: &[u8],
        mut properties: BasicProperties,
        source_queue: &str,
        reason: &str,
    ) -> Result<(), BusError> {
        let mut headers: BTreeMap<ShortString, AMQPValue> = properties
            .headers()
            .as_ref()
            .map(|table| table.inner().clone())
            .unwrap_or_default();
        headers.insert(
            DEAD_REASON_HEADER.into(),
            AMQPValue::LongString(LongString::from(reason)),
        );
        headers.insert(
            SOURCE_QUEUE_HEADER.into(),
            AMQPValue::LongString(LongString::from(source_queue)),
        );
        properties = properties.with_headers(FieldTable::from(headers));
        self.publish_raw(Exchange::DeadLetter, "", body, properties)
            .await
    }

    /// Republishes a delivered job to the delay queue for `wait` (see [`crate::topology`]),
    /// keeping its routing key, properties and headers, with `retries` recorded; confirmed.
    pub(crate) async fn defer(
        &self,
        delivery: &lapin::message::Delivery,
        wait: Duration,
        retries: u32,
    ) -> Result<(), BusError> {
        let mut headers: BTreeMap<ShortString, AMQPValue> = delivery
            .properties
            .headers()
            .as_ref()
            .map(|table| table.inner().clone())
            .unwrap_or_default();
        // The broker's own bookkeeping belongs to the delivery, not to the new message.
        headers
            .retain(|key, _| !key.as_str().starts_with("x-") || key.as_str().starts_with("x-s4e-"));
        headers.insert(RETRIES_HEADER.into(), AMQPValue::LongUInt(retries));
        let properties = delivery
            .properties
            .clone()
            .with_headers(FieldTable::from(headers));
        let delay = crate::topology::delay_for(wait);
        self.publish_raw(
            Exchange::Delay(delay),
            delivery.routing_key.as_str(),
            &delivery.data,
            properties,
        )
        .await
    }

    /// Takes one message from the dead-letter queue, if any (acknowledged: it leaves the queue).
    pub async fn take_dead_letter(&self) -> Result<Option<DeadLetter>, BusError> {
        let link = self
            .wait_for_link(self.inner.options.publish_timeout)
            .await?;
        let queue = self.inner.topology.queue(Queue::DeadLetters);
        let taken = async {
            let channel = link.connection.create_channel().await?;
            let message = channel
                .basic_get(
                    ShortString::from(queue.as_str()),
                    BasicGetOptions { no_ack: true },
                )
                .await?;
            let _ = channel.close(200, ShortString::from("done")).await;
            Ok(message)
        };
        let message = self.while_linked(link.generation, taken).await?;
        let Some(message) = message else {
            return Ok(None);
        };
        Ok(Some(DeadLetter::of(&message.delivery)))
    }

    /// Deletes every queue and exchange of this namespace. For tests and teardown tools.
    pub async fn delete_topology(&self) -> Result<(), BusError> {
        let link = self
            .wait_for_link(self.inner.options.publish_timeout)
            .await?;
        let deleted = async {
            let channel = link.connection.create_channel().await?;
            for queue in self.inner.topology.queues() {
                channel
                    .queue_delete(
                        ShortString::from(queue.name.as_str()),
                        QueueDeleteOptions::default(),
                    )
                    .await?;
            }
            for (exchange, _) in self.inner.topology.exchanges() {
                channel
                    .exchange_delete(
                        ShortString::from(exchange.as_str()),
                        ExchangeDeleteOptions::default(),
                    )
                    .await?;
            }
            let _ = channel.close(200, ShortString::from("done")).await;
            Ok(())
        };
        self.while_linked(link.generation, deleted).await
    }

    /// Stops supervising and closes the connection. Consumers should be drained first.
    pub async fn close(&self) {
        self.inner.supervisor.cancel();
        let link = self.inner.link.borrow().clone();
        if let Some(link) = link {
            let _ = link
                .connection
                .close(200, ShortString::from("shutting down"))
                .await;
        }
    }
}

async fn supervise(
    url: String,
    topology: Topology,
    sender: watch::Sender<Option<Link>>,
    stop: CancellationToken,
) {
    let mut generation = 0u64;
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        match establish(&url, &topology, generation + 1).await {
            Ok(link) => {
                generation += 1;
                failures = 0;
                tracing::info!(generation, "connected to the message broker");
                let connection = link.connection.clone();
                let broken = link.broken.clone();
                sender.send_replace(Some(link));
                tokio::select! {
                    reason = connection_lost(&connection) => {
                        tracing::warn!(%reason, "lost the message broker connection");
                    }
                    _ = broken.notified() => {
                        tracing::warn!("publishing channel closed, reconnecting");
                        let _ = connection.close(200, ShortString::from("reconnecting")).await;
                    }
                    _ = stop.cancelled() => {}
                }
                sender.send_replace(None);
            }
            Err(error) => {
                let wait = retry_delay(failures);
                failures += 1;
                tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "cannot connect to the message broker");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => {}
                }
            }
        }
    }
}

fn retry_delay(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(5)).min(3_000))
}

async fn establish(url: &str, topology: &Topology, generation: u64) -> Result<Link, BusError> {
    let properties = ConnectionProperties::default()
        .with_connection_name(LongString::from(format!("s4e-{}", topology.namespace())));
    let connection = tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(url, properties),
    )
    .await
    .map_err(|_| BusError::Unavailable("connect timed out".into()))??;
    declare(&connection, topology).await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(Link {
        connection: Arc::new(connection),
        publisher,
        generation,
        broken: Arc::default(),
    })
}

async fn declare(connection: &Connection, topology: &Topology) -> Result<(), BusError> {
    let channel = connection.create_channel().await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for (name, kind) in topology.exchanges() {
        channel
            .exchange_declare(
                ShortString::from(name.as_str()),
                kind,
                durable,
                FieldTable::default(),
            )
            .await?;
    }
    for queue in topology.queues() {
        let mut arguments = BTreeMap::new();
        arguments.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        if let Some(ttl) = queue.message_ttl_ms {
            arguments.insert(
                ShortString::from("x-message-ttl"),
                AMQPValue::LongLongInt(i64::try_from(ttl).unwrap_or(i64::MAX)),
            );
        }
        if let Some(dlx) = &queue.dead_letter_to {
            arguments.insert(
                ShortString::from("x-dead-letter-exchange"),
                AMQPValue::LongString(LongString::from(dlx.as_str())),
            );
            arguments.insert(
                ShortString::from("x-delivery-limit"),
                AMQPValue::LongLongInt(DELIVERY_LIMIT),
            );
            // The default (at-most-once) may drop a dead letter the DLQ cannot take at once.
            arguments.insert(
                ShortString::from("x-dead-letter-strategy"),
                AMQPValue::LongString(LongString::from("at-least-once")),
            );
            arguments.insert(
                ShortString::from("x-overflow"),
                AMQPValue::LongString(LongString::from("reject-publish")),
            );
        }
        channel
            .queue_declare(
                ShortString::from(queue.name.as_str()),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::from(arguments),
            )
            .await?;
        for (exchange, routing_key) in &queue.bindings {
            channel
                .queue_bind(
                    ShortString::from(queue.name.as_str()),
                    ShortString::from(exchange.as_str()),
                    ShortString::from(routing_key.as_str()),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    let _ = channel.close(200, ShortString::from("declared")).await;
    Ok(())
}

/// Resolves when the connection reports an error or stops being connected. The status poll
/// covers losses that surface without an event.
async fn connection_lost(connection: &Connection) -> String {
    let mut events = connection.events_listener();
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Error(error)) => return error.to_string(),
                Some(_) => {}
                None => return "event stream ended".into(),
            },
            _ = poll.tick() => {
                if !connection.status().connected() {
                    return "connection no longer connected".to_string();
                }
            }
        }
    }
}
