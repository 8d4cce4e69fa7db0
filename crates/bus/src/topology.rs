//! Every exchange and queue of the platform, declared in one place.
//!
//! ```text
//! {ns}.dispatch  (direct) --"job"-->          {ns}.dispatch          (s4e-dispatcher routes)
//! {ns}.jobs      (direct) --"<check kind>"--> {ns}.jobs.<check kind> (check workers)
//! {ns}.jobs      (direct) --"crawl"-->        {ns}.jobs.crawl        (s4e-crawler starts a crawl)
//! {ns}.crawl     (direct) --"fetch"-->        {ns}.crawl.fetch       (s4e-crawler: the frontier)
//!                         --"fuzz"-->         {ns}.crawl.fuzz        (s4e-crawler: directory fuzzing)
//!                         --"finish"-->       {ns}.crawl.finish      (s4e-crawler: the finisher)
//! {ns}.events    (topic)  --"#"-->            {ns}.trigger.events    (s4e-trigger)
//! {ns}.dlx       (fanout) -->                 {ns}.dead_letters      (kept by s4e-dispatcher)
//! {ns}.retry.<ms> (fanout) --> {ns}.retry.<ms> --(after <ms>)--> {ns}.retry
//! {ns}.retry     (direct) --"<queue name>"--> that queue (every queue above)
//! ```
//!
//! Work queues are durable quorum queues with a delivery limit: a message that keeps killing
//! its consumer is dead-lettered by the broker instead of looping forever. Every queue declares
//! a [`RetryPolicy`] ([`Queue::retry_policy`]) and is bound to `{ns}.retry` by its own name, so
//! any of them can have a message wait in a delay queue and come back to it alone (an event
//! returns to the one consumer that failed it, not to every queue its exchange feeds); the
//! `retry` module says how. Quorum queues have no per-message TTL, hence one delay queue per
//! wait ([`DELAYS_MS`]).

use std::collections::BTreeMap;
use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use s4e_types::CheckKind;

/// How many times the broker hands out a message before dead-lettering it (reason
/// `delivery_limit`). Handlers' retries are not counted here (see [`RetryPolicy::tries`]):
/// this only stops a message whose deliveries keep ending without a verdict (a crashed
/// consumer, a lost connection, a panicking handler).
pub const DELIVERY_LIMIT: i64 = 10;

/// The waits a message can spend in a delay queue, one delay queue each (milliseconds),
/// shortest first. A policy's waits are rounded down to one of them.
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

/// How a queue's messages are tried again (see the `retry` module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// After this many tries that ended in [`crate::Outcome::Retry`] the message is
    /// dead-lettered with `gave up after N tries: <reason>`; `None`: never.
    pub tries: Option<u32>,
    /// The wait after the first failed try; it doubles after each further one, up to
    /// `max_wait` (and the bus's `retry_delay_cap`).
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// How long [`crate::Outcome::Later`] waits; not counted as a try, not capped.
    pub later: Duration,
}

impl RetryPolicy {
    /// Work queues: ten tries, waiting 250 ms, 250 ms, 1 s, 1 s, 4 s, 4 s, then 15 s (the
    /// doubling rounded down to the delay queues): a dependency may be away about a minute.
    pub const WORK: RetryPolicy = RetryPolicy {
        tries: Some(10),
        first_wait: Duration::from_millis(250),
        max_wait: Duration::from_secs(30),
        later: Duration::from_secs(1),
    };

    /// The dead-letter queue: a letter whose store is away waits for it, never dropped.
    pub const UNTIL_KEPT: RetryPolicy = RetryPolicy {
        tries: None,
        ..RetryPolicy::WORK
    };

    /// The wait after `failed` tries (at least one) failed, before `cap`: doubling from
    /// `first_wait`, at most `max_wait`.
    pub fn wait(&self, failed: u32, cap: Duration) -> Duration {
        let doublings = failed.saturating_sub(1).min(20);
        self.first_wait
            .saturating_mul(1 << doublings)
            .min(self.max_wait)
            .min(cap)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    Dispatch,
    Jobs,
    Crawl,
    Events,
    DeadLetter,
}

/// The queues consumers read. Each has a [`RetryPolicy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Dispatch,
    Jobs(CheckKind),
    /// The URLs crawls have yet to fetch: the frontier of every crawl, which lives here (on
    /// the broker's disk), not in a crawler's memory.
    CrawlFetch,
    /// Directories of crawls to fuzz with the wordlist.
    CrawlFuzz,
    /// Crawls with nothing left to fetch, to be consolidated and reported.
    CrawlFinish,
    TriggerEvents,
    DeadLetters,
}

impl Queue {
    /// Every queue, each check kind's included.
    pub fn all() -> impl Iterator<Item = Queue> {
        [
            Queue::Dispatch,
            Queue::CrawlFetch,
            Queue::CrawlFuzz,
            Queue::CrawlFinish,
            Queue::TriggerEvents,
            Queue::DeadLetters,
        ]
        .into_iter()
        .chain(CheckKind::ALL.iter().copied().map(Queue::Jobs))
    }

    pub fn retry_policy(self) -> RetryPolicy {
        match self {
            Queue::Dispatch
            | Queue::Jobs(_)
            | Queue::CrawlFetch
            | Queue::CrawlFuzz
            | Queue::CrawlFinish
            | Queue::TriggerEvents => RetryPolicy::WORK,
            Queue::DeadLetters => RetryPolicy::UNTIL_KEPT,
        }
    }
}

/// The routing key of jobs on the dispatch exchange.
pub const DISPATCH_ROUTING_KEY: &str = "job";

/// The routing keys of the crawl exchange.
pub const CRAWL_FETCH_ROUTING_KEY: &str = "fetch";
pub const CRAWL_FINISH_ROUTING_KEY: &str = "finish";
pub const CRAWL_FUZZ_ROUTING_KEY: &str = "fuzz";

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
            Exchange::Crawl => "crawl",
            Exchange::Events => "events",
            Exchange::DeadLetter => "dlx",
        };
        format!("{}.{name}", self.namespace)
    }

    pub fn queue(&self, queue: Queue) -> String {
        match queue {
            Queue::Dispatch => format!("{}.dispatch", self.namespace),
            Queue::Jobs(kind) => format!("{}.jobs.{}", self.namespace, kind.as_str()),
            Queue::CrawlFetch => format!("{}.crawl.fetch", self.namespace),
            Queue::CrawlFuzz => format!("{}.crawl.fuzz", self.namespace),
            Queue::CrawlFinish => format!("{}.crawl.finish", self.namespace),
            Queue::TriggerEvents => format!("{}.trigger.events", self.namespace),
            Queue::DeadLetters => format!("{}.dead_letters", self.namespace),
        }
    }

    /// The direct exchange that takes a message out of its delay queue back to the queue it
    /// names in its routing key.
    pub(crate) fn retry_exchange(&self) -> String {
        format!("{}.retry", self.namespace)
    }

    /// The fanout exchange feeding delay queue `delay`, and that queue: the same name.
    pub(crate) fn delay(&self, delay: Delay) -> String {
        format!("{}.retry.{}", self.namespace, DELAYS_MS[delay.0])
    }

    fn delays(&self) -> impl Iterator<Item = String> + '_ {
        (0..DELAYS_MS.len()).map(|index| self.delay(Delay(index)))
    }

    pub(crate) fn exchanges(&self) -> Vec<(String, ExchangeKind)> {
        let mut exchanges = vec![
            (self.exchange(Exchange::Dispatch), ExchangeKind::Direct),
            (self.exchange(Exchange::Jobs), ExchangeKind::Direct),
            (self.exchange(Exchange::Crawl), ExchangeKind::Direct),
            (self.exchange(Exchange::Events), ExchangeKind::Topic),
            (self.exchange(Exchange::DeadLetter), ExchangeKind::Fanout),
            (self.retry_exchange(), ExchangeKind::Direct),
        ];
        exchanges.extend(self.delays().map(|name| (name, ExchangeKind::Fanout)));
        exchanges
    }

    /// What feeds `queue`, the way back from the delay queues aside.
    fn bindings(&self, queue: Queue) -> Vec<(String, String)> {
        let (exchange, routing_key) = match queue {
            Queue::Dispatch => (Exchange::Dispatch, DISPATCH_ROUTING_KEY),
            Queue::Jobs(kind) => (Exchange::Jobs, kind.as_str()),
            Queue::CrawlFetch => (Exchange::Crawl, CRAWL_FETCH_ROUTING_KEY),
            Queue::CrawlFuzz => (Exchange::Crawl, CRAWL_FUZZ_ROUTING_KEY),
            Queue::CrawlFinish => (Exchange::Crawl, CRAWL_FINISH_ROUTING_KEY),
            Queue::TriggerEvents => (Exchange::Events, "#"),
            Queue::DeadLetters => (Exchange::DeadLetter, ""),
        };
        vec![(self.exchange(exchange), routing_key.to_string())]
    }

    pub(crate) fn queues(&self) -> Vec<QueueSpec> {
        let mut queues: Vec<QueueSpec> = Queue::all()
            .map(|queue| {
                let name = self.queue(queue);
                let mut bindings = self.bindings(queue);
                bindings.push((self.retry_exchange(), name.clone()));
                QueueSpec {
                    // The dead-letter queue itself dead-letters nowhere: a message there waits
                    // for its store or a person.
                    dead_letter_to: (queue != Queue::DeadLetters)
                        .then(|| self.exchange(Exchange::DeadLetter)),
                    name,
                    bindings,
                    message_ttl_ms: None,
                }
            })
            .collect();
        for (name, ttl) in self.delays().zip(DELAYS_MS) {
            queues.push(QueueSpec {
                bindings: vec![(name.clone(), String::new())],
                name,
                dead_letter_to: Some(self.retry_exchange()),
                message_ttl_ms: Some(*ttl),
            });
        }
        queues
    }
}

/// Declares every exchange, queue and binding of `topology` (idempotent: the broker keeps
/// what exists with the same arguments).
pub(crate) async fn declare(channel: &Channel, topology: &Topology) -> Result<(), lapin::Error> {
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
        channel
            .queue_declare(
                ShortString::from(queue.name.as_str()),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                queue_arguments(&queue),
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
    Ok(())
}

fn queue_arguments(queue: &QueueSpec) -> FieldTable {
    let text = |value: &str| AMQPValue::LongString(LongString::from(value));
    let mut arguments = BTreeMap::new();
    arguments.insert(ShortString::from("x-queue-type"), text("quorum"));
    if let Some(ttl) = queue.message_ttl_ms {
        arguments.insert(
            ShortString::from("x-message-ttl"),
            AMQPValue::LongLongInt(i64::try_from(ttl).unwrap_or(i64::MAX)),
        );
    }
    if let Some(dlx) = &queue.dead_letter_to {
        arguments.insert(ShortString::from("x-dead-letter-exchange"), text(dlx));
        arguments.insert(
            ShortString::from("x-delivery-limit"),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        );
        // The default (at-most-once) may drop a dead letter the target cannot take at once.
        arguments.insert(
            ShortString::from("x-dead-letter-strategy"),
            text("at-least-once"),
        );
        arguments.insert(ShortString::from("x-overflow"), text("reject-publish"));
    }
    FieldTable::from(arguments)
}

/// Deletes every queue and exchange of `topology`.
pub(crate) async fn delete(channel: &Channel, topology: &Topology) -> Result<(), lapin::Error> {
    for queue in topology.queues() {
        channel
            .queue_delete(
                ShortString::from(queue.name.as_str()),
                QueueDeleteOptions::default(),
            )
            .await?;
    }
    for (exchange, _) in topology.exchanges() {
        channel
            .exchange_delete(
                ShortString::from(exchange.as_str()),
                ExchangeDeleteOptions::default(),
            )
            .await?;
    }
    Ok(())
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
    fn waits_double_up_to_the_policy_and_the_cap() {
        let policy = RetryPolicy::WORK;
        let waits: Vec<u128> = (1..=9)
            .map(|failed| policy.wait(failed, Duration::MAX).as_millis())
            .collect();
        assert_eq!(
            waits,
            [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        let short = Duration::from_millis(20);
        assert_eq!(policy.wait(1, short), short);
        assert_eq!(policy.wait(u32::MAX, short), short);
        assert_eq!(policy.wait(u32::MAX, Duration::MAX), policy.max_wait);
    }

    #[test]
    fn every_work_queue_dead_letters() {
        let topology = Topology::new("t1");
        let dead_letters = topology.queue(Queue::DeadLetters);
        for queue in topology.queues() {
            assert_eq!(queue.dead_letter_to.is_none(), queue.name == dead_letters);
        }
    }

    #[test]
    fn every_queue_is_reached_from_the_delay_queues_by_its_own_name() {
        let topology = Topology::new("t1");
        let retry = topology.retry_exchange();
        let specs = topology.queues();
        for queue in Queue::all() {
            let name = topology.queue(queue);
            let spec = specs.iter().find(|spec| spec.name == name).unwrap();
            assert!(
                spec.bindings.contains(&(retry.clone(), name.clone())),
                "{name}"
            );
        }
        let delays: Vec<_> = specs
            .iter()
            .filter(|spec| spec.message_ttl_ms.is_some())
            .collect();
        assert_eq!(delays.len(), DELAYS_MS.len());
        for delay in delays {
            assert_eq!(delay.dead_letter_to.as_ref(), Some(&retry));
            assert!(
                !delay
                    .bindings
                    .iter()
                    .any(|(exchange, _)| *exchange == retry)
            );
        }
    }
}
