//! HTTP clients per origin for the fetch stage, each pinned to the address the egress policy
//! approved for it, kept for a short while: a crawl's pages reuse the connections to their
//! site instead of building a client and a connection per page, and the policy is asked again
//! once a client expires (a name that now resolves elsewhere is judged anew).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use s4e_egress::http::{self, Pinned};
use s4e_egress::{EgressPolicy, ReachError};
use tokio::time::Instant;
use url::Url;

/// How long an approval and its client are reused.
const REUSE: Duration = Duration::from_secs(30);
/// The most origins kept at once (one crawler replica serves many crawls).
const CAPACITY: usize = 256;

#[derive(Default)]
pub struct Clients {
    pinned: Mutex<HashMap<String, (Pinned, Instant)>>,
}

impl Clients {
    /// A client for `url`'s origin, approved by `policy` by `deadline` when none is kept.
    pub async fn for_url(
        &self,
        url: &Url,
        policy: &EgressPolicy,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Pinned, ReachError> {
        let origin = url.origin().ascii_serialization();
        if let Some((client, made)) = self.pinned.lock().expect("not poisoned").get(&origin)
            && made.elapsed() < REUSE
        {
            return Ok(client.clone());
        }
        let (approved, addr) = http::approve(url.as_str(), policy, deadline, timeout).await?;
        let client = Pinned::new(&approved, addr)?;
        let mut pinned = self.pinned.lock().expect("not poisoned");
        if pinned.len() >= CAPACITY {
            pinned.retain(|_, (_, made)| made.elapsed() < REUSE);
            if pinned.len() >= CAPACITY {
                pinned.clear();
            }
        }
        pinned.insert(origin, (client.clone(), Instant::now()));
        Ok(client)
    }
}
