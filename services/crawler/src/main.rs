use clap::Parser;
use s4e_crawler::{Config, DEFAULT_PORT};
use s4e_runtime::CancellationToken;

#[derive(Parser)]
#[command(name = "s4e-crawler", version, about = "S4E crawler")]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Cli::parse().config;
    s4e_runtime::telemetry::init("s4e-crawler", &config.common.log_format);
    let listener = tokio::net::TcpListener::bind(config.common.listen_or(DEFAULT_PORT)).await?;
    let shutdown = CancellationToken::new();
    s4e_runtime::shutdown::cancel_on_signal(shutdown.clone());
    s4e_crawler::run(config, listener, shutdown)
        .await
        .map_err(|error| anyhow::anyhow!(error))
}
