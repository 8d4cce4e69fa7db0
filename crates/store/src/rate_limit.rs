//! Fixed-window rate limiting in Redis. One bucket is one counter key that expires with its
//! window; a request increments every bucket it counts against in one round trip: per bucket,
//! `INCRBY`, `PEXPIRE … NX` (starts the window on the first hit, and repairs a key that lost
//! its expiry; Redis 7 or later) and `PTTL`, pipelined. Plain commands, not a script: they cost
//! Redis a fraction of an `EVALSHA`, and the sequence needs no atomicity (a key that expires
//! between two of them is simply started again by the next hit).
//!
//! Requests for the same buckets that arrive while a round trip for those buckets is under way
//! share the next one: it adds their number to the counters at once, and each request takes
//! its own place in the count, in arrival order, exactly as if they had gone one by one; a busy
//! client (fifty connections on one key) costs Redis one call per round trip instead of one per
//! request. Every request waits for the round trip that counts it: each decision is Redis's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::oneshot;

use crate::Redis;
use crate::error::StoreError;

/// How long one decision may take before the caller treats Redis as away.
const DEADLINE: Duration = Duration::from_secs(2);

/// A bucket's count after a hit, and what is left of its window: what Redis answers, before
/// a limit is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketCount {
    pub count: u64,
    pub ttl_ms: i64,
}

impl BucketCount {
    pub fn against(self, limit: u32) -> RateDecision {
        RateDecision::new(limit, self.count, self.ttl_ms)
    }
}

/// The outcome of one hit on one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests left in the current window after this one.
    pub remaining: u32,
    /// Time until the window resets.
    pub reset_after: Duration,
}

impl RateDecision {
    fn new(limit: u32, count: u64, ttl_ms: i64) -> Self {
        Self {
            allowed: count <= u64::from(limit),
            limit,
            remaining: u64::from(limit)
                .saturating_sub(count)
                .try_into()
                .unwrap_or(u32::MAX),
            reset_after: Duration::from_millis(ttl_ms.max(0).unsigned_abs()),
        }
    }
}

/// The counters of one round trip, per bucket: the count after it and the milliseconds left.
type Counts = Arc<[BucketCount]>;

/// What a waiting request learns: how many hits of its round trip came after its own, and the
/// counts after the round trip.
type Reply = Result<(u64, Counts), String>;

/// The hits of one round trip, in arrival order: the requests waiting for their decisions.
type Hits = Vec<oneshot::Sender<Reply>>;

/// The bucket sets with a round trip under way, by [`Batch::name`], each with the hits queued
/// for its next round trip.
type InFlight = Arc<Mutex<HashMap<String, Hits>>>;

/// Removes the flight of a round-trip task that ends without landing it (a panic, its runtime
/// shutting down): the hits queued on it learn that the limiter stopped (their senders are
/// dropped), and later hits start a new flight, instead of all waiting for ever.
struct Landing<'a> {
    in_flight: &'a InFlight,
    name: &'a str,
    landed: bool,
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        if !self.landed {
            lock(self.in_flight).remove(self.name);
        }
    }
}

fn lock(in_flight: &InFlight) -> MutexGuard<'_, HashMap<String, Hits>> {
    in_flight
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
}

/// One set of buckets and its window, as its round trips need it.
struct Batch {
    /// Its entry in the flights, see [`write_batch_name`].
    name: String,
    /// The Redis key of each bucket.
    keys: Vec<String>,
    window_ms: u64,
}

/// Names a set of buckets and its window in `name`: the window and the bucket names, one per
/// line (bucket names have no line breaks).
fn write_batch_name(name: &mut String, buckets: &[(&str, u32)], window_ms: u64) {
    name.clear();
    // The window's decimal digits, written without `fmt`: this runs for every request.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = window_ms;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    name.extend(digits[start..].iter().copied().map(char::from));
    for (bucket, _) in buckets {
        name.push('\n');
        name.push_str(bucket);
    }
}

thread_local! {
    /// Where a request's batch name is written to find its flight, so that finding it
    /// allocates nothing (a name is copied only to start a flight).
    static BATCH_NAME: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

#[derive(Clone)]
pub struct RateLimiter {
    connection: ConnectionManager,
    prefix: String,
    in_flight: InFlight,
}

impl RateLimiter {
    /// Connects to Redis; every key is prefixed by `namespace`. Calls fail fast (short
    /// connection and response timeouts, few reconnection attempts) so that a caller can apply
    /// its fail-open or fail-closed policy instead of hanging while Redis is away.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let redis = Redis::connect(url, Some(Duration::from_millis(500))).await?;
        Ok(Self::new(&redis, namespace))
    }

    /// On a connection the service shares (which should fail fast, see [`Redis::connect`]).
    pub fn new(redis: &Redis, namespace: &str) -> Self {
        Self {
            connection: redis.connection.clone(),
            prefix: namespace.to_string(),
            in_flight: Arc::default(),
        }
    }

    fn key(&self, bucket: &str) -> String {
        bucket_key(&self.prefix, bucket)
    }

    fn flights(&self) -> MutexGuard<'_, HashMap<String, Hits>> {
        lock(&self.in_flight)
    }

    /// Counts one request against `bucket`, allowing `limit` per `window`. One round trip.
    pub async fn hit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError> {
        let decisions = self.hit_all(&[(bucket, limit)], window).await?;
        decisions
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Convert("empty rate-limit reply".into()))
    }

    /// Counts one request against every `(bucket, limit)`, all in one round trip (shared with
    /// other requests for the same buckets, see the module documentation); the decisions come
    /// back in the same order.
    pub async fn hit_all(
        &self,
        buckets: &[(&str, u32)],
        window: Duration,
    ) -> Result<Vec<RateDecision>, StoreError> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let receiver = self.join(buckets, window_ms);
        // No timer of its own: each round trip has its deadline, and a round trip that never
        // answers drops the sender.
        let (position, counts) = match receiver.await {
            Ok(Ok(reply)) => reply,
            Ok(Err(message)) => return Err(unavailable(message)),
            Err(_) => return Err(unavailable("rate limiter stopped".into())),
        };
        Ok(buckets
            .iter()
            .zip(counts.iter())
            .map(|((_, limit), counted)| {
                BucketCount {
                    count: counted.count.saturating_sub(position),
                    ..*counted
                }
                .against(*limit)
            })
            .collect())
    }

    /// Adds one hit to the round trips of `buckets`, starting them when none is under way.
    fn join(&self, buckets: &[(&str, u32)], window_ms: u64) -> oneshot::Receiver<Reply> {
        let (sender, receiver) = oneshot::channel();
        BATCH_NAME.with_borrow_mut(|name| {
            write_batch_name(name, buckets, window_ms);
            let mut in_flight = self.flights();
            if let Some(queued) = in_flight.get_mut(name.as_str()) {
                queued.push(sender);
                return;
            }
            in_flight.insert(name.clone(), Vec::new());
            drop(in_flight);
            let batch = Batch {
                name: name.clone(),
                keys: buckets.iter().map(|(bucket, _)| self.key(bucket)).collect(),
                window_ms,
            };
            // On a task of its own: the round trips go on for the others even if this caller
            // goes away.
            tokio::spawn(self.clone().fly(batch, sender));
        });
        receiver
    }

    /// Makes round trips for `batch` until nobody waits: the first for `first`, each later one
    /// for everyone who arrived during the one before. Each waiter learns how many requests of
    /// its round trip came after it, to take its own place in the count.
    async fn fly(self, batch: Batch, first: oneshot::Sender<Reply>) {
        let mut landing = Landing {
            in_flight: &self.in_flight,
            name: &batch.name,
            landed: false,
        };
        let mut hits: Hits = vec![first];
        loop {
            let reply = self.round_trip(&batch, hits.len()).await;
            // The next round trip's hits taken under the lock that queues them.
            let next = {
                let mut in_flight = self.flights();
                match in_flight.get_mut(&batch.name) {
                    Some(queued) => {
                        let next = std::mem::take(queued);
                        if next.is_empty() {
                            in_flight.remove(&batch.name);
                            landing.landed = true;
                        }
                        next
                    }
                    None => Vec::new(),
                }
            };
            let total = hits.len();
            for (index, waiter) in hits.drain(..).enumerate() {
                let after = u64::try_from(total - 1 - index).unwrap_or(u64::MAX);
                // A waiter that went away was counted all the same, like a request that was
                // answered and then dropped.
                let _ = waiter.send(reply.clone().map(|counts| (after, counts)));
            }
            if next.is_empty() {
                return;
            }
            hits = next;
        }
    }

    async fn round_trip(&self, batch: &Batch, hits: usize) -> Result<Counts, String> {
        let mut pipeline = redis::pipe();
        for key in &batch.keys {
            pipeline.cmd("INCRBY").arg(key).arg(hits);
            pipeline
                .cmd("PEXPIRE")
                .arg(key)
                .arg(batch.window_ms)
                .arg("NX")
                .ignore();
            pipeline.cmd("PTTL").arg(key);
        }
        let mut connection = self.connection.clone();
        let reply: Vec<i64> =
            match tokio::time::timeout(DEADLINE, pipeline.query_async(&mut connection)).await {
                Ok(reply) => reply.map_err(|error| error.to_string())?,
                Err(_) => return Err("rate limit timed out".into()),
            };
        if reply.len() != batch.keys.len() * 2 {
            return Err(format!(
                "rate-limit reply has {} values for {} buckets",
                reply.len(),
                batch.keys.len()
            ));
        }
        let window_ms = i64::try_from(batch.window_ms).unwrap_or(i64::MAX);
        Ok(reply
            .chunks_exact(2)
            // A key that expired between its INCRBY and PTTL (-2) started a new window.
            .map(|pair| BucketCount {
                count: pair[0].max(0).unsigned_abs(),
                ttl_ms: if pair[1] < 0 { window_ms } else { pair[1] },
            })
            .collect())
    }
}

/// The Redis key of a rate-limit bucket in `namespace`.
fn bucket_key(namespace: &str, bucket: &str) -> String {
    // Concatenated rather than formatted: this runs for every request.
    const MIDDLE: &str = ":ratelimit:";
    let mut key = String::with_capacity(namespace.len() + MIDDLE.len() + bucket.len());
    key.push_str(namespace);
    key.push_str(MIDDLE);
    key.push_str(bucket);
    key
}

fn unavailable(message: String) -> StoreError {
    StoreError::Redis(redis::RedisError::from(std::io::Error::other(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_names_spell_the_window_and_the_buckets() {
        let mut name = String::from("left over");
        write_batch_name(&mut name, &[("ip:127.0.0.1", 10), ("key:k", 20)], 60_000);
        assert_eq!(name, "60000\nip:127.0.0.1\nkey:k");
        for window_ms in [0, 1, 9, 10, 1_000, u64::MAX] {
            write_batch_name(&mut name, &[("b", 1)], window_ms);
            assert_eq!(name, format!("{window_ms}\nb"));
        }
    }

    #[test]
    fn a_flight_left_without_landing_lets_its_waiters_go() {
        let in_flight = InFlight::default();
        let (sender, mut receiver) = oneshot::channel();
        let flight = vec![sender];
        in_flight.lock().unwrap().insert("b".into(), flight);
        drop(Landing {
            in_flight: &in_flight,
            name: "b",
            landed: false,
        });
        assert!(in_flight.lock().unwrap().is_empty());
        assert!(matches!(
            receiver.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }

    #[test]
    fn decision_counts_down_and_refuses_past_the_limit() {
        let first = RateDecision::new(3, 1, 60_000);
        assert!(first.allowed);
        assert_eq!(first.remaining, 2);
        assert_eq!(first.reset_after, Duration::from_secs(60));
        let last = RateDecision::new(3, 3, 10);
        assert!(last.allowed);
        assert_eq!(last.remaining, 0);
        let over = RateDecision::new(3, 4, -2);
        assert!(!over.allowed);
        assert_eq!(over.remaining, 0);
        assert_eq!(over.reset_after, Duration::ZERO);
    }
}
