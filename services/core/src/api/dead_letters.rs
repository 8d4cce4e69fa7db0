//! An organization's dead letters: its messages the platform could not handle (a job whose
//! dependencies stayed away past the delivery limit, say), kept by the dispatcher until replayed.
//! Only letters whose envelope names the caller's organization are shown or replayed here;
//! unparseable letters are for operators (the dispatcher's internal API and CLI). Admins only
//! (`automation:write`): a letter shows internal reasons and replaying re-runs work.

use axum::extract::State;
use axum::{Extension, Json};
use s4e_runtime::ApiError;
use s4e_runtime::extract::ApiPath;
use s4e_types::api::{DeadLetterView, List};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// The organization's dead letters (automation:write)
///
/// Its messages the platform could not handle, newest first, at most 1000. They wait here
/// until replayed.
#[utoipa::path(get, path = "/api/v1/dead-letters", operation_id = "listDeadLetters", tag = "dead-letters",
    responses((status = 200, description = "The dead letters", body = List<DeadLetterView>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<DeadLetterView>>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    let items = state.dispatcher.dead_letters(principal.org_id).await?;
    Ok(Json(List { items }))
}

/// Replay a dead letter (automation:write)
///
/// Sends it back to be handled again and removes it from the list; handling is idempotent, so
/// a job already done is not done twice.
#[utoipa::path(post, path = "/api/v1/dead-letters/{letter_id}/replay", operation_id = "replayDeadLetter", tag = "dead-letters",
    params(("letter_id" = String, Path, pattern = "^[A-Za-z0-9-]{1,128}$")),
    responses((status = 200, description = "The replayed letter", body = DeadLetterView)))]
pub async fn replay(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(letter_id): ApiPath<String>,
) -> Result<Json<DeadLetterView>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    if letter_id.is_empty()
        || letter_id.len() > 128
        || !letter_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::not_found("dead letter"));
    }
    let letter = state
        .dispatcher
        .replay_dead_letter(principal.org_id, &letter_id)
        .await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), %letter_id, "dead letter replayed");
    Ok(Json(letter))
}
