//! Reading the dead-letter queue: a letter's body as it was, and why and where it died, whether
//! one of our consumers dead-lettered it (our headers) or the broker did (its `x-death`).

use lapin::message::Delivery;
use lapin::options::BasicGetOptions;
use lapin::types::{AMQPValue, FieldTable, ShortString};

use crate::connection::Bus;
use crate::error::BusError;
use crate::publish::{Headers, text};
use crate::retry::count;
use crate::topology::Queue;

/// Header carrying why a message was dead-lettered by one of our consumers.
pub(crate) const DEAD_REASON_HEADER: &str = "x-s4e-dead-reason";
/// Header carrying the queue a dead-lettered message was taken from.
pub(crate) const SOURCE_QUEUE_HEADER: &str = "x-s4e-source-queue";
/// Header carrying how often the source queue delivered a letter, once the letter was
/// deferred (the broker's own count is of the dead-letter queue's deliveries).
const DELIVERY_COUNT_HEADER: &str = "x-s4e-delivery-count";

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
    pub(crate) fn of(delivery: &Delivery) -> Self {
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        let text = |key: &str| text_in(&headers, key);
        // The broker puts its latest death first; `x-first-death-*` may tell of an earlier
        // one (a wait in a delay queue ends in a death too).
        let latest = latest_death(&headers);
        let reason = text(DEAD_REASON_HEADER)
            .or_else(|| latest.as_ref().and_then(|death| text_in(death, "reason")))
            .or_else(|| text("x-first-death-reason"))
            .unwrap_or_else(|| "unknown".into());
        let source_queue = text(SOURCE_QUEUE_HEADER)
            .or_else(|| latest.as_ref().and_then(|death| text_in(death, "queue")))
            .or_else(|| text("x-first-death-queue"));
        let delivery_count =
            count(delivery, DELIVERY_COUNT_HEADER).or_else(|| count(delivery, "x-delivery-count"));
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

    /// What a letter must carry through a delay queue to be the same letter when it comes back:
    /// the broker's account of its death is not kept there, and its end in the delay queue
    /// would read as one more death.
    pub(crate) fn carried(&self) -> Headers {
        let mut headers = Headers::new();
        headers.insert(DEAD_REASON_HEADER.into(), text(&self.reason));
        if let Some(queue) = &self.source_queue {
            headers.insert(SOURCE_QUEUE_HEADER.into(), text(queue));
        }
        if let Some(count) = self.delivery_count {
            headers.insert(DELIVERY_COUNT_HEADER.into(), AMQPValue::LongUInt(count));
        }
        headers
    }
}

fn text_in(table: &FieldTable, key: &str) -> Option<String> {
    match table.inner().get(key)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

fn latest_death(headers: &FieldTable) -> Option<FieldTable> {
    let Some(AMQPValue::FieldArray(deaths)) = headers.inner().get("x-death") else {
        return None;
    };
    match deaths.as_slice().first()? {
        AMQPValue::FieldTable(death) => Some(death.clone()),
        _ => None,
    }
}

impl Bus {
    /// Takes one message from the dead-letter queue, if any (acknowledged: it leaves the queue).
    pub async fn take_dead_letter(&self) -> Result<Option<DeadLetter>, BusError> {
        let link = self
            .wait_for_link(self.inner.options.publish_timeout)
            .await?;
        let queue = self.topology().queue(Queue::DeadLetters);
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
        Ok(message.map(|message| DeadLetter::of(&message.delivery)))
    }
}
