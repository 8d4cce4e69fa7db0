//! Findings through the whole fleet: a scan of the demo shop, then listing in pages, triage
//! with scoped keys, a re-scan that respects the decisions, exports that parse back, and the
//! audit entries the changes leave.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};
use reqwest::{Method, StatusCode};
use s4e_e2e::{Fleet, Target};
use s4e_types::RunStatus;
use serde_json::{Value, json};

const SCAN_DEADLINE: Duration = Duration::from_secs(60);

/// An API key of the fleet's organization with these scopes.
async fn key(fleet: &Fleet, scopes: Value) -> (String, String) {
    let response = fleet
        .request(Method::POST, "/api-keys")
        .json(&json!({"name": "findings", "scopes": scopes}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    (
        body["key"].as_str().unwrap().to_string(),
        body["prefix"].as_str().unwrap().to_string(),
    )
}

fn with_key(fleet: &Fleet, key: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    fleet.http.request(method, fleet.api(path)).bearer_auth(key)
}

async fn message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["message"].as_str().unwrap().to_string()
}

/// RFC 4180, enough to read back what the export writes.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// A scan of the URL's three web checks (the crawl left out: these tests count the web checks'
/// findings of the demo shop).
async fn web_scan(fleet: &Fleet, asset_id: &str) -> String {
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset_id, "checks": ["http_headers", "http_probes", "exposure"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let run: Value = response.json().await.unwrap();
    run["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn findings_are_paged_triaged_exported_and_audited_through_the_gateway() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let run_id = web_scan(&fleet, &asset).await;
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
    let findings = fleet.findings(&run_id).await.unwrap();
    assert_eq!(findings.len(), 12);
    let (write_key, write_prefix) = key(&fleet, json!(["write"])).await;
    let (read_key, _) = key(&fleet, json!(["read"])).await;
    let (findings_only, _) = key(&fleet, json!(["findings:read"])).await;

    // Pages of five: every finding once, in the default order.
    let mut paged = Vec::new();
    let mut path = format!("/findings?scan_id={run_id}&limit=5");
    loop {
        let page: Value = with_key(&fleet, &read_key, Method::GET, &path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        paged.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/findings?scan_id={run_id}&limit=5&cursor={cursor}"),
            None => break,
        }
    }
    let ids: HashSet<&str> = paged.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!((paged.len(), ids.len()), (12, 12));
    let rank = |f: &Value| {
        ["info", "low", "medium", "high", "critical"]
            .iter()
            .position(|s| f["severity"] == *s)
            .unwrap()
    };
    assert!(paged.windows(2).all(|w| rank(&w[0]) >= rank(&w[1])));
    // Filters: several severities, as a list or repeated.
    let severe: Value = with_key(
        &fleet,
        &read_key,
        Method::GET,
        "/findings?severity=medium&severity=high,critical&check=http_headers",
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let expected = findings
        .iter()
        .filter(|f| f["check"] == "http_headers" && rank(f) >= 2)
        .count();
    assert_eq!(severe["items"].as_array().unwrap().len(), expected);
    let refused = with_key(&fleet, &read_key, Method::GET, "/findings?status=closed")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(message(refused).await.starts_with("status:"));

    let by_rule = |rule: &str| -> String {
        findings
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let trace = by_rule("trace_enabled");

    // The raw output behind it: the probes' log, the TRACE request's echo in it.
    let raw: Value = fleet
        .get_json(&format!("/findings/{trace}/raw-output"))
        .await;
    let logged = raw.to_string();
    assert!(logged.contains("TRACE"), "{logged}");

    // Reading is not triaging.
    let refused = with_key(
        &fleet,
        &read_key,
        Method::PATCH,
        &format!("/findings/{trace}"),
    )
    .json(&json!({"status": "fixed"}))
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(message(refused).await.contains("findings:write"));
    let refused = with_key(&fleet, &read_key, Method::POST, "/findings/bulk-status")
        .json(&json!({"ids": [trace], "status": "fixed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A false positive needs its reason.
    let refused = with_key(
        &fleet,
        &write_key,
        Method::PATCH,
        &format!("/findings/{trace}"),
    )
    .json(&json!({"status": "false_positive"}))
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(message(refused).await.starts_with("reason:"));
    let response = with_key(
        &fleet,
        &write_key,
        Method::PATCH,
        &format!("/findings/{trace}"),
    )
    .json(&json!({"status": "false_positive", "reason": "TRACE is off in production"}))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let triaged: Value = response.json().await.unwrap();
    assert_eq!(triaged["status"], "false_positive");
    assert_eq!(triaged["status_changed_by"], write_prefix.as_str());
    let history = triaged["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["actor"]["kind"], "api_key");
    assert_eq!(history[0]["actor"]["label"], write_prefix.as_str());
    assert_eq!(history[0]["from_status"], "open");
    assert_eq!(history[0]["reason"], "TRACE is off in production");
    let read_back: Value = with_key(
        &fleet,
        &read_key,
        Method::GET,
        &format!("/findings/{trace}"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(read_back, triaged);
    // A path that cannot name a finding is the caller's mistake; an id that names none is not
    // found.
    for (missing, status) in [
        ("not-a-uuid", StatusCode::BAD_REQUEST),
        (
            "0190a000-0000-7000-8000-000000000000",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let response = with_key(
            &fleet,
            &read_key,
            Method::GET,
            &format!("/findings/{missing}"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), status, "{missing}");
    }

    // Another organization's people neither see nor change it: 404, as for an unknown id.
    let signup = fleet
        .http
        .post(fleet.api("/signup"))
        .json(&json!({
            "organization_name": "Elsewhere",
            "email": "owner@elsewhere.test",
            "password": "correct horse battery staple",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    let cookie = s4e_e2e::session_cookie(&signup);
    let session: Value = signup.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let as_stranger = |method: Method, path: &str| {
        fleet
            .http
            .request(method, fleet.api(path))
            .header(COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
    };
    for path in [
        format!("/findings/{trace}"),
        format!("/findings/{trace}/raw-output"),
    ] {
        let response = as_stranger(Method::GET, &path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = as_stranger(Method::PATCH, &format!("/findings/{trace}"))
        .json(&json!({"status": "fixed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = as_stranger(Method::POST, "/findings/bulk-status")
        .json(&json!({"ids": [trace], "status": "fixed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let theirs: Value = as_stranger(Method::GET, "/findings")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"], json!([]));

    // In bulk: an unknown id refuses the whole change.
    let csp = by_rule("missing_csp");
    let referrer = by_rule("missing_referrer_policy");
    let refused = with_key(&fleet, &write_key, Method::POST, "/findings/bulk-status")
        .json(&json!({
            "ids": [csp, referrer, "0190a000-0000-7000-8000-000000000000"],
            "status": "in_progress",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let response = with_key(&fleet, &write_key, Method::POST, "/findings/bulk-status")
        .json(&json!({"ids": [csp, referrer], "status": "in_progress"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result, json!({"changed": 2, "unchanged": 0}));

    // A complete re-scan sees them all again: the false positive stays one, and nothing is
    // fixed or reopened.
    let rescan = web_scan(&fleet, &asset).await;
    let view = fleet.wait_for_scan(&rescan, SCAN_DEADLINE).await.unwrap();
    assert_eq!(
        (view.run.status, view.run.jobs_failed),
        (RunStatus::Completed, 0)
    );
    let after = fleet.findings(&rescan).await.unwrap();
    assert_eq!(after.len(), 12);
    let status_of = |id: &str| -> String {
        after.iter().find(|f| f["id"] == id).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of(&trace), "false_positive");
    assert_eq!(status_of(&csp), "in_progress");
    let open: Value = with_key(&fleet, &read_key, Method::GET, "/findings?status=open")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(open["items"].as_array().unwrap().len(), 9);

    // Exports: same filters, three formats, each parsing back to the same findings.
    let export = |format: &str| {
        with_key(
            &fleet,
            &read_key,
            Method::GET,
            &format!("/findings/export?format={format}&scan_id={run_id}"),
        )
        .send()
    };
    let response = export("json").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(
        response.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"s4e-findings.json\""
    );
    let json_export: Vec<Value> = response.json().await.unwrap();
    assert_eq!(json_export.len(), 12);

    let response = export("csv").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let rows = read_csv(&response.text().await.unwrap());
    assert_eq!(rows.len(), 13, "a header and one row per finding");
    let header = &rows[0];
    let column = |name: &str| header.iter().position(|c| c == name).unwrap();
    assert!(rows.iter().all(|row| row.len() == header.len()));
    let csv_ids: HashSet<&str> = rows[1..].iter().map(|r| r[column("id")].as_str()).collect();
    assert_eq!(csv_ids, ids);
    let trace_row = rows.iter().find(|r| r[column("id")] == trace).unwrap();
    assert_eq!(trace_row[column("status")], "false_positive");
    assert_eq!(
        trace_row[column("status_reason")],
        "TRACE is off in production"
    );

    let response = export("sarif").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/sarif+json");
    let sarif: Value = response.json().await.unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "S4E");
    let rule_ids: BTreeSet<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    let expected_rules: BTreeSet<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{}/{}",
                f["check"].as_str().unwrap(),
                f["rule"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        rule_ids,
        expected_rules
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1, "the false positive");

    let refused = export("xml").await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(message(refused).await.starts_with("format:"));
    let refused = with_key(&fleet, &read_key, Method::GET, "/findings/export?limit=5")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    // Exporting is a permission of its own.
    let refused = with_key(&fleet, &findings_only, Method::GET, "/findings/export")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(message(refused).await.contains("exports:read"));

    // The audit log names each status change, who made it and how it ended.
    let log: Value = fleet
        .request(Method::GET, "/audit-log?resource_type=finding")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log["items"].as_array().unwrap();
    let outcomes = |action: &str| -> Vec<u64> {
        let mut outcomes: Vec<u64> = entries
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["outcome"].as_u64().unwrap())
            .collect();
        outcomes.sort_unstable();
        outcomes
    };
    assert_eq!(outcomes("findings.update_status"), [200, 400, 403]);
    assert_eq!(outcomes("findings.bulk_update_status"), [200, 403, 404]);
    let accepted = entries
        .iter()
        .find(|e| e["action"] == "findings.update_status" && e["outcome"] == 200)
        .unwrap();
    assert_eq!(accepted["resource_id"], trace.as_str());
    assert_eq!(accepted["actor_kind"], "api_key");
    assert_eq!(accepted["actor_label"], write_prefix.as_str());
    fleet.stop().await.unwrap();
}
