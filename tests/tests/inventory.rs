//! The service inventory against the real fleet: port scans of services the test starts and
//! stops on loopback; what they saw kept per asset with first and last seen and when it went
//! away; `service.appeared` and `service.gone` announced once each, to webhooks and to rules.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use s4e_e2e::{Fleet, Receiver};
use s4e_test_support::wait_for;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(60);
const SSH: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n";

/// A TCP service on `port` (0: any) greeting every connection with `banner`, until aborted.
async fn service(port: u16, banner: &'static [u8]) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
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

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn scan(fleet: &Fleet, asset: &str) -> String {
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset, "checks": ["ports"]}))
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
