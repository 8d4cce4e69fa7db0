use clap::Parser;
use s4e_scheduler::{Config, DEFAULT_PORT};

#[derive(Parser)]
#[command(name = "s4e-scheduler", version, about = "S4E scheduler")]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> Result<(), s4e_runtime::BoxError> {
    let config = Cli::parse().config;
    let common = config.common.clone();
    s4e_runtime::start(
        "s4e-scheduler",
        &common,
        DEFAULT_PORT,
        |listener, shutdown| s4e_scheduler::run(config, listener, shutdown),
    )
    .await
}
