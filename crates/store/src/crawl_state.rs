//! The state of every running crawl in Redis: what it has seen, what is still queued, its
//! limits. The URLs to fetch travel as messages on the crawl queue (the broker keeps them on
//! disk); this is the bookkeeping that makes a crawl finish exactly once and resume after every
//! crawler was killed, without a crawler holding any of it in memory.
//!
//! Per crawl (keyed by its job): a hash `urls` of URL → state, `q|<parent>` while queued (the
//! page whose fetch discovered it, empty for a seed), `f|<lease end>|<holder>|<parent>` while a
//! fetch holds it, or `d` once done; a hash `meta` with the
//! counters (`queued`, `seen`) and the crawl's settings; a hash `templates` counting the URLs
//! seen per template (trap detection). Every change is one Lua script, atomic.
//!
//! How nothing is lost: a page's fetch records its links (`discover`) before it publishes them,
//! and is marked done (`finish_url`) only after they are published. A crawler killed between
//! the two gets the page's message again: `discover` then answers `Mine` for the links that
//! page had recorded (still queued with it as their parent), and they are published again. A
//! link already fetched or queued by another page is not. A fetch claims its URL first
//! (`claim`, by its message's id): a second copy of the message (published again that way)
//! waits while the claim's lease runs, and the same message redelivered takes its claim back.
//! So at most the pages in flight at a kill are fetched twice, and `queued` reaches 0 once,
//! after the last page is done.

use std::collections::HashMap;

use redis::aio::ConnectionManager;
use s4e_types::JobId;

use crate::Redis;
use crate::error::StoreError;

/// How long a crawl's keys live after their last change: a crawl whose job is gone cleans up.
const TTL_SECONDS: i64 = 7 * 24 * 3600;

/// KEYS: urls, meta, templates. ARGV[1] parent, ARGV[2] the most URLs (0: none), ARGV[3] the
/// most URLs per template (0: none), ARGV[4] ttl, then (url, template) pairs. Returns one code
/// per URL: 1 new, 2 mine (queued by this parent), 0 known, 3 over the crawl's limit, 4 over
/// its template's limit.
const DISCOVER: &str = r"
local parent = 'q|' .. ARGV[1]
local max_urls = tonumber(ARGV[2])
local max_per_template = tonumber(ARGV[3])
local result = {}
for i = 5, #ARGV, 2 do
  local url = ARGV[i]
  local state = redis.call('HGET', KEYS[1], url)
  if state == parent then
    table.insert(result, 2)
  elseif state then
    table.insert(result, 0)
  else
    local seen = tonumber(redis.call('HGET', KEYS[2], 'seen') or '0')
    local same = tonumber(redis.call('HGET', KEYS[3], ARGV[i + 1]) or '0')
    if max_urls > 0 and seen >= max_urls then
      redis.call('HSET', KEYS[2], 'truncated', 'pages')
      table.insert(result, 3)
    elseif max_per_template > 0 and same >= max_per_template then
      redis.call('HINCRBY', KEYS[2], 'trapped', 1)
      table.insert(result, 4)
    else
      redis.call('HSET', KEYS[1], url, parent)
      redis.call('HINCRBY', KEYS[2], 'seen', 1)
      redis.call('HINCRBY', KEYS[2], 'queued', 1)
      redis.call('HINCRBY', KEYS[3], ARGV[i + 1], 1)
      table.insert(result, 1)
    end
  end
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return result
";

/// KEYS: urls, meta. ARGV[1] url, ARGV[2] holder, ARGV[3] lease in ms. Returns the code (0
/// unknown, 1 claimed: fetch it, 2 done, 3 held by another holder whose lease runs) and the
/// crawl's `meta` hash as read before, field and value in turn: what a stage needs of a
/// crawl comes back with its claim, in one round trip. A crawl that never began (or is
/// forgotten) claims nothing.
const CLAIM: &str = r"
local meta = redis.call('HGETALL', KEYS[2])
if redis.call('HEXISTS', KEYS[2], 'began') == 0 then return {0, meta} end
local state = redis.call('HGET', KEYS[1], ARGV[1])
if not state then return {0, meta} end
if state == 'd' then return {2, meta} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local parent
if string.sub(state, 1, 2) == 'q|' then
  parent = string.sub(state, 3)
else
  local lease_end, holder, rest = string.match(state, '^f|(%d+)|([^|]*)|(.*)$')
  if holder ~= ARGV[2] and tonumber(lease_end) > now then return {3, meta} end
  parent = rest
end
redis.call('HSET', KEYS[1], ARGV[1], 'f|' .. (now + tonumber(ARGV[3])) .. '|' .. ARGV[2] .. '|' .. parent)
return {1, meta}
";

/// KEYS: urls, meta. ARGV[1] url. Marks it done (once) and returns how many are still queued.
const FINISH_URL: &str = r"
local state = redis.call('HGET', KEYS[1], ARGV[1])
local queued
if state and state ~= 'd' then
  redis.call('HSET', KEYS[1], ARGV[1], 'd')
  queued = redis.call('HINCRBY', KEYS[2], 'queued', -1)
else
  queued = tonumber(redis.call('HGET', KEYS[2], 'queued') or '0')
end
return {queued, tonumber(redis.call('HGET', KEYS[2], 'seen') or '0')}
";

/// A crawl's frontier after a page was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frontier {
    /// URLs still queued (0: the frontier is empty).
    pub queued: i64,
    /// URLs the crawl has taken in, done or queued (a fuzzed directory is one).
    pub seen: i64,
}

/// What a fetch may do with a URL of a crawl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageClaim {
    /// Not part of the crawl (or the crawl is over and forgotten).
    Unknown,
    /// Claimed for this holder: fetch it.
    Fetch,
    Done,
    /// Another copy of the message is fetching it: come back once its lease may have run.
    Busy,
}

/// What `discover` made of one URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discovered {
    /// Seen for the first time: publish it.
    New,
    /// Queued by this same parent earlier (a fetch that did not finish): publish it again.
    Mine,
    /// Queued or done through another page.
    Known,
    /// The crawl has reached its URL limit.
    OverLimit,
    /// Too many URLs of the same template (a calendar, an endless listing): a trap.
    Trapped,
}

/// A claim, with the crawl's settings and counters read in the same step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub claim: PageClaim,
    /// `None`: the crawl is over and forgotten (and nothing was claimed).
    pub meta: Option<CrawlMeta>,
}

/// A crawl's settings and counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrawlMeta {
    /// Settings written once when the crawl begins (field → value).
    pub settings: HashMap<String, String>,
    pub seen: u64,
    pub queued: i64,
    /// URLs refused as traps.
    pub trapped: u64,
    /// Why the crawl stopped short, if it did (`pages`, `time`).
    pub truncated: Option<String>,
}

impl CrawlMeta {
    /// From the `meta` hash's fields; `None` when the crawl never began or is forgotten.
    fn of(mut fields: HashMap<String, String>) -> Option<CrawlMeta> {
        fields.remove("began")?;
        let mut number = |field: &str| {
            fields
                .remove(field)
                .and_then(|value| value.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let seen = u64::try_from(number("seen")).unwrap_or(0);
        let queued = number("queued");
        let trapped = u64::try_from(number("trapped")).unwrap_or(0);
        let truncated = fields.remove("truncated");
        Some(CrawlMeta {
            settings: fields,
            seen,
            queued,
            trapped,
            truncated,
        })
    }
}

#[derive(Clone)]
pub struct CrawlState {
    connection: ConnectionManager,
    prefix: String,
}

impl CrawlState {
    pub fn new(redis: &Redis, namespace: &str) -> Self {
        Self {
            connection: redis.connection.clone(),
            prefix: namespace.to_string(),
        }
    }

    fn keys(&self, job_id: JobId) -> [String; 3] {
        let base = format!("{}:crawl:{job_id}", self.prefix);
        [
            format!("{base}:urls"),
            format!("{base}:meta"),
            format!("{base}:templates"),
        ]
    }

    /// Where a crawl keeps its organization's fuzzing words, apart from `meta` (which every
    /// fetch reads): only the fuzzing stage reads them.
    fn words_key(&self, job_id: JobId) -> String {
        format!("{}:crawl:{job_id}:words", self.prefix)
    }

    /// Keeps `words` (an organization's wordlist, serialised) for the crawl unless it has some
    /// already: a crawl keeps the words it began with.
    pub async fn keep_words(&self, job_id: JobId, words: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("SET")
            .arg(self.words_key(job_id))
            .arg(words)
            .arg("NX")
            .arg("EX")
            .arg(TTL_SECONDS)
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    /// The words the crawl keeps, if any.
    pub async fn words(&self, job_id: JobId) -> Result<Option<String>, StoreError> {
        let mut connection = self.connection.clone();
        Ok(redis::cmd("GET")
            .arg(self.words_key(job_id))
            .query_async(&mut connection)
            .await?)
    }

    fn not_found_key(&self, job_id: JobId) -> String {
        format!("{}:crawl:{job_id}:not_found", self.prefix)
    }

    /// Records what "not found" looks like in a directory the crawl fuzzed (`model`,
    /// serialised by the crawler), for its finisher to tell soft-404 pages there.
    pub async fn record_not_found(
        &self,
        job_id: JobId,
        directory: &str,
        model: &str,
    ) -> Result<(), StoreError> {
        let key = self.not_found_key(job_id);
        let mut connection = self.connection.clone();
        redis::pipe()
            .cmd("HSET")
            .arg(&key)
            .arg(directory)
            .arg(model)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(TTL_SECONDS)
            .ignore()
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    /// Every directory's "not found" the crawl recorded (at most one per fuzzed directory).
    pub async fn not_found(&self, job_id: JobId) -> Result<HashMap<String, String>, StoreError> {
        let mut connection = self.connection.clone();
        Ok(redis::cmd("HGETALL")
            .arg(self.not_found_key(job_id))
            .query_async(&mut connection)
            .await?)
    }

    /// Records a crawl's settings unless it has begun already (a redelivered start keeps the
    /// first deadline). Returns whether this call began it.
    pub async fn begin(
        &self,
        job_id: JobId,
        settings: &[(&str, String)],
    ) -> Result<bool, StoreError> {
        let [_, meta, _] = self.keys(job_id);
        let mut connection = self.connection.clone();
        let began: bool = redis::cmd("HSETNX")
            .arg(&meta)
            .arg("began")
            .arg("1")
            .query_async(&mut connection)
            .await?;
        if began {
            let mut pipeline = redis::pipe();
            for (field, value) in settings {
                pipeline
                    .cmd("HSET")
                    .arg(&meta)
                    .arg(*field)
                    .arg(value)
                    .ignore();
            }
            pipeline.cmd("EXPIRE").arg(&meta).arg(TTL_SECONDS).ignore();
            pipeline.query_async::<()>(&mut connection).await?;
        }
        Ok(began)
    }

    pub async fn meta(&self, job_id: JobId) -> Result<Option<CrawlMeta>, StoreError> {
        let [_, meta, _] = self.keys(job_id);
        let mut connection = self.connection.clone();
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&meta)
            .query_async(&mut connection)
            .await?;
        Ok(CrawlMeta::of(fields))
    }

    /// Records why the crawl stopped short (the first reason stays).
    pub async fn truncate(&self, job_id: JobId, reason: &str) -> Result<(), StoreError> {
        let [_, meta, _] = self.keys(job_id);
        let mut connection = self.connection.clone();
        redis::cmd("HSETNX")
            .arg(&meta)
            .arg("truncated")
            .arg(reason)
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    /// Claims a queued URL for `holder` (a message id) for `lease`; the same holder may
    /// claim it again (its message redelivered), another only once the lease has run. The
    /// crawl's meta comes back with it; a crawl forgotten claims nothing.
    pub async fn claim(
        &self,
        job_id: JobId,
        url: &str,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<Claimed, StoreError> {
        let [urls, meta, _] = self.keys(job_id);
        let mut connection = self.connection.clone();
        let (code, fields): (i64, Vec<String>) = redis::cmd("EVAL")
            .arg(CLAIM)
            .arg(2)
            .arg(&urls)
            .arg(&meta)
            .arg(url)
            .arg(holder)
            .arg(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1))
            .query_async(&mut connection)
            .await?;
        let mut fields = fields.into_iter();
        let mut pairs = HashMap::new();
        while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
            pairs.insert(field, value);
        }
        let claim = match code {
            1 => PageClaim::Fetch,
            2 => PageClaim::Done,
            3 => PageClaim::Busy,
            _ => PageClaim::Unknown,
        };
        Ok(Claimed {
            claim,
            meta: CrawlMeta::of(pairs),
        })
    }

    /// Records URLs (each with its template) found by `parent` (empty for seeds), within the
    /// crawl's limits; says for each what to do with it.
    pub async fn discover(
        &self,
        job_id: JobId,
        parent: &str,
        urls: &[(String, String)],
        max_urls: u64,
        max_per_template: u64,
    ) -> Result<Vec<Discovered>, StoreError> {
        if urls.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.keys(job_id);
        let mut command = redis::cmd("EVAL");
        command
            .arg(DISCOVER)
            .arg(3)
            .arg(&keys[..])
            .arg(parent)
            .arg(max_urls)
            .arg(max_per_template)
            .arg(TTL_SECONDS);
        for (url, template) in urls {
            command.arg(url).arg(template);
        }
        let mut connection = self.connection.clone();
        let codes: Vec<i64> = command.query_async(&mut connection).await?;
        Ok(codes
            .into_iter()
            .map(|code| match code {
                1 => Discovered::New,
                2 => Discovered::Mine,
                3 => Discovered::OverLimit,
                4 => Discovered::Trapped,
                _ => Discovered::Known,
            })
            .collect())
    }

    /// Marks a URL done; returns the crawl's frontier after it.
    pub async fn finish_url(&self, job_id: JobId, url: &str) -> Result<Frontier, StoreError> {
        let [urls, meta, _] = self.keys(job_id);
        let mut connection = self.connection.clone();
        let (queued, seen): (i64, i64) = redis::cmd("EVAL")
            .arg(FINISH_URL)
            .arg(2)
            .arg(&urls)
            .arg(&meta)
            .arg(url)
            .query_async(&mut connection)
            .await?;
        Ok(Frontier { queued, seen })
    }

    /// Drops a reported crawl's state.
    pub async fn forget(&self, job_id: JobId) -> Result<(), StoreError> {
        let keys = self.keys(job_id);
        let mut connection = self.connection.clone();
        redis::cmd("DEL")
            .arg(&keys[..])
            .arg(self.words_key(job_id))
            .arg(self.not_found_key(job_id))
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn pair(url: &str) -> (String, String) {
        (url.to_string(), url.to_string())
    }

    #[tokio::test]
    async fn a_crawl_counts_its_frontier_down_to_zero_once_and_republishes_only_its_own_links() {
        let env = s4e_test_support::TestEnv::new().await.unwrap();
        let redis = Redis::connect(&env.redis_url, None).await.unwrap();
        let state = CrawlState::new(&redis, &env.namespace);
        let job = JobId::new();
        assert!(state.meta(job).await.unwrap().is_none());
        assert!(state.begin(job, &[("target", "t".into())]).await.unwrap());
        assert!(
            !state
                .begin(job, &[("target", "other".into())])
                .await
                .unwrap()
        );
        let seeds = state.discover(job, "", &[pair("/")], 0, 0).await.unwrap();
        assert_eq!(seeds, vec![Discovered::New]);
        // The root's fetch finds two links; killed before it finished, it finds them again.
        let links = [pair("/a"), pair("/b")];
        let first = state.discover(job, "/", &links, 0, 0).await.unwrap();
        assert_eq!(first, vec![Discovered::New, Discovered::New]);
        let again = state.discover(job, "/", &links, 0, 0).await.unwrap();
        assert_eq!(again, vec![Discovered::Mine, Discovered::Mine]);
        // Another page linking to them does not publish them again.
        let other = state.discover(job, "/a", &links, 0, 0).await.unwrap();
        assert_eq!(other, vec![Discovered::Known, Discovered::Known]);
        let lease = std::time::Duration::from_secs(60);
        assert_eq!(
            state.claim(job, "/a", "m1", lease).await.unwrap().claim,
            PageClaim::Fetch
        );
        // Its redelivery takes the claim back; another copy of the message waits.
        assert_eq!(
            state.claim(job, "/a", "m1", lease).await.unwrap().claim,
            PageClaim::Fetch
        );
        assert_eq!(
            state.claim(job, "/a", "m2", lease).await.unwrap().claim,
            PageClaim::Busy
        );
        // A claimed URL is not published again by its parent's retry.
        let claimed = state.discover(job, "/", &links, 0, 0).await.unwrap();
        assert_eq!(claimed, vec![Discovered::Known, Discovered::Mine]);
        assert_eq!(
            state
                .claim(job, "/b", "m3", Duration::from_millis(1))
                .await
                .unwrap()
                .claim,
            PageClaim::Fetch
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        // A lease that ran out is taken over.
        assert_eq!(
            state.claim(job, "/b", "m4", lease).await.unwrap().claim,
            PageClaim::Fetch
        );
        assert_eq!(
            state.finish_url(job, "/").await.unwrap(),
            Frontier { queued: 2, seen: 3 }
        );
        assert_eq!(
            state.finish_url(job, "/a").await.unwrap(),
            Frontier { queued: 1, seen: 3 }
        );
        // Finishing twice (a redelivery) does not count twice.
        assert_eq!(
            state.finish_url(job, "/a").await.unwrap(),
            Frontier { queued: 1, seen: 3 }
        );
        assert_eq!(
            state.claim(job, "/a", "m2", lease).await.unwrap().claim,
            PageClaim::Done
        );
        assert_eq!(
            state.finish_url(job, "/b").await.unwrap(),
            Frontier { queued: 0, seen: 3 }
        );
        let meta = state.meta(job).await.unwrap().unwrap();
        assert_eq!((meta.seen, meta.queued), (3, 0));
        assert_eq!(meta.settings.get("target").map(String::as_str), Some("t"));
        // A claim reads the same meta in the same step.
        let claimed = state.claim(job, "/a", "m5", lease).await.unwrap();
        assert_eq!(claimed.claim, PageClaim::Done);
        assert_eq!(claimed.meta, Some(meta));
        state.forget(job).await.unwrap();
        let forgotten = state.claim(job, "/", "m1", lease).await.unwrap();
        assert_eq!(forgotten.claim, PageClaim::Unknown);
        assert_eq!(forgotten.meta, None);
        env.cleanup().await.unwrap();
    }

    #[tokio::test]
    async fn a_crawl_keeps_the_words_it_began_with_until_forgotten() {
        let env = s4e_test_support::TestEnv::new().await.unwrap();
        let redis = Redis::connect(&env.redis_url, None).await.unwrap();
        let state = CrawlState::new(&redis, &env.namespace);
        let job = JobId::new();
        assert_eq!(state.words(job).await.unwrap(), None);
        state.keep_words(job, "first").await.unwrap();
        // A redelivered start after the organization changed its list keeps the first.
        state.keep_words(job, "second").await.unwrap();
        assert_eq!(state.words(job).await.unwrap().as_deref(), Some("first"));
        state.record_not_found(job, "/a/", "model").await.unwrap();
        assert_eq!(state.not_found(job).await.unwrap()["/a/"], "model");
        state.forget(job).await.unwrap();
        assert_eq!(state.words(job).await.unwrap(), None);
        assert!(state.not_found(job).await.unwrap().is_empty());
        env.cleanup().await.unwrap();
    }

    #[tokio::test]
    async fn limits_refuse_urls_past_the_crawls_size_and_a_templates_share() {
        let env = s4e_test_support::TestEnv::new().await.unwrap();
        let redis = Redis::connect(&env.redis_url, None).await.unwrap();
        let state = CrawlState::new(&redis, &env.namespace);
        let job = JobId::new();
        state.begin(job, &[]).await.unwrap();
        let calendar: Vec<(String, String)> = (0..4)
            .map(|day| (format!("/cal?d={day}"), "/cal?d".to_string()))
            .collect();
        let codes = state.discover(job, "", &calendar, 0, 2).await.unwrap();
        assert_eq!(
            codes,
            vec![
                Discovered::New,
                Discovered::New,
                Discovered::Trapped,
                Discovered::Trapped
            ]
        );
        let more = state
            .discover(job, "", &[pair("/x"), pair("/y")], 3, 0)
            .await
            .unwrap();
        assert_eq!(more, vec![Discovered::New, Discovered::OverLimit]);
        let meta = state.meta(job).await.unwrap().unwrap();
        assert_eq!(meta.truncated.as_deref(), Some("pages"));
        assert_eq!(meta.trapped, 2);
        env.cleanup().await.unwrap();
    }
}
