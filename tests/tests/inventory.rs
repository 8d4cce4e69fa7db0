//! The service inventory against the real fleet: port scans of services the test starts and
//! stops on loopback; what they saw kept per asset with first and last seen and when it went
//! away; `service.appeared` and `service.gone` announced once each, to webhooks and to rules.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use s4e_e2e::{Fleet, Receiver};
use s4e_test_support::site::read_request_head;
use s4e_test_support::wait_for;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(60);
const SSH: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n";

/// A TCP service on `port` (0: any) greeting every connection with `banner`, until aborted.
async fn service(port: u16, banner: &'static [u8]) -> (u16, JoinHandle<()>) {
    service_on("127.0.0.1", port, banner).await
}

/// [`service`] on another loopback address.
async fn service_on(ip: &str, port: u16, banner: &'static [u8]) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind((ip, port)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = stream.write_all(banner).await;
                // Held open a moment, as a service waiting for its client.
                tokio::time::sleep(Duration::from_secs(2)).await;
            });
        }
    });
    (port, task)
}

/// A time as a query value (`+` would read as a space).
fn urlencoding(time: &str) -> String {
    time.replace('+', "%2B").replace(':', "%3A")
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn scan(fleet: &Fleet, asset: &str) -> String {
    scan_with(fleet, asset, "ports").await
}

async fn scan_with(fleet: &Fleet, asset: &str, check: &str) -> String {
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset, "checks": [check]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let run: Value = response.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap().to_string();
    let view = fleet.wait_for_scan(&run_id, DEADLINE).await.unwrap();
    assert_eq!(view.run.status, s4e_types::RunStatus::Completed, "{view:?}");
    run_id
}

fn ports_of(page: &Value) -> Vec<u64> {
    let mut ports: Vec<u64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|service| service["port"].as_u64().unwrap())
        .collect();
    ports.sort_unstable();
    ports
}

#[tokio::test(flavor = "multi_thread")]
async fn port_scans_keep_the_inventory_and_announce_each_change_once() {
    let fleet = Fleet::start().await.unwrap();
    let (ssh, ssh_task) = service(0, SSH).await;
    let (ftp, ftp_task) = service(0, b"220 files.example.com FTP server ready\r\n").await;
    let closed = closed_port().await;
    let response = fleet
        .request(Method::PUT, "/scan-settings")
        .json(&json!({"default_profile": "full", "disabled_checks": [],
                      "port_scan": {"mode": "list", "ports": [ssh, ftp, closed]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let receiver = Receiver::start().await;
    let response = fleet
        .request(Method::POST, "/webhooks")
        .json(&json!({"url": receiver.url,
                      "event_types": ["service.appeared", "service.gone"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let started = chrono::Utc::now();
    let asset = fleet.create_asset("ip", "127.0.0.1").await.unwrap();
    // A rule marks assets that expose SSH.
    let response = fleet
        .request(Method::POST, "/rules")
        .json(&json!({"name": "mark ssh", "event": "service.appeared",
                      "conditions": {"services": ["ssh"]},
                      "actions": [{"type": "tag_asset", "add": ["exposes=ssh"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // The first scan finds both services: two appear.
    let first = scan(&fleet, &asset).await;
    let services = fleet.get_json(&format!("/assets/{asset}/services")).await;
    let mut open = vec![u64::from(ssh), u64::from(ftp)];
    open.sort_unstable();
    assert_eq!(ports_of(&services), open);
    let ssh_entry = services["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|service| service["port"] == ssh)
        .unwrap()
        .clone();
    assert_eq!(ssh_entry["service"], "ssh", "{ssh_entry}");
    assert_eq!(ssh_entry["transport"], "tcp");
    assert_eq!(ssh_entry["last_run_id"], first.as_str());
    assert!(ssh_entry["gone_at"].is_null());
    let appeared = wait_for("two services announced", DEADLINE, || async {
        let received = receiver.received();
        (received.len() >= 2).then_some(received)
    })
    .await
    .unwrap();
    let mut announced: Vec<(String, u64)> = appeared
        .iter()
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            (
                body["type"].as_str().unwrap().to_string(),
                body["data"]["port"].as_u64().unwrap(),
            )
        })
        .collect();
    announced.sort();
    let mut expected: Vec<(String, u64)> = open
        .iter()
        .map(|port| ("service.appeared".to_string(), *port))
        .collect();
    expected.sort();
    assert_eq!(announced, expected);
    // The dashboard counts what is exposed, and weighs findings by their asset's criticality.
    let dashboard = fleet.get_json("/dashboard").await;
    assert_eq!(dashboard["exposed_services"], 2, "{dashboard}");
    let penalty = dashboard["penalty"].as_f64().unwrap();
    assert!(penalty > 0.0, "{dashboard}");
    let response = fleet
        .request(Method::PATCH, &format!("/assets/{asset}"))
        .json(&json!({"criticality": "critical"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let critical = fleet.get_json("/dashboard").await;
    assert_eq!(critical["penalty"].as_f64().unwrap(), 2.0 * penalty);
    assert!(
        critical["score"].as_u64() < dashboard["score"].as_u64(),
        "{critical}"
    );
    wait_for("the rule's tag", DEADLINE, || async {
        let tags = fleet.get_json(&format!("/assets/{asset}")).await["tags"].clone();
        (tags == json!(["exposes=ssh"])).then_some(())
    })
    .await
    .unwrap();

    // SSH stops; the next scan finds it gone, and the FTP one still there: one event.
    ssh_task.abort();
    let _ = ssh_task.await;
    let second = scan(&fleet, &asset).await;
    let gone = wait_for("the service gone", DEADLINE, || async {
        let received = receiver.received();
        (received.len() >= 3).then_some(received)
    })
    .await
    .unwrap();
    let body: Value = serde_json::from_slice(&gone[2].body).unwrap();
    assert_eq!(body["type"], "service.gone");
    assert_eq!(body["data"]["port"], ssh);
    assert_eq!(body["data"]["service"], "ssh");
    assert_eq!(body["data"]["run_id"], second.as_str());
    let services = fleet.get_json(&format!("/assets/{asset}/services")).await;
    assert_eq!(ports_of(&services), vec![u64::from(ftp)]);
    let between = chrono::Utc::now();
    let all = fleet
        .get_json(&format!("/services?port={ssh}&include_gone=true"))
        .await;
    assert_eq!(all["items"][0]["port"], ssh);
    assert!(all["items"][0]["gone_at"].is_string());
    assert_eq!(all["items"][0]["first_seen"], ssh_entry["first_seen"]);

    // A third scan changes nothing; a fourth, with SSH back, announces it once more: four
    // events in all.
    let third = scan(&fleet, &asset).await;
    let ftp_now = fleet.get_json(&format!("/services?port={ftp}")).await;
    assert_eq!(ftp_now["items"][0]["last_run_id"], third.as_str());
    let (_, ssh_task) = service(ssh, SSH).await;
    scan(&fleet, &asset).await;
    let back = wait_for("the service back", DEADLINE, || async {
        let received = receiver.received();
        (received.len() >= 4).then_some(received)
    })
    .await
    .unwrap();
    assert_eq!(back.len(), 4);
    let body: Value = serde_json::from_slice(&back[3].body).unwrap();
    assert_eq!(body["type"], "service.appeared");
    assert_eq!(body["data"]["port"], ssh);
    let again = fleet.get_json(&format!("/services?port={ssh}")).await;
    assert!(again["items"][0]["gone_at"].is_null());
    assert_eq!(again["items"][0]["first_seen"], ssh_entry["first_seen"]);
    ssh_task.abort();

    // The asset's timeline, newest first, and the surface's difference between two dates:
    // SSH came and went before `between`, so only FTP and the asset differ then.
    let timeline = fleet.get_json(&format!("/assets/{asset}/timeline")).await;
    let kinds: Vec<(String, Option<u64>)> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["kind"].as_str().unwrap().to_string(),
                change["port"].as_u64(),
            )
        })
        .collect();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    assert_eq!(kinds[0], ("service_appeared".into(), Some(u64::from(ssh))));
    assert_eq!(kinds[1], ("service_gone".into(), Some(u64::from(ssh))));
    assert_eq!(kinds[4], ("asset_added".into(), None));
    let diff = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| {
        let fleet = &fleet;
        let path = format!(
            "/surface/diff?from={}&to={}",
            urlencoding(&from.to_rfc3339()),
            urlencoding(&to.to_rfc3339())
        );
        async move {
            let diff = fleet.get_json(&path).await;
            let keys = |side: &str| -> Vec<(String, Option<u64>)> {
                diff[side]
                    .as_array()
                    .unwrap_or_else(|| panic!("{diff}"))
                    .iter()
                    .map(|c| (c["kind"].as_str().unwrap().to_string(), c["port"].as_u64()))
                    .collect()
            };
            (keys("added"), keys("removed"))
        }
    };
    let (added, removed) = diff(started, between).await;
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(added.contains(&("asset_added".into(), None)));
    assert!(added.contains(&("service_appeared".into(), Some(u64::from(ftp)))));
    assert!(removed.is_empty(), "{removed:?}");
    let (added, removed) = diff(between, chrono::Utc::now()).await;
    assert_eq!(
        added,
        vec![("service_appeared".into(), Some(u64::from(ssh)))]
    );
    assert!(removed.is_empty());
    // Archived (twice: the second changes nothing), it leaves the surface once.
    for _ in 0..2 {
        let response = fleet
            .request(Method::DELETE, &format!("/assets/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let timeline = fleet.get_json(&format!("/assets/{asset}/timeline")).await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 6);
    assert_eq!(timeline["items"][0]["kind"], "asset_archived");
    // Unknown and other organizations' assets are not found.
    let response = fleet
        .request(
            Method::GET,
            &format!("/assets/{}/services", uuid::Uuid::now_v7()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    ftp_task.abort();
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn the_inventory_is_imported_row_by_row_and_exported() {
    let fleet = Fleet::start().await.unwrap();
    let import = |body: Value| {
        let fleet = &fleet;
        async move {
            let response = fleet
                .request(Method::POST, "/assets/import")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let csv = "kind,value,name,criticality,owner,tags\n\
               url,https://shop.example.com/,Shop,high,team-web,env=prod;pci\n\
               domain,Example.COM,,,,\n\
               url,https://shop.example.com/,again,,,\n\
               printer,10.0.0.9,,,,\n\
               domain,not a domain,,,,\n\
               ip,169.254.169.254,,,,\n\
               domain,tags.example.com,,,,bad key\n\
               domain,crit.example.com,,urgent,,\n";
    let (status, report) = import(json!({ "csv": csv })).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (&report["created"], &report["existing"], &report["refused"]),
        (&json!(2), &json!(1), &json!(5)),
        "{report:#}"
    );
    let rows = report["rows"].as_array().unwrap();
    let outcome = |row: usize| rows[row - 1]["outcome"].as_str().unwrap().to_string();
    let reason = |row: usize| rows[row - 1]["reason"].as_str().unwrap_or("").to_string();
    assert_eq!(outcome(1), "created");
    assert_eq!(outcome(2), "created");
    assert_eq!(rows[1]["value"], "example.com");
    assert_eq!(outcome(3), "exists");
    assert_eq!(rows[2]["asset_id"], rows[0]["asset_id"]);
    assert!(reason(4).starts_with("kind:"), "{}", reason(4));
    assert!(reason(5).starts_with("value:"), "{}", reason(5));
    assert!(reason(6).contains("never scanned"), "{}", reason(6));
    assert!(reason(7).starts_with("tags:"), "{}", reason(7));
    assert!(reason(8).starts_with("criticality:"), "{}", reason(8));
    let shop = fleet
        .get_json(&format!(
            "/assets/{}",
            rows[0]["asset_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(shop["criticality"], "high");
    assert_eq!(shop["owner"], "team-web");
    assert_eq!(shop["name"], "Shop");
    assert_eq!(shop["tags"], json!(["env=prod", "pci"]));
    // The same file again creates nothing.
    let (_, again) = import(json!({ "csv": csv })).await;
    assert_eq!(
        (&again["created"], &again["existing"]),
        (&json!(0), &json!(3))
    );

    // JSON rows, each judged alone; a malformed one is refused with serde's reason.
    let (status, report) = import(json!({"assets": [
        {"kind": "ip", "value": "192.0.2.10", "criticality": "low", "tags": ["dc=fra"]},
        {"kind": "ip"},
    ]}))
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rows"][0]["outcome"], "created");
    assert_eq!(report["rows"][1]["outcome"], "refused");
    assert!(
        report["rows"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("value")
    );
    // Whole-request refusals: both forms, neither, an unknown column.
    for body in [
        json!({"csv": "kind,value\n", "assets": []}),
        json!({}),
        json!({"csv": "kind,value,colour\nip,192.0.2.1,red\n"}),
    ] {
        let (status, answer) = import(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }

    // Criticality and owner change without touching the name; the list filters by them.
    let ip_id = report["rows"][0]["asset_id"].as_str().unwrap().to_string();
    let response = fleet
        .request(Method::PATCH, &format!("/assets/{ip_id}"))
        .json(&json!({"criticality": "critical", "owner": "noc@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["criticality"], "critical");
    assert_eq!(changed["owner"], "noc@example.com");
    let critical = fleet.get_json("/assets?criticality=critical").await;
    assert_eq!(critical["items"].as_array().unwrap().len(), 1);
    assert_eq!(critical["items"][0]["id"], ip_id.as_str());

    // The CSV export reads back in: every row is one the organization has.
    let response = fleet
        .request(Method::GET, "/assets/export?format=csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let exported = response.text().await.unwrap();
    assert!(
        exported
            .starts_with("kind,value,name,criticality,owner,tags,id,verified_at,created_at\r\n")
    );
    assert!(exported.contains("url,https://shop.example.com/,Shop,high,team-web,env=prod;pci,"));
    let (_, round_trip) = import(json!({ "csv": exported })).await;
    assert_eq!(
        (
            &round_trip["created"],
            &round_trip["existing"],
            &round_trip["refused"]
        ),
        (&json!(0), &json!(3), &json!(0)),
        "{round_trip:#}"
    );
    let json_export = fleet.get_json("/assets/export").await;
    assert_eq!(json_export.as_array().unwrap().len(), 3);
    fleet.stop().await.unwrap();
}

/// A web server on loopback answering every request with `Server: <server>` (changeable while
/// it runs), `X-Powered-By: PHP/7.4.3` and a page loading jQuery 3.5.1.
async fn web_server(server: std::sync::Arc<std::sync::Mutex<String>>) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let server = server.lock().unwrap().clone();
            tokio::spawn(async move {
                if read_request_head(&mut stream).await.is_none() {
                    return;
                }
                let body = "<html><head><script src=\"/js/jquery-3.5.1.min.js\"></script>\
                            </head><body>shop</body></html>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nServer: {server}\r\nX-Powered-By: PHP/7.4.3\r\n\
                     Content-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (port, task)
}

fn technologies_of(page: &Value) -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["version"].clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn technologies_and_certificates_are_kept_and_their_changes_are_on_the_timeline() {
    let fleet = Fleet::start().await.unwrap();
    let server = std::sync::Arc::new(std::sync::Mutex::new("nginx/1.18.0".to_string()));
    let (port, web) = web_server(server.clone()).await;
    let site = fleet
        .create_url_asset(&format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    scan_with(&fleet, &site, "http_headers").await;
    let page = fleet
        .get_json(&format!("/assets/{site}/technologies"))
        .await;
    assert_eq!(
        technologies_of(&page),
        [
            ("PHP".to_string(), json!("7.4.3")),
            ("jQuery".to_string(), json!("3.5.1")),
            ("nginx".to_string(), json!("1.18.0")),
        ]
    );
    let nginx = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "nginx")
        .unwrap()
        .clone();
    assert_eq!(nginx["category"], "web_server");
    assert_eq!(nginx["evidence"], "header Server: nginx/1.18.0");

    // The server is upgraded: the version changes, once, on the timeline and in the diff.
    let upgraded_after = chrono::Utc::now();
    *server.lock().unwrap() = "nginx/1.25.3".to_string();
    scan_with(&fleet, &site, "http_headers").await;
    scan_with(&fleet, &site, "http_headers").await;
    let by_name = fleet.get_json("/technologies?name=NGINX").await;
    assert_eq!(
        technologies_of(&by_name),
        [("nginx".to_string(), json!("1.25.3"))]
    );
    let timeline = fleet
        .get_json(&format!("/assets/{site}/timeline?kind=technology_changed"))
        .await;
    let changes = timeline["items"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{timeline}");
    assert_eq!(changes[0]["detail"]["from"], "1.18.0");
    assert_eq!(changes[0]["detail"]["to"], "1.25.3");
    let appeared = fleet
        .get_json(&format!("/assets/{site}/timeline?kind=technology_appeared"))
        .await;
    assert_eq!(appeared["items"].as_array().unwrap().len(), 3);
    let diff = fleet
        .get_json(&format!(
            "/surface/diff?from={}&to={}",
            urlencoding(&upgraded_after.to_rfc3339()),
            urlencoding(&chrono::Utc::now().to_rfc3339())
        ))
        .await;
    assert_eq!(diff["changed"].as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(diff["changed"][0]["kind"], "technology_changed");
    assert!(diff["added"].as_array().unwrap().is_empty(), "{diff}");
    web.abort();

    // A TLS port presents another certificate: a change; the same one again: none.
    let (tls_port, tls) = s4e_e2e::tls_handshakes(0, &["first.example.test"]).await;
    let tls_site = fleet
        .create_url_asset(&format!("https://127.0.0.1:{tls_port}/"))
        .await
        .unwrap();
    scan_with(&fleet, &tls_site, "tls_certificate").await;
    scan_with(&fleet, &tls_site, "tls_certificate").await;
    let certificate_changes = format!("/assets/{tls_site}/timeline?kind=certificate_changed");
    assert!(
        fleet.get_json(&certificate_changes).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    tls.abort();
    let _ = tls.await;
    let (same_port, tls) = s4e_e2e::tls_handshakes(tls_port, &["second.example.test"]).await;
    assert_eq!(same_port, tls_port);
    scan_with(&fleet, &tls_site, "tls_certificate").await;
    let changes = fleet.get_json(&certificate_changes).await;
    let items = changes["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{changes}");
    assert_eq!(items[0]["port"], tls_port);
    assert_ne!(
        items[0]["detail"]["from"]["sha256"],
        items[0]["detail"]["to"]["sha256"]
    );
    assert!(
        items[0]["detail"]["to"]["subject"]
            .as_str()
            .is_some_and(|subject| !subject.is_empty())
    );
    tls.abort();
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn address_ranges_are_limited_proven_and_scanned_host_by_host() {
    let fleet = Fleet::start().await.unwrap();
    let create = |value: &str| {
        fleet
            .request(Method::POST, "/assets")
            .json(&json!({"kind": "cidr", "value": value}))
            .send()
    };

    // The organization's limit (256 hosts by default): a /24 (254) fits, a /23 (510) does not.
    let refused = create("127.64.8.0/23").await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let error: Value = refused.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("510 hosts") && message.contains("256"),
        "{message}"
    );
    let sloppy = create("127.64.8.9/24").await.unwrap();
    assert_eq!(sloppy.status(), StatusCode::BAD_REQUEST);
    let error: Value = sloppy.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.64.8.0/24"),
        "{error}"
    );
    assert_eq!(
        create("127.64.8.0/24").await.unwrap().status(),
        StatusCode::CREATED
    );
    let report = fleet
        .request(Method::POST, "/assets/import")
        .json(&json!({"csv": "kind,value\ncidr,127.64.16.0/22\ncidr,127.64.20.0/28\n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    let report: Value = report.json().await.unwrap();
    assert_eq!(report["rows"][0]["outcome"], "refused", "{report}");
    assert!(
        report["rows"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("1022 hosts")
    );
    assert_eq!(report["rows"][1]["outcome"], "created", "{report}");

    // Proven by the operator's word (the fleet vouches for 127.64.0.0/16) or at the reverse
    // zone; neither for a range outside both.
    let verify = |asset: String, method: &'static str| {
        let request = fleet
            .request(Method::POST, &format!("/assets/{asset}/verify"))
            .json(&json!({"method": method}))
            .send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let operated = fleet.create_asset("cidr", "127.64.2.0/28").await.unwrap();
    let outcome = verify(operated, "operator").await;
    assert_eq!(outcome["verified"], true, "{outcome}");
    assert_eq!(outcome["asset"]["verification_method"], "operator");
    let elsewhere = fleet.create_asset("cidr", "10.9.9.0/24").await.unwrap();
    assert_eq!(
        verify(elsewhere.clone(), "operator").await["verified"],
        false
    );
    let delegated = fleet.create_asset("cidr", "10.9.9.0/26").await.unwrap();
    let token = fleet.get_json(&format!("/assets/{delegated}")).await["verification_token"]
        .as_str()
        .unwrap()
        .to_string();
    fleet.dns.add(
        "9.9.10.in-addr.arpa",
        s4e_test_dns::Rec::txt(&format!("s4e-verification={token}")),
    );
    let outcome = verify(delegated, "dns_txt").await;
    assert_eq!(outcome["verified"], true, "{outcome}");
    assert_eq!(outcome["asset"]["verification_method"], "dns_txt");
    // A range has no site: the web methods do not apply.
    let response = fleet
        .request(Method::POST, &format!("/assets/{elsewhere}/verify"))
        .json(&json!({"method": "http_file"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A port scan of 127.64.5.0/30 is a job per host (.1 and .2), each host's services its own.
    let (port, first) = service_on("127.64.5.1", 0, SSH).await;
    let (_, second) = service_on("127.64.5.2", port, SSH).await;
    let response = fleet
        .request(Method::PUT, "/scan-settings")
        .json(&json!({"port_scan": {"mode": "list", "ports": [port]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let range = fleet.create_asset("cidr", "127.64.5.0/30").await.unwrap();
    let web = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": range, "checks": ["http_headers"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(web.status(), StatusCode::BAD_REQUEST);
    let run = scan(&fleet, &range).await;
    let view = fleet.get_json(&format!("/scans/{run}")).await;
    assert_eq!(view["jobs_total"], 2, "{view}");
    let hosts_of = |page: &Value| {
        let mut hosts: Vec<(String, u64)> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["host"].as_str().unwrap().to_string(),
                    s["port"].as_u64().unwrap(),
                )
            })
            .collect();
        hosts.sort();
        hosts
    };
    let services = fleet.get_json(&format!("/assets/{range}/services")).await;
    assert_eq!(
        hosts_of(&services),
        [
            ("127.64.5.1".to_string(), u64::from(port)),
            ("127.64.5.2".to_string(), u64::from(port))
        ]
    );
    // One host closes its port: its service is gone, the other's stays.
    second.abort();
    let _ = second.await;
    scan(&fleet, &range).await;
    let services = fleet.get_json(&format!("/assets/{range}/services")).await;
    assert_eq!(
        hosts_of(&services),
        [("127.64.5.1".to_string(), u64::from(port))]
    );
    let gone = fleet
        .get_json(&format!("/assets/{range}/timeline?kind=service_gone"))
        .await;
    assert_eq!(gone["items"].as_array().unwrap().len(), 1, "{gone}");
    assert_eq!(gone["items"][0]["detail"]["host"], "127.64.5.2");
    first.abort();
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_asset_is_checked_operation_by_operation() {
    let fleet = Fleet::start().await.unwrap();
    let document = r#"openapi: 3.1.0
info: {title: billing, version: "2"}
security: [{key: []}]
paths:
  /invoices: {get: {}}
  /invoices/{id}: {get: {}}
  /status: {get: {security: []}}
"#;
    let app = axum::Router::new()
        .route(
            "/openapi.yaml",
            axum::routing::get(move || async move { document }),
        )
        .route("/invoices", axum::routing::get(|| async { "[]" }))
        .route("/status", axum::routing::get(|| async { "ok" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let response = fleet
        .request(Method::POST, "/assets")
        .json(&json!({"kind": "api", "value": format!("http://127.0.0.1:{port}/openapi.yaml")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let api: Value = response.json().await.unwrap();
    assert_eq!(api["kind"], "api");
    let run = scan_with(&fleet, api["id"].as_str().unwrap(), "api_operations").await;
    let findings = fleet.findings(&run).await.unwrap();
    let found: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["location"].as_str().unwrap()))
        .collect();
    let invoices = format!("GET http://127.0.0.1:{port}/invoices");
    assert_eq!(
        found,
        [("api_operation_without_authentication", invoices.as_str())]
    );
    server.abort();
    fleet.stop().await.unwrap();
}
