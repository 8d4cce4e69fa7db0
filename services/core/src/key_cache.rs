//! A short-lived cache of API key lookups, so that a client's requests do not each cost a call
//! to base. An entry lives a few seconds: a key revoked through this gateway is evicted at once;
//! through another replica, it is refused here within the entry's lifetime at most.

use std::sync::Arc;
use std::time::Duration;

use s4e_types::ApiKeyId;
use s4e_types::api::ApiKeyRecord;

use crate::permissions::Permissions;
use crate::ttl_cache::TtlCache;

/// The SHA-256 of a presented key (`api_key::digest`).
pub type KeyDigest = [u8; 32];

/// A key as every request uses it, prepared once per lookup instead of once per request.
#[derive(Debug, PartialEq)]
pub struct KnownKey {
    pub record: ApiKeyRecord,
    /// Its scopes, parsed.
    pub permissions: Permissions,
    /// Its rate-limit bucket.
    pub bucket: String,
}

#[derive(Clone)]
pub struct KeyCache(TtlCache<KeyDigest, Arc<KnownKey>>);

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self(TtlCache::new(ttl))
    }

    /// To read before looking a key up and hand to [`KeyCache::insert`] with its result.
    pub fn generation(&self) -> u64 {
        self.0.generation()
    }

    /// The key cached for `digest`, if still fresh and not past its own expiry.
    pub fn get(&self, digest: &KeyDigest) -> Option<Arc<KnownKey>> {
        self.0.get(digest)
    }

    /// Keeps a key looked up since [`KeyCache::generation`] said `generation`, unless a key
    /// was revoked here meanwhile: the lookup may have read it before its revocation. A key
    /// expiring sooner than the cache's lifetime is kept until its expiry only.
    pub fn insert(&self, digest: KeyDigest, key: Arc<KnownKey>, generation: u64) {
        let left = key.record.expires_at.map(|expires_at| {
            (expires_at - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        });
        self.0.insert(digest, key, left, generation);
    }

    /// Forgets a key, after it was revoked here.
    pub fn evict(&self, key_id: ApiKeyId) {
        self.0.evict(|key| key.record.id == key_id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use s4e_types::OrgId;

    fn key(expires_in: Option<chrono::Duration>) -> Arc<KnownKey> {
        let record = ApiKeyRecord {
            id: ApiKeyId::new(),
            org_id: OrgId::new(),
            name: "k".into(),
            prefix: "s4e_abcdef".into(),
            scopes: vec!["read".into()],
            revoked: false,
            created_at: chrono::Utc::now(),
            expires_at: expires_in.map(|delta| chrono::Utc::now() + delta),
            rate_tier: Default::default(),
        };
        Arc::new(KnownKey {
            bucket: crate::rate_limit::key_bucket(record.id),
            record,
            permissions: Permissions::NONE,
        })
    }

    #[test]
    fn entries_are_fresh_until_evicted_or_expired() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let kept = key(None);
        cache.insert([1; 32], Arc::clone(&kept), cache.generation());
        assert_eq!(cache.get(&[1; 32]), Some(Arc::clone(&kept)));
        assert_eq!(cache.get(&[2; 32]), None);
        cache.evict(kept.record.id);
        assert_eq!(cache.get(&[1; 32]), None);

        cache.insert(
            [2; 32],
            key(Some(chrono::Duration::seconds(-1))),
            cache.generation(),
        );
        assert_eq!(
            cache.get(&[2; 32]),
            None,
            "a key past its expiry is not served"
        );

        let off = KeyCache::new(Duration::ZERO);
        off.insert([3; 32], key(None), off.generation());
        assert_eq!(off.get(&[3; 32]), None);
    }

    #[test]
    fn a_lookup_that_began_before_a_revocation_is_not_kept() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let revoked = key(None);
        let before = cache.generation();
        // Revoked here while its lookup was under way: what the lookup read is not kept.
        cache.evict(revoked.record.id);
        cache.insert([5; 32], revoked, before);
        assert_eq!(cache.get(&[5; 32]), None);
        let looked_up_after = key(None);
        cache.insert([5; 32], Arc::clone(&looked_up_after), cache.generation());
        assert_eq!(cache.get(&[5; 32]), Some(looked_up_after));
    }

    #[test]
    fn a_key_expiring_within_the_lifetime_is_served_until_its_expiry() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let expiring = key(Some(chrono::Duration::milliseconds(300)));
        let expires_at = expiring.record.expires_at.unwrap();
        cache.insert([4; 32], expiring, cache.generation());
        assert!(cache.get(&[4; 32]).is_some());
        let deadline = Instant::now() + Duration::from_secs(5);
        while cache.get(&[4; 32]).is_some() {
            assert!(Instant::now() < deadline, "still served past its expiry");
            std::thread::yield_now();
        }
        // Refused from its expiry on, not before (a few milliseconds of clock reading apart).
        assert!(chrono::Utc::now() + chrono::Duration::milliseconds(5) >= expires_at);
    }
}
