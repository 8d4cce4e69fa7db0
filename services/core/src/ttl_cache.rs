//! The gateway's one in-memory cache: entries live a fixed time (or less, when the value's own
//! expiry comes sooner), the memory is emptied when full rather than tracking recency, and an
//! eviction bumps a generation so that a lookup which began before it is not kept (it may have
//! read what was just evicted). API keys and a partner's customers are cached with it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Entries at most.
const CAPACITY: usize = 10_000;

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Arc<Mutex<Entries<K, V>>>,
}

// Not derived: a derive would ask `K` and `V` to be `Clone`, and only the `Arc` is cloned.
impl<K, V> Clone for TtlCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            ttl: self.ttl,
            entries: Arc::clone(&self.entries),
        }
    }
}

struct Entries<K, V> {
    /// Each value with the instant it stops being served.
    values: HashMap<K, (V, Instant)>,
    /// Counts evictions.
    generation: u64,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// A cache whose entries live `ttl`; `Duration::ZERO` keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::new(Mutex::new(Entries {
                values: HashMap::new(),
                generation: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries<K, V>> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// To read before looking a value up and hand to [`TtlCache::insert`] with its result.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The value cached for `key`, while fresh.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.lock();
        let (value, until) = entries.values.get(key)?;
        (Instant::now() < *until).then(|| value.clone())
    }

    /// Keeps a value looked up since [`TtlCache::generation`] said `generation`, for the
    /// cache's lifetime or `left` if shorter; not when something was evicted meanwhile.
    pub fn insert(&self, key: K, value: V, left: Option<Duration>, generation: u64) {
        let lifetime = left.map_or(self.ttl, |left| left.min(self.ttl));
        if lifetime.is_zero() {
            return;
        }
        let until = Instant::now() + lifetime;
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        if entries.values.len() >= CAPACITY {
            entries.values.clear();
        }
        entries.values.insert(key, (value, until));
    }

    /// Forgets every value `stale` says is out of date.
    pub fn evict(&self, mut stale: impl FnMut(&V) -> bool) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.values.retain(|_, (value, _)| !stale(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_served_until_their_lifetime_ends() {
        let cache = TtlCache::new(Duration::from_secs(60));
        cache.insert(1, "a", None, cache.generation());
        assert_eq!(cache.get(&1), Some("a"));
        assert_eq!(cache.get(&2), None);

        let short = TtlCache::new(Duration::from_secs(60));
        short.insert(1, "a", Some(Duration::from_millis(1)), short.generation());
        let deadline = Instant::now() + Duration::from_secs(1);
        while short.get(&1).is_some() {
            assert!(Instant::now() < deadline, "the entry never expired");
            std::hint::spin_loop();
        }

        let off = TtlCache::new(Duration::ZERO);
        off.insert(1, "a", None, off.generation());
        assert_eq!(off.get(&1), None);
    }

    #[test]
    fn an_eviction_drops_its_values_and_lookups_begun_before_it() {
        let cache = TtlCache::new(Duration::from_secs(60));
        cache.insert(1, "revoked", None, cache.generation());
        cache.insert(2, "kept", None, cache.generation());
        let before = cache.generation();
        cache.evict(|value| *value == "revoked");
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&2), Some("kept"));
        cache.insert(3, "read before", None, before);
        assert_eq!(cache.get(&3), None);
    }
}
