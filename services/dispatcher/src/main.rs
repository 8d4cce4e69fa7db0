use clap::Parser;
use s4e_dispatcher::{Config, DEFAULT_PORT};

#[derive(Parser)]
#[command(
    name = "s4e-dispatcher",
    version,
    about = "S4E job dispatcher and check workers"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> Result<(), s4e_runtime::BoxError> {
    let config = Cli::parse().config;
    let common = config.common.clone();
    s4e_runtime::start(
        "s4e-dispatcher",
        &common,
        DEFAULT_PORT,
        |listener, shutdown| s4e_dispatcher::run(config, listener, shutdown),
    )
    .await
}
