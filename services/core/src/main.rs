use clap::{Parser, Subcommand};
use s4e_core::{Config, DEFAULT_PORT};
use s4e_runtime::CancellationToken;

#[derive(Parser)]
#[command(name = "s4e-core", version, about = "S4E gateway (the public API)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the public API (the default).
    Serve(Config),
    /// Create an organization with an admin API key and print the key (shown once).
    CreateAdminKey {
        /// Name of the new organization.
        #[arg(long)]
        org_name: String,
        #[arg(long, env = "S4E_BASE_URL", value_name = "S4E_BASE_URL")]
        base_url: String,
        #[arg(long, env = "S4E_SERVICE_TOKEN", value_name = "S4E_SERVICE_TOKEN", hide_env_values = true)]
        service_token: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Some(Command::CreateAdminKey {
            org_name,
            base_url,
            service_token,
        }) => {
            let key = s4e_core::create_admin_key(&base_url, &service_token, &org_name)
                .await
                .map_err(|error| anyhow::anyhow!(error))?;
            // The key alone on stdout, so scripts can capture it.
            println!("{key}");
            Ok(())
        }
        Some(Command::Serve(config)) => serve(config).await,
        None => {
            #[derive(Parser)]
            struct ServeOnly {
                #[command(flatten)]
                config: Config,
            }
            serve(ServeOnly::parse().config).await
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    s4e_runtime::telemetry::init("s4e-core", &config.common.log_format);
    let listener = tokio::net::TcpListener::bind(config.common.listen_or(DEFAULT_PORT)).await?;
    let shutdown = CancellationToken::new();
    s4e_runtime::shutdown::cancel_on_signal(shutdown.clone());
    s4e_core::run(config, listener, shutdown)
        .await
        .map_err(|error| anyhow::anyhow!(error))
}
