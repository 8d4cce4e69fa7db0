//! Typed clients for the internal REST APIs. Services call base and scan only through these,
//! so a route or body change breaks the build instead of a deployment.

mod base;
mod error;
mod http;
mod scan;

pub use base::BaseClient;
pub use error::ClientError;
pub use scan::ScanClient;
