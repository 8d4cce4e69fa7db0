//! Scan profiles, the catalog, per-organization scan settings and live scan events, through
//! the gateway of a whole fleet.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use s4e_e2e::{Fleet, Target};
use s4e_types::RunStatus;
use serde_json::{Value, json};

const SCAN_DEADLINE: Duration = Duration::from_secs(60);

/// Starts a scan with `body` and returns the status and the answer.
async fn post_scan(fleet: &Fleet, body: Value) -> (u16, Value) {
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn checks_of(findings: &[Value]) -> BTreeSet<String> {
    findings
        .iter()
        .map(|finding| finding["check"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_catalog_lists_checks_and_profiles_and_profiles_plan_what_they_say() {
    let fleet = Fleet::start().await.unwrap();
    let response = fleet.request(Method::GET, "/catalog").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let catalog: Value = response.json().await.unwrap();
    let keys: Vec<&str> = catalog["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|definition| definition["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "http_headers",
            "ports",
            "tls_certificate",
            "tls_protocols",
            "http_probes",
            "exposure",
            "dns",
            "subdomains",
            "api_operations",
            "crawl"
        ]
    );
    let dns = &catalog["definitions"][6];
    assert_eq!(dns["executor"], "dns");
    assert_eq!(dns["applies_to"], json!(["domain"]));
    assert_eq!(dns["max_severity"], "high");
    let profile = |key: &str| {
        catalog["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|profile| profile["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no profile {key}"))
    };
    let light = profile("light");
    assert_eq!(light["checks"]["http_url"], json!(["http_headers"]));
    assert_eq!(
        light["checks"]["https_url"],
        json!(["http_headers", "tls_certificate"])
    );
    assert_eq!(
        light["checks"]["domain"],
        json!(["http_headers", "tls_certificate", "dns"])
    );
    assert_eq!(light["checks"]["ip"], json!(["http_headers"]));
    assert_eq!(
        profile("full")["checks"]["ip"],
        json!(["http_headers", "ports", "http_probes", "exposure", "crawl"])
    );
    assert_eq!(
        profile("full")["checks"]["api"],
        json!([
            "http_headers",
            "tls_certificate",
            "tls_protocols",
            "http_probes",
            "exposure",
            "api_operations",
            "crawl"
        ])
    );
    assert_eq!(profile("full")["checks"]["cidr"], json!(["ports"]));
    assert_eq!(profile("crawl_only")["available"], true);
    assert_eq!(profile("crawl_only")["checks"]["domain"], json!(["crawl"]));
    assert_eq!(profile("crawl_only")["checks"]["cidr"], json!([]));
    assert_eq!(profile("single")["takes_checks"], true);

    // A light scan of the demo shop runs the headers check alone: no probing, no exposed paths.
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let (status, run) = post_scan(&fleet, json!({"asset_id": asset, "profile": "light"})).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["profile"], "light");
    assert_eq!(run["jobs_total"], 1);
    let light_run = run["id"].as_str().unwrap().to_string();
    let view = fleet
        .wait_for_scan(&light_run, SCAN_DEADLINE)
        .await
        .unwrap();
    assert_eq!(view.run.status, RunStatus::Completed);
    let findings = fleet.findings(&light_run).await.unwrap();
    assert!(!findings.is_empty());
    assert_eq!(
        checks_of(&findings),
        BTreeSet::from(["http_headers".into()])
    );

    // No profile and no checks: the full profile, all three web checks of a URL and the crawl.
    let (status, run) = post_scan(&fleet, json!({"asset_id": asset})).await;
    assert_eq!(status, 202);
    assert_eq!(run["profile"], "full");
    assert_eq!(run["jobs_total"], 4);
    let full_run = run["id"].as_str().unwrap().to_string();
    fleet.wait_for_scan(&full_run, SCAN_DEADLINE).await.unwrap();
    let findings = fleet.findings(&full_run).await.unwrap();
    assert_eq!(
        checks_of(&findings),
        BTreeSet::from([
            "crawl".into(),
            "exposure".into(),
            "http_headers".into(),
            "http_probes".into()
        ])
    );

    // A light scan of a domain plans headers, certificate and DNS; of an IP, headers alone.
    let domain = fleet.create_asset("domain", "shop.test").await.unwrap();
    let (status, run) = post_scan(&fleet, json!({"asset_id": domain, "profile": "light"})).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["jobs_total"], 3);
    let ip = fleet.create_asset("ip", "127.0.0.1").await.unwrap();
    let (status, run) = post_scan(&fleet, json!({"asset_id": ip, "profile": "light"})).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["jobs_total"], 1);

    // single: exactly one named check.
    let (status, run) = post_scan(
        &fleet,
        json!({"asset_id": asset, "profile": "single", "checks": ["http_probes"]}),
    )
    .await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["profile"], "single");
    assert_eq!(run["jobs_total"], 1);
    for checks in [
        None,
        Some(json!([])),
        Some(json!(["http_headers", "exposure"])),
    ] {
        let mut body = json!({"asset_id": asset, "profile": "single"});
        if let Some(checks) = checks {
            body["checks"] = checks;
        }
        let (status, error) = post_scan(&fleet, body).await;
        assert_eq!(status, 400, "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("checks:"),
            "{error}"
        );
    }
    // Checks alone are custom, as before; a profile that chooses its checks takes none.
    let (status, run) = post_scan(&fleet, json!({"asset_id": asset, "checks": ["exposure"]})).await;
    assert_eq!(status, 202);
    assert_eq!(run["profile"], "custom");
    let (status, _) = post_scan(
        &fleet,
        json!({"asset_id": asset, "profile": "light", "checks": ["exposure"]}),
    )
    .await;
    assert_eq!(status, 400);
    // crawl_only plans the crawl alone; a range has no site to crawl.
    let (status, run) =
        post_scan(&fleet, json!({"asset_id": asset, "profile": "crawl_only"})).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(
        (run["profile"].as_str(), run["jobs_total"].as_i64()),
        (Some("crawl_only"), Some(1))
    );
    let range = fleet.create_asset("cidr", "127.64.9.0/30").await.unwrap();
    let (status, error) =
        post_scan(&fleet, json!({"asset_id": range, "profile": "crawl_only"})).await;
    assert_eq!(status, 409, "{error}");
    let (status, _) = post_scan(&fleet, json!({"asset_id": asset, "profile": "thorough"})).await;
    assert_eq!(status, 400);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn scan_settings_are_the_organizations_own_and_steer_its_scans() {
    let fleet = Fleet::start().await.unwrap();
    let response = fleet
        .request(Method::GET, "/scan-settings")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let defaults: Value = response.json().await.unwrap();
    assert_eq!(
        defaults,
        json!({"default_profile": "full", "disabled_checks": [], "port_scan": {"mode": "common"},
               "auto_approve_candidates": false})
    );

    // Invalid settings are refused, naming the field.
    for (body, field) in [
        (json!({"default_profile": "single"}), "default_profile"),
        (json!({"default_profile": "crawl_only"}), "default_profile"),
        (json!({"default_profile": "thorough"}), "default_profile"),
        (json!({"disabled_checks": ["teleport"]}), "disabled_checks"),
        (
            json!({"port_scan": {"mode": "list", "ports": []}}),
            "port_scan",
        ),
        (
            json!({"port_scan": {"mode": "list", "ports": [0]}}),
            "port_scan",
        ),
        (
            json!({"port_scan": {"mode": "list", "ports": [70000]}}),
            "port_scan",
        ),
        (json!({"port_scan": {"mode": "some"}}), "port_scan"),
        (json!({"ports": "all"}), "ports"),
    ] {
        let response = fleet
            .request(Method::PUT, "/scan-settings")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {error}"
        );
    }

    // A key that may start scans but not administer automation reads, and may not change.
    let response = fleet
        .request(Method::POST, "/api-keys")
        .json(&json!({"name": "ci", "scopes": ["write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let writer: Value = response.json().await.unwrap();
    let writer = writer["key"].as_str().unwrap().to_string();
    let response = fleet
        .http
        .get(fleet.api("/scan-settings"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = fleet
        .http
        .put(fleet.api("/scan-settings"))
        .bearer_auth(&writer)
        .json(&json!({"default_profile": "light"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Disable the probes, exposure and the crawl and make light the default.
    let settings = json!({
        "default_profile": "light",
        "disabled_checks": ["exposure", "http_probes", "exposure", "crawl"],
        "port_scan": {"mode": "list", "ports": [1]}
    });
    let response = fleet
        .request(Method::PUT, "/scan-settings")
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(
        stored["disabled_checks"],
        json!(["http_probes", "exposure", "crawl"])
    );
    let read: Value = fleet
        .request(Method::GET, "/scan-settings")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, stored);
    let audit: Value = fleet
        .request(
            Method::GET,
            "/audit-log?action=scan_settings.update&failed=false",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    // Another organization sees its own defaults, and its change leaves ours alone.
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let theirs: Value = fleet
        .http
        .get(fleet.api("/scan-settings"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, defaults);
    let response = fleet
        .http
        .put(fleet.api("/scan-settings"))
        .bearer_auth(&other)
        .json(&json!({"disabled_checks": ["http_headers"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ours: Value = fleet
        .request(Method::GET, "/scan-settings")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ours, stored);

    // The default is now light; full plans only what is left enabled, and disabled checks
    // never run, even when named.
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let (status, run) = post_scan(&fleet, json!({"asset_id": asset})).await;
    assert_eq!(status, 202);
    assert_eq!(run["profile"], "light");
    let (status, run) = post_scan(&fleet, json!({"asset_id": asset, "profile": "full"})).await;
    assert_eq!(status, 202);
    assert_eq!(run["jobs_total"], 1);
    let run_id = run["id"].as_str().unwrap().to_string();
    fleet.wait_for_scan(&run_id, SCAN_DEADLINE).await.unwrap();
    let findings = fleet.findings(&run_id).await.unwrap();
    assert_eq!(
        checks_of(&findings),
        BTreeSet::from(["http_headers".into()])
    );
    for body in [
        json!({"asset_id": asset, "profile": "single", "checks": ["exposure"]}),
        json!({"asset_id": asset, "checks": ["http_headers", "http_probes"]}),
    ] {
        let (status, error) = post_scan(&fleet, body).await;
        assert_eq!(status, 409, "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("disabled"),
            "{error}"
        );
    }

    // The port scan tries the organization's ports (and the URL's own), not the common ones:
    // the PostgreSQL server on this host is found only when its port is listed.
    let postgres = std::env::var("S4E_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    let port = postgres
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or(5432);
    let location = format!("127.0.0.1:{port}");
    let port_scan = async |ports: Value| {
        let response = fleet
            .request(Method::PUT, "/scan-settings")
            .json(&json!({"port_scan": ports}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (status, run) =
            post_scan(&fleet, json!({"asset_id": asset, "checks": ["ports"]})).await;
        assert_eq!(status, 202, "{run}");
        let run_id = run["id"].as_str().unwrap().to_string();
        let view = fleet
            .wait_for_scan(&run_id, Duration::from_secs(120))
            .await
            .unwrap();
        assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
        fleet.findings(&run_id).await.unwrap()
    };
    let listed = port_scan(json!({"mode": "list", "ports": [1]})).await;
    assert!(
        listed.iter().all(|f| f["location"] != location.as_str()),
        "{listed:?}"
    );
    let listed = port_scan(json!({"mode": "list", "ports": [port]})).await;
    assert!(
        listed.iter().all(|f| f["location"] == location.as_str()),
        "{listed:?}"
    );
    assert_eq!(listed.len(), 1, "{listed:?}");
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn scan_events_stream_progress_until_the_run_ends() {
    let fleet = Fleet::start().await.unwrap();
    // Every request waits, so the run is still going when the stream opens.
    let target = Target::demo_slow(Duration::from_millis(400)).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let (status, run) = post_scan(
        &fleet,
        json!({"asset_id": asset, "checks": ["http_headers", "http_probes"]}),
    )
    .await;
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    let events = fleet.scan_events(&run_id, SCAN_DEADLINE).await.unwrap();

    // The current state first, then progress forwards only, then one end: completed.
    assert!(events.len() >= 2, "{events:?}");
    assert_eq!(events[0].event, "progress", "{events:?}");
    assert!(
        ["queued", "running"].contains(&events[0].data["status"].as_str().unwrap()),
        "{events:?}"
    );
    let (end, progress) = events.split_last().unwrap();
    assert!(progress.iter().all(|event| event.event == "progress"));
    let done: Vec<i64> = progress
        .iter()
        .map(|event| event.data["jobs_done"].as_i64().unwrap())
        .collect();
    assert!(done.windows(2).all(|pair| pair[0] <= pair[1]), "{done:?}");
    assert!(done.iter().all(|done| *done < 2), "{done:?}");
    assert_eq!(end.event, "end");
    assert_eq!(end.data["status"], "completed");
    assert_eq!(end.data["id"], run_id.as_str());
    assert_eq!(end.data["progress"]["jobs_done"], 2);
    assert_eq!(end.data["progress"]["jobs_total"], 2);

    // A finished run: one end event, and the stream closes.
    let events = fleet.scan_events(&run_id, SCAN_DEADLINE).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "end");
    assert_eq!(events[0].data["status"], "completed");

    // Another organization's run is not found, before anything is streamed.
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let response = fleet
        .http
        .get(fleet.api(&format!("/scans/{run_id}/events")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    fleet.stop().await.unwrap();
}
