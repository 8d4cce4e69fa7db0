use clap::{Parser, Subcommand};
use s4e_base::Config;

/// mimalloc rather than glibc's allocator: see BENCHMARKS.md (the gateway's profiles).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "s4e-base",
    version,
    about = "S4E data service (PostgreSQL owner)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the internal API (the default).
    Serve(Config),
    /// Apply pending schema migrations and exit.
    Migrate {
        #[arg(
            long,
            env = "S4E_DATABASE_URL",
            value_name = "S4E_DATABASE_URL",
            hide_env_values = true
        )]
        database_url: String,
    },
}

#[tokio::main]
async fn main() -> Result<(), s4e_runtime::BoxError> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Migrate { database_url }) => {
            s4e_runtime::telemetry::init("s4e-base", "json");
            let applied = s4e_base::migrate::run(&database_url).await?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
        Some(Command::Serve(config)) => s4e_runtime::start(config).await,
        None => s4e_runtime::start(s4e_runtime::parse_config::<Config>()).await,
    }
}
