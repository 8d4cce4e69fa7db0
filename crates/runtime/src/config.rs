//! Settings every service shares. Each service flattens this into its own clap parser, so a
//! value comes from a flag or from its `S4E_…` environment variable, and a bad value fails
//! start-up with a message naming the variable.

use std::net::SocketAddr;

use crate::service_token::ServiceToken;

#[derive(Clone, Debug, clap::Args)]
pub struct CommonConfig {
    /// Address the HTTP server (API, health, metrics) listens on.
    #[arg(long, env = "S4E_LISTEN", value_name = "S4E_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Shared secret that internal callers present in `x-s4e-service-token`.
    #[arg(long, env = "S4E_SERVICE_TOKEN", value_name = "S4E_SERVICE_TOKEN", value_parser = parse_service_token, hide_env_values = true)]
    pub service_token: ServiceToken,

    /// Prefix of every queue, exchange and key this deployment creates, so that several
    /// deployments (or test runs) can share one broker and one Redis.
    #[arg(long, env = "S4E_NAMESPACE", value_name = "S4E_NAMESPACE", default_value = "s4e", value_parser = parse_namespace)]
    pub namespace: String,

    /// `json` (default, for log collectors) or `pretty` (for a terminal).
    #[arg(long, env = "S4E_LOG_FORMAT", value_name = "S4E_LOG_FORMAT", default_value = "json", value_parser = ["json", "pretty"])]
    pub log_format: String,
}

impl CommonConfig {
    /// What a service started in-process needs: no fixed address, JSON logs.
    pub fn new(service_token: ServiceToken, namespace: &str) -> Self {
        Self {
            listen: None,
            service_token,
            namespace: namespace.to_string(),
            log_format: "json".into(),
        }
    }

    pub fn listen_or(&self, default_port: u16) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], default_port)))
    }
}

/// Where the bus is.
#[derive(Clone, Debug, clap::Args)]
pub struct AmqpArgs {
    /// RabbitMQ URL, e.g. amqp://user:pass@host:5672/%2f
    #[arg(
        id = "amqp_url",
        long = "amqp-url",
        env = "S4E_AMQP_URL",
        value_name = "S4E_AMQP_URL",
        hide_env_values = true
    )]
    pub url: String,
}

/// Where Redis is (live scan status, leases, sessions, rate limits).
#[derive(Clone, Debug, clap::Args)]
pub struct RedisArgs {
    /// Redis URL, e.g. redis://host:6379
    #[arg(
        id = "redis_url",
        long = "redis-url",
        env = "S4E_REDIS_URL",
        value_name = "S4E_REDIS_URL",
        hide_env_values = true
    )]
    pub url: String,
}

/// Where the document store is (raw check output, dead letters, crawl results).
#[derive(Clone, Debug, clap::Args)]
pub struct MongoArgs {
    /// MongoDB URL, e.g. mongodb://host:27017
    #[arg(
        id = "mongodb_url",
        long = "mongodb-url",
        env = "S4E_MONGODB_URL",
        value_name = "S4E_MONGODB_URL",
        hide_env_values = true
    )]
    pub url: String,

    /// MongoDB database name.
    #[arg(
        id = "mongodb_database",
        long = "mongodb-database",
        env = "S4E_MONGODB_DATABASE",
        value_name = "S4E_MONGODB_DATABASE",
        default_value = "s4e"
    )]
    pub database: String,
}

/// Where s4e-base's internal API is.
#[derive(Clone, Debug, clap::Args)]
pub struct BaseUrl {
    /// URL of s4e-base's internal API.
    #[arg(
        id = "base_url",
        long = "base-url",
        env = "S4E_BASE_URL",
        value_name = "S4E_BASE_URL"
    )]
    pub url: String,
}

/// Where s4e-scan's internal API is.
#[derive(Clone, Debug, clap::Args)]
pub struct ScanUrl {
    /// URL of s4e-scan's internal API.
    #[arg(
        id = "scan_url",
        long = "scan-url",
        env = "S4E_SCAN_URL",
        value_name = "S4E_SCAN_URL"
    )]
    pub url: String,
}

/// The key material sealing secrets the platform reads back (`s4e-secrets`: TOTP seeds and
/// webhook secrets); the gateway seals, the trigger opens webhook secrets, so the two agree.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SecretsKey {
    /// Key material sealing stored secrets (TOTP, webhooks); the service token when unset.
    /// Changing it makes enrolled second factors and webhook secrets unreadable.
    #[arg(
        long,
        env = "S4E_SECRETS_KEY",
        value_name = "S4E_SECRETS_KEY",
        hide_env_values = true
    )]
    pub secrets_key: Option<String>,
}

impl SecretsKey {
    /// The key material: the setting, else the service token.
    pub fn material<'a>(&'a self, common: &'a CommonConfig) -> &'a [u8] {
        self.secrets_key
            .as_deref()
            .unwrap_or(common.service_token.expose())
            .as_bytes()
    }
}

/// Where s4e-trigger's internal API (inbound hooks) is.
#[derive(Clone, Debug, clap::Args)]
pub struct TriggerUrl {
    /// URL of s4e-trigger's internal API (inbound hooks).
    #[arg(
        id = "trigger_url",
        long = "trigger-url",
        env = "S4E_TRIGGER_URL",
        value_name = "S4E_TRIGGER_URL"
    )]
    pub url: String,
}

/// Where s4e-dispatcher's internal API (dead letters) is.
#[derive(Clone, Debug, clap::Args)]
pub struct DispatcherUrl {
    /// URL of s4e-dispatcher's internal API (dead letters).
    #[arg(
        id = "dispatcher_url",
        long = "dispatcher-url",
        env = "S4E_DISPATCHER_URL",
        value_name = "S4E_DISPATCHER_URL"
    )]
    pub url: String,
}

#[derive(Clone, Debug, clap::Args)]
pub struct CrawlerUrl {
    /// URL of s4e-crawler's internal API (site maps).
    #[arg(
        id = "crawler_url",
        long = "crawler-url",
        env = "S4E_CRAWLER_URL",
        value_name = "S4E_CRAWLER_URL"
    )]
    pub url: String,
}

/// The values a group of flags takes when none is given, environment ignored: how a group
/// whose every flag has a default implements `Default` without restating the defaults.
///
/// # Panics
/// When a flag of `T` has no default: that is a programming error in `T`.
pub fn defaults<T: clap::Args>() -> T {
    let command = T::augment_args(clap::Command::new("defaults")).mut_args(|arg| arg.env(None));
    command
        .try_get_matches_from(["defaults"])
        .and_then(|matches| T::from_arg_matches(&matches))
        .unwrap_or_else(|error| panic!("a flag without a default: {error}"))
}

fn parse_service_token(value: &str) -> Result<ServiceToken, String> {
    ServiceToken::new(value)
}

/// Namespaces become parts of queue names, Redis keys and MongoDB database names, so they are
/// kept to characters every one of those accepts.
pub fn parse_namespace(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 40
        && value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(value.to_string())
    } else {
        Err("must be 1-40 characters of letters, digits and '_', starting with a letter".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flag read from a variable every test run has set.
    #[derive(Debug, clap::Args)]
    struct Knobs {
        #[arg(long, env = "PATH", default_value = "declared")]
        knob: String,
    }

    #[test]
    fn defaults_are_the_declared_ones_whatever_the_environment() {
        assert!(std::env::var_os("PATH").is_some());
        assert_eq!(defaults::<Knobs>().knob, "declared");
    }

    #[test]
    fn namespaces_are_restricted() {
        assert!(parse_namespace("s4e").is_ok());
        assert!(parse_namespace("t_0192abc").is_ok());
        assert!(parse_namespace("").is_err());
        assert!(parse_namespace("1abc").is_err());
        assert!(parse_namespace("a.b").is_err());
    }
}
