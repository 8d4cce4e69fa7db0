use clap::{Parser, Subcommand};
use s4e_dispatcher::{Config, DEFAULT_PORT};

/// mimalloc rather than glibc's allocator: under an HTTP service's many small, short-lived
/// allocations from several threads, glibc's spends its time on arena locks and consolidation
/// (seen in profiles of the gateway; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "s4e-dispatcher",
    version,
    about = "S4E job dispatcher and check workers"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Route jobs and run the check workers (the default).
    Serve(Box<Config>),
    /// For operators: list every dead letter a running dispatcher keeps (one JSON object per
    /// line, unparseable letters included), or replay one by id.
    DeadLetters {
        /// Replay this letter instead of listing.
        #[arg(long, value_name = "LETTER_ID")]
        replay: Option<String>,
        /// URL of a running dispatcher's internal API.
        #[arg(long, env = "S4E_DISPATCHER_URL", value_name = "S4E_DISPATCHER_URL")]
        dispatcher_url: String,
        #[arg(
            long,
            env = "S4E_SERVICE_TOKEN",
            value_name = "S4E_SERVICE_TOKEN",
            hide_env_values = true
        )]
        service_token: String,
    },
}

#[tokio::main]
async fn main() -> Result<(), s4e_runtime::BoxError> {
    match Cli::parse().command {
        Some(Command::DeadLetters {
            replay,
            dispatcher_url,
            service_token,
        }) => {
            let client = s4e_client::DispatcherClient::new(&dispatcher_url, &service_token)?;
            let letters = match replay {
                Some(id) => vec![client.replay_any_dead_letter(&id).await?],
                None => client.all_dead_letters().await?,
            };
            for letter in letters {
                println!("{}", serde_json::to_string(&letter)?);
            }
            Ok(())
        }
        Some(Command::Serve(config)) => serve(*config).await,
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

async fn serve(config: Config) -> Result<(), s4e_runtime::BoxError> {
    let common = config.common.clone();
    s4e_runtime::start(
        "s4e-dispatcher",
        &common,
        DEFAULT_PORT,
        |listener, shutdown| s4e_dispatcher::run(config, listener, shutdown),
    )
    .await
}
