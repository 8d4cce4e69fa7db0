//! The service runtime every S4E binary starts with: one startup sequence (config, telemetry,
//! connect with retries, serve), one error-to-HTTP mapping, health and metrics endpoints, the
//! service-token guard for internal APIs, and graceful shutdown on SIGTERM.

pub mod audit;
pub mod config;
pub mod error;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod retry;
pub mod routes;
pub mod serve;
pub mod service;
pub mod service_token;
pub mod shutdown;
pub mod telemetry;

pub use config::{
    AmqpArgs, BaseUrl, CommonConfig, CrawlerUrl, DispatcherUrl, MongoArgs, RedisArgs, ScanUrl,
    SecretsKey, TriggerUrl,
};
pub use error::ApiError;
pub use extract::{ApiJson, PublicJson, PublicQuery};
pub use health::{Readiness, ReadinessCheck};
pub use metrics::Metrics;
pub use routes::InternalRouter;
pub use serve::{BoxError, Served, observed, serve, with_common_layers};
pub use service::{Service, main, parse_config, start};
pub use service_token::ServiceToken;
pub use tokio_util::sync::CancellationToken;
