//! Partners (MSSPs) through the whole fleet: customer organizations, acting inside them with
//! `X-Organization-Id`, the portfolio with its scores, and the walls between organizations.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use s4e_e2e::{Fleet, Target};
use s4e_test_support::wait_for;
use serde_json::{Value, json};

const ACT: &str = "x-organization-id";

struct Partner<'a> {
    fleet: &'a Fleet,
    key: String,
}

impl Partner<'_> {
    fn send(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.fleet
            .http
            .request(method, self.fleet.api(path))
            .bearer_auth(&self.key)
    }

    fn inside(&self, customer: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.send(method, path).header(ACT, customer)
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_partner_manages_its_customers_and_sees_their_portfolio() {
    let fleet = Fleet::start().await.unwrap();
    let key =
        s4e_core::create_admin_key_with(&fleet.base.url(), &fleet.env.service_token, "MSSP", true)
            .await
            .unwrap();
    let partner = Partner { fleet: &fleet, key };
    let partner_org = json_of(partner.send(Method::GET, "/me").send().await.unwrap()).await;
    let partner_org = partner_org["org_id"].as_str().unwrap().to_string();

    let mut customers = Vec::new();
    for name in ["Beta Bank", "Alpha Shop"] {
        let response = partner
            .send(Method::POST, "/customers")
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let customer = json_of(response).await;
        assert_eq!(customer["partner_org_id"], partner_org.as_str());
        customers.push(customer["id"].as_str().unwrap().to_string());
    }
    let (bank, shop) = (customers[0].clone(), customers[1].clone());
    let listed = json_of(
        partner
            .send(Method::GET, "/customers")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    // Acting inside the shop: its assets, not the partner's.
    let target = Target::demo(false).await;
    let response = partner
        .inside(&shop, Method::POST, "/assets")
        .json(&json!({"kind": "url", "value": target.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let asset = json_of(response).await;
    assert_eq!(asset["org_id"], shop.as_str());
    let own = json_of(partner.send(Method::GET, "/assets").send().await.unwrap()).await;
    assert_eq!(own["items"], json!([]));
    let bank_assets = json_of(
        partner
            .inside(&bank, Method::GET, "/assets")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(bank_assets["items"], json!([]));

    // A scan inside the shop, then the portfolio: the shop scores below the clean bank.
    let response = partner
        .inside(&shop, Method::POST, "/scans")
        .json(&json!({"asset_id": asset["id"], "checks": ["http_headers"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let scan_id = json_of(response).await["id"].as_str().unwrap().to_string();
    wait_for(
        "the customer's scan to finish",
        Duration::from_secs(30),
        || async {
            let view = partner
                .inside(&shop, Method::GET, &format!("/scans/{scan_id}"))
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()?;
            (view["status"] == "completed").then_some(())
        },
    )
    .await
    .unwrap();
    let portfolio = json_of(
        partner
            .send(Method::GET, "/portfolio")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let entries = portfolio["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{portfolio}");
    let entry = |id: &str| {
        entries
            .iter()
            .find(|e| e["organization"]["id"] == id)
            .unwrap()
            .clone()
    };
    let (shop_entry, bank_entry) = (entry(&shop), entry(&bank));
    assert_eq!(bank_entry["score"], 100);
    assert_eq!(bank_entry["open_findings"]["medium"], 0);
    let open = &shop_entry["open_findings"];
    let total: i64 = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|severity| open[*severity].as_i64().unwrap())
        .sum();
    let findings = json_of(
        partner
            .inside(&shop, Method::GET, &format!("/findings?scan_id={scan_id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(total, findings["items"].as_array().unwrap().len() as i64);
    assert!(total > 0);
    assert!(shop_entry["score"].as_u64().unwrap() < 100, "{shop_entry}");

    // The shop's audit log names the partner as the one acting.
    let log = json_of(
        partner
            .inside(&shop, Method::GET, "/audit-log?action=assets.create")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let created = &log["items"][0];
    assert_eq!(created["org_id"], shop.as_str());
    assert_eq!(created["actor_org_id"], partner_org.as_str());
    assert_eq!(created["actor_kind"], "api_key");

    // Walls: a non-partner has no customers; nobody acts in an organization not its customer.
    let plain = fleet
        .request(Method::GET, "/customers")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::FORBIDDEN);
    let plain = fleet
        .request(Method::GET, "/portfolio")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::FORBIDDEN);
    let into_shop = fleet
        .request(Method::GET, "/assets")
        .header(ACT, &shop)
        .send()
        .await
        .unwrap();
    // An admin key holds every permission, but the shop is not its organization's customer.
    assert_eq!(into_shop.status(), StatusCode::NOT_FOUND);
    let fleet_org = json_of(fleet.request(Method::GET, "/me").send().await.unwrap()).await;
    let fleet_org = fleet_org["org_id"].as_str().unwrap();
    let foreign = partner
        .inside(fleet_org, Method::GET, "/assets")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let malformed = partner
        .inside("not-an-id", Method::GET, "/assets")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    // A partner key that may only read customers cannot change anything inside them.
    let response = partner
        .send(Method::POST, "/api-keys")
        .json(&json!({"name": "reports", "scopes": ["read", "customers:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let reader = Partner {
        fleet: &fleet,
        key: json_of(response).await["key"].as_str().unwrap().to_string(),
    };
    let read = reader
        .inside(&shop, Method::GET, "/assets")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let write = reader
        .inside(&shop, Method::POST, "/assets")
        .json(&json!({"kind": "domain", "value": "shop.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    let portfolio = reader.send(Method::GET, "/portfolio").send().await.unwrap();
    assert_eq!(portfolio.status(), StatusCode::OK);
    // A partner key without the customers permission does not enter customers at all.
    let response = partner
        .send(Method::POST, "/api-keys")
        .json(&json!({"name": "ci", "scopes": ["write"]}))
        .send()
        .await
        .unwrap();
    let plain = Partner {
        fleet: &fleet,
        key: json_of(response).await["key"].as_str().unwrap().to_string(),
    };
    let refused = plain
        .inside(&shop, Method::GET, "/assets")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    fleet.stop().await.unwrap();
}

/// A partner's user, acting inside a customer, brings in the customer's own first person: the
/// invitation belongs to the customer, the person who accepts it signs in to the customer
/// alone, and an organization that is not the partner's customer cannot be invited into.
#[tokio::test]
async fn a_partner_invites_a_customer_s_first_user() {
    use reqwest::header::{COOKIE, SET_COOKIE};

    const PASSWORD: &str = "a partner's long password";
    let fleet = Fleet::start().await.unwrap();
    let (base_url, token) = (fleet.base.url(), fleet.env.service_token.clone());
    s4e_core::create_organization(&base_url, &token, "MSSP", "ops@mssp.test", PASSWORD, true)
        .await
        .unwrap();
    let stranger = s4e_core::create_admin_key(&base_url, &token, "Stranger")
        .await
        .unwrap();
    let stranger_org = json_of(
        fleet
            .http
            .get(fleet.api("/me"))
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap(),
    )
    .await["org_id"]
        .as_str()
        .unwrap()
        .to_string();

    let sign_in = |email: &'static str| {
        let fleet = &fleet;
        async move {
            let response = fleet
                .http
                .post(fleet.api("/auth/login"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{email}");
            let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
            let cookie = cookie.split(';').next().unwrap().to_string();
            let body = json_of(response).await;
            (cookie, body["csrf_token"].as_str().unwrap().to_string())
        }
    };
    let (cookie, csrf) = sign_in("ops@mssp.test").await;
    let send = |method: Method, path: &str| {
        fleet
            .http
            .request(method, fleet.api(path))
            .header(COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
    };

    let response = send(Method::POST, "/customers")
        .json(&json!({"name": "Gamma Labs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let customer = json_of(response).await["id"].as_str().unwrap().to_string();

    let invite = |inside: &str| {
        send(Method::POST, "/invitations")
            .header(ACT, inside)
            .json(&json!({"email": "ciso@gamma.test", "role": "owner"}))
            .send()
    };
    let response = invite(&customer).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let invitation = json_of(response).await;
    assert_eq!(invitation["org_id"], customer.as_str());
    let listed = json_of(
        send(Method::GET, "/invitations")
            .header(ACT, &customer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    // The partner's own organization has no such invitation.
    let own = json_of(send(Method::GET, "/invitations").send().await.unwrap()).await;
    assert_eq!(own["items"].as_array().unwrap().len(), 0, "{own}");

    // Not a customer of this partner: as if it did not exist.
    let response = invite(&stranger_org).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = fleet
        .http
        .post(fleet.api("/invitations/accept"))
        .json(&json!({"token": invitation["token"], "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (customer_cookie, _) = sign_in("ciso@gamma.test").await;
    let me = json_of(
        fleet
            .http
            .get(fleet.api("/me"))
            .header(COOKIE, &customer_cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["org_id"], customer.as_str());
    assert_eq!(me["user"]["role"], "owner");
    // The customer's person cannot act in the partner.
    let partner_org = json_of(send(Method::GET, "/me").send().await.unwrap()).await["org_id"]
        .as_str()
        .unwrap()
        .to_string();
    let response = fleet
        .http
        .get(fleet.api("/assets"))
        .header(COOKIE, &customer_cookie)
        .header(ACT, &partner_org)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(
            response.status(),
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ),
        "{}",
        response.status()
    );
    fleet.stop().await.unwrap();
}
