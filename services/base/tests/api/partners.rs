//! Partners and their customers, each partner seeing only its own.

use s4e_client::ClientError;
use s4e_types::api::{FinishJob, NewScanJob, NewScanRun};
use s4e_types::{CheckKind, JobStatus};

use crate::support::{Harness, draft, url_asset};

#[tokio::test]
async fn partners_have_customers_and_only_their_own() {
    let h = Harness::start().await;
    let partner = h.client.create_partner("MSSP").await.unwrap();
    let rival = h.client.create_partner("Rival").await.unwrap();
    let plain = h.client.create_organization("plain").await.unwrap();
    assert!(partner.is_partner && !plain.is_partner);
    let customer = h.client.create_customer(partner.id, "Shop").await.unwrap();
    assert_eq!(customer.partner_org_id, Some(partner.id));
    let not_a_partner = h.client.create_customer(plain.id, "x").await;
    assert!(matches!(not_a_partner, Err(ClientError::NotFound(_))));
    let blank = h.client.create_customer(partner.id, " ").await;
    assert!(matches!(blank, Err(ClientError::BadRequest(_))));
    assert_eq!(
        h.client
            .get_customer(partner.id, customer.id)
            .await
            .unwrap(),
        customer
    );
    let theirs = h.client.get_customer(rival.id, customer.id).await;
    assert!(matches!(theirs, Err(ClientError::NotFound(_))));
    let itself = h.client.get_customer(partner.id, partner.id).await;
    assert!(matches!(itself, Err(ClientError::NotFound(_))));
    assert!(h.client.list_customers(rival.id).await.unwrap().is_empty());

    // The portfolio counts open findings per customer.
    let asset = h
        .client
        .create_asset(customer.id, &url_asset("http://shop.test/"))
        .await
        .unwrap();
    let run = h
        .client
        .create_run(
            customer.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "full".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: asset.value.clone(),
                    ports: None,
                }],
            },
        )
        .await
        .unwrap();
    h.client
        .start_job(customer.id, run.jobs[0].id)
        .await
        .unwrap();
    let report = FinishJob {
        status: JobStatus::Completed,
        observed: Default::default(),
        error: None,
        raw_output_id: None,
        findings: vec![draft("missing_csp"), draft("missing_referrer_policy")],
    };
    h.client
        .finish_job(customer.id, run.jobs[0].id, &report)
        .await
        .unwrap();
    let second = h.client.create_customer(partner.id, "Bank").await.unwrap();
    let portfolio = h.client.portfolio(partner.id).await.unwrap();
    let names: Vec<&str> = portfolio
        .iter()
        .map(|entry| entry.organization.name.as_str())
        .collect();
    assert_eq!(names, ["Bank", "Shop"]);
    assert_eq!(portfolio[0].organization, second);
    assert_eq!(portfolio[0].open_findings.medium, 0);
    assert_eq!(portfolio[1].open_findings.medium, 2);
    assert!(h.client.portfolio(rival.id).await.unwrap().is_empty());
    h.stop().await;
}
