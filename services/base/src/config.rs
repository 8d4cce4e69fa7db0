use s4e_runtime::CommonConfig;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// PostgreSQL URL, e.g. postgres://user:pass@host:5432/s4e
    #[arg(
        long,
        env = "S4E_DATABASE_URL",
        value_name = "S4E_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Upper bound of the connection pool.
    #[arg(long, env = "S4E_DATABASE_MAX_CONNECTIONS", value_name = "S4E_DATABASE_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub database_max_connections: u32,

    /// Apply pending migrations before serving (convenient in development; clusters run
    /// `s4e-base migrate` as a hook job instead).
    #[arg(
        long,
        env = "S4E_MIGRATE_ON_START",
        value_name = "S4E_MIGRATE_ON_START",
        default_value_t = false
    )]
    pub migrate_on_start: bool,
}
