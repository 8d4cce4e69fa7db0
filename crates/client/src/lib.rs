//! Typed clients for the internal REST APIs. Services call base, scan and the dispatcher only
//! through these,
//! so a route or body change breaks the build instead of a deployment.

mod base;
mod dispatcher;
mod error;
mod http;
mod scan;

pub use base::BaseClient;
pub use dispatcher::DispatcherClient;
pub use error::{ClientError, Refusal};
pub use scan::ScanClient;
