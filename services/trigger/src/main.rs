use clap::Parser;
use s4e_trigger::{Config, DEFAULT_PORT};

#[derive(Parser)]
#[command(name = "s4e-trigger", version, about = "S4E trigger")]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> Result<(), s4e_runtime::BoxError> {
    let config = Cli::parse().config;
    let common = config.common.clone();
    s4e_runtime::start(
        "s4e-trigger",
        &common,
        DEFAULT_PORT,
        |listener, shutdown| s4e_trigger::run(config, listener, shutdown),
    )
    .await
}
