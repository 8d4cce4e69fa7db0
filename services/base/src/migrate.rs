//! Schema migrations, embedded from `migrations/` and applied with refinery.

use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[from] tokio_postgres::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
}

/// Applies every pending migration; returns the names of those applied now.
pub async fn run(database_url: &str) -> Result<Vec<String>, MigrateError> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls).await?;
    let connection = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::error!(%error, "migration connection failed");
        }
    });
    let report = embedded::migrations::runner()
        .set_grouped(true)
        .run_async(&mut client)
        .await?;
    drop(client);
    let _ = connection.await;
    let applied: Vec<String> = report
        .applied_migrations()
        .iter()
        .map(|migration| migration.to_string())
        .collect();
    tracing::info!(applied = ?applied, "migrations applied");
    Ok(applied)
}
