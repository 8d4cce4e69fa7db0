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
}
