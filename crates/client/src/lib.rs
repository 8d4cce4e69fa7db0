//! Typed clients for the internal REST APIs. Services call base, scan, the dispatcher, the
//! crawler and the trigger only through these,
//! so a route or body change breaks the build instead of a deployment.

mod base;
mod crawler;
mod dispatcher;
mod error;
mod http;
mod scan;
mod trigger;

pub use base::BaseClient;
pub use crawler::CrawlerClient;
pub use dispatcher::DispatcherClient;
pub use error::{ClientError, Refusal};
pub use scan::ScanClient;
pub use trigger::TriggerClient;
