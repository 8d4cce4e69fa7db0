//! The second factor of a user: pending until enabled, one active at a time.

use s4e_client::ClientError;

use crate::support::{Harness, argon2_hash};

#[tokio::test]
async fn a_second_factor_is_pending_until_enabled_and_only_one_is_active() {
    use s4e_types::account::NewOrganizationWithOwner;

    let h = Harness::start().await;
    let acme = h
        .client
        .create_organization_with_owner(&NewOrganizationWithOwner {
            organization_name: "Acme".into(),
            email: "owner@acme.test".into(),
            password_hash: argon2_hash("a"),
            is_partner: false,
        })
        .await
        .unwrap();
    let (org, user) = (acme.organization.id, acme.owner.id);
    let nothing_pending = h.client.enable_totp(org, user).await;
    assert!(matches!(nothing_pending, Err(ClientError::Conflict(_))));
    let unsealed = h
        .client
        .set_pending_totp(org, user, "JBSWY3DPEHPK3PXP")
        .await;
    assert!(matches!(unsealed, Err(ClientError::BadRequest(m)) if m.contains("sealed_secret")));
    let pending = h.client.set_pending_totp(org, user, "v1:aa").await.unwrap();
    assert!(!pending.totp_enabled);
    let enabled = h.client.enable_totp(org, user).await.unwrap();
    assert!(enabled.totp_enabled);
    let stored = h.client.credentials("owner@acme.test").await.unwrap();
    assert_eq!(stored.totp_secret.as_deref(), Some("v1:aa"));
    assert_eq!(stored.totp_pending_secret, None);
    let second = h.client.set_pending_totp(org, user, "v1:bb").await;
    assert!(matches!(second, Err(ClientError::Conflict(_))));
    // Another organization's user id is not found.
    let other = h.client.create_organization("other").await.unwrap();
    let foreign = h.client.disable_totp(other.id, user).await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let foreign = h.client.set_pending_totp(other.id, user, "v1:cc").await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let disabled = h.client.disable_totp(org, user).await.unwrap();
    assert!(!disabled.totp_enabled);
    h.stop().await;
}
