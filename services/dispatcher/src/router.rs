//! Routing: each job on the dispatch queue goes to the queue of its check kind.

use s4e_bus::topology::Exchange;
use s4e_bus::{Bus, BusError, Incoming, Outcome, Queue};
use s4e_runtime::{CancellationToken, Metrics};
use s4e_types::Message;
use tokio::task::JoinHandle;

pub fn start(
    bus: &Bus,
    prefetch: u16,
    shutdown: CancellationToken,
    metrics: Metrics,
) -> JoinHandle<()> {
    let publisher = bus.clone();
    bus.consume(Queue::Dispatch, prefetch, shutdown, move |incoming| {
        let bus = publisher.clone();
        let metrics = metrics.clone();
        async move { route(&bus, &metrics, incoming).await }
    })
}

async fn route(bus: &Bus, metrics: &Metrics, incoming: Incoming) -> Outcome {
    let Message::ScanJob(spec) = &incoming.envelope.message else {
        return Outcome::DeadLetter(format!(
            "unexpected message type {} on the dispatch queue",
            incoming.envelope.message.type_name()
        ));
    };
    let kind = spec.check.as_str();
    match bus.publish(Exchange::Jobs, kind, &incoming.envelope).await {
        Ok(()) => {
            metrics.inc(
                "s4e_dispatcher_routed_total",
                "Jobs routed to their check queue.",
                &[("check", kind)],
            );
            Outcome::Ack
        }
        Err(BusError::Unroutable { .. }) => {
            Outcome::DeadLetter(format!("no queue for check {kind}"))
        }
        Err(error) => Outcome::Retry(error.to_string()),
    }
}
