//! Discovery against the real fleet: the `subdomains` check sweeping a zone of the fleet's DNS
//! server, a zone transfer from the zone's own name server (port 53 of a loopback address of
//! its own, 127.53.2.x), names from a certificate's SANs; the names kept as candidate assets,
//! approved into assets, dismissed, and approved by the organization's setting.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use s4e_e2e::Fleet;
use s4e_test_dns::{Rec, TestDns};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

async fn json_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn scan(fleet: &Fleet, asset_id: &str, check: &str) -> Value {
    let run = json_of(
        fleet
            .request(Method::POST, "/scans")
            .json(&json!({"asset_id": asset_id, "checks": [check]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let view = fleet
        .wait_for_scan(run["id"].as_str().unwrap(), DEADLINE)
        .await
        .unwrap();
    assert_eq!(view.run.status, s4e_types::RunStatus::Completed, "{view:?}");
    run
}

/// The candidates of `status`, as (name, sources, verified parent), sorted by name.
async fn candidates(fleet: &Fleet, status: &str) -> Vec<(String, Vec<String>, Value)> {
    let page = fleet
        .get_json(&format!("/candidates?status={status}&limit=1000"))
        .await;
    let mut found: Vec<(String, Vec<String>, Value)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|candidate| {
            let sources = candidate["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|source| source.as_str().unwrap().to_string())
                .collect();
            (
                candidate["name"].as_str().unwrap().to_string(),
                sources,
                candidate["verified_parent"].clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

async fn candidate_id(fleet: &Fleet, name: &str) -> String {
    for status in ["pending", "approved", "dismissed"] {
        let page = fleet
            .get_json(&format!("/candidates?status={status}&limit=1000"))
            .await;
        if let Some(candidate) = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|candidate| candidate["name"] == name)
        {
            return candidate["id"].as_str().unwrap().to_string();
        }
    }
    panic!("no candidate {name}");
}

async fn domain_assets(fleet: &Fleet) -> Vec<String> {
    let page = fleet.get_json("/assets?limit=1000").await;
    let mut values: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|asset| asset["kind"] == "domain")
        .map(|asset| asset["value"].as_str().unwrap().to_string())
        .collect();
    values.sort();
    values
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_string()).collect()
}

/// `corp.test` in the fleet's resolver and on its own name server at `ns`, which hands the
/// zone out; `hosts` are (label, last octet of a 192.0.2.x address).
fn corp_zone(server: &TestDns, ns: Ipv4Addr, hosts: &[&str]) {
    server
        .add("corp.test", Rec::Soa)
        .add("corp.test", Rec::Ns("ns1.corp.test".into()))
        .add("ns1.corp.test", Rec::A(ns));
    for (index, label) in hosts.iter().enumerate() {
        let address = Ipv4Addr::new(192, 0, 2, u8::try_from(index + 10).unwrap());
        server.add(&format!("{label}.corp.test"), Rec::A(address));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn discovered_names_become_candidates_people_approve_or_dismiss() {
    let fleet = Fleet::start().await.unwrap();
    let ns = Ipv4Addr::new(127, 53, 2, 1);
    // `zq-internal-7` is in no wordlist: only the zone transfer gives it.
    let hosts = ["www", "api", "vpn", "zq-internal-7"];
    corp_zone(&fleet.dns, ns, &hosts);
    let authority = TestDns::start_on(SocketAddr::new(ns.into(), 53))
        .await
        .expect("a name server on 127.53.2.1:53");
    corp_zone(&authority, ns, &hosts);
    authority.allow_zone_transfer("corp.test");

    let domain = fleet.create_asset("domain", "corp.test").await.unwrap();
    // Proven by a TXT record: its subdomains inherit the proof.
    let asset = fleet.get_json(&format!("/assets/{domain}")).await;
    let token = asset["verification_token"].as_str().unwrap();
    fleet
        .dns
        .add("corp.test", Rec::txt(&format!("s4e-verification={token}")));
    let verified = json_of(
        fleet
            .request(Method::POST, &format!("/assets/{domain}/verify"))
            .json(&json!({"method": "dns_txt"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(verified["asset"]["verification_method"], "dns_txt");

    let run = scan(&fleet, &domain, "subdomains").await;
    let findings = fleet.findings(run["id"].as_str().unwrap()).await.unwrap();
    let rules: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["location"].as_str().unwrap()))
        .collect();
    assert_eq!(rules, [("dns_zone_transfer", "corp.test @ ns1.corp.test")]);
    let both = strings(&["wordlist", "zone_transfer"]);
    let parent = json!("corp.test");
    assert_eq!(
        candidates(&fleet, "pending").await,
        [
            ("api.corp.test".into(), both.clone(), parent.clone()),
            ("ns1.corp.test".into(), both.clone(), parent.clone()),
            ("vpn.corp.test".into(), both.clone(), parent.clone()),
            ("www.corp.test".into(), both.clone(), parent.clone()),
            (
                "zq-internal-7.corp.test".into(),
                strings(&["zone_transfer"]),
                parent.clone()
            ),
        ]
    );

    // Approved: a domain asset, verified with its parent (it scans at once), announced.
    let www = candidate_id(&fleet, "www.corp.test").await;
    let approved = json_of(
        fleet
            .request(Method::POST, &format!("/candidates/{www}/approve"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(approved["kind"], "domain");
    assert_eq!(approved["value"], "www.corp.test");
    let again = json_of(
        fleet
            .request(Method::POST, &format!("/candidates/{www}/approve"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        again["id"], approved["id"],
        "approving twice makes one asset"
    );
    assert_eq!(domain_assets(&fleet).await, ["corp.test", "www.corp.test"]);
    let timeline = fleet
        .get_json(&format!(
            "/assets/{}/timeline",
            approved["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(timeline["items"][0]["kind"], "asset_added");

    // Dismissed: set aside, and an approved candidate cannot be dismissed.
    let vpn = candidate_id(&fleet, "vpn.corp.test").await;
    let dismissed = json_of(
        fleet
            .request(Method::POST, &format!("/candidates/{vpn}/dismiss"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(dismissed["status"], "dismissed");
    let response = fleet
        .request(Method::POST, &format!("/candidates/{www}/dismiss"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // Found again: the decisions stand, the sightings move on.
    let before =
        fleet.get_json("/candidates?status=dismissed").await["items"][0]["last_seen"].clone();
    scan(&fleet, &domain, "subdomains").await;
    let pending: Vec<String> = candidates(&fleet, "pending")
        .await
        .into_iter()
        .map(|(name, ..)| name)
        .collect();
    assert_eq!(
        pending,
        ["api.corp.test", "ns1.corp.test", "zq-internal-7.corp.test"]
    );
    let dismissed = fleet.get_json("/candidates?status=dismissed").await;
    assert_eq!(dismissed["items"][0]["name"], "vpn.corp.test");
    assert_ne!(dismissed["items"][0]["last_seen"], before);
    let approved_list = fleet.get_json("/candidates?status=approved").await;
    assert_eq!(approved_list["items"][0]["asset_id"], approved["id"]);

    // With the setting, a new name under the verified domain is an asset at once.
    json_of(
        fleet
            .request(Method::PUT, "/scan-settings")
            .json(&json!({"auto_approve_candidates": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for server in [&fleet.dns, &authority] {
        server.add("portal.corp.test", Rec::A(Ipv4Addr::new(192, 0, 2, 99)));
    }
    scan(&fleet, &domain, "subdomains").await;
    let assets = domain_assets(&fleet).await;
    assert!(
        assets.contains(&"portal.corp.test".to_string()),
        "{assets:?}"
    );
    // Every pending name seen again under the verified domain is approved with it; the
    // dismissed one stays dismissed.
    assert!(!assets.contains(&"vpn.corp.test".to_string()), "{assets:?}");
    assert!(candidates(&fleet, "pending").await.is_empty());

    // Unknown and malformed ids.
    let unknown = fleet
        .request(
            Method::POST,
            "/candidates/00000000-0000-4000-8000-000000000000/approve",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let malformed = fleet
        .request(Method::POST, "/candidates/not-an-id/dismiss")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let bad_filter = fleet
        .request(Method::GET, "/candidates?status=maybe")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_filter.status(), StatusCode::BAD_REQUEST);
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn names_in_a_certificate_become_candidates() {
    let fleet = Fleet::start().await.unwrap();
    let (port, server) = s4e_e2e::tls_handshakes(
        0,
        &[
            "localhost",
            "alt1.corp.test",
            "*.apps.corp.test",
            "shop.other-brand.test",
        ],
    )
    .await;
    let site = fleet
        .create_url_asset(&format!("https://127.0.0.1:{port}/"))
        .await
        .unwrap();
    scan(&fleet, &site, "tls_certificate").await;
    // The wildcard names no host; the certificate's own host is the asset's.
    assert_eq!(
        candidates(&fleet, "pending").await,
        [
            (
                "alt1.corp.test".into(),
                strings(&["certificate"]),
                Value::Null
            ),
            (
                "shop.other-brand.test".into(),
                strings(&["certificate"]),
                Value::Null
            ),
        ]
    );
    server.abort();
    fleet.stop().await.unwrap();
}
