//! API keys, found by their hash only.

use s4e_client::ClientError;
use s4e_types::api::NewApiKey;

use crate::support::Harness;

#[tokio::test]
async fn api_keys_are_found_by_hash_only() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let key = NewApiKey {
        name: "ci".into(),
        prefix: "s4e_abcd".into(),
        key_hash: "ab".repeat(32),
        scopes: vec!["admin".into()],
        expires_at: None,
    };
    let created = h.client.create_api_key(org.id, &key).await.unwrap();
    let found = h.client.api_key_by_hash(&"AB".repeat(32)).await.unwrap();
    assert_eq!(found, created);
    assert!(!found.revoked);
    let missing = h.client.api_key_by_hash(&"cd".repeat(32)).await;
    assert!(matches!(missing, Err(ClientError::NotFound(_))));
    let again = h.client.create_api_key(org.id, &key).await;
    assert!(matches!(again, Err(ClientError::Conflict(_))));
    h.stop().await;
}
