//! Assets: scoped by organization, and how a failed verification treats an earlier proof.

use s4e_client::ClientError;
use s4e_types::OrgId;

use crate::support::{Harness, url_asset};

#[tokio::test]
async fn assets_are_scoped_by_organization() {
    let h = Harness::start().await;
    let org_a = h.client.create_organization("a").await.unwrap();
    let org_b = h.client.create_organization("b").await.unwrap();

    let asset = h
        .client
        .create_asset(org_a.id, &url_asset("https://Example.com/app#x"))
        .await
        .unwrap();
    assert_eq!(asset.value, "https://example.com/app");
    assert_eq!(asset.org_id, org_a.id);

    // The same value twice in one organization is a conflict; in another it is fine.
    let duplicate = h
        .client
        .create_asset(org_a.id, &url_asset("https://example.com/app"))
        .await;
    assert!(
        matches!(duplicate, Err(ClientError::Conflict(_))),
        "{duplicate:?}"
    );
    h.client
        .create_asset(org_b.id, &url_asset("https://example.com/app"))
        .await
        .unwrap();

    assert_eq!(
        h.client
            .list_assets(org_a.id, &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        h.client.get_asset(org_a.id, asset.id).await.unwrap().id,
        asset.id
    );
    // Another organization's id answers exactly like an unknown one.
    let foreign = h.client.get_asset(org_b.id, asset.id).await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound(_))),
        "{foreign:?}"
    );
    let unknown_org = h
        .client
        .list_assets(OrgId::new(), &Default::default())
        .await
        .unwrap()
        .items;
    assert!(unknown_org.is_empty());
    let into_unknown_org = h
        .client
        .create_asset(OrgId::new(), &url_asset("https://x.test/"))
        .await;
    assert!(matches!(into_unknown_org, Err(ClientError::NotFound(_))));

    h.stop().await;
}

/// A failed verification withdraws the proof, unless nothing could be reached and the proof is
/// younger than the grace period given; every attempt counts as the last check.
#[tokio::test]
async fn an_unreachable_asset_keeps_a_recent_proof_for_its_grace_period() {
    use s4e_types::VerificationMethod;
    use s4e_types::api::RecordVerification;

    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let record = |proven_by, keep| RecordVerification {
        proven_by,
        keep_proof_younger_than_seconds: keep,
    };
    let proven = h
        .client
        .record_verification(
            org.id,
            asset.id,
            &record(Some(VerificationMethod::HttpFile), None),
        )
        .await
        .unwrap();
    let proven_at = proven.verified_at.expect("proven");

    // Unreachable, within an hour's grace: kept as it was.
    let kept = h
        .client
        .record_verification(org.id, asset.id, &record(None, Some(3600)))
        .await
        .unwrap();
    assert_eq!(kept.verified_at, Some(proven_at));
    assert_eq!(kept.verification_method, Some(VerificationMethod::HttpFile));
    // Not due again within the period: the attempt counts as the last check.
    let due = h
        .client
        .due_for_reverification(std::time::Duration::from_secs(60), 100)
        .await
        .unwrap();
    assert!(due.iter().all(|due| due.id != asset.id));

    // A grace period the proof is older than: withdrawn.
    let lost = h
        .client
        .record_verification(org.id, asset.id, &record(None, Some(0)))
        .await
        .unwrap();
    assert_eq!(lost.verified_at, None);
    assert_eq!(lost.verification_method, None);

    // Without a grace period, a failed attempt withdraws at once; another organization's
    // asset is not found.
    h.client
        .record_verification(
            org.id,
            asset.id,
            &record(Some(VerificationMethod::MetaTag), None),
        )
        .await
        .unwrap();
    let withdrawn = h
        .client
        .record_verification(org.id, asset.id, &record(None, None))
        .await
        .unwrap();
    assert_eq!(withdrawn.verified_at, None);
    let other = h.client.create_organization("b").await.unwrap();
    let foreign = h
        .client
        .record_verification(other.id, asset.id, &record(None, Some(3600)))
        .await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound(_))),
        "{foreign:?}"
    );
    h.stop().await;
}
