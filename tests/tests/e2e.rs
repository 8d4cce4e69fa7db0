//! The whole fleet through the gateway: the demo scan end to end, and what bad input gets.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use s4e_bus::topology::DISPATCH_ROUTING_KEY;
use s4e_bus::{Bus, BusOptions, Exchange};
use s4e_e2e::{Fleet, Target};
use s4e_test_dns::Rec;
use s4e_test_support::wait_for;
use s4e_types::RunStatus;
use serde_json::{Value, json};

const SCAN_DEADLINE: Duration = Duration::from_secs(60);

fn rules(findings: &[Value]) -> BTreeSet<String> {
    findings
        .iter()
        .map(|finding| finding["rule"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_scan_crosses_every_service_and_reports_exact_findings() {
    let fleet = Fleet::start().await.unwrap();
    let vulnerable = Target::demo(false).await;
    let hardened = Target::demo(true).await;

    // The misconfigured shop: exactly the problems it has, from the three web checks and the
    // crawl a URL gets by default (no HSTS finding: it is HTTP).
    let asset = fleet.create_url_asset(&vulnerable.url).await.unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
    assert_eq!((view.run.jobs_total, view.run.jobs_completed), (4, 4));
    let progress = view.progress.expect("live progress in redis");
    assert_eq!(
        (progress.status.as_str(), progress.jobs_done),
        ("completed", 4)
    );
    let findings = fleet.findings(&run_id).await.unwrap();
    let by_check = |check: &str| -> BTreeSet<String> {
        findings
            .iter()
            .filter(|f| f["check"] == check)
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |rules: &[&str]| -> BTreeSet<String> {
        rules.iter().map(|rule| rule.to_string()).collect()
    };
    assert_eq!(
        by_check("http_headers"),
        set(&[
            "cookie_without_httponly",
            "cookie_without_samesite",
            "missing_clickjacking_protection",
            "missing_csp",
            "missing_referrer_policy",
            "missing_x_content_type_options",
            "server_version_disclosure",
            "x_powered_by_disclosure",
        ])
    );
    assert_eq!(
        by_check("http_probes"),
        set(&["no_https_redirect", "trace_enabled"])
    );
    // Its unknown paths are soft-404s: only the two files it really serves are found.
    assert_eq!(
        by_check("exposure"),
        set(&["env_file_exposed", "git_repository_exposed"])
    );
    // The crawl reaches the sign-in page, whose form sends the password over plain HTTP.
    assert_eq!(by_check("crawl"), set(&["password_form_over_http"]));
    assert_eq!(findings.len(), 13);
    assert_eq!(rules(&findings).len(), 13, "one finding per rule");
    assert_eq!(view.run.findings_count, 13);
    let locations: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f["check"] == "exposure")
        .map(|f| f["location"].as_str().unwrap())
        .collect();
    let at = |path: &str| format!("{}{path}", vulnerable.url);
    assert_eq!(
        locations,
        BTreeSet::from([at(".env").as_str(), at(".git/HEAD").as_str()])
    );
    let server = findings
        .iter()
        .find(|f| f["rule"] == "server_version_disclosure")
        .unwrap();
    assert_eq!(server["location"], vulnerable.url.as_str());
    assert!(server["evidence"].to_string().contains("Apache/2.4.41"));
    // The raw response is in MongoDB, linked from the finding.
    assert!(server["raw_output_id"].as_str().is_some());
    // Cookie values and the .env's secrets are never stored with a finding.
    let all_evidence = Value::Array(findings.iter().map(|f| f["evidence"].clone()).collect());
    assert!(!all_evidence.to_string().contains("demo-session-0001"));
    assert!(!all_evidence.to_string().contains("demo-password-not-real"));

    // Scanning again finds the same problems without duplicating them.
    let again = fleet.start_scan(&asset).await.unwrap();
    fleet.wait_for_scan(&again, SCAN_DEADLINE).await.unwrap();
    let response = fleet
        .request(Method::GET, &format!("/findings?asset_id={asset}"))
        .send()
        .await
        .unwrap();
    let all: Value = response.json().await.unwrap();
    let all = all["items"].as_array().unwrap();
    assert_eq!(all.len(), 13);
    assert!(all.iter().all(|f| f["occurrences"] == 2));

    // The well-configured shop (plain HTTP only redirects to HTTPS): a completed scan with no
    // finding at all.
    let asset = fleet.create_url_asset(&hardened.url).await.unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
    assert_eq!(fleet.findings(&run_id).await.unwrap(), Vec::<Value>::new());

    // The trigger service received the scan.completed events.
    wait_for(
        "three scan.completed events",
        Duration::from_secs(10),
        || async {
            let text = fleet.metrics_text(&fleet.trigger.url()).await?;
            text.contains("s4e_trigger_events_total{type=\"scan.completed\"} 3")
                .then_some(())
        },
    )
    .await
    .unwrap();

    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_target_fails_the_run_with_the_reason() {
    let fleet = Fleet::start().await.unwrap();
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = s4e_test_support::listener().await;
        listener.local_addr().unwrap()
    };
    let asset = fleet
        .create_url_asset(&format!("http://{closed}/"))
        .await
        .unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Failed);
    // The three web checks and the crawl a URL gets, each unable to connect.
    assert_eq!(view.run.jobs_failed, 4);
    let error = view.run.error.unwrap();
    assert!(error.contains("unreachable"), "{error}");
    assert!(fleet.findings(&run_id).await.unwrap().is_empty());
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_asset_pointing_at_the_platform_itself_is_refused_even_where_private_targets_are_allowed()
 {
    // The test fleet allows private and loopback targets, as an on-premises deployment may.
    let fleet = Fleet::start().await.unwrap();
    // Named by its address, a service the gateway knows is refused when registered…
    for service in [fleet.base.url(), fleet.scan.url(), fleet.core.url()] {
        let response = fleet
            .request(reqwest::Method::POST, "/assets")
            .json(&json!({"kind": "url", "value": format!("{service}/")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{service}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"]["message"],
            "value: one of the platform's own services, never scanned"
        );
    }
    // …and by a name, when the scan resolves it.
    let port = fleet.base.url().rsplit(':').next().unwrap().to_string();
    let asset = fleet
        .create_url_asset(&format!("http://localhost:{port}/"))
        .await
        .unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Failed);
    assert_eq!(view.run.jobs_failed, 4);
    let error = view.run.error.unwrap();
    assert!(
        error.contains("one of the platform's own services"),
        "{error}"
    );
    assert!(fleet.findings(&run_id).await.unwrap().is_empty());
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_and_the_fleet_keeps_working() {
    let fleet = Fleet::start().await.unwrap();
    let bus = Bus::connect(
        &fleet.env.amqp_url,
        &fleet.env.namespace,
        BusOptions::default(),
    )
    .await
    .unwrap();
    bus.publish_bytes(
        Exchange::Dispatch,
        DISPATCH_ROUTING_KEY,
        b"{\"type\": \"scan.job\", oops",
    )
    .await
    .unwrap();
    // The dispatcher keeps what reaches the dead-letter queue, for operators to see.
    let letters = format!("{}/internal/v1/dead-letters", fleet.dispatcher.url());
    let dead = wait_for(
        "the poison message in the dead-letter queue",
        Duration::from_secs(20),
        || async {
            let list: Value = fleet
                .http
                .get(&letters)
                .header("x-s4e-service-token", &fleet.env.service_token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            list["items"].as_array()?.first().cloned()
        },
    )
    .await
    .unwrap();
    assert!(
        dead["reason"]
            .as_str()
            .unwrap()
            .starts_with("malformed message"),
        "{dead}"
    );
    assert_eq!(dead["body"], "{\"type\": \"scan.job\", oops");

    // The dispatcher is still consuming: a real scan completes.
    let target = Target::demo(true).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed);
    bus.close().await;
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn the_gateway_refuses_bad_input_and_foreign_ids() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    let code = |body: &Value| {
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    // No key, a malformed key, a well-formed key that does not exist.
    let response = fleet.http.get(fleet.api("/assets")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(code(&response.json().await.unwrap()), "unauthorized");
    let response = fleet
        .http
        .get(fleet.api("/assets"))
        .header("x-api-key", "s4e_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let forged = s4e_core::api_key::generate().key;
    let response = fleet
        .http
        .get(fleet.api("/assets"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // X-API-Key works as well as Bearer.
    let response = fleet
        .http
        .get(fleet.api("/assets"))
        .header("x-api-key", &fleet.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Malformed JSON, a field of the wrong type, an unknown field, an oversized body.
    for body in [
        "{\"kind\": ",
        "{\"kind\": \"url\", \"value\": 7}",
        "{\"kind\":\"url\",\"value\":\"http://a.test/\",\"extra\":1}",
    ] {
        let response = fleet
            .request(Method::POST, "/assets")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(code(&response.json().await.unwrap()), "bad_request");
    }
    let response = fleet
        .request(Method::POST, "/assets")
        .header("content-type", "application/json")
        .body(format!(
            "{{\"kind\":\"url\",\"value\":\"{}\"}}",
            "a".repeat(2 << 20)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": "not-a-uuid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Unknown ids and another organization's ids answer the same 404.
    let unknown = "01a20f5a-0000-7000-8000-000000000000";
    for path in [format!("/scans/{unknown}"), format!("/assets/{unknown}")] {
        let response = fleet.request(Method::GET, &path).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let other_key =
        s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
            .await
            .unwrap();
    let as_other = |method: Method, path: String| {
        fleet
            .http
            .request(method, fleet.api(&path))
            .bearer_auth(&other_key)
    };
    let response = as_other(Method::GET, format!("/scans/{run_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = as_other(Method::GET, format!("/assets/{asset}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = as_other(Method::POST, "/scans".into())
        .json(&json!({"asset_id": asset}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = as_other(Method::GET, format!("/findings?scan_id={run_id}"))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["items"], json!([]));

    // The service token opens no public route: internal headers are stripped at the door.
    let response = fleet
        .http
        .get(fleet.api("/assets"))
        .header("x-s4e-service-token", &fleet.env.service_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // The gateway's metrics are for the cluster's scraper, which presents the token.
    let metrics = format!("{}/metrics", fleet.core.url());
    let response = fleet.http.get(&metrics).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = fleet
        .http
        .get(&metrics)
        .header("x-s4e-service-token", &fleet.env.service_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("s4e_http_requests_total")
    );
    // Internal services refuse calls without the token.
    let response = fleet
        .http
        .get(format!("{}/internal/v1/catalog", fleet.scan.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn every_service_serves_health_readiness_metrics_and_the_gateway_its_openapi() {
    let fleet = Fleet::start().await.unwrap();
    for (name, served) in fleet.services() {
        let healthz = fleet
            .http
            .get(format!("{}/healthz", served.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(healthz.status(), 200, "{name}");
        let readyz: Value = fleet
            .http
            .get(format!("{}/readyz", served.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(readyz["ready"], true, "{name}: {readyz}");
        if name == "core" {
            continue;
        }
        let metrics = fleet
            .http
            .get(format!("{}/metrics", served.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200, "{name}");
        let text = metrics.text().await.unwrap();
        assert!(text.contains("s4e_http_requests_total"), "{name}: {text}");
    }
    let response = fleet
        .http
        .get(fleet.api("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/assets",
        "/api/v1/assets/{asset_id}",
        "/api/v1/assets/{asset_id}/verify",
        "/api/v1/scans",
        "/api/v1/scans/{scan_id}",
        "/api/v1/scans/{scan_id}/cancel",
        "/api/v1/scans/{scan_id}/events",
        "/api/v1/scans/{scan_id}/jobs",
        "/api/v1/catalog",
        "/api/v1/scan-settings",
        "/api/v1/findings",
        "/api/v1/findings/{finding_id}",
        "/api/v1/findings/bulk-status",
        "/api/v1/findings/export",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{key_id}",
        "/api/v1/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/invitations",
        "/api/v1/invitations/accept",
        "/api/v1/me",
        "/api/v1/me/sessions",
        "/api/v1/me/sessions/{session_id}",
        "/api/v1/me/password",
        "/api/v1/me/totp",
        "/api/v1/me/totp/confirm",
        "/api/v1/me/totp/disable",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/users/{user_id}/asset-scope",
        "/api/v1/audit-log",
        "/api/v1/dashboard",
        "/api/v1/customers",
        "/api/v1/portfolio",
        "/api/v1/dead-letters",
        "/api/v1/dead-letters/{letter_id}/replay",
    ] {
        assert!(
            document["paths"][path].is_object(),
            "{path} is not documented"
        );
    }
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_job_delivered_twice_is_applied_once() {
    use s4e_client::BaseClient;
    use s4e_types::api::{NewScanJob, NewScanRun};
    use s4e_types::{AssetId, CheckKind, Envelope, FindingQuery, JobSpec, Message, OrgId};

    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset_id: AssetId = fleet
        .create_url_asset(&target.url)
        .await
        .unwrap()
        .parse()
        .unwrap();
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();
    let asset_view: Value = fleet
        .request(Method::GET, &format!("/assets/{asset_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org_id: OrgId = asset_view["org_id"].as_str().unwrap().parse().unwrap();
    let created = base
        .create_run(
            org_id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id,
                profile: "custom".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: target.url.clone(),
                    ports: None,
                }],
            },
        )
        .await
        .unwrap();
    let job = &created.jobs[0];

    // The same envelope twice, as a redelivery or a publisher retry would produce.
    let bus = Bus::connect(
        &fleet.env.amqp_url,
        &fleet.env.namespace,
        BusOptions::default(),
    )
    .await
    .unwrap();
    let envelope = Envelope::new(org_id, Message::ScanJob(JobSpec::from(job)));
    for _ in 0..2 {
        bus.publish(Exchange::Dispatch, DISPATCH_ROUTING_KEY, &envelope)
            .await
            .unwrap();
    }
    let run_id = created.run.id.to_string();
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed);
    // Both deliveries are handled: one finished the job, the other found it finished (before
    // or after running the check, depending on which came first).
    let finished_once = "s4e_worker_jobs_total{check=\"http_headers\",status=\"completed\"} 1";
    let one_duplicate = "s4e_worker_redeliveries_total{check=\"http_headers\"} 1";
    wait_for(
        "both deliveries handled",
        Duration::from_secs(10),
        || async {
            let text = fleet.metrics_text(&fleet.dispatcher.url()).await?;
            (text.contains(finished_once) && text.contains(one_duplicate)).then_some(())
        },
    )
    .await
    .unwrap();
    let run = base.get_run(org_id, created.run.id).await.unwrap();
    // The headers check alone: the six header problems and the two of the session cookie.
    assert_eq!(
        (run.jobs_completed, run.jobs_failed, run.findings_count),
        (1, 0, 8)
    );
    let findings = base
        .list_findings(org_id, &FindingQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(findings.len(), 8);
    assert!(findings.iter().all(|finding| finding.occurrences == 1));
    bus.close().await;
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_port_scan_runs_through_the_fleet_and_finds_the_exposed_database() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    // A URL asset gets the headers check by default; its host's ports only on request.
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset, "checks": ["ports"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["jobs_total"], 1);
    let run_id = run["id"].as_str().unwrap().to_string();
    let view = fleet
        .wait_for_scan(&run_id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");

    // The PostgreSQL server this suite runs on listens on the scanned host: an exposed
    // database, identified as PostgreSQL.
    let postgres = std::env::var("S4E_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    let port = postgres
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or(5432);
    let findings = fleet.findings(&run_id).await.unwrap();
    let location = format!("127.0.0.1:{port}");
    let database = findings
        .iter()
        .find(|f| f["location"] == location.as_str())
        .unwrap_or_else(|| panic!("no finding at {location}: {findings:?}"));
    assert_eq!(database["rule"], "exposed_database");
    assert_eq!(database["check"], "ports");
    assert!(
        database["evidence"].to_string().contains("postgres"),
        "{database}"
    );
    // Every finding of the run is a port finding on the scanned host.
    assert!(findings.iter().all(
        |f| f["check"] == "ports" && f["location"].as_str().unwrap().starts_with("127.0.0.1:")
    ));

    // A check that does not exist is refused by name.
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset, "checks": ["teleport"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn api_keys_are_scoped_listed_without_secrets_and_revocable() {
    let fleet = Fleet::start().await.unwrap();
    let create = |scopes: Value| {
        fleet
            .request(Method::POST, "/api-keys")
            .json(&json!({"name": "ci", "scopes": scopes}))
    };

    // A read-only key reads, and is refused anything that changes state.
    let response = create(json!(["read"])).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let read_key = created["key"].as_str().unwrap().to_string();
    let read_id = created["id"].as_str().unwrap().to_string();
    assert!(read_key.starts_with(created["prefix"].as_str().unwrap()));
    let as_reader = |method: Method, path: &str| {
        fleet
            .http
            .request(method, fleet.api(path))
            .bearer_auth(&read_key)
    };
    assert_eq!(
        as_reader(Method::GET, "/assets")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let response = as_reader(Method::POST, "/assets")
        .json(&json!({"kind": "url", "value": "http://a.test/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = as_reader(Method::POST, "/api-keys")
        .json(&json!({"name": "escalate", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        as_reader(Method::GET, "/api-keys")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // Bad requests name the field.
    for (body, field) in [
        (json!({"name": "x", "scopes": ["root"]}), "scopes"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "", "scopes": ["read"]}), "name"),
        (
            json!({"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
    ] {
        let response = fleet
            .request(Method::POST, "/api-keys")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{error}"
        );
    }

    // The list shows both keys, and no secret or hash.
    let listed: Value = fleet
        .request(Method::GET, "/api-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let text = listed.to_string();
    assert!(
        !text.contains(&read_key) && !text.contains("key_hash"),
        "{text}"
    );

    // Another organization cannot revoke it; its own admin can, and then it is refused.
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let response = fleet
        .http
        .delete(fleet.api(&format!("/api-keys/{read_id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        as_reader(Method::GET, "/assets")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let response = fleet
        .request(Method::DELETE, &format!("/api-keys/{read_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let revoked: Value = response.json().await.unwrap();
    assert_eq!(revoked["revoked"], true);
    assert_eq!(
        as_reader(Method::GET, "/assets")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_https_asset_gets_its_certificate_and_protocols_checked() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo_https(true).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    // An https URL gets the web checks, both TLS checks and the crawl by default.
    assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
    assert_eq!((view.run.jobs_total, view.run.jobs_completed), (6, 6));
    let findings = fleet.findings(&run_id).await.unwrap();
    let by_check = |check: &str| {
        let found: BTreeSet<String> = findings
            .iter()
            .filter(|f| f["check"] == check)
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect();
        found
    };
    // The certificate is self-signed, and names the address it is served on.
    assert_eq!(
        by_check("tls_certificate"),
        BTreeSet::from(["self_signed_certificate".to_string()])
    );
    // rustls offers TLS 1.2 and 1.3 with ECDHE and AEAD suites only: nothing to report.
    assert_eq!(by_check("tls_protocols"), BTreeSet::new());
    // The hardened shop sends every header but HSTS, which only counts over HTTPS.
    assert_eq!(
        by_check("http_headers"),
        BTreeSet::from(["missing_hsts".to_string()])
    );
    // Over HTTPS, with secure cookies, real 404s and no TRACE: nothing for the other checks.
    assert_eq!(by_check("http_probes"), BTreeSet::new());
    assert_eq!(by_check("exposure"), BTreeSet::new());
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_domains_dns_problems_are_found_through_the_fleet() {
    let fleet = Fleet::start().await.unwrap();
    // The zone, in the fleet's own DNS server: signed, without SPF or DMARC, and with www
    // still pointing at a Heroku app that was deleted.
    fleet
        .dns
        .add("neglected.test", Rec::Soa)
        .add("neglected.test", Rec::Dnskey)
        .add("neglected.test", Rec::A("192.0.2.1".parse().unwrap()))
        .add(
            "www.neglected.test",
            Rec::Cname("deleted-app.herokuapp.com".into()),
        );
    let asset = fleet
        .create_asset("domain", "neglected.test")
        .await
        .unwrap();
    // Only the DNS check: the others would connect to the domain's (documentation) address.
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset, "checks": ["dns"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["jobs_total"], 1);
    let run_id = run["id"].as_str().unwrap().to_string();
    let view = fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");

    let findings = fleet.findings(&run_id).await.unwrap();
    let found: BTreeSet<(String, String)> = findings
        .iter()
        .map(|f| {
            assert_eq!(f["check"], "dns", "{f}");
            (
                f["rule"].as_str().unwrap().to_string(),
                f["location"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("spf_missing", "neglected.test"),
        ("dmarc_missing", "_dmarc.neglected.test"),
        ("dangling_cname", "www.neglected.test"),
    ]
    .map(|(rule, location)| (rule.to_string(), location.to_string()));
    assert_eq!(found, BTreeSet::from(expected), "{findings:?}");
    let dangling = findings
        .iter()
        .find(|f| f["rule"] == "dangling_cname")
        .unwrap();
    assert_eq!(dangling["severity"], "high");
    assert_eq!(dangling["evidence"]["cname"], "deleted-app.herokuapp.com");
    // The resolver the fleet was given is the only one asked.
    assert!(
        fleet
            .dns
            .queries()
            .contains(&"TXT _dmarc.neglected.test".to_string())
    );

    // DNS records are a domain's: a URL asset cannot have them checked.
    let url_asset = fleet
        .create_url_asset("http://neglected.test/")
        .await
        .unwrap();
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": url_asset, "checks": ["dns"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    fleet.stop().await.unwrap();
}

/// Every internal route declared in `s4e_types::routes` (the only paths `s4e-client` calls) is
/// served by its service: asked with the service token, made-up ids and no body, it is never
/// answered `no_route`, whatever its handler then says of the request.
#[tokio::test]
async fn every_declared_internal_route_is_served_by_its_service() {
    use s4e_types::routes::{self, Verb};
    let fleet = Fleet::start().await.unwrap();
    let nil = "00000000-0000-0000-0000-000000000000";
    let call = |service: &s4e_runtime::Served, verb: Verb, path: String| {
        fleet
            .http
            .request(
                s4e_runtime::routes::method(verb),
                format!("{}{path}", service.url()),
            )
            .header("x-s4e-service-token", &fleet.env.service_token)
            .send()
    };
    let tables = [
        ("base", &fleet.base, routes::base::ALL),
        ("scan", &fleet.scan, routes::scan::ALL),
        ("dispatcher", &fleet.dispatcher, routes::dispatcher::ALL),
        ("trigger", &fleet.trigger, routes::trigger::ALL),
        ("crawler", &fleet.crawler, routes::crawler::ALL),
    ];
    let mut called = 0;
    for (name, service, routes) in tables {
        for route in routes {
            let params =
                vec![&nil as &(dyn std::fmt::Display + Sync); route.path.matches('{').count()];
            let response = call(service, route.verb, route.fill(&params))
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["error"]["code"], "no_route",
                "{name}: {route:?} answered {status}"
            );
            assert!(
                status != 405 && status != 401,
                "{name}: {route:?} answered {status}"
            );
            called += 1;
        }
    }
    assert!(called > 50, "{called} routes");

    // The code the assertion looks for is what an unserved route gets.
    let response = call(&fleet.base, Verb::Get, "/internal/v1/nowhere".into())
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_route");
    let response = call(&fleet.base, Verb::Delete, routes::base::SIGNUP.path.into())
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_route");
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_change_is_recorded_once_by_whoever_stores_it() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset_id = fleet.create_url_asset(&target.url).await.unwrap();
    // Stored by base one service further in (the scan starter creates the run).
    let run_id = fleet.start_scan(&asset_id).await.unwrap();
    // Refused by base (no such asset): recorded by the gateway with its answer.
    let refused = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": "01a20f5a-0000-7000-8000-000000000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);

    let log: Value = fleet
        .request(Method::GET, "/audit-log")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log["items"].as_array().unwrap();
    let of = |action: &str| -> Vec<&Value> {
        entries.iter().filter(|e| e["action"] == action).collect()
    };
    let created = of("assets.create");
    assert_eq!(created.len(), 1, "{entries:#?}");
    assert_eq!(created[0]["resource_id"], asset_id.as_str());
    let scans = of("scans.create");
    assert_eq!(scans.len(), 2, "{entries:#?}");
    let started = scans.iter().find(|e| e["outcome"] == 202).unwrap();
    assert_eq!(started["resource_id"], run_id.as_str());
    assert_eq!(started["actor_kind"], "api_key");
    assert_eq!(started["ip"], "127.0.0.1");
    assert!(started["trace_id"].is_string());
    let refused = scans.iter().find(|e| e["outcome"] == 404).unwrap();
    assert_eq!(refused["resource_id"], Value::Null);
    fleet
        .wait_for_scan(&run_id, Duration::from_secs(60))
        .await
        .unwrap();
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn scans_are_listed_newest_first_filtered_and_paged() {
    let fleet = Fleet::start().await.unwrap();
    let shop = Target::demo(false).await;
    let other_shop = Target::demo(true).await;
    let first = fleet.create_url_asset(&shop.url).await.unwrap();
    let second = fleet.create_url_asset(&other_shop.url).await.unwrap();
    let mut started = Vec::new();
    for asset in [&first, &second, &first] {
        let response = fleet
            .request(Method::POST, "/scans")
            .json(&json!({"asset_id": asset, "profile": "light"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let run: Value = response.json().await.unwrap();
        started.push(run["id"].as_str().unwrap().to_string());
    }
    for run in &started {
        fleet
            .wait_for_scan(run, Duration::from_secs(60))
            .await
            .unwrap();
    }
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["id"].as_str().unwrap().to_string())
            .collect()
    };
    let newest_first: Vec<String> = started.iter().rev().cloned().collect();
    let all = fleet.get_json("/scans").await;
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all["next_cursor"], Value::Null);
    let of_first = fleet.get_json(&format!("/scans?asset_id={first}")).await;
    assert_eq!(ids(&of_first), [started[2].clone(), started[0].clone()]);
    assert_eq!(
        ids(&fleet
            .get_json("/scans?status=completed&profile=light")
            .await)
        .len(),
        3
    );
    assert!(ids(&fleet.get_json("/scans?status=queued").await).is_empty());
    assert!(ids(&fleet.get_json("/scans?since=2999-01-01T00:00:00Z").await).is_empty());

    // Pages of two, the cursor leading to the rest.
    let page = fleet.get_json("/scans?limit=2").await;
    assert_eq!(ids(&page), newest_first[..2]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = fleet
        .get_json(&format!("/scans?limit=2&before={cursor}"))
        .await;
    assert_eq!(ids(&rest), newest_first[2..]);
    assert_eq!(rest["next_cursor"], Value::Null);

    for bad in [
        "/scans?limit=0",
        "/scans?limit=501",
        "/scans?status=bogus",
        "/scans?asset_id=7",
    ] {
        let response = fleet.request(Method::GET, bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    // Another organization sees none of them, even naming the asset.
    let other_key =
        s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
            .await
            .unwrap();
    let theirs: Value = fleet
        .http
        .get(fleet.api(&format!("/scans?asset_id={first}")))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ids(&theirs).is_empty(), "{theirs}");

    // A scan's jobs: a light scan of an http URL is one header check.
    let jobs = fleet.get_json(&format!("/scans/{}/jobs", started[0])).await;
    let jobs = jobs["items"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["check"], "http_headers");
    assert_eq!(jobs[0]["status"], "completed");
    assert_eq!(jobs[0]["target"], shop.url.as_str());
    let response = fleet
        .http
        .get(fleet.api(&format!("/scans/{}/jobs", started[0])))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_unverified_assets_job_errors_do_not_tell_how_the_target_failed() {
    use s4e_client::BaseClient;

    let fleet = Fleet::start().await.unwrap();
    // Nothing listens on the discard port: the connection is refused.
    let asset_id = fleet.create_url_asset("http://127.0.0.1:9/").await.unwrap();
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset_id, "profile": "light"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let run: Value = response.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap();
    fleet
        .wait_for_scan(run_id, Duration::from_secs(60))
        .await
        .unwrap();

    let jobs = fleet.get_json(&format!("/scans/{run_id}/jobs")).await;
    let job = &jobs["items"][0];
    assert_eq!(job["status"], "failed", "{jobs}");
    let shown = job["error"].as_str().unwrap();
    assert!(
        shown.starts_with("the target could not be checked"),
        "{shown}"
    );
    // Base keeps the detail, for when the asset is proven to be the organization's.
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();
    let org_id = job["org_id"].as_str().unwrap().parse().unwrap();
    let stored = base
        .run_jobs(org_id, run_id.parse().unwrap())
        .await
        .unwrap();
    let detail = stored[0].error.as_deref().unwrap();
    assert!(detail.contains("refused"), "{detail}");
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_archived_asset_keeps_its_history_and_is_no_longer_scanned() {
    let fleet = Fleet::start().await.unwrap();
    let shop = Target::demo(false).await;
    let asset_id = fleet.create_url_asset(&shop.url).await.unwrap();
    let run_id = fleet.start_scan(&asset_id).await.unwrap();
    fleet
        .wait_for_scan(&run_id, Duration::from_secs(60))
        .await
        .unwrap();
    let findings = fleet.findings(&run_id).await.unwrap();
    assert!(!findings.is_empty());

    let renamed = fleet
        .request(Method::PATCH, &format!("/assets/{asset_id}"))
        .json(&json!({"name": "The shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "The shop");
    let archived = fleet
        .request(Method::DELETE, &format!("/assets/{asset_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), 200);
    assert!(archived.json::<Value>().await.unwrap()["archived_at"].is_string());

    assert_eq!(fleet.get_json("/assets").await["items"], json!([]));
    let with_archived = fleet.get_json("/assets?archived=true").await;
    assert_eq!(with_archived["items"][0]["id"], asset_id.as_str());
    assert_eq!(
        fleet.get_json(&format!("/assets/{asset_id}")).await["name"],
        "The shop"
    );
    let refused = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    // The history stays.
    assert_eq!(fleet.findings(&run_id).await.unwrap().len(), findings.len());
    let audit = fleet.get_json("/audit-log?resource_type=asset").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"assets.archive") && actions.contains(&"assets.update"),
        "{actions:?}"
    );

    // Another organization's id is not found.
    let other_key =
        s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
            .await
            .unwrap();
    let response = fleet
        .http
        .delete(fleet.api(&format!("/assets/{asset_id}")))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    fleet.stop().await.unwrap();
}

/// A large read answers with an entity tag; asking again with it gets 304 and no body until
/// the answer changes (here: an asset renamed), and a change is never answered 304. A small
/// answer carries no tag.
#[tokio::test]
async fn a_read_is_answered_not_modified_until_it_changes() {
    let fleet = Fleet::start().await.unwrap();
    let mut asset_id = String::new();
    for index in 0..4 {
        let value = format!("tagged{index}.example.com");
        asset_id = fleet.create_asset("domain", &value).await.unwrap();
    }
    let read = |tag: Option<String>| {
        let mut request = fleet.request(Method::GET, "/assets");
        if let Some(tag) = tag {
            request = request.header("if-none-match", tag);
        }
        request.send()
    };
    let first = read(None).await.unwrap();
    assert_eq!(first.status(), 200);
    let tag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    assert!(first.bytes().await.unwrap().len() >= 1024);

    let again = read(Some(tag.clone())).await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), tag);
    assert!(again.bytes().await.unwrap().is_empty());
    // Another tag, or a weak form of this one in a list.
    assert_eq!(read(Some("\"other\"".into())).await.unwrap().status(), 200);
    let listed = format!("\"other\", W/{tag}");
    assert_eq!(read(Some(listed)).await.unwrap().status(), 304);

    let renamed = fleet
        .request(Method::PATCH, &format!("/assets/{asset_id}"))
        .header("if-none-match", "*")
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200, "a change is made whatever the tag");
    let changed = read(Some(tag.clone())).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), tag);

    let small = fleet.request(Method::GET, "/me").send().await.unwrap();
    assert_eq!(small.status(), 200);
    assert!(!small.headers().contains_key("etag"));
    fleet.stop().await.unwrap();
}

/// Every item of a list, read `limit` at a time by following `next_cursor` as `after`.
async fn every_page(fleet: &Fleet, path: &str, limit: u32) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut after) = (Vec::new(), 0, None::<String>);
    loop {
        let cursor = after
            .map(|after| format!("&after={after}"))
            .unwrap_or_default();
        let page = fleet
            .get_json(&format!("{path}?limit={limit}{cursor}"))
            .await;
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit as usize, "{page}");
        items.extend(got.iter().cloned());
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => return (items, pages),
        }
    }
}

#[tokio::test]
async fn assets_users_and_keys_are_listed_in_cursor_pages() {
    let fleet = Fleet::start().await.unwrap();
    let mut registered = Vec::new();
    for index in 0..5 {
        registered.push(
            fleet
                .create_asset("domain", &format!("page{index}.example.com"))
                .await
                .unwrap(),
        );
    }
    // Five assets, two at a time: three pages, oldest first, each once.
    let (assets, pages) = every_page(&fleet, "/assets", 2).await;
    assert_eq!(pages, 3);
    let ids: Vec<&str> = assets.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        registered.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // Keys, newest first: the admin key and three more.
    for name in ["one", "two", "three"] {
        let response = fleet
            .request(Method::POST, "/api-keys")
            .json(&json!({"name": name, "scopes": ["read"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let (keys, pages) = every_page(&fleet, "/api-keys", 3).await;
    assert_eq!((keys.len(), pages), (4, 2));
    assert_eq!(keys[0]["name"], "three");
    let (_, pages) = every_page(&fleet, "/users", 1).await;
    assert_eq!(pages, 1);
    // Limits out of range are refused naming the parameter.
    for path in ["/assets?limit=0", "/users?limit=1001", "/api-keys?limit=-1"] {
        let response = fleet.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    fleet.stop().await.unwrap();
}
