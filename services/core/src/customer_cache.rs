//! A short-lived memory of which organizations are a partner's customers, so that a partner's
//! requests naming a customer (`X-Organization-Id`) do not each cost a call to base. Only
//! confirmations are kept: an id that is not the partner's customer is asked about every time.
//! Customers are never detached from their partner, so an entry can only be out of date for
//! an organization removed meanwhile, and then base refuses what the request asks.

use std::time::Duration;

use s4e_types::OrgId;

use crate::ttl_cache::TtlCache;

#[derive(Clone)]
pub struct CustomerCache(TtlCache<(OrgId, OrgId), ()>);

impl CustomerCache {
    pub fn new(ttl: Duration) -> Self {
        Self(TtlCache::new(ttl))
    }

    /// Whether base confirmed lately that `customer` is `partner`'s.
    pub fn confirmed(&self, partner: OrgId, customer: OrgId) -> bool {
        self.0.get(&(partner, customer)).is_some()
    }

    /// Nothing is ever evicted, so any generation is current.
    pub fn confirm(&self, partner: OrgId, customer: OrgId) {
        self.0
            .insert((partner, customer), (), None, self.0.generation());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn only_the_confirmed_pair_is_remembered_and_only_for_a_while() {
        let cache = CustomerCache::new(Duration::from_secs(60));
        let (partner, customer, other) = (OrgId::new(), OrgId::new(), OrgId::new());
        assert!(!cache.confirmed(partner, customer));
        cache.confirm(partner, customer);
        assert!(cache.confirmed(partner, customer));
        assert!(!cache.confirmed(other, customer), "another partner");
        assert!(!cache.confirmed(partner, other), "another customer");

        let expired = CustomerCache::new(Duration::from_nanos(1));
        expired.confirm(partner, customer);
        let deadline = Instant::now() + Duration::from_secs(1);
        while expired.confirmed(partner, customer) {
            assert!(Instant::now() < deadline, "the entry never expired");
            std::hint::spin_loop();
        }

        let off = CustomerCache::new(Duration::ZERO);
        off.confirm(partner, customer);
        assert!(!off.confirmed(partner, customer));
    }
}
