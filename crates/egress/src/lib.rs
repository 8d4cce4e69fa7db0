//! Every connection the platform makes to something a user named: an asset being scanned, a
//! site proving its ownership, a webhook receiver.
//!
//! Targets are user input, so a service that fetches whatever it is told is an SSRF waiting to
//! happen. [`EgressPolicy`] resolves a host once and approves one address (never cloud
//! metadata or link-local; private ranges and loopback only where the deployment allows them;
//! the platform's own services never, see [`OwnServices`]); [`http`] connects to exactly that
//! address, with no second DNS lookup, no proxy and no redirects; [`ownership`] follows
//! redirects hop by hop, each hop approved again. [`dns`] is a stub client of the operator's
//! resolvers: it asks them, not the target, so the policy does not apply to it.
//!
//! Used by the check workers (`s4e-checks`), the scan service's verification, and every later
//! service that reaches out (the crawler, the trigger's outbound webhooks).

mod config;
pub mod dns;
mod error;
pub mod http;
pub mod ownership;
mod policy;

pub use config::EgressArgs;
pub use error::ReachError;
pub use policy::{EgressError, EgressPolicy, OwnServices, never_allowed};
