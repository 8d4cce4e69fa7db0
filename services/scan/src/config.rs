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

    /// Let ownership verification reach private and loopback addresses (on-prem, local demo);
    /// metadata and link-local addresses stay refused.
    #[arg(
        long,
        env = "S4E_EGRESS_ALLOW_PRIVATE",
        value_name = "S4E_EGRESS_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub egress_allow_private: bool,

    /// Refuse scans of unverified assets beyond one passive check. Only a deployment that
    /// scans nothing but its own networks turns this off.
    #[arg(
        long,
        env = "S4E_REQUIRE_OWNERSHIP_VERIFICATION",
        value_name = "S4E_REQUIRE_OWNERSHIP_VERIFICATION",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub require_ownership_verification: bool,

    /// Time limit of one verification method, in seconds.
    #[arg(
        long,
        env = "S4E_VERIFICATION_TIMEOUT_SECONDS",
        value_name = "S4E_VERIFICATION_TIMEOUT_SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=120)
    )]
    pub verification_timeout_seconds: u64,

    /// The recursive resolvers DNS TXT verification asks, comma-separated `ip:port` (or `ip`,
    /// port 53). Unset: the system's (`/etc/resolv.conf`).
    #[arg(
        long,
        env = "S4E_DNS_SERVERS",
        value_name = "S4E_DNS_SERVERS",
        value_delimiter = ',',
        value_parser = s4e_egress::dns::parse_server
    )]
    pub dns_servers: Vec<std::net::SocketAddr>,
}
