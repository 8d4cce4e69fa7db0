//! The message bus over RabbitMQ. The only crate that imports `lapin`.
//!
//! - [`topology`] declares every exchange and queue in one place, prefixed by a namespace, and
//!   each queue's [`RetryPolicy`].
//! - [`Bus`] supervises one connection: it reconnects with back-off after a broker restart,
//!   redeclares the topology, and resumes every consumer. lapin's own recovery is not used.
//! - Publishing waits for the broker's confirm; while the broker is away a publisher waits up to
//!   its deadline and then fails with [`BusError::Unavailable`], never dropping silently.
//! - Consuming acks manually, after the handler's effects are stored; what a handler cannot
//!   handle goes to the dead-letter queue with the reason, and what it wants tried again waits
//!   in a delay queue, not in the consumer's hands (`retry.rs` says how, and what each retry
//!   counter means).

mod connection;
mod consumer;
mod dead_letter;
mod error;
mod publish;
mod retry;
pub mod topology;

pub use connection::{Bus, BusOptions};
pub use consumer::{Incoming, Outcome};
pub use dead_letter::DeadLetter;
pub use error::BusError;
pub use topology::{Exchange, Queue, RetryPolicy, Topology};
