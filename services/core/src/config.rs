use s4e_runtime::{
    BaseUrl, CommonConfig, CrawlerUrl, DispatcherUrl, RedisArgs, ScanUrl, SecretsKey, TriggerUrl,
};

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    #[command(flatten)]
    pub base: BaseUrl,

    #[command(flatten)]
    pub scan: ScanUrl,

    #[command(flatten)]
    pub dispatcher: DispatcherUrl,

    // Site maps are read there.
    #[command(flatten)]
    pub crawler: CrawlerUrl,

    // Calls to inbound hooks are judged there.
    #[command(flatten)]
    pub trigger: TriggerUrl,

    // Live scan status and sessions (and rate limits, unless they have their own).
    #[command(flatten)]
    pub redis: RedisArgs,

    #[command(flatten)]
    pub settings: Settings,
}

/// Limits, caches and sessions of the gateway; every one has a default.
#[derive(Clone, Debug, clap::Args)]
pub struct Settings {
    /// Requests one API key may make per window.
    #[arg(
        long,
        env = "S4E_RATE_LIMIT_PER_KEY",
        value_name = "S4E_RATE_LIMIT_PER_KEY",
        default_value_t = 600
    )]
    pub rate_limit_per_key: u32,

    /// Requests one client address may make per window (every /api/v1 request counts).
    #[arg(
        long,
        env = "S4E_RATE_LIMIT_PER_IP",
        value_name = "S4E_RATE_LIMIT_PER_IP",
        default_value_t = 1200
    )]
    pub rate_limit_per_ip: u32,

    /// Length of the fixed rate-limit window, in seconds.
    #[arg(
        long,
        env = "S4E_RATE_LIMIT_WINDOW_SECONDS",
        value_name = "S4E_RATE_LIMIT_WINDOW_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub rate_limit_window_seconds: u64,

    /// When the rate limiter's Redis fails: true lets requests through (and logs a warning),
    /// false answers 503.
    #[arg(
        long,
        env = "S4E_RATE_LIMIT_FAIL_OPEN",
        value_name = "S4E_RATE_LIMIT_FAIL_OPEN",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub rate_limit_fail_open: bool,

    /// Redis URL of the rate limiter; S4E_REDIS_URL when unset.
    #[arg(
        long,
        env = "S4E_RATE_LIMIT_REDIS_URL",
        value_name = "S4E_RATE_LIMIT_REDIS_URL",
        hide_env_values = true
    )]
    pub rate_limit_redis_url: Option<String>,

    /// How long an API key lookup, and a partner's customer once confirmed, is reused (0
    /// turns both caches off). A key revoked through another gateway replica is still
    /// accepted here for at most this long.
    #[arg(
        long,
        env = "S4E_API_KEY_CACHE_SECONDS",
        value_name = "S4E_API_KEY_CACHE_SECONDS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(0..=300)
    )]
    pub api_key_cache_seconds: u64,

    #[command(flatten)]
    pub secrets: SecretsKey,

    /// A session ends after this long unused (every request restarts the period).
    #[arg(
        long,
        env = "S4E_SESSION_IDLE_SECONDS",
        value_name = "S4E_SESSION_IDLE_SECONDS",
        default_value_t = 24 * 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub session_idle_seconds: u64,

    /// A session ends this long after sign-in, however busy.
    #[arg(
        long,
        env = "S4E_SESSION_MAX_AGE_SECONDS",
        value_name = "S4E_SESSION_MAX_AGE_SECONDS",
        default_value_t = 7 * 24 * 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub session_max_age_seconds: u64,

    /// Lets anyone create an organization (POST /api/v1/signup). Off for a private deployment,
    /// where organizations are made with `s4e-core create-organization`.
    #[arg(
        long,
        env = "S4E_SIGNUP_ENABLED",
        value_name = "S4E_SIGNUP_ENABLED",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub signup_enabled: bool,

    /// Sign-in attempts per account per login window, successful or not.
    #[arg(
        long,
        env = "S4E_LOGIN_ATTEMPTS_PER_ACCOUNT",
        value_name = "S4E_LOGIN_ATTEMPTS_PER_ACCOUNT",
        default_value_t = 10
    )]
    pub login_attempts_per_account: u32,

    /// Sign-in attempts per client address per login window.
    #[arg(
        long,
        env = "S4E_LOGIN_ATTEMPTS_PER_IP",
        value_name = "S4E_LOGIN_ATTEMPTS_PER_IP",
        default_value_t = 100
    )]
    pub login_attempts_per_ip: u32,

    /// Length of the sign-in attempt window, in seconds.
    #[arg(
        long,
        env = "S4E_LOGIN_WINDOW_SECONDS",
        value_name = "S4E_LOGIN_WINDOW_SECONDS",
        default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub login_window_seconds: u64,

    /// Reverse proxies in front of the gateway (an Ingress controller's pods), as addresses or
    /// CIDRs, comma-separated: for a request from one of them, the client is the right-most
    /// `X-Forwarded-For` address that is not itself a trusted proxy. Empty (the default): the
    /// TCP peer is the client and `X-Forwarded-For` is never read.
    #[arg(
        long,
        env = "S4E_TRUSTED_PROXIES",
        value_name = "S4E_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// One trusted proxy range: an address (`10.0.0.7`) or a CIDR (`10.244.0.0/16`).
fn parse_proxy(value: &str) -> Result<ipnet::IpNet, String> {
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{value:?} is neither an address nor a CIDR"))
}

impl Default for Settings {
    fn default() -> Self {
        s4e_runtime::config::defaults()
    }
}
