//! Raw job output in MongoDB, collection `scan_outputs`, one document per job.
//!
//! The document id is the job id, so storing the output of a redelivered job replaces the
//! document instead of adding a second one.

use std::time::Duration;

use mongodb::bson::{self, Document, doc};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};
use s4e_types::{JobId, OrgId, RunId};

use crate::dead_letters::DeadLetters;
use crate::error::StoreError;

const COLLECTION: &str = "scan_outputs";

#[derive(Clone)]
pub struct RawOutputs {
    database: Database,
    outputs: Collection<Document>,
}

impl RawOutputs {
    pub async fn connect(url: &str, database: &str) -> Result<Self, StoreError> {
        let database = open_database(url, database).await?;
        let outputs = database.collection(COLLECTION);
        Ok(Self { database, outputs })
    }

    /// The dead letters kept in the same database, over the same connection.
    pub fn dead_letters(&self) -> DeadLetters {
        DeadLetters::in_database(&self.database)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.database.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    /// Stores (or replaces) the raw output of one job; returns its id.
    pub async fn store(
        &self,
        org_id: OrgId,
        run_id: RunId,
        job_id: JobId,
        output: &serde_json::Value,
    ) -> Result<String, StoreError> {
        let id = job_id.to_string();
        let output =
            bson::to_bson(output).map_err(|error| StoreError::Convert(error.to_string()))?;
        let document = doc! {
            "_id": &id,
            "org_id": org_id.to_string(),
            "run_id": run_id.to_string(),
            "stored_at": bson::DateTime::now(),
            "output": output,
        };
        self.outputs
            .replace_one(doc! { "_id": &id }, document)
            .upsert(true)
            .await?;
        Ok(id)
    }

    /// The raw output with `id`, if it belongs to `org_id`.
    pub async fn get(
        &self,
        org_id: OrgId,
        id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let found = self
            .outputs
            .find_one(doc! { "_id": id, "org_id": org_id.to_string() })
            .await?;
        let Some(mut document) = found else {
            return Ok(None);
        };
        let output = document.remove("output").unwrap_or(bson::Bson::Null);
        Ok(Some(output.into_relaxed_extjson()))
    }

    /// Drops the whole database. For tests.
    pub async fn drop_database(&self) -> Result<(), StoreError> {
        self.database.drop().await?;
        Ok(())
    }
}

/// A client of the database `database` at `url`.
pub(crate) async fn open_database(url: &str, database: &str) -> Result<Database, StoreError> {
    // Database names must be plain identifiers (the nx-27017 server enforces this too).
    let valid = database.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(StoreError::InvalidName(database.to_string()));
    }
    let mut options = ClientOptions::parse(url).await?;
    options.app_name = Some("s4e".into());
    options.server_selection_timeout = Some(Duration::from_secs(5));
    options.connect_timeout = Some(Duration::from_secs(5));
    let client = Client::with_options(options)?;
    Ok(client.database(database))
}
