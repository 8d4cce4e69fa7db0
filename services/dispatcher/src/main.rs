use clap::Parser;
use s4e_dispatcher::{Config, DEFAULT_PORT};
use s4e_runtime::CancellationToken;

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
async fn main() -> anyhow::Result<()> {
    let config = Cli::parse().config;
    s4e_runtime::telemetry::init("s4e-dispatcher", &config.common.log_format);
    let listener = tokio::net::TcpListener::bind(config.common.listen_or(DEFAULT_PORT)).await?;
    let shutdown = CancellationToken::new();
    s4e_runtime::shutdown::cancel_on_signal(shutdown.clone());
    s4e_dispatcher::run(config, listener, shutdown)
        .await
        .map_err(|error| anyhow::anyhow!(error))
}
