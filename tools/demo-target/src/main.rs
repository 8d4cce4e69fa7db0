//! `s4e-demo-target`: serves the demo shop of [`s4e_demo_target::router`].

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;

/// A deliberately misconfigured demo web shop to point S4E scans at (loopback only).
#[derive(Debug, Parser)]
#[command(name = "s4e-demo-target", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "S4E_DEMO_LISTEN", default_value = s4e_demo_target::DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// Serve it as a hardened site: good headers, no exposed files; over the plain HTTP this
    /// binary speaks, every request is redirected to HTTPS.
    #[arg(long)]
    hardened: bool,

    /// A file whose content is served as `/.well-known/s4e-verification.txt`: the demo's
    /// owner writes the asset's verification token there to prove ownership.
    #[arg(long, env = "S4E_DEMO_VERIFICATION_FILE")]
    verification_file: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener
        .local_addr()
        .context("cannot read the local address")?;
    let mode = if args.hardened {
        "hardened"
    } else {
        "vulnerable"
    };
    println!("s4e-demo-target listening on http://{addr}/ ({mode})");

    let mut app = s4e_demo_target::router(args.hardened);
    if let Some(path) = args.verification_file {
        app = s4e_demo_target::verification_file(path).merge(app);
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    println!("s4e-demo-target stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
