use clap::Parser;
use s4e_scheduler::{Config, DEFAULT_PORT};

/// mimalloc rather than glibc's allocator: under an HTTP service's many small, short-lived
/// allocations from several threads, glibc's spends its time on arena locks and consolidation
/// (seen in profiles of the gateway; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
