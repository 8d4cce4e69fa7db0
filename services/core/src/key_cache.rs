//! A short-lived cache of API key lookups, so that a client's requests do not each cost a call
//! to base. An entry lives a few seconds: a key revoked through this gateway is evicted at once;
//! through another replica, it is refused here within the entry's lifetime at most.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s4e_types::ApiKeyId;
use s4e_types::api::ApiKeyRecord;

/// Entries at most; the cache is emptied when full rather than tracking recency.
const CAPACITY: usize = 10_000;

/// A record and when it was stored.
type Entry = (Arc<ApiKeyRecord>, Instant);

#[derive(Clone)]
pub struct KeyCache {
    ttl: Duration,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::default(),
        }
    }

    /// The record cached for `key_hash`, if still fresh and not past its own expiry.
    pub fn get(&self, key_hash: &str) -> Option<Arc<ApiKeyRecord>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let (record, stored) = entries.get(key_hash)?;
        let fresh = stored.elapsed() < self.ttl;
        let expired = record.expires_at.is_some_and(|at| at <= chrono::Utc::now());
        (fresh && !expired).then(|| Arc::clone(record))
    }

    pub fn insert(&self, key_hash: String, record: Arc<ApiKeyRecord>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key_hash, (record, Instant::now()));
    }

    /// Forgets a key, after it was revoked here.
    pub fn evict(&self, key_id: ApiKeyId) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        entries.retain(|_, (record, _)| record.id != key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s4e_types::OrgId;

    fn record(expires_in: Option<chrono::Duration>) -> ApiKeyRecord {
        ApiKeyRecord {
            id: ApiKeyId::new(),
            org_id: OrgId::new(),
            name: "k".into(),
            prefix: "s4e_abcdef".into(),
            scopes: vec!["read".into()],
            revoked: false,
            created_at: chrono::Utc::now(),
            expires_at: expires_in.map(|delta| chrono::Utc::now() + delta),
            rate_tier: Default::default(),
        }
    }

    #[test]
    fn entries_are_fresh_until_evicted_or_expired() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let kept = record(None);
        cache.insert("a".into(), Arc::new(kept.clone()));
        assert_eq!(cache.get("a").as_deref(), Some(&kept));
        cache.evict(kept.id);
        assert_eq!(cache.get("a"), None);

        cache.insert(
            "b".into(),
            Arc::new(record(Some(chrono::Duration::seconds(-1)))),
        );
        assert_eq!(cache.get("b"), None, "a key past its expiry is not served");

        let off = KeyCache::new(Duration::ZERO);
        off.insert("c".into(), Arc::new(record(None)));
        assert_eq!(off.get("c"), None);
    }
}
