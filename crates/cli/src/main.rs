//! `s4e`: the platform's API at a terminal and in CI pipelines (see the crate's library).

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let context = s4e_cli::Context::from_environment();
    let code = s4e_cli::run(
        std::env::args_os(),
        &context,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .await;
    std::process::exit(code);
}
