//! Outbound webhooks against the real fleet and local receivers: endpoints kept through the
//! gateway with their secret shown once; a finished scan's event travels the bus to the trigger,
//! becomes a delivery, and arrives signed per the Standard Webhooks specification (checked here
//! with an HMAC of our own); failures are retried on the specification's schedule, a failing
//! endpoint is disabled, and the egress policy holds. Deliveries are driven on the test's clock
//! (`Deliverer::pass`); the fleet's own deliverer looks only once an hour.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use s4e_client::BaseClient;
use s4e_e2e::{Fleet, Receiver, Target};
use s4e_test_support::wait_for;
use s4e_types::webhook::WebhookEvent;
use s4e_types::{OrgId, RunStatus};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(30);

async fn add_endpoint(fleet: &Fleet, body: Value) -> (StatusCode, Value) {
    let response = fleet
        .request(Method::POST, "/webhooks")
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// An endpoint for `url`: its id and its secret.
async fn endpoint(fleet: &Fleet, url: &str) -> (String, String) {
    let (status, body) = add_endpoint(fleet, json!({"url": url})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["endpoint"]["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn deliveries(fleet: &Fleet, endpoint_id: &str) -> Vec<Value> {
    fleet
        .get_json(&format!("/webhooks/{endpoint_id}/deliveries"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn delivery(fleet: &Fleet, delivery_id: &str) -> Value {
    fleet
        .get_json(&format!("/webhook-deliveries/{delivery_id}"))
        .await
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .to_utc()
}

/// The organization of the fleet's admin key.
async fn org_id(fleet: &Fleet) -> OrgId {
    let me = fleet.get_json("/me").await;
    me["org_id"].as_str().unwrap().parse().unwrap()
}

/// An event recorded for the organization's endpoints as the trigger records one.
async fn record_event(fleet: &Fleet, org_id: OrgId) -> uuid::Uuid {
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();
    let event_id = uuid::Uuid::now_v7();
    base.record_webhook_event(
        org_id,
        &WebhookEvent {
            event_id,
            event_type: "scan.completed".into(),
            payload: json!({"type": "scan.completed", "timestamp": Utc::now(), "data": {}}),
            endpoint_id: None,
        },
    )
    .await
    .unwrap();
    event_id
}

#[tokio::test]
async fn an_endpoint_is_validated_and_its_secret_shown_once() {
    let fleet = Fleet::start().await.unwrap();
    let receiver = Receiver::start().await;
    let (status, created) = add_endpoint(
        &fleet,
        json!({"url": receiver.url, "description": "siem", "event_types": ["scan.completed"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 30);
    let id = created["endpoint"]["id"].as_str().unwrap();
    let shown = fleet.get_json(&format!("/webhooks/{id}")).await;
    assert_eq!(shown, created["endpoint"]);
    assert!(!shown.to_string().contains(secret));
    let listed = fleet.get_json("/webhooks").await.to_string();
    assert!(!listed.contains(secret) && listed.contains(id));

    for (body, status, says) in [
        (json!({"url": "ftp://example.com/"}), 400, "url:"),
        (
            json!({"url": "http://169.254.169.254/hook"}),
            400,
            "never delivered to",
        ),
        (
            json!({"url": receiver.url, "event_types": ["finding.eaten"]}),
            400,
            "event_types:",
        ),
        (json!({"url": receiver.url, "retries": 3}), 400, "retries"),
    ] {
        let (answered, refusal) = add_endpoint(&fleet, body.clone()).await;
        assert_eq!(answered.as_u16(), status, "{body}: {refusal}");
        let message = refusal["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }

    // A rotation shows a new secret once; the endpoint stays the same.
    let response = fleet
        .request(Method::POST, &format!("/webhooks/{id}/rotate-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let rotated: Value = response.json().await.unwrap();
    assert_ne!(rotated["secret"], created["secret"]);
    assert_eq!(rotated["endpoint"]["id"], id);
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_scan_reaches_the_endpoint_signed() {
    let fleet = Fleet::start().await.unwrap();
    let receiver = Receiver::start().await;
    let (status, created) = add_endpoint(
        &fleet,
        json!({"url": receiver.url, "event_types": ["scan.completed"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let endpoint_id = created["endpoint"]["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    // A second endpoint wants the findings, one event each.
    let findings_receiver = Receiver::start().await;
    let (status, created) = add_endpoint(
        &fleet,
        json!({"url": findings_receiver.url, "event_types": ["finding.created"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let findings_secret = created["secret"].as_str().unwrap().to_string();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    let view = fleet.wait_for_scan(&run_id, DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed);

    // The trigger turns the scan's event into a delivery and sends it at once.
    wait_for("the delivery", DEADLINE, || async {
        (!receiver.received().is_empty()).then_some(())
    })
    .await
    .unwrap();
    let delivered = deliveries(&fleet, &endpoint_id).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["event_type"], "scan.completed");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert!(request.signed_with(&secret), "{:?}", request.headers);
    assert!(!request.signed_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert_eq!(
        request.headers["webhook-id"],
        delivered[0]["event_id"].as_str().unwrap()
    );
    assert_eq!(request.headers["content-type"], "application/json");
    let sent_at: i64 = request.headers["webhook-timestamp"].parse().unwrap();
    assert!((Utc::now().timestamp() - sent_at).abs() < 60);
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "scan.completed");
    assert_eq!(body["data"]["run_id"], run_id.as_str());
    assert_eq!(body["data"]["status"], "completed");
    assert_eq!(body["data"]["findings_count"], 13);

    let delivery_id = delivered[0]["id"].as_str().unwrap();
    let done = wait_for("the attempt recorded", DEADLINE, || async {
        let done = delivery(&fleet, delivery_id).await;
        (done["delivery"]["status"] == "succeeded").then_some(done)
    })
    .await
    .unwrap();
    assert_eq!(done["delivery"]["status"], "succeeded");
    assert_eq!(done["delivery"]["attempts"], 1);
    assert_eq!(done["attempts"][0]["status_code"], 204);
    assert_eq!(done["payload"], body);

    // Every finding the scan created, once each, signed, with what a SIEM needs.
    let findings = wait_for("every finding's event", DEADLINE, || async {
        let received = findings_receiver.received();
        (received.len() >= 13).then_some(received)
    })
    .await
    .unwrap();
    assert_eq!(findings.len(), 13);
    let mut rules = std::collections::BTreeSet::new();
    for request in &findings {
        assert!(request.signed_with(&findings_secret));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["type"], "finding.created");
        assert_eq!(body["data"]["run_id"], run_id.as_str());
        assert!(body["data"]["severity"].is_string() && body["data"]["title"].is_string());
        rules.insert(body["data"]["rule"].as_str().unwrap().to_string());
    }
    assert_eq!(rules.len(), 13);
    assert!(rules.contains("env_file_exposed"));
    // A re-scan sees the same findings again: nothing is created, nothing announced.
    let again = fleet.start_scan(&asset).await.unwrap();
    fleet.wait_for_scan(&again, DEADLINE).await.unwrap();
    wait_for("the second scan's completion", DEADLINE, || async {
        (receiver.received().len() >= 2).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(findings_receiver.received().len(), 13);

    // Sent again on request, with the same id, signed again: by a pass of the test's, or by
    // the fleet's deliverer when a notification left from the scans wakes it first.
    let response = fleet
        .request(
            Method::POST,
            &format!("/webhook-deliveries/{delivery_id}/redeliver"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let deliverer = fleet.deliverer().await.unwrap();
    assert!(deliverer.pass(Utc::now()).await.unwrap() <= 1);
    let received = wait_for("the redelivery", DEADLINE, || async {
        let received = receiver.received();
        (received.len() >= 3).then_some(received)
    })
    .await
    .unwrap();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[2].headers["webhook-id"],
        received[0].headers["webhook-id"]
    );
    assert!(received[2].signed_with(&secret));
    wait_for("the second attempt recorded", DEADLINE, || async {
        (delivery(&fleet, delivery_id).await["delivery"]["attempts"] == 2).then_some(())
    })
    .await
    .unwrap();
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_on_the_schedule_until_it_answers() {
    let fleet = Fleet::start().await.unwrap();
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500, 503, 429]);
    let (endpoint_id, secret) = endpoint(&fleet, &receiver.url).await;
    let org_id = org_id(&fleet).await;
    record_event(&fleet, org_id).await;
    let deliverer = fleet.deliverer().await.unwrap();

    let mut now = Utc::now();
    assert_eq!(deliverer.pass(now).await.unwrap(), 1);
    // 5 s, 5 min and 30 min later (each moved by up to a tenth), never before.
    for wait in [5, 300, 1800] {
        let id = deliveries(&fleet, &endpoint_id).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let pending = delivery(&fleet, &id).await;
        assert_eq!(pending["delivery"]["status"], "pending");
        let next = time(&pending["delivery"]["next_attempt_at"]);
        let waited = (next - now).num_milliseconds() as f64 / 1000.0;
        assert!(
            (wait as f64 * 0.9..=wait as f64 * 1.1).contains(&waited),
            "waited {waited} s for a {wait} s step"
        );
        assert_eq!(
            deliverer
                .pass(next - chrono::Duration::milliseconds(100))
                .await
                .unwrap(),
            0
        );
        now = next;
        assert_eq!(deliverer.pass(now).await.unwrap(), 1);
    }
    let id = deliveries(&fleet, &endpoint_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = delivery(&fleet, &id).await;
    assert_eq!(done["delivery"]["status"], "succeeded");
    let codes: Vec<i64> = done["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 429, 204]);
    let received = receiver.received();
    assert_eq!(received.len(), 4);
    assert!(received.iter().all(|request| request.signed_with(&secret)));
    assert!(
        received
            .iter()
            .all(|request| request.headers["webhook-id"] == received[0].headers["webhook-id"])
    );
    // A success ends the endpoint's failure streak.
    let endpoint = fleet.get_json(&format!("/webhooks/{endpoint_id}")).await;
    assert!(endpoint["failing_since"].is_null());
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_endpoint_failing_for_long_is_disabled_until_enabled_again() {
    let fleet = Fleet::start().await.unwrap();
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500; 5]);
    let (endpoint_id, _) = endpoint(&fleet, &receiver.url).await;
    let org_id = org_id(&fleet).await;
    record_event(&fleet, org_id).await;
    let mut deliverer = fleet.deliverer().await.unwrap();
    deliverer.disable_after = chrono::Duration::hours(1);

    // Attempts at 0 s, 5 s, 5 min, 30 min, 2 h: the last comes after an hour of failures.
    let mut now = Utc::now();
    for _ in 0..5 {
        assert_eq!(deliverer.pass(now).await.unwrap(), 1);
        let id = deliveries(&fleet, &endpoint_id).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        if let Some(next) = delivery(&fleet, &id).await["delivery"]["next_attempt_at"].as_str() {
            now = DateTime::parse_from_rfc3339(next).unwrap().to_utc();
        }
    }
    let endpoint = fleet.get_json(&format!("/webhooks/{endpoint_id}")).await;
    assert_eq!(endpoint["disabled"], true, "{endpoint}");
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .starts_with("every attempt failed since"),
        "{endpoint}"
    );
    // Disabled: nothing is attempted, no new event makes a delivery, a redelivery is refused.
    let far = now + chrono::Duration::days(2);
    assert_eq!(deliverer.pass(far).await.unwrap(), 0);
    record_event(&fleet, org_id).await;
    assert_eq!(deliveries(&fleet, &endpoint_id).await.len(), 1);
    let id = deliveries(&fleet, &endpoint_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let response = fleet
        .request(Method::POST, &format!("/webhook-deliveries/{id}/redeliver"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(receiver.received().len(), 5);

    // Enabled again: the streak is forgotten and the waiting delivery goes on.
    let response = fleet
        .request(Method::PATCH, &format!("/webhooks/{endpoint_id}"))
        .json(&json!({"disabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let enabled: Value = response.json().await.unwrap();
    assert!(enabled["failing_since"].is_null() && enabled["disabled_reason"].is_null());
    assert_eq!(deliverer.pass(far).await.unwrap(), 1);
    assert_eq!(receiver.received().len(), 6);
    let state = delivery(&fleet, &id).await;
    assert_eq!(state["delivery"]["status"], "succeeded");
    assert_eq!(state["delivery"]["attempts"], 6);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_delivery_the_egress_policy_refuses_fails_with_the_reason() {
    let fleet = Fleet::start().await.unwrap();
    let receiver = Receiver::start().await;
    let (endpoint_id, _) = endpoint(&fleet, &receiver.url).await;
    let org_id = org_id(&fleet).await;
    record_event(&fleet, org_id).await;
    // A deployment that does not allow private addresses: the receiver is on loopback.
    let mut deliverer = fleet.deliverer().await.unwrap();
    deliverer.egress = s4e_egress::EgressPolicy::strict();
    assert_eq!(deliverer.pass(Utc::now()).await.unwrap(), 1);
    assert!(receiver.received().is_empty());
    let id = deliveries(&fleet, &endpoint_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let state = delivery(&fleet, &id).await;
    let error = state["attempts"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("refusing to connect to"), "{error}");
    assert!(state["attempts"][0]["status_code"].is_null());
    assert_eq!(state["delivery"]["status"], "pending");
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn no_endpoint_holds_more_than_its_share_of_the_deliverers() {
    let fleet = Fleet::start().await.unwrap();
    let (slow, fast) = (Receiver::start().await, Receiver::start().await);
    let (slow_id, _) = endpoint(&fleet, &slow.url).await;
    let (fast_id, _) = endpoint(&fleet, &fast.url).await;
    let org_id = org_id(&fleet).await;
    for _ in 0..6 {
        record_event(&fleet, org_id).await;
    }
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();
    let claim = |now| s4e_types::webhook::ClaimDueDeliveries {
        now,
        limit: 100,
        lease_seconds: 60,
        per_endpoint: 2,
    };
    let count = |claimed: &[s4e_types::webhook::DueDelivery], id: &str| {
        claimed
            .iter()
            .filter(|due| due.delivery.endpoint_id.to_string() == id)
            .count()
    };
    // Two of each endpoint, however many are due…
    let now = Utc::now();
    let first = base.claim_due_deliveries(&claim(now)).await.unwrap();
    assert_eq!((count(&first, &slow_id), count(&first, &fast_id)), (2, 2));
    // …and none more while those are in flight (a slow endpoint's leases still running).
    let second = base.claim_due_deliveries(&claim(now)).await.unwrap();
    assert!(second.is_empty());
    // Once its leases ran out (its deliverer died), the endpoint's turn comes again.
    let later = now + chrono::Duration::seconds(61);
    let third = base.claim_due_deliveries(&claim(later)).await.unwrap();
    assert_eq!((count(&third, &slow_id), count(&third, &fast_id)), (2, 2));
    fleet.stop().await.unwrap();
}
