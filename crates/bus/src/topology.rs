//! Every exchange and queue of the platform, declared in one place.
//!
//! ```text
//! {ns}.dispatch (direct) --"job"-->          {ns}.dispatch          (s4e-dispatcher routes)
//! {ns}.jobs     (direct) --"<check kind>"--> {ns}.jobs.<check kind> (check workers)
//! {ns}.events   (topic)  --"#"-->            {ns}.trigger.events    (s4e-trigger)
//! {ns}.dlx      (fanout) -->                 {ns}.dead_letters
//! {ns}.delay.<ms> (fanout) -->               {ns}.delay.<ms> --(after <ms>)--> {ns}.jobs
//! ```
//!
//! Work queues are durable quorum queues with a delivery limit: a message that keeps failing
//! (or keeps killing its consumer) is dead-lettered by the broker instead of looping forever.
//! A job that must wait (its dependencies are away, or a concurrency cap is reached) is
//! republished to a delay queue, which nobody consumes: when its TTL expires the broker
//! dead-letters it back to the jobs exchange with its routing key, that is, to its check queue.
//! Quorum queues have no per-message delay, hence one queue per delay.

use std::time::Duration;

use lapin::ExchangeKind;
use s4e_types::CheckKind;

/// How many times the broker hands out a message before dead-lettering it.
pub const DELIVERY_LIMIT: i64 = 10;

/// How long a deferred job can wait, one delay queue each (milliseconds), shortest first.
pub const DELAYS_MS: &[u64] = &[250, 1_000, 4_000, 15_000, 60_000];

/// The delay queue for a wait of `wait`: the longest delay not over it (the shortest when
/// `wait` is shorter than every delay).
pub fn delay_for(wait: Duration) -> Delay {
    let wait = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    let index = DELAYS_MS
        .iter()
        .rposition(|&delay| delay <= wait)
        .unwrap_or(0);
    Delay(index)
}

/// One of [`DELAYS_MS`], by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delay(usize);

impl Delay {
    pub fn duration(self) -> Duration {
        Duration::from_millis(DELAYS_MS[self.0])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    Dispatch,
    Jobs,
    Events,
    DeadLetter,
    /// Feeds one delay queue (fanout: the routing key is kept for the way back).
    Delay(Delay),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Dispatch,
    Jobs(CheckKind),
    TriggerEvents,
    DeadLetters,
    Delay(Delay),
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
    /// Delay queues: how long a message stays before it is dead-lettered back.
    pub message_ttl_ms: Option<u64>,
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
            Exchange::Delay(delay) => {
                return format!("{}.delay.{}", self.namespace, DELAYS_MS[delay.0]);
            }
        };
        format!("{}.{name}", self.namespace)
    }

    pub fn queue(&self, queue: Queue) -> String {
        match queue {
            Queue::Dispatch => format!("{}.dispatch", self.namespace),
            Queue::Jobs(kind) => format!("{}.jobs.{}", self.namespace, kind.as_str()),
            Queue::TriggerEvents => format!("{}.trigger.events", self.namespace),
            Queue::DeadLetters => format!("{}.dead_letters", self.namespace),
            Queue::Delay(delay) => format!("{}.delay.{}", self.namespace, DELAYS_MS[delay.0]),
        }
    }

    pub(crate) fn exchanges(&self) -> Vec<(String, ExchangeKind)> {
        let mut exchanges = vec![
            (self.exchange(Exchange::Dispatch), ExchangeKind::Direct),
            (self.exchange(Exchange::Jobs), ExchangeKind::Direct),
            (self.exchange(Exchange::Events), ExchangeKind::Topic),
            (self.exchange(Exchange::DeadLetter), ExchangeKind::Fanout),
        ];
        for index in 0..DELAYS_MS.len() {
            exchanges.push((
                self.exchange(Exchange::Delay(Delay(index))),
                ExchangeKind::Fanout,
            ));
        }
        exchanges
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
            message_ttl_ms: None,
        }];
        for kind in CheckKind::ALL {
            queues.push(QueueSpec {
                name: self.queue(Queue::Jobs(*kind)),
                bindings: vec![(self.exchange(Exchange::Jobs), kind.as_str().to_string())],
                dead_letter_to: dlx.clone(),
                message_ttl_ms: None,
            });
        }
        queues.push(QueueSpec {
            name: self.queue(Queue::TriggerEvents),
            bindings: vec![(self.exchange(Exchange::Events), "#".to_string())],
            dead_letter_to: dlx,
            message_ttl_ms: None,
        });
        for (index, ttl) in DELAYS_MS.iter().enumerate() {
            let delay = Delay(index);
            queues.push(QueueSpec {
                name: self.queue(Queue::Delay(delay)),
                bindings: vec![(self.exchange(Exchange::Delay(delay)), String::new())],
                dead_letter_to: Some(self.exchange(Exchange::Jobs)),
                message_ttl_ms: Some(*ttl),
            });
        }
        // The dead-letter queue itself dead-letters nowhere: a message there waits for a person.
        queues.push(QueueSpec {
            name: self.queue(Queue::DeadLetters),
            bindings: vec![(self.exchange(Exchange::DeadLetter), String::new())],
            dead_letter_to: None,
            message_ttl_ms: None,
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
    fn a_wait_gets_the_longest_delay_not_over_it() {
        let ms = |ms| delay_for(Duration::from_millis(ms)).duration().as_millis();
        assert_eq!(ms(20), 250);
        assert_eq!(ms(250), 250);
        assert_eq!(ms(999), 250);
        assert_eq!(ms(2_000), 1_000);
        assert_eq!(ms(30_000), 15_000);
        assert_eq!(ms(3_600_000), 60_000);
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
