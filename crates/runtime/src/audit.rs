//! The audit context of a change in progress, carried across internal calls like the trace
//! context: the gateway runs a change inside [`scope`]; a state-changing internal call made in
//! it carries the context in [`HEADER`] until one callee records the entry (in the change's
//! transaction) and says so in [`RECORDED_HEADER`]; the service-token guard runs each internal
//! request that brings a context in a scope of its own and passes the word back, so a change
//! made one service further in (the scan starter creating a run in base) is recorded too.
//!
//! The context is trusted only behind the service token: the gateway strips every `x-s4e-`
//! header from public requests.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use s4e_types::AuditContext;

/// The request header that carries the context, URL-encoded.
pub const HEADER: &str = "x-s4e-audit";
/// The response header of a callee that recorded the entry.
pub const RECORDED_HEADER: &str = "x-s4e-audited";

struct Change {
    context: AuditContext,
    recorded: AtomicBool,
}

tokio::task_local! {
    static CURRENT: Arc<Change>;
}

/// Runs `work` as the change `context` describes; answers whether a callee recorded it.
pub async fn scope<F: Future>(context: AuditContext, work: F) -> (F::Output, bool) {
    let change = Arc::new(Change {
        context,
        recorded: AtomicBool::new(false),
    });
    let output = CURRENT.scope(change.clone(), work).await;
    (output, change.recorded.load(Ordering::Acquire))
}

/// The context of the change in progress while nobody has recorded it yet: what a
/// state-changing call sends, and what the recorder writes.
pub fn pending() -> Option<AuditContext> {
    CURRENT
        .try_with(|change| {
            (!change.recorded.load(Ordering::Acquire)).then(|| change.context.clone())
        })
        .ok()
        .flatten()
}

/// Marks the change in progress recorded: by the recorder once its transaction committed, by
/// a caller once its callee said so.
pub fn mark_recorded() {
    let _ = CURRENT.try_with(|change| change.recorded.store(true, Ordering::Release));
}

pub fn encode(context: &AuditContext) -> String {
    serde_urlencoded::to_string(context).expect("an audit context is a flat record")
}

pub fn decode(value: &[u8]) -> Result<AuditContext, String> {
    serde_urlencoded::from_bytes(value).map_err(|error| format!("malformed audit context: {error}"))
}

#[cfg(test)]
mod tests {
    use s4e_types::audit::ActorKind;
    use s4e_types::{AuditContext, OrgId};

    use super::*;

    fn context() -> AuditContext {
        AuditContext {
            actor_kind: ActorKind::ApiKey,
            actor_id: Some(uuid::Uuid::nil()),
            actor_label: "s4e_ab12 ünïcode & = ?".into(),
            actor_org_id: Some(OrgId(uuid::Uuid::max())),
            action: "assets.create".into(),
            resource_type: "asset".into(),
            resource_id: None,
            outcome: 201,
            ip: Some("::1".into()),
        }
    }

    #[test]
    fn a_context_survives_its_header() {
        let encoded = encode(&context());
        assert!(
            axum::http::HeaderValue::from_str(&encoded).is_ok(),
            "{encoded}"
        );
        assert_eq!(decode(encoded.as_bytes()).unwrap(), context());
        assert!(decode(b"actor_kind=robot").is_err());
    }

    #[tokio::test]
    async fn a_change_is_pending_until_recorded() {
        assert_eq!(pending(), None);
        let ((), recorded) = scope(context(), async {
            assert_eq!(pending(), Some(context()));
            mark_recorded();
            assert_eq!(pending(), None);
        })
        .await;
        assert!(recorded);
        let ((), recorded) = scope(context(), async {}).await;
        assert!(!recorded);
    }
}
