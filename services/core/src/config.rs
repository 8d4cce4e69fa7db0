use s4e_runtime::CommonConfig;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// URL of s4e-base's internal API.
    #[arg(long, env = "S4E_BASE_URL", value_name = "S4E_BASE_URL")]
    pub base_url: String,

    /// URL of s4e-scan's internal API.
    #[arg(long, env = "S4E_SCAN_URL", value_name = "S4E_SCAN_URL")]
    pub scan_url: String,

    /// Redis URL (live scan status), e.g. redis://host:6379
    #[arg(
        long,
        env = "S4E_REDIS_URL",
        value_name = "S4E_REDIS_URL",
        hide_env_values = true
    )]
    pub redis_url: String,

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

    /// How long an API key lookup is reused (0 turns the cache off). A key revoked through
    /// another gateway replica is still accepted here for at most this long.
    #[arg(
        long,
        env = "S4E_API_KEY_CACHE_SECONDS",
        value_name = "S4E_API_KEY_CACHE_SECONDS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(0..=300)
    )]
    pub api_key_cache_seconds: u64,
}
