//! Dead letters, visible and replayable. A consumer moves each message of the dead-letter
//! queue into MongoDB (`s4e_store::DeadLetters`) and acks it only once stored, so nothing is
//! dropped and a letter can be listed and replayed by id. The internal API (service token):
//!
//! - `GET /internal/v1/dead-letters`: every letter, unparseable ones included (operators);
//! - `GET /internal/v1/orgs/{org_id}/dead-letters`: the letters whose envelope names the
//!   organization (what the gateway shows its admins);
//! - `POST …/dead-letters/{letter_id}/replay` under either: republishes the message as it was,
//!   confirmed, then removes the record it read (a newer death of the same message stays).

use axum::extract::State;
use axum::{Json, Router};
use chrono::Utc;
use s4e_bus::topology::{DISPATCH_ROUTING_KEY, Exchange};
use s4e_bus::{Bus, DeadLetter, Outcome};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, CancellationToken, InternalRouter, Metrics, ServiceToken};
use s4e_store::{DeadLetters, StoredDeadLetter};
use s4e_types::api::{DeadLetterView, List};
use s4e_types::routes::dispatcher as routes;
use s4e_types::{Envelope, Message, OrgId};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The most letters one list returns (newest first).
const LIST_LIMIT: i64 = 1000;

#[derive(Clone)]
pub struct LetterState {
    pub bus: Bus,
    pub letters: DeadLetters,
    pub metrics: Metrics,
}

/// Moves the dead-letter queue into the store.
pub fn start(state: LetterState, shutdown: CancellationToken) -> JoinHandle<()> {
    let bus = state.bus.clone();
    bus.consume_dead_letters(16, shutdown, move |letter| {
        let state = state.clone();
        async move { keep(&state, letter).await }
    })
}

async fn keep(state: &LetterState, letter: DeadLetter) -> Outcome {
    let view = view_of(&letter);
    match state.letters.record(&view, &letter.body).await {
        Ok(()) => {
            tracing::warn!(
                id = %view.id, reason = %view.reason, source_queue = ?view.source_queue,
                "dead letter kept"
            );
            state.metrics.inc(
                "s4e_dispatcher_dead_letters_total",
                "Messages taken from the dead-letter queue into the store.",
                &[],
            );
            Outcome::Ack
        }
        Err(error) => Outcome::Retry(format!("storing dead letter: {error}")),
    }
}

/// What is shown of a letter. Its id is the envelope id when the body parses, else the AMQP
/// message id, else derived from the body, so the same message recorded twice is one letter.
pub fn view_of(letter: &DeadLetter) -> DeadLetterView {
    let envelope = serde_json::from_slice::<Envelope>(&letter.body).ok();
    let id = match (&envelope, &letter.message_id) {
        (Some(envelope), _) => envelope.id.to_string(),
        (None, Some(message_id)) => message_id.clone(),
        (None, None) => Uuid::new_v5(&Uuid::NAMESPACE_OID, &letter.body).to_string(),
    };
    DeadLetterView {
        id,
        org_id: envelope.as_ref().map(|envelope| envelope.org_id),
        message_type: envelope
            .as_ref()
            .map(|envelope| envelope.message.type_name().to_string()),
        reason: letter.reason.clone(),
        source_queue: letter.source_queue.clone(),
        delivery_count: letter.delivery_count,
        dead_lettered_at: Utc::now(),
        body: String::from_utf8_lossy(&letter.body).into_owned(),
    }
}

/// Where a replayed message goes: a job back to the dispatch exchange, an event back to the
/// events exchange; what does not parse to the dispatch exchange (an operator's choice to try
/// it again: it is judged there like any message).
fn destination(body: &[u8]) -> (Exchange, &'static str) {
    match serde_json::from_slice::<Envelope>(body).map(|envelope| envelope.message) {
        Ok(Message::ScanJob(_)) | Err(_) => (Exchange::Dispatch, DISPATCH_ROUTING_KEY),
        Ok(event) => (Exchange::Events, event.type_name()),
    }
}

pub fn router(state: LetterState, token: ServiceToken) -> Router {
    Router::new()
        .at(routes::ALL_DEAD_LETTERS, list_all)
        .at(routes::REPLAY_ANY_DEAD_LETTER, replay_any)
        .at(routes::DEAD_LETTERS, list_org)
        .at(routes::REPLAY_DEAD_LETTER, replay_org)
        .with_no_route_answer()
        .layer(axum::middleware::from_fn_with_state(
            token,
            s4e_runtime::service_token::require,
        ))
        .with_state(state)
}

async fn list_all(
    State(state): State<LetterState>,
) -> Result<Json<List<DeadLetterView>>, ApiError> {
    list(&state, None).await
}

async fn list_org(
    State(state): State<LetterState>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<List<DeadLetterView>>, ApiError> {
    list(&state, Some(org_id)).await
}

async fn replay_any(
    State(state): State<LetterState>,
    ApiPath(letter_id): ApiPath<String>,
) -> Result<Json<DeadLetterView>, ApiError> {
    replay(&state, None, &letter_id).await
}

async fn replay_org(
    State(state): State<LetterState>,
    ApiPath((org_id, letter_id)): ApiPath<(OrgId, String)>,
) -> Result<Json<DeadLetterView>, ApiError> {
    replay(&state, Some(org_id), &letter_id).await
}

async fn list(
    state: &LetterState,
    org_id: Option<OrgId>,
) -> Result<Json<List<DeadLetterView>>, ApiError> {
    let letters = state
        .letters
        .list(org_id, LIST_LIMIT)
        .await
        .map_err(store_unavailable)?;
    Ok(Json(List {
        items: letters.into_iter().map(|letter| letter.view).collect(),
    }))
}

/// Republishes the letter (confirmed) and only then removes its record: a failure in between
/// leaves it listed, and replaying it again is harmless (every handler is idempotent).
pub async fn replay(
    state: &LetterState,
    org_id: Option<OrgId>,
    letter_id: &str,
) -> Result<Json<DeadLetterView>, ApiError> {
    let letter: StoredDeadLetter = state
        .letters
        .get(org_id, letter_id)
        .await
        .map_err(store_unavailable)?
        .ok_or_else(|| ApiError::not_found("dead letter"))?;
    let (exchange, routing_key) = destination(&letter.body);
    state
        .bus
        .publish_bytes(exchange, routing_key, &letter.body)
        .await
        .map_err(|error| ApiError::unavailable(format!("cannot republish: {error}")))?;
    state
        .letters
        .remove(letter_id, &letter.token)
        .await
        .map_err(store_unavailable)?;
    tracing::info!(id = %letter_id, org_id = ?org_id, "dead letter replayed");
    state.metrics.inc(
        "s4e_dispatcher_dead_letters_replayed_total",
        "Dead letters republished on request.",
        &[],
    );
    Ok(Json(letter.view))
}

fn store_unavailable(error: s4e_store::StoreError) -> ApiError {
    tracing::error!(%error, "dead-letter store unavailable");
    ApiError::unavailable("dead-letter store unavailable")
}
