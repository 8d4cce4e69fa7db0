//! Delayed retries, on every queue of the topology.
//!
//! A handler that answers [`Outcome::Retry`] or [`Outcome::Later`] never keeps its delivery
//! waiting: the consumer republishes the message, confirmed, to the delay queue for the wait
//! and then acks it (if it cannot be republished it goes back to its queue instead, kept).
//! Delay queues are quorum queues with a fixed TTL (quorum queues have no per-message TTL),
//! one per wait in [`DELAYS_MS`](crate::topology::DELAYS_MS), each fed by a fanout exchange of
//! its name and consumed by nobody. The message is published there with the name of its queue
//! as routing key; when the TTL expires the broker dead-letters it (at least once) to the
//! direct exchange `{ns}.retry`, to which every queue is bound by its own name, so it comes
//! back to the queue it left and to no other. Meanwhile no consumer slot is taken, and a wait
//! can be longer than holding a message would allow. Each queue's [`RetryPolicy`] says how long
//! it waits and how many tries it gets.
//!
//! Two counters, each meaning one thing:
//! - `x-s4e-retries`, our header, counts the tries that ended in [`Outcome::Retry`]. It travels
//!   with the republished message, sets the back-off, and at the policy's `tries` the message is
//!   dead-lettered with `gave up after N tries: <reason>`. [`Outcome::Later`] does not count.
//! - `x-delivery-count`, the broker's, counts deliveries that ended without a verdict: the
//!   consumer died or lost its connection, or the handler panicked (the message is then returned
//!   at once). The queue's delivery limit ([`DELIVERY_LIMIT`](crate::topology::DELIVERY_LIMIT))
//!   dead-letters a message that keeps doing so (reason `delivery_limit`): the backstop for a
//!   message that crashes whoever handles it. It starts again after each deferral, since to the
//!   broker a republished message is a new one.
//!
//! A handler sees their sum as the envelope's `attempt`: how often the message was handed out
//! before, waits for [`Outcome::Later`] aside.

use std::time::Duration;

use lapin::message::Delivery;
use lapin::types::AMQPValue;

use crate::consumer::Outcome;
use crate::topology::{Delay, RetryPolicy, delay_for};

/// Header counting the tries of a message that ended in [`Outcome::Retry`].
pub(crate) const RETRIES_HEADER: &str = "x-s4e-retries";

/// What the consumer does with a delivery once its handler answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Ack,
    DeadLetter(String),
    /// Republish to the delay queue `delay` with `retries` recorded, then ack.
    Defer {
        delay: Delay,
        retries: u32,
        reason: String,
    },
}

impl RetryPolicy {
    /// The step for `outcome` of a message that had `retries` failed tries before; `cap`
    /// bounds every back-off (the bus's `retry_delay_cap`).
    pub(crate) fn step(&self, outcome: Outcome, retries: u32, cap: Duration) -> Step {
        match outcome {
            Outcome::Ack => Step::Ack,
            Outcome::DeadLetter(reason) => Step::DeadLetter(reason),
            Outcome::Retry(reason) => {
                let tries = retries.saturating_add(1);
                if self.tries.is_some_and(|limit| tries >= limit) {
                    return Step::DeadLetter(format!("gave up after {tries} tries: {reason}"));
                }
                Step::Defer {
                    delay: delay_for(self.wait(tries, cap)),
                    retries: tries,
                    reason,
                }
            }
            Outcome::Later(reason) => Step::Defer {
                delay: delay_for(self.later),
                retries,
                reason,
            },
        }
    }
}

/// How many tries of this message ended in [`Outcome::Retry`].
pub(crate) fn retries(delivery: &Delivery) -> u32 {
    count(delivery, RETRIES_HEADER).unwrap_or(0)
}

/// How often the broker delivered this message before without a verdict (quorum queues count
/// it for us).
pub(crate) fn delivery_count(delivery: &Delivery) -> u32 {
    count(delivery, "x-delivery-count").unwrap_or(u32::from(delivery.redelivered))
}

pub(crate) fn count(delivery: &Delivery, header: &str) -> Option<u32> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get(header)? {
        AMQPValue::LongUInt(value) => Some(*value),
        AMQPValue::LongLongInt(value) => Some(u32::try_from(*value).unwrap_or(0)),
        AMQPValue::LongInt(value) => Some(u32::try_from(*value).unwrap_or(0)),
        AMQPValue::ShortInt(value) => Some(u32::try_from(*value).unwrap_or(0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_CAP: Duration = Duration::MAX;

    fn retry() -> Outcome {
        Outcome::Retry("away".into())
    }

    #[test]
    fn a_retry_is_deferred_counted_until_the_last_try() {
        let policy = RetryPolicy::WORK;
        let step = policy.step(retry(), 0, NO_CAP);
        assert_eq!(
            step,
            Step::Defer {
                delay: delay_for(Duration::from_millis(250)),
                retries: 1,
                reason: "away".into()
            }
        );
        let Step::Defer { delay, retries, .. } = policy.step(retry(), 4, NO_CAP) else {
            panic!("deferred");
        };
        assert_eq!((delay.duration(), retries), (Duration::from_secs(4), 5));
        assert_eq!(
            policy.step(retry(), 9, NO_CAP),
            Step::DeadLetter("gave up after 10 tries: away".into())
        );
    }

    #[test]
    fn later_waits_its_own_time_uncounted_and_uncapped() {
        let step = RetryPolicy::WORK.step(Outcome::Later("cap".into()), 3, Duration::ZERO);
        assert_eq!(
            step,
            Step::Defer {
                delay: delay_for(Duration::from_secs(1)),
                retries: 3,
                reason: "cap".into()
            }
        );
        assert_eq!(
            delay_for(Duration::from_secs(1)).duration().as_millis(),
            1_000
        );
    }

    #[test]
    fn a_policy_without_a_limit_never_gives_up() {
        let step = RetryPolicy::UNTIL_KEPT.step(retry(), u32::MAX - 1, NO_CAP);
        assert!(matches!(step, Step::Defer { .. }), "{step:?}");
    }

    #[test]
    fn verdicts_pass_through() {
        let policy = RetryPolicy::WORK;
        assert_eq!(policy.step(Outcome::Ack, 5, NO_CAP), Step::Ack);
        assert_eq!(
            policy.step(Outcome::DeadLetter("bad".into()), 5, NO_CAP),
            Step::DeadLetter("bad".into())
        );
    }
}
