//! The document and key-value stores. The only crate that imports `redis` and `mongodb`;
//! services see domain types only.
//!
//! - [`LiveStatus`] (Redis): progress of running scans, read by the gateway while a run is live.
//! - [`RawOutputs`] (MongoDB): the full raw output of each job, linked from its findings.
//! - [`CrawlPages`] (MongoDB): the pages each crawl fetched, its run's site map.
//! - [`CrawlState`] (Redis): each running crawl's seen URLs, frontier count and limits.
//! - [`DeadLetters`] (MongoDB): the dead-letter queue's messages, kept until replayed.
//! - [`RateLimiter`] (Redis): fixed-window request counters.
//! - [`Leases`] (Redis): concurrency caps across workers, with expiring leases.
//! - [`SessionStore`] (Redis): browser sessions with sliding expiry, listed and ended per user.
//! - [`Idempotency`] (Redis): the first answers to requests that carried an idempotency key.

mod crawl_pages;
mod crawl_state;
mod dead_letters;
mod error;
mod idempotency;
mod leases;
mod live_status;
mod rate_limit;
mod raw_outputs;
mod redis_connection;
mod sessions;

pub use crawl_pages::{CrawlPages, PageDocument};
pub use crawl_state::{Claimed, CrawlMeta, CrawlState, Discovered, Frontier, PageClaim};
pub use dead_letters::{DeadLetters, StoredDeadLetter};
pub use error::StoreError;
pub use idempotency::{Claim, Idempotency, StoredAnswer};
pub use leases::{LeaseLimit, Leases};
pub use live_status::LiveStatus;
pub use rate_limit::{BucketCount, RateDecision, RateLimiter};
pub use raw_outputs::RawOutputs;
pub use redis_connection::Redis;
pub use sessions::{SessionData, SessionStore, StoredSession};
