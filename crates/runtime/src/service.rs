//! What every service of the fleet is to its binary and to the tests that start it in-process:
//! a configuration that knows its service's name and default port and how to run it.

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{BoxError, CommonConfig, Served};

/// A service, as the configuration it starts from.
pub trait Service: clap::Args + Send + 'static {
    /// The binary's name, as logged.
    const NAME: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// The port the service listens on unless `S4E_LISTEN` says otherwise.
    const DEFAULT_PORT: u16;

    fn common(&self) -> &CommonConfig;

    /// Serves on `listener` until `shutdown` is cancelled.
    fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'static;

    /// Runs the service on a task of this process (how the tests start the fleet).
    fn spawn(self, listener: TcpListener) -> std::io::Result<Served> {
        Served::spawn(listener, move |listener, shutdown| {
            self.run(listener, shutdown)
        })
    }
}

/// The configuration of `S` from the command line and the environment; exits with clap's
/// message on a bad or missing value.
pub fn parse_config<S: Service>() -> S {
    let command = S::augment_args(
        clap::Command::new(S::NAME)
            .version(env!("CARGO_PKG_VERSION"))
            .about(S::ABOUT),
    );
    let matches = command.get_matches();
    S::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

/// The whole of a service binary that has no subcommands: parse, then [`start`].
pub fn main<S: Service>() -> Result<(), BoxError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(start(parse_config::<S>()))
}

/// The start of every binary, after its configuration parsed: logs, the listener, the SIGTERM
/// hook, then the service until it returns.
pub async fn start<S: Service>(config: S) -> Result<(), BoxError> {
    let service = S::NAME;
    crate::telemetry::init(service, &config.common().log_format);
    let listener = TcpListener::bind(config.common().listen_or(S::DEFAULT_PORT)).await?;
    let shutdown = CancellationToken::new();
    crate::shutdown::cancel_on_signal(shutdown.clone());
    let result = config.run(listener, shutdown).await;
    match &result {
        Ok(()) => tracing::info!(service, "stopped"),
        Err(error) => tracing::error!(service, %error, "stopped on error"),
    }
    result
}
