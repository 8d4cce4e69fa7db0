//! Every exchange and queue of the platform, declared in one place.
//!
//! ```text
//! {ns}.dispatch (direct) --"job"-->          {ns}.dispatch          (s4e-dispatcher routes)
//! {ns}.jobs     (direct) --"<check kind>"--> {ns}.jobs.<check kind> (check workers)
//! {ns}.events   (topic)  --"#"-->            {ns}.trigger.events    (s4e-trigger)
//! {ns}.dlx      (fanout) -->                 {ns}.dead_letters
//! ```
//!
//! Work queues are durable quorum queues with a delivery limit: a message that keeps failing
//! (or keeps killing its consumer) is dead-lettered by the broker instead of looping forever.

use lapin::ExchangeKind;
use s4e_types::CheckKind;

/// How many times the broker hands out a message before dead-lettering it.
pub const DELIVERY_LIMIT: i64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    Dispatch,
    Jobs,
    Events,
    DeadLetter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Dispatch,
    Jobs(CheckKind),
    TriggerEvents,
    DeadLetters,
}

/// The routing key of jobs on the dispatch exchange.
pub const DISPATCH_ROUTING_KEY: &str = "job";

#[derive(Clone, Debug)]
pub struct Topology {
    namespace: String,
}

pub(crate) struct QueueSpec {
    pub name: String,
    pub bindings: Vec<(String, String)>,
    pub dead_letter_to: Option<String>,
}

impl Topology {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn exchange(&self, exchange: Exchange) -> String {
        let name = match exchange {
            Exchange::Dispatch => "dispatch",
            Exchange::Jobs => "jobs",
            Exchange::Events => "events",
            Exchange::DeadLetter => "dlx",
        };
        format!("{}.{name}", self.namespace)
    }

    pub fn queue(&self, queue: Queue) -> String {
        match queue {
            Queue::Dispatch => format!("{}.dispatch", self.namespace),
            Queue::Jobs(kind) => format!("{}.jobs.{}", self.namespace, kind.as_str()),
            Queue::TriggerEvents => format!("{}.trigger.events", self.namespace),
            Queue::DeadLetters => format!("{}.dead_letters", self.namespace),
        }
    }

    pub(crate) fn exchanges(&self) -> Vec<(String, ExchangeKind)> {
        vec![
            (self.exchange(Exchange::Dispatch), ExchangeKind::Direct),
            (self.exchange(Exchange::Jobs), ExchangeKind::Direct),
            (self.exchange(Exchange::Events), ExchangeKind::Topic),
            (self.exchange(Exchange::DeadLetter), ExchangeKind::Fanout),
        ]
    }

    pub(crate) fn queues(&self) -> Vec<QueueSpec> {
        let dlx = Some(self.exchange(Exchange::DeadLetter));
        let mut queues = vec![QueueSpec {
            name: self.queue(Queue::Dispatch),
            bindings: vec![(
                self.exchange(Exchange::Dispatch),
                DISPATCH_ROUTING_KEY.to_string(),
            )],
            dead_letter_to: dlx.clone(),
        }];
        for kind in CheckKind::ALL {
            queues.push(QueueSpec {
                name: self.queue(Queue::Jobs(*kind)),
                bindings: vec![(self.exchange(Exchange::Jobs), kind.as_str().to_string())],
                dead_letter_to: dlx.clone(),
            });
        }
        queues.push(QueueSpec {
            name: self.queue(Queue::TriggerEvents),
            bindings: vec![(self.exchange(Exchange::Events), "#".to_string())],
            dead_letter_to: dlx,
        });
        // The dead-letter queue itself dead-letters nowhere: a message there waits for a person.
        queues.push(QueueSpec {
            name: self.queue(Queue::DeadLetters),
            bindings: vec![(self.exchange(Exchange::DeadLetter), String::new())],
            dead_letter_to: None,
        });
        queues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_carries_the_namespace() {
        let topology = Topology::new("t1");
        for (name, _) in topology.exchanges() {
            assert!(name.starts_with("t1."), "{name}");
        }
        for queue in topology.queues() {
            assert!(queue.name.starts_with("t1."), "{}", queue.name);
            for (exchange, _) in &queue.bindings {
                assert!(exchange.starts_with("t1."));
            }
        }
        assert_eq!(
            topology.queue(Queue::Jobs(CheckKind::HttpHeaders)),
            "t1.jobs.http_headers"
        );
    }

    #[test]
    fn every_work_queue_dead_letters() {
        let topology = Topology::new("t1");
        let dead_letters = topology.queue(Queue::DeadLetters);
        for queue in topology.queues() {
            assert_eq!(queue.dead_letter_to.is_none(), queue.name == dead_letters);
        }
    }
}
