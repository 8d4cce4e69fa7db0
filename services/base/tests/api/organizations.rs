//! Organizations with their owner, members and invitations.

use s4e_client::ClientError;

use crate::support::{Harness, argon2_hash};

#[tokio::test]
async fn organizations_keep_an_owner_and_invitations_are_spent_once() {
    use s4e_types::Role;
    use s4e_types::account::{AcceptInvitation, NewInvitation, NewOrganizationWithOwner};

    let h = Harness::start().await;
    let signup = |email: &str, hash: String| NewOrganizationWithOwner {
        organization_name: "Acme".into(),
        email: email.into(),
        password_hash: hash,
        is_partner: false,
    };
    let acme = h
        .client
        .create_organization_with_owner(&signup(" Owner@Acme.test ", argon2_hash("a")))
        .await
        .unwrap();
    assert_eq!(acme.owner.email, "owner@acme.test");
    assert_eq!(acme.owner.role, Role::Owner);
    // The same address cannot sign up twice, in any case.
    let again = h
        .client
        .create_organization_with_owner(&signup("OWNER@acme.test", argon2_hash("b")))
        .await;
    assert!(matches!(again, Err(ClientError::Conflict(_))), "{again:?}");
    // A plain-text password is refused: base never stores one.
    let plain = h
        .client
        .create_organization_with_owner(&signup("x@acme.test", "hunter2hunter2".into()))
        .await;
    assert!(matches!(plain, Err(ClientError::BadRequest(m)) if m.contains("password_hash")));

    let credentials = h.client.credentials("OWNER@ACME.TEST").await.unwrap();
    assert_eq!(credentials.user, acme.owner);
    assert_eq!(credentials.password_hash, argon2_hash("a"));
    let unknown = h.client.credentials("nobody@acme.test").await;
    assert!(matches!(unknown, Err(ClientError::NotFound(_))));

    // The only owner can be neither demoted nor removed.
    let org = acme.organization.id;
    let demote = h
        .client
        .set_user_role(org, acme.owner.id, Role::Admin)
        .await;
    assert!(
        matches!(demote, Err(ClientError::Conflict(_))),
        "{demote:?}"
    );
    let remove = h.client.delete_user(org, acme.owner.id).await;
    assert!(
        matches!(remove, Err(ClientError::Conflict(_))),
        "{remove:?}"
    );

    // An invitation becomes a user once; a second acceptance finds nothing.
    let invitation = h
        .client
        .invite(
            org,
            &NewInvitation {
                email: "Member@Acme.test".into(),
                role: Role::Member,
                token_hash: "cd".repeat(32),
                invited_by: acme.owner.id,
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    assert_eq!(invitation.email, "member@acme.test");
    let accept = AcceptInvitation {
        token_hash: "CD".repeat(32),
        password_hash: argon2_hash("m"),
    };
    let member = h.client.accept_invitation(&accept).await.unwrap();
    assert_eq!((member.org_id, member.role), (org, Role::Member));
    let twice = h.client.accept_invitation(&accept).await;
    assert!(matches!(twice, Err(ClientError::NotFound(_))), "{twice:?}");
    let listed = h.client.list_invitations(org).await.unwrap();
    assert!(listed[0].accepted_at.is_some());

    // With a second owner, the first may step down.
    h.client
        .set_user_role(org, member.id, Role::Owner)
        .await
        .unwrap();
    let stepped = h
        .client
        .set_user_role(org, acme.owner.id, Role::Admin)
        .await
        .unwrap();
    assert_eq!(stepped.role, Role::Admin);

    // Another organization sees none of it.
    let other = h
        .client
        .create_organization_with_owner(&signup("owner@other.test", argon2_hash("o")))
        .await
        .unwrap();
    let foreign = h.client.get_user(other.organization.id, member.id).await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let foreign = h
        .client
        .set_user_role(other.organization.id, member.id, Role::Viewer)
        .await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let users = h
        .client
        .list_users(other.organization.id, &Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(users, vec![other.owner.clone()]);
    // An inviter from another organization cannot invite here.
    let stray = h
        .client
        .invite(
            org,
            &NewInvitation {
                email: "x@acme.test".into(),
                role: Role::Viewer,
                token_hash: "ef".repeat(32),
                invited_by: other.owner.id,
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await;
    assert!(matches!(stray, Err(ClientError::NotFound(_))), "{stray:?}");
    h.stop().await;
}
