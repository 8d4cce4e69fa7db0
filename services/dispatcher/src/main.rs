use clap::{Parser, Subcommand};
use s4e_dispatcher::Config;

/// mimalloc rather than glibc's allocator: see BENCHMARKS.md (the gateway's profiles).
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
        #[command(flatten)]
        dispatcher: s4e_runtime::DispatcherUrl,
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
            dispatcher,
            service_token,
        }) => {
            let client = s4e_client::DispatcherClient::new(&dispatcher.url, &service_token)?;
            let letters = match replay {
                Some(id) => vec![client.replay_any_dead_letter(&id).await?],
                None => client.all_dead_letters().await?,
            };
            for letter in letters {
                println!("{}", serde_json::to_string(&letter)?);
            }
            Ok(())
        }
        Some(Command::Serve(config)) => s4e_runtime::start(*config).await,
        None => s4e_runtime::start(s4e_runtime::parse_config::<Config>()).await,
    }
}
