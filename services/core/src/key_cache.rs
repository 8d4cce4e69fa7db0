//! A short-lived cache of API key lookups, so that a client's requests do not each cost a call
//! to base. An entry lives a few seconds: a key revoked through this gateway is evicted at once;
//! through another replica, it is refused here within the entry's lifetime at most.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s4e_types::ApiKeyId;
use s4e_types::api::ApiKeyRecord;

use crate::permissions::Permissions;

/// Entries at most; the cache is emptied when full rather than tracking recency.
const CAPACITY: usize = 10_000;

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

/// A key and until when it may be served: its entry's lifetime, or its own expiry if sooner
/// (one clock reading per lookup).
type Entry = (Arc<KnownKey>, Instant);

#[derive(Clone)]
pub struct KeyCache {
    ttl: Duration,
    entries: Arc<Mutex<Entries>>,
}

#[derive(Default)]
struct Entries {
    by_digest: HashMap<KeyDigest, Entry>,
    /// Counts evictions: a lookup that began before one may have read the evicted key.
    generation: u64,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// To read before looking a key up and hand to [`KeyCache::insert`] with its result.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The key cached for `digest`, if still fresh and not past its own expiry.
    pub fn get(&self, digest: &KeyDigest) -> Option<Arc<KnownKey>> {
        let entries = self.lock();
        let (key, until) = entries.by_digest.get(digest)?;
        (Instant::now() < *until).then(|| Arc::clone(key))
    }

    /// Keeps a key looked up since [`KeyCache::generation`] said `generation`, unless a key
    /// was revoked here meanwhile: the lookup may have read it before its revocation.
    pub fn insert(&self, digest: KeyDigest, key: Arc<KnownKey>, generation: u64) {
        let now = Instant::now();
        let mut until = now + self.ttl;
        if let Some(expires_at) = key.record.expires_at {
            let left = (expires_at - chrono::Utc::now())
                .to_std()
                .unwrap_or_default();
            until = until.min(now + left);
        }
        if until <= now {
            return;
        }
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        if entries.by_digest.len() >= CAPACITY {
            entries.by_digest.clear();
        }
        entries.by_digest.insert(digest, (key, until));
    }

    /// Forgets a key, after it was revoked here.
    pub fn evict(&self, key_id: ApiKeyId) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries
            .by_digest
            .retain(|_, (key, _)| key.record.id != key_id);
    }
}

#[cfg(test)]
mod tests {
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
