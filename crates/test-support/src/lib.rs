//! Per-test isolation over the real servers: every [`TestEnv`] gets its own PostgreSQL
//! database, RabbitMQ namespace, Redis key prefix and MongoDB database, and removes them in
//! [`TestEnv::cleanup`]. Nothing here stands in for a server.
//!
//! Server addresses come from `S4E_TEST_POSTGRES_URL`, `S4E_TEST_AMQP_URL`,
//! `S4E_TEST_REDIS_URL` and `S4E_TEST_MONGODB_URL` (see `scripts/lib.sh`), with the local
//! defaults.
//!
//! [`site`] serves a web site of known structure for crawl tests.

pub mod site;

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_postgres::NoTls;

pub struct TestEnv {
    /// Prefix of queues, exchanges and Redis keys; also the MongoDB database name.
    pub namespace: String,
    pub database_name: String,
    pub database_url: String,
    pub amqp_url: String,
    pub redis_url: String,
    pub mongodb_url: String,
    pub service_token: String,
    admin_url: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

impl TestEnv {
    /// Creates a fresh, empty PostgreSQL database and picks unique names for the rest.
    pub async fn new() -> anyhow::Result<Self> {
        init_logging();
        let id = uuid::Uuid::now_v7().simple().to_string();
        let namespace = format!("t{id}");
        let database_name = format!("s4e_{namespace}");
        let admin_url = env_or(
            "S4E_TEST_POSTGRES_URL",
            "postgres://postgres:postgres@127.0.0.1:5432/postgres",
        );
        let admin = admin_client(&admin_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{database_name}\""))
            .await
            .context("creating the test database")?;
        let mut database_url = url::Url::parse(&admin_url).context("S4E_TEST_POSTGRES_URL")?;
        database_url.set_path(&database_name);
        Ok(Self {
            namespace,
            database_name,
            database_url: database_url.to_string(),
            amqp_url: env_or("S4E_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            redis_url: env_or("S4E_TEST_REDIS_URL", "redis://127.0.0.1:6379"),
            mongodb_url: env_or("S4E_TEST_MONGODB_URL", "mongodb://127.0.0.1:27017"),
            service_token: format!("test-token-{id}-{id}"),
            admin_url,
        })
    }

    /// Removes the database, the broker topology, the Redis keys and the MongoDB database.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        if let Ok(bus) = s4e_bus::Bus::connect(
            &self.amqp_url,
            &self.namespace,
            s4e_bus::BusOptions {
                connect_timeout: Duration::from_secs(10),
                ..s4e_bus::BusOptions::default()
            },
        )
        .await
        {
            bus.delete_topology().await?;
            bus.close().await;
        }
        let live = s4e_store::LiveStatus::connect(&self.redis_url, &self.namespace).await?;
        live.delete_namespace().await?;
        let raw = s4e_store::RawOutputs::connect(&self.mongodb_url, &self.namespace).await?;
        raw.drop_database().await?;
        let admin = admin_client(&self.admin_url).await?;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.database_name
            ))
            .await
            .context("dropping the test database")?;
        Ok(())
    }
}

async fn admin_client(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| "connecting to PostgreSQL (S4E_TEST_POSTGRES_URL)".to_string())?;
    tokio::spawn(connection);
    Ok(client)
}

/// A listener on a free loopback port.
pub async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port")
}

/// Polls `probe` until it returns `Some`, failing after `deadline`. Tests wait for conditions
/// this way, never with fixed sleeps.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = tokio::time::Instant::now();
    let mut interval = Duration::from_millis(10);
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if started.elapsed() > deadline {
            anyhow::bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_millis(200));
    }
}

/// Logs to the test output when `TEST_LOG` is set; silent otherwise.
pub fn init_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        s4e_runtime::telemetry::init("test", "pretty");
    }
}

/// A service's built binary (`env!("CARGO_BIN_EXE_…")`) started against `env`'s servers (its
/// token, namespace, broker, Redis and MongoDB, a free loopback port) with `extra` variables
/// added, and its `/readyz` answering 200: the process and its URL. Killed when dropped.
pub async fn start_service_binary(
    binary: &str,
    env: &TestEnv,
    extra: &[(&str, String)],
) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = listener().await.local_addr()?.port();
    let child = tokio::process::Command::new(binary)
        .env("S4E_SERVICE_TOKEN", &env.service_token)
        .env("S4E_NAMESPACE", &env.namespace)
        .env("S4E_LISTEN", format!("127.0.0.1:{port}"))
        .env("S4E_AMQP_URL", &env.amqp_url)
        .env("S4E_REDIS_URL", &env.redis_url)
        .env("S4E_MONGODB_URL", &env.mongodb_url)
        .env("S4E_MONGODB_DATABASE", &env.namespace)
        .envs(extra.iter().map(|(name, value)| (*name, value.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    wait_for(
        &format!("{binary} to be ready"),
        Duration::from_secs(60),
        || ready(port),
    )
    .await?;
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// Whether `/readyz` on `port` answers 200 (one plain HTTP/1.0 request).
async fn ready(port: u16) -> Option<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.ok()?;
    (&head[9..12] == b"200").then_some(())
}
