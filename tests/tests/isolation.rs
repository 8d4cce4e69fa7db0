//! Tenant isolation over every resource, driven by the OpenAPI document: organization B, with
//! an admin key and with its owner's session, tries every route that names a resource with
//! organization A's ids, and gets 404 — never the data, never a 403 that would confirm the id
//! exists. B's lists and counts show nothing of A's. A route added with a new kind of id makes
//! this test fail until it is covered.

use std::collections::HashMap;

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use s4e_e2e::{Fleet, Target};
use s4e_test_dns::Rec;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// How B calls: an admin key, or a signed-in owner's cookie and CSRF token.
enum Caller {
    Key(String),
    Session { cookie: String, csrf: String },
}

impl Caller {
    fn request(&self, fleet: &Fleet, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = fleet
            .http
            .request(method, format!("{}{path}", fleet.core.url()));
        match self {
            Caller::Key(key) => request.bearer_auth(key),
            Caller::Session { cookie, csrf } => {
                request.header(COOKIE, cookie).header("x-csrf-token", csrf)
            }
        }
    }
}

async fn signup(fleet: &Fleet, org: &str, email: &str) -> (Caller, Value) {
    let response = fleet
        .http
        .post(fleet.api("/signup"))
        .json(&json!({"organization_name": org, "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = s4e_e2e::session_cookie(&response);
    let body: Value = response.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    (Caller::Session { cookie, csrf }, body)
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        nanos as u32,
        (nanos >> 32) as u64 & 0xffff_ffff_ffff
    )
}

/// A body each route accepts, so that what it answers is about the id alone.
fn valid_body(template: &str) -> Value {
    if template.ends_with("/asset-scope") {
        json!({"asset_ids": null})
    } else if template.ends_with("/tags") {
        json!({"tags": ["env=prod"]})
    } else if template.starts_with("/api/v1/users/") {
        json!({"role": "viewer"})
    } else if template.starts_with("/api/v1/findings/") {
        json!({"status": "false_positive", "reason": "not ours"})
    } else {
        json!({})
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[tokio::test]
async fn another_organization_can_neither_reach_nor_see_anything_of_one() {
    let fleet = Fleet::start().await.unwrap();

    // Organization A, with one of everything.
    let (a, a_signup) = signup(&fleet, "A", "owner@a.test").await;
    let target = Target::demo(false).await;
    let asset = json_of(
        a.request(&fleet, Method::POST, "/api/v1/assets")
            .json(&json!({"kind": "url", "value": target.url}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // An endpoint before the scan, so that the scan's event makes a delivery.
    let hook = json_of(
        a.request(&fleet, Method::POST, "/api/v1/webhooks")
            .json(&json!({"url": "https://hooks.a.test/s4e"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let endpoint_id = hook["endpoint"]["id"].as_str().unwrap().to_string();
    let rule = json_of(
        a.request(&fleet, Method::POST, "/api/v1/rules")
            .json(&json!({"name": "forward", "event": "finding.created",
                          "conditions": {"asset_ids": [asset["id"]]},
                          "actions": [{"type": "send_webhook", "endpoint_id": endpoint_id}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let inbound = json_of(
        a.request(&fleet, Method::POST, "/api/v1/inbound-hooks")
            .json(&json!({"asset_id": asset["id"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let scan = json_of(
        a.request(&fleet, Method::POST, "/api/v1/scans")
            .json(&json!({"asset_id": asset["id"], "checks": ["http_headers"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let scan_id = scan["id"].as_str().unwrap().to_string();
    s4e_test_support::wait_for("A's scan", std::time::Duration::from_secs(30), || async {
        let view = a
            .request(&fleet, Method::GET, &format!("/api/v1/scans/{scan_id}"))
            .send()
            .await
            .ok()?
            .json::<Value>()
            .await
            .ok()?;
        (view["status"] == "completed").then_some(())
    })
    .await
    .unwrap();
    let findings = json_of(
        a.request(
            &fleet,
            Method::GET,
            &format!("/api/v1/findings?scan_id={scan_id}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let finding_id = findings["items"][0]["id"].as_str().unwrap().to_string();
    let key = json_of(
        a.request(&fleet, Method::POST, "/api/v1/api-keys")
            .json(&json!({"name": "ci", "scopes": ["read"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let invitation = json_of(
        a.request(&fleet, Method::POST, "/api/v1/invitations")
            .json(&json!({"email": "member@a.test", "role": "member"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let member = json_of(
        fleet
            .http
            .post(fleet.api("/invitations/accept"))
            .json(&json!({"token": invitation["token"], "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let schedule = json_of(
        a.request(&fleet, Method::POST, "/api/v1/schedules")
            .json(&json!({"asset_id": asset["id"], "cron": "@daily"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let delivery_id = s4e_test_support::wait_for(
        "A's delivery",
        std::time::Duration::from_secs(30),
        || async {
            let page = a
                .request(
                    &fleet,
                    Method::GET,
                    &format!("/api/v1/webhooks/{endpoint_id}/deliveries"),
                )
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()?;
            page["items"][0]["id"].as_str().map(str::to_string)
        },
    )
    .await
    .unwrap();
    // A candidate asset: a name the subdomain check finds under a domain of A's.
    fleet.dns.add("a-corp.test", Rec::Soa).add(
        "www.a-corp.test",
        Rec::A(std::net::Ipv4Addr::new(192, 0, 2, 10)),
    );
    let domain = json_of(
        a.request(&fleet, Method::POST, "/api/v1/assets")
            .json(&json!({"kind": "domain", "value": "a-corp.test"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    json_of(
        a.request(&fleet, Method::POST, "/api/v1/scans")
            .json(&json!({"asset_id": domain["id"], "checks": ["subdomains"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let candidate_id = s4e_test_support::wait_for(
        "A's candidate",
        std::time::Duration::from_secs(60),
        || async {
            let page = a
                .request(&fleet, Method::GET, "/api/v1/candidates")
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()?;
            page["items"][0]["id"].as_str().map(str::to_string)
        },
    )
    .await
    .unwrap();
    let a_ids: HashMap<&str, String> = HashMap::from([
        ("candidate_id", candidate_id),
        ("endpoint_id", endpoint_id.clone()),
        (
            "hook_id",
            inbound["hook"]["id"].as_str().unwrap().to_string(),
        ),
        ("delivery_id", delivery_id.clone()),
        ("schedule_id", schedule["id"].as_str().unwrap().to_string()),
        ("rule_id", rule["id"].as_str().unwrap().to_string()),
        ("asset_id", asset["id"].as_str().unwrap().to_string()),
        ("scan_id", scan_id.clone()),
        ("finding_id", finding_id.clone()),
        ("key_id", key["id"].as_str().unwrap().to_string()),
        (
            "user_id",
            member["user"]["id"].as_str().unwrap().to_string(),
        ),
        (
            "session_id",
            a_signup["session_id"].as_str().unwrap().to_string(),
        ),
        // A has no dead letter here (its scan went well); the route must still answer an id
        // that is not B's like one that does not exist.
        ("letter_id", uuid_like()),
    ]);

    // Organization B: an admin key and a signed-in owner.
    let b_key = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "B")
        .await
        .unwrap();
    let (b_session, _) = signup(&fleet, "B", "owner@b.test").await;
    let callers = [
        ("B's admin key", Caller::Key(b_key)),
        ("B's owner", b_session),
    ];

    // Every route that names a resource answers A's id exactly as it answers an id that does
    // not exist: 404 (or a refusal that does not depend on the id at all), never the data.
    let unknown: HashMap<&str, String> = a_ids
        .iter()
        .map(|(name, id)| {
            let fake = if *name == "session_id" {
                "0".repeat(64)
            } else {
                "00000000-0000-4000-8000-000000000000".to_string()
            };
            assert_ne!(&fake, id);
            (*name, fake)
        })
        .collect();
    let fill = |template: &str, ids: &HashMap<&str, String>| {
        let mut path = template.to_string();
        for (name, id) in ids {
            path = path.replace(&format!("{{{name}}}"), id);
        }
        path
    };
    let document = json_of(
        fleet
            .http
            .get(fleet.api("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut tried = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        if !template.contains('{') {
            continue;
        }
        let (theirs, nobodys) = (fill(template, &a_ids), fill(template, &unknown));
        assert!(
            !theirs.contains('{'),
            "{template}: a route with an id this test does not know; cover it here"
        );
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            for (who, caller) in &callers {
                let mut answers = Vec::new();
                for path in [&theirs, &nobodys] {
                    let response = caller
                        .request(&fleet, method.clone(), path)
                        .json(&valid_body(template))
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let body: Value = response.json().await.unwrap();
                    answers.push((status, body["error"]["message"].clone()));
                }
                let (status, _) = &answers[0];
                // The open hook route takes no key: its id is a capability, and an unsigned call
                // is refused the same way for a hook that exists and for one that does not.
                let refused = if template.starts_with("/api/v1/hooks/") {
                    *status == StatusCode::UNAUTHORIZED
                } else {
                    *status == StatusCode::NOT_FOUND || *status == StatusCode::FORBIDDEN
                };
                assert!(refused, "{who}: {method} {template}: {answers:?}");
                assert_eq!(
                    answers[0], answers[1],
                    "{who}: {method} {template}: A's id is answered differently from nobody's"
                );
                tried += 1;
            }
        }
    }
    // Twelve routes name a resource today, each tried by both callers.
    assert!(tried >= 24, "only {tried} requests tried");

    // Ids in bodies and filters are scoped the same way.
    for (who, caller) in &callers {
        let response = caller
            .request(&fleet, Method::POST, "/api/v1/scans")
            .json(&json!({"asset_id": asset["id"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{who}: scan of A's asset"
        );
        let response = caller
            .request(&fleet, Method::POST, "/api/v1/schedules")
            .json(&json!({"asset_id": asset["id"], "cron": "@daily"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{who}: a schedule of A's asset"
        );
        // A rule naming A's endpoint or asset is refused as one naming nothing is.
        for (field, body) in [
            (
                "actions[0]",
                json!({"name": "r", "event": "asset.created",
                       "actions": [{"type": "send_webhook", "endpoint_id": endpoint_id}]}),
            ),
            (
                "conditions.asset_ids",
                json!({"name": "r", "event": "asset.created",
                       "conditions": {"asset_ids": [asset["id"]]},
                       "actions": [{"type": "start_scan"}]}),
            ),
        ] {
            let response = caller
                .request(&fleet, Method::POST, "/api/v1/rules")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{who}: {field}");
            let answer: Value = response.json().await.unwrap();
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(field), "{who}: {message}");
        }
        let response = caller
            .request(&fleet, Method::POST, "/api/v1/findings/bulk-status")
            .json(&json!({"ids": [finding_id], "status": "fixed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{who}: bulk on A's finding"
        );
        for filtered in [
            format!("/api/v1/findings?scan_id={scan_id}"),
            format!(
                "/api/v1/findings?asset_id={}",
                asset["id"].as_str().unwrap()
            ),
            format!("/api/v1/findings/export?format=json&scan_id={scan_id}"),
            format!(
                "/api/v1/services?asset_id={}",
                asset["id"].as_str().unwrap()
            ),
            format!(
                "/api/v1/technologies?asset_id={}",
                asset["id"].as_str().unwrap()
            ),
            format!(
                "/api/v1/candidates?found_from={}",
                domain["id"].as_str().unwrap()
            ),
        ] {
            let body = json_of(
                caller
                    .request(&fleet, Method::GET, &filtered)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            let items = body.get("items").unwrap_or(&body);
            assert_eq!(items, &json!([]), "{who}: {filtered}");
        }
    }

    // Lists and counts: nothing of A's anywhere.
    let a_values: Vec<&String> = a_ids.values().collect();
    for (who, caller) in &callers {
        for list in [
            "/api/v1/assets",
            "/api/v1/findings",
            "/api/v1/api-keys",
            "/api/v1/users",
            "/api/v1/invitations",
            "/api/v1/schedules",
            "/api/v1/webhooks",
            "/api/v1/inbound-hooks",
            "/api/v1/candidates",
            "/api/v1/technologies",
            "/api/v1/services",
            "/api/v1/surface/changes",
        ] {
            let body = json_of(
                caller
                    .request(&fleet, Method::GET, list)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .to_string();
            for id in &a_values {
                assert!(!body.contains(id.as_str()), "{who}: {list} shows {id}");
            }
            assert!(!body.contains("@a.test"), "{who}: {list} shows A's people");
        }
        // B's own log records B's attempts on A's ids (B sent them); nothing A did is there.
        let log = json_of(
            caller
                .request(&fleet, Method::GET, "/api/v1/audit-log?limit=1000")
                .send()
                .await
                .unwrap(),
        )
        .await;
        for entry in log["items"].as_array().unwrap() {
            let label = entry["actor_label"].as_str().unwrap();
            let ours = label == "owner@b.test" || label.starts_with("s4e_");
            assert!(ours, "{who}: someone else's action in B's log: {entry}");
        }
        let dashboard = json_of(
            caller
                .request(&fleet, Method::GET, "/api/v1/dashboard")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(dashboard["assets"], 0, "{who}: {dashboard}");
        let open: i64 = dashboard["open_findings"]
            .as_object()
            .unwrap()
            .values()
            .map(|count| count.as_i64().unwrap())
            .sum();
        assert_eq!(open, 0, "{who}: {dashboard}");
    }

    // And A still has all of it.
    let response = a
        .request(
            &fleet,
            Method::GET,
            &format!("/api/v1/findings/{finding_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    fleet.stop().await.unwrap();
}
