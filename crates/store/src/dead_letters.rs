//! Dead letters kept in MongoDB, collection `dead_letters`, until someone replays them.
//!
//! The dispatcher moves every message of the dead-letter queue here and acks it only once it is
//! stored, so the queue stays short and a letter can be listed, filtered by organization and
//! replayed by id without taking it out of the queue blind. The document id is the letter's id
//! (the envelope id when the body parses), so recording one again replaces it. Each record
//! carries a fresh token: a replay removes the record it read and not a newer death of the same
//! message recorded meanwhile.

use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{self, Binary, Bson, Document, doc};
use mongodb::{Collection, Database};
use s4e_types::OrgId;
use s4e_types::api::DeadLetterView;

use crate::error::StoreError;
use crate::raw_outputs::open_database;

const COLLECTION: &str = "dead_letters";

/// A stored dead letter: what is shown, the exact bytes to republish, and the record's token.
#[derive(Clone, Debug)]
pub struct StoredDeadLetter {
    pub view: DeadLetterView,
    pub body: Vec<u8>,
    pub token: String,
}

#[derive(Clone)]
pub struct DeadLetters {
    letters: Collection<Document>,
}

impl DeadLetters {
    pub async fn connect(url: &str, database: &str) -> Result<Self, StoreError> {
        Ok(Self::in_database(&open_database(url, database).await?))
    }

    pub(crate) fn in_database(database: &Database) -> Self {
        Self {
            letters: database.collection(COLLECTION),
        }
    }

    /// Stores (or replaces) a dead letter.
    pub async fn record(&self, view: &DeadLetterView, body: &[u8]) -> Result<(), StoreError> {
        let document = doc! {
            "_id": &view.id,
            "org_id": view.org_id.map(|id| id.to_string()),
            "message_type": view.message_type.clone(),
            "reason": &view.reason,
            "source_queue": view.source_queue.clone(),
            "delivery_count": view.delivery_count.map(i64::from),
            "dead_lettered_at": bson::DateTime::from_millis(view.dead_lettered_at.timestamp_millis()),
            "body": Binary { subtype: BinarySubtype::Generic, bytes: body.to_vec() },
            "token": uuid::Uuid::now_v7().to_string(),
        };
        self.letters
            .replace_one(doc! { "_id": &view.id }, document)
            .upsert(true)
            .await?;
        Ok(())
    }

    /// The newest `limit` letters, all of them or those whose envelope names `org_id`.
    pub async fn list(
        &self,
        org_id: Option<OrgId>,
        limit: i64,
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        let filter = match org_id {
            Some(org_id) => doc! { "org_id": org_id.to_string() },
            None => doc! {},
        };
        let mut cursor = self
            .letters
            .find(filter)
            .sort(doc! { "dead_lettered_at": -1, "_id": 1 })
            .limit(limit)
            .await?;
        let mut letters = Vec::new();
        while cursor.advance().await? {
            letters.push(from_document(cursor.deserialize_current()?)?);
        }
        Ok(letters)
    }

    /// One letter, if it exists (and, given `org_id`, names that organization).
    pub async fn get(
        &self,
        org_id: Option<OrgId>,
        id: &str,
    ) -> Result<Option<StoredDeadLetter>, StoreError> {
        let mut filter = doc! { "_id": id };
        if let Some(org_id) = org_id {
            filter.insert("org_id", org_id.to_string());
        }
        match self.letters.find_one(filter).await? {
            Some(document) => Ok(Some(from_document(document)?)),
            None => Ok(None),
        }
    }

    /// Removes the record `token` names; a newer record of the same id stays.
    pub async fn remove(&self, id: &str, token: &str) -> Result<bool, StoreError> {
        let deleted = self
            .letters
            .delete_one(doc! { "_id": id, "token": token })
            .await?;
        Ok(deleted.deleted_count > 0)
    }

    /// How many letters are stored (for metrics).
    pub async fn count(&self) -> Result<u64, StoreError> {
        Ok(self.letters.count_documents(doc! {}).await?)
    }
}

fn from_document(document: Document) -> Result<StoredDeadLetter, StoreError> {
    let corrupt = |field: &str| StoreError::Convert(format!("dead letter without {field}"));
    let text = |field: &str| match document.get(field) {
        Some(Bson::String(value)) => Some(value.clone()),
        _ => None,
    };
    let body = match document.get("body") {
        Some(Bson::Binary(binary)) => binary.bytes.clone(),
        _ => return Err(corrupt("body")),
    };
    let dead_lettered_at = match document.get("dead_lettered_at") {
        Some(Bson::DateTime(at)) => chrono::DateTime::from_timestamp_millis(at.timestamp_millis())
            .ok_or_else(|| corrupt("dead_lettered_at"))?,
        _ => return Err(corrupt("dead_lettered_at")),
    };
    let delivery_count = match document.get("delivery_count") {
        Some(Bson::Int64(count)) => u32::try_from(*count).ok(),
        Some(Bson::Int32(count)) => u32::try_from(*count).ok(),
        _ => None,
    };
    Ok(StoredDeadLetter {
        view: DeadLetterView {
            id: text("_id").ok_or_else(|| corrupt("_id"))?,
            org_id: text("org_id").and_then(|id| id.parse().ok()),
            message_type: text("message_type"),
            reason: text("reason").unwrap_or_default(),
            source_queue: text("source_queue"),
            delivery_count,
            dead_lettered_at,
            body: String::from_utf8_lossy(&body).into_owned(),
        },
        body,
        token: text("token").ok_or_else(|| corrupt("token"))?,
    })
}
