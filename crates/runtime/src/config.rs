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
    pub fn listen_or(&self, default_port: u16) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], default_port)))
    }
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

    #[test]
    fn namespaces_are_restricted() {
        assert!(parse_namespace("s4e").is_ok());
        assert!(parse_namespace("t_0192abc").is_ok());
        assert!(parse_namespace("").is_err());
        assert!(parse_namespace("1abc").is_err());
        assert!(parse_namespace("a.b").is_err());
    }
}
