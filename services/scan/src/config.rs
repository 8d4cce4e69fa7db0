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
}
