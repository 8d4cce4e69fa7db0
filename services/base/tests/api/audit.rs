//! The audit log: appended, filtered, paged and never updated.

use s4e_client::ClientError;

use crate::support::Harness;

#[tokio::test]
async fn the_audit_log_is_appended_filtered_paged_and_never_updated() {
    use s4e_types::NewAuditEntry;
    use s4e_types::audit::{ActorKind, AuditQuery};

    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let other = h.client.create_organization("b").await.unwrap();
    let entry = |action: &str, outcome: u16| NewAuditEntry {
        actor_kind: ActorKind::ApiKey,
        actor_id: Some(uuid::Uuid::now_v7()),
        actor_label: "s4e_abcdef".into(),
        actor_org_id: None,
        action: action.into(),
        resource_type: "asset".into(),
        resource_id: Some("r1".into()),
        outcome,
        ip: Some("192.0.2.1".into()),
        trace_id: None,
    };
    for (action, outcome) in [
        ("assets.create", 201),
        ("scans.create", 403),
        ("assets.create", 201),
    ] {
        h.client
            .append_audit(org.id, &entry(action, outcome))
            .await
            .unwrap();
    }
    h.client
        .append_audit(other.id, &entry("assets.create", 201))
        .await
        .unwrap();

    let all = h
        .client
        .query_audit(org.id, &AuditQuery::default())
        .await
        .unwrap();
    let actions: Vec<&str> = all.items.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(actions, ["assets.create", "scans.create", "assets.create"]);
    assert!(all.next_cursor.is_none());
    let failed = AuditQuery {
        failed: Some(true),
        ..AuditQuery::default()
    };
    let failed = h.client.query_audit(org.id, &failed).await.unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].entry.outcome, 403);

    // Pages of two, newest first, the cursor leading to the rest.
    let first = AuditQuery {
        limit: Some(2),
        ..AuditQuery::default()
    };
    let first = h.client.query_audit(org.id, &first).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let second = AuditQuery {
        limit: Some(2),
        before: first.next_cursor,
        ..AuditQuery::default()
    };
    let second = h.client.query_audit(org.id, &second).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].id, all.items[2].id);
    assert!(second.next_cursor.is_none());
    let bad = AuditQuery {
        limit: Some(0),
        ..AuditQuery::default()
    };
    let bad = h.client.query_audit(org.id, &bad).await;
    assert!(matches!(bad, Err(ClientError::BadRequest(_))), "{bad:?}");

    // Not through the API (there is no route), and not through SQL either.
    let pool = sqlx::PgPool::connect(&h.env.database_url).await.unwrap();
    let tampered = sqlx::query("UPDATE audit_log SET outcome = 200 WHERE outcome = 403")
        .execute(&pool)
        .await;
    let error = tampered.unwrap_err().to_string();
    assert!(error.contains("audit entries cannot be changed"), "{error}");
    pool.close().await;
    h.stop().await;
}
