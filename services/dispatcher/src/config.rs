use std::net::SocketAddr;

use s4e_runtime::CommonConfig;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// URL of s4e-base's internal API.
    #[arg(long, env = "S4E_BASE_URL", value_name = "S4E_BASE_URL")]
    pub base_url: String,

    /// RabbitMQ URL, e.g. amqp://user:pass@host:5672/%2f
    #[arg(
        long,
        env = "S4E_AMQP_URL",
        value_name = "S4E_AMQP_URL",
        hide_env_values = true
    )]
    pub amqp_url: String,

    /// Redis URL for live scan status, e.g. redis://host:6379
    #[arg(
        long,
        env = "S4E_REDIS_URL",
        value_name = "S4E_REDIS_URL",
        hide_env_values = true
    )]
    pub redis_url: String,

    /// MongoDB URL for raw scan output.
    #[arg(
        long,
        env = "S4E_MONGODB_URL",
        value_name = "S4E_MONGODB_URL",
        hide_env_values = true
    )]
    pub mongodb_url: String,

    /// MongoDB database name.
    #[arg(
        long,
        env = "S4E_MONGODB_DATABASE",
        value_name = "S4E_MONGODB_DATABASE",
        default_value = "s4e"
    )]
    pub mongodb_database: String,

    /// Let checks reach private and loopback addresses. Off in the cloud; on-prem deployments
    /// that scan their own networks, and local demos, turn it on. Cloud metadata and
    /// link-local addresses stay refused either way.
    #[arg(
        long,
        env = "S4E_EGRESS_ALLOW_PRIVATE",
        value_name = "S4E_EGRESS_ALLOW_PRIVATE",
        default_value_t = false
    )]
    pub egress_allow_private: bool,

    /// Jobs one worker runs at once, per check kind (the queue prefetch).
    #[arg(long, env = "S4E_WORKER_CONCURRENCY", value_name = "S4E_WORKER_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub worker_concurrency: u16,

    /// Jobs routed at once.
    #[arg(long, env = "S4E_ROUTER_PREFETCH", value_name = "S4E_ROUTER_PREFETCH", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub router_prefetch: u16,

    /// Time limit of one check against one target.
    #[arg(long, env = "S4E_CHECK_TIMEOUT_SECONDS", value_name = "S4E_CHECK_TIMEOUT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub check_timeout_seconds: u64,

    /// Time limit of one port scan (all its ports and service probes).
    #[arg(long, env = "S4E_PORT_SCAN_TIMEOUT_SECONDS", value_name = "S4E_PORT_SCAN_TIMEOUT_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub port_scan_timeout_seconds: u64,

    /// Jobs of one organization running at once across every worker (0: no cap).
    #[arg(
        long,
        env = "S4E_MAX_JOBS_PER_ORG",
        value_name = "S4E_MAX_JOBS_PER_ORG",
        default_value_t = 0
    )]
    pub max_jobs_per_org: u32,

    /// Jobs against one target host running at once across every worker (0: no cap).
    #[arg(
        long,
        env = "S4E_MAX_JOBS_PER_HOST",
        value_name = "S4E_MAX_JOBS_PER_HOST",
        default_value_t = 0
    )]
    pub max_jobs_per_host: u32,

    /// The longest a job whose dependencies are away waits before it is tried again, in ms
    /// (waits double from 250 ms up to this). With the queue's tries this sets how long a
    /// dependency may be away before its jobs are dead-lettered.
    #[arg(long, env = "S4E_RETRY_DELAY_CAP_MILLISECONDS", value_name = "S4E_RETRY_DELAY_CAP_MILLISECONDS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub retry_delay_cap_milliseconds: u64,

    /// How often a running job looks for its run's cancellation (a Redis read), in ms.
    #[arg(long, env = "S4E_CANCEL_POLL_MILLISECONDS", value_name = "S4E_CANCEL_POLL_MILLISECONDS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=60000))]
    pub cancel_poll_milliseconds: u64,

    /// The recursive resolvers the DNS check asks, comma-separated `ip:port` (or `ip`, port
    /// 53), in order. Unset: the system's (`/etc/resolv.conf`).
    #[arg(long, env = "S4E_DNS_SERVERS", value_name = "S4E_DNS_SERVERS", value_delimiter = ',', value_parser = s4e_egress::dns::parse_server)]
    pub dns_servers: Vec<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    const REQUIRED: &[&str] = &[
        "s4e-dispatcher",
        "--service-token",
        "0123456789abcdef0123456789abcdef",
        "--base-url",
        "http://127.0.0.1:1",
        "--amqp-url",
        "amqp://127.0.0.1",
        "--redis-url",
        "redis://127.0.0.1",
        "--mongodb-url",
        "mongodb://127.0.0.1",
    ];

    fn parse(extra: &[&str]) -> Result<Config, clap::Error> {
        let args = REQUIRED.iter().chain(extra).copied();
        Cli::try_parse_from(args).map(|cli| cli.config)
    }

    #[test]
    fn dns_servers_are_a_comma_separated_list_or_the_system() {
        assert!(parse(&[]).unwrap().dns_servers.is_empty());
        let config = parse(&["--dns-servers", "127.0.0.1:5353,9.9.9.9,[::1]:53"]).unwrap();
        assert_eq!(
            config.dns_servers,
            vec![
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "9.9.9.9:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
            ]
        );
        assert!(parse(&["--dns-servers", "resolver.example:53"]).is_err());
    }
}
