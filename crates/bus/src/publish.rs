//! Publishing, always confirmed: envelopes, bytes as they are (replaying dead letters, tests),
//! dead letters with their reason, and messages deferred to a delay queue.

use std::collections::BTreeMap;

use lapin::message::Delivery;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Confirmation};
use s4e_types::Envelope;

use crate::connection::Bus;
use crate::dead_letter::{DEAD_REASON_HEADER, SOURCE_QUEUE_HEADER};
use crate::error::BusError;
use crate::retry::RETRIES_HEADER;
use crate::topology::{Delay, Exchange};

/// A message's headers, as lapin keeps them.
pub(crate) type Headers = BTreeMap<ShortString, AMQPValue>;

impl Bus {
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
            let mut headers = Headers::new();
            headers.insert(
                ShortString::from(s4e_trace::HEADER),
                AMQPValue::LongString(LongString::from(traceparent)),
            );
            properties = properties.with_headers(FieldTable::from(headers));
        }
        let exchange = self.topology().exchange(exchange);
        self.publish_to(&exchange, routing_key, &body, properties)
            .await
    }

    /// Publishes `body` unchanged, confirmed, like [`Bus::publish`] does for envelopes: for
    /// replaying dead letters and for tests that need to send what no well-behaved publisher
    /// would.
    pub async fn publish_bytes(
        &self,
        exchange: Exchange,
        routing_key: &str,
        body: &[u8],
    ) -> Result<(), BusError> {
        let properties = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_delivery_mode(2);
        let exchange = self.topology().exchange(exchange);
        self.publish_to(&exchange, routing_key, body, properties)
            .await
    }

    async fn publish_to(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), BusError> {
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
                        ShortString::from(exchange),
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
                        exchange: exchange.to_string(),
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
                    tracing::warn!(%error, %exchange, "publish failed, retrying on a new connection");
                    last_error = Some(BusError::from(error));
                    if !link.publisher.status().connected() {
                        link.broken.notify_one();
                    }
                    self.wait_for_replacement(&link, remaining).await;
                }
                Err(_) => {
                    return Err(BusError::Unavailable(
                        "no confirm from the message broker in time".into(),
                    ));
                }
            }
        }
    }

    /// Sends a delivered message to the dead-letter queue with the reason, confirmed.
    pub(crate) async fn dead_letter(
        &self,
        delivery: &Delivery,
        source_queue: &str,
        reason: &str,
    ) -> Result<(), BusError> {
        let mut headers = headers_of(delivery);
        headers.insert(DEAD_REASON_HEADER.into(), text(reason));
        headers.insert(SOURCE_QUEUE_HEADER.into(), text(source_queue));
        let properties = delivery
            .properties
            .clone()
            .with_headers(FieldTable::from(headers));
        let exchange = self.topology().exchange(Exchange::DeadLetter);
        self.publish_to(&exchange, "", &delivery.data, properties)
            .await
    }

    /// Republishes a delivered message to the delay queue `delay`, addressed to `queue` for
    /// its way back (see the `retry` module), with its properties and our headers plus
    /// `carried`, and `retries` recorded; confirmed.
    pub(crate) async fn defer(
        &self,
        delivery: &Delivery,
        queue: &str,
        delay: Delay,
        retries: u32,
        carried: Headers,
    ) -> Result<(), BusError> {
        let mut headers = headers_of(delivery);
        // The broker's bookkeeping (delivery count, deaths) belongs to the delivery, not to
        // the new message: kept, its `x-death` would also make the broker see the way back
        // as a dead-letter cycle and drop the message.
        headers
            .retain(|key, _| !key.as_str().starts_with("x-") || key.as_str().starts_with("x-s4e-"));
        headers.extend(carried);
        headers.insert(RETRIES_HEADER.into(), AMQPValue::LongUInt(retries));
        let properties = delivery
            .properties
            .clone()
            .with_headers(FieldTable::from(headers));
        let exchange = self.topology().delay(delay);
        self.publish_to(&exchange, queue, &delivery.data, properties)
            .await
    }
}

fn headers_of(delivery: &Delivery) -> Headers {
    delivery
        .properties
        .headers()
        .as_ref()
        .map(|table| table.inner().clone())
        .unwrap_or_default()
}

pub(crate) fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}
