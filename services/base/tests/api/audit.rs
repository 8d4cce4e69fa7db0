//! The audit log: appended, filtered, paged and never updated.

use s4e_client::ClientError;

use crate::support::{Harness, url_asset};

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
    let actions: Vec<&str> = all.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["assets.create", "scans.create", "assets.create"]);
    assert!(all.next_cursor.is_none());
    let failed = AuditQuery {
        failed: Some(true),
        ..AuditQuery::default()
    };
    let failed = h.client.query_audit(org.id, &failed).await.unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].outcome, 403);

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

fn context(actor_label: &str) -> s4e_types::AuditContext {
    s4e_types::AuditContext {
        actor_kind: s4e_types::audit::ActorKind::User,
        actor_id: Some(uuid::Uuid::now_v7()),
        actor_label: actor_label.into(),
        actor_org_id: None,
        action: "assets.create".into(),
        resource_type: "asset".into(),
        resource_id: None,
        outcome: 201,
        ip: Some("192.0.2.7".into()),
    }
}

#[tokio::test]
async fn a_change_is_recorded_in_its_own_transaction_or_not_made() {
    use s4e_types::audit::AuditQuery;

    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let entries = || async {
        h.client
            .query_audit(org.id, &AuditQuery::default())
            .await
            .unwrap()
            .items
    };

    // Carried with the call: the change and its entry, the caller told it was recorded.
    let (created, recorded) = s4e_runtime::audit::scope(
        context("owner@a.test"),
        h.client.create_asset(org.id, &url_asset("https://a.test/")),
    )
    .await;
    let asset = created.unwrap();
    assert!(recorded);
    let logged = entries().await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    let entry = &logged[0];
    assert_eq!(entry.action, "assets.create");
    assert_eq!(
        entry.resource_id.as_deref(),
        Some(asset.id.to_string().as_str())
    );
    assert_eq!(
        (entry.outcome, entry.ip.as_deref()),
        (201, Some("192.0.2.7"))
    );

    // An entry that cannot be stored (its label over the cap): the change is not made either.
    let (refused, recorded) = s4e_runtime::audit::scope(
        context(&"x".repeat(600)),
        h.client
            .create_asset(org.id, &url_asset("https://b.a.test/")),
    )
    .await;
    assert!(
        matches!(refused, Err(ClientError::BadRequest(_))),
        "{refused:?}"
    );
    assert!(!recorded);
    let assets = h
        .client
        .list_assets(org.id, &Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(assets.len(), 1, "{assets:?}");
    assert_eq!(entries().await.len(), 1);

    // A context that does not decode: refused before any change.
    let malformed = h
        .http
        .post(h.url(&format!("/internal/v1/orgs/{}/assets", org.id)))
        .header("x-s4e-service-token", &h.env.service_token)
        .header(s4e_runtime::audit::HEADER, "actor_kind=robot")
        .json(&url_asset("https://c.a.test/"))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(
        h.client
            .list_assets(org.id, &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // Without a context (an internal caller's own change): made, nothing recorded.
    h.client
        .create_asset(org.id, &url_asset("https://d.a.test/"))
        .await
        .unwrap();
    assert_eq!(
        h.client
            .list_assets(org.id, &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(entries().await.len(), 1);
    h.stop().await;
}
