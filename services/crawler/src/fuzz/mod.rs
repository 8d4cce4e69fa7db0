//! Directory fuzzing, the engine: every word of a wordlist (with each extension) requested
//! under one directory, through one pinned client, many at once; what answers is a hit unless
//! it looks like the directory's own "not found".
//!
//! Calibration first, per directory and per extension: random names that cannot exist are
//! requested, and their answers' shape (status, size, words, lines) is what "not found" looks
//! like there. A soft-404 server answering 200 for everything, even one echoing the path, is
//! recognised by shape rather than by equal bytes: an answer with the calibration's status and
//! its word or line count is not a hit. Answers of 429 or 503 back off and are asked again.
//!
//! The bundled wordlist (`wordlist.txt`) is our own: common directory and file names of web
//! applications and their tooling.

mod ffuf;
mod stage;

pub use ffuf::FfufRun;

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::Method;
use s4e_egress::ReachError;
use s4e_egress::http::{Pinned, Request};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;
use url::Url;

/// The bundled wordlist, one name a line.
pub const WORDLIST: &str = include_str!("wordlist.txt");

/// The words of [`WORDLIST`].
pub fn bundled_words() -> Vec<&'static str> {
    WORDLIST
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// Body bytes the fuzzer reads of one answer by default: its shape is judged on them.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Extensions tried after each word (`"php"` tries `word.php`), besides the word alone.
    pub extensions: Vec<String>,
    /// Time limit of one request.
    pub timeout: Duration,
    /// Body bytes read of one answer (its shape is judged on them).
    pub body_limit: usize,
    /// How many times an answer of 429 or 503 is asked again (after a growing wait).
    pub retries: u32,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            concurrency: 32,
            extensions: Vec::new(),
            timeout: Duration::from_secs(10),
            body_limit: BODY_LIMIT,
            retries: 3,
        }
    }
}

/// What an answer looks like, for telling a real page from the directory's "not found".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub status: u16,
    pub size: usize,
    pub words: usize,
    pub lines: usize,
}

impl Shape {
    pub fn of(status: u16, body: &[u8]) -> Shape {
        let text = String::from_utf8_lossy(body);
        Shape {
            status,
            size: body.len(),
            words: text.split_whitespace().count(),
            lines: text.lines().count(),
        }
    }
}

/// What "not found" looks like in one directory for one extension, from the answers to
/// names of two lengths: the same bytes every time; or a page that echoes the name (the same
/// words, its size growing with the name's length, which predicts the size for any name); or,
/// failing those, the same word or line count (as ffuf's auto-calibration chooses).
///
/// The crawl keeps the bare names' model of each directory it fuzzed, and marks the crawled
/// pages there that answer the same way as soft-404s.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotFound {
    Size(u16, usize),
    Echo {
        status: u16,
        words: usize,
        size_of_empty: f64,
        per_character: f64,
    },
    Words(u16, usize),
    Lines(u16, usize),
    /// The calibration answers share nothing: only a 404 is "not found".
    Unknown,
}

impl NotFound {
    /// From the shapes of the answers to names of these lengths.
    fn of(calibration: &[(usize, Shape)]) -> NotFound {
        let [(short, first), (long, second)] = calibration else {
            return NotFound::Unknown;
        };
        if first.status != second.status {
            NotFound::Unknown
        } else if first.size == second.size {
            NotFound::Size(first.status, first.size)
        } else if first.words == second.words && long > short {
            let per_character =
                (second.size as f64 - first.size as f64) / (*long as f64 - *short as f64);
            NotFound::Echo {
                status: first.status,
                words: first.words,
                size_of_empty: first.size as f64 - per_character * *short as f64,
                per_character,
            }
        } else if first.words == second.words {
            NotFound::Words(first.status, first.words)
        } else if first.lines == second.lines {
            NotFound::Lines(first.status, first.lines)
        } else {
            NotFound::Unknown
        }
    }

    /// Whether a page named `name` that answered with `shape` is "not found" though its
    /// status does not say so.
    pub fn is_soft_404(self, name: &str, shape: &Shape) -> bool {
        shape.status != 404 && self.matches(name, shape)
    }

    /// Whether the answer to `name` is this "not found".
    fn matches(self, name: &str, shape: &Shape) -> bool {
        match self {
            NotFound::Size(status, size) => shape.status == status && shape.size == size,
            NotFound::Echo {
                status,
                words,
                size_of_empty,
                per_character,
            } => {
                let expected = size_of_empty + per_character * name.len() as f64;
                shape.status == status
                    && shape.words == words
                    && (shape.size as f64 - expected).abs() <= 1.0
            }
            NotFound::Words(status, words) => shape.status == status && shape.words == words,
            NotFound::Lines(status, lines) => shape.status == status && shape.lines == lines,
            NotFound::Unknown => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub url: String,
    #[serde(flatten)]
    pub shape: Shape,
}

#[derive(Debug, Default, Serialize)]
pub struct FuzzOutcome {
    pub hits: Vec<Hit>,
    /// Requests sent, calibration and retries included.
    pub requests: usize,
    /// Requests that failed (timeouts, resets): their words were not judged.
    pub failed: usize,
    /// Answers of 429 or 503 that were asked again.
    pub throttled: usize,
    /// The fewest requests the directory had in flight at once after the server pushed back
    /// (the configured concurrency when it never did).
    pub least_concurrency: usize,
    /// What "not found" looks like there for names without an extension, when the
    /// calibration could tell.
    #[serde(skip)]
    pub not_found: Option<NotFound>,
}

/// Fuzzes `directory` (a URL ending in `/`) with `words` through `client`, by `deadline`;
/// `admit` is awaited before every request (the crawl's request budgets).
pub async fn fuzz_directory<F, Fut>(
    client: &Pinned,
    directory: &Url,
    words: &[&str],
    options: &FuzzOptions,
    deadline: Instant,
    admit: F,
) -> FuzzOutcome
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let admit = &admit;
    let mut outcome = FuzzOutcome {
        least_concurrency: options.concurrency.max(1),
        ..FuzzOutcome::default()
    };
    let mut suffixes = vec![String::new()];
    suffixes.extend(options.extensions.iter().map(|ext| format!(".{ext}")));
    // What "not found" looks like for each suffix, from names that cannot exist.
    let mut calibration: Vec<(String, NotFound)> = Vec::new();
    for suffix in &suffixes {
        let mut shapes = Vec::new();
        for length in [12, 20] {
            let name = format!("{}{suffix}", random_name(length));
            admit().await;
            let answer = ask(client, directory, &name, options, deadline).await;
            outcome.requests += answer.requests;
            outcome.throttled += answer.throttled;
            match answer.shape {
                Some(shape) => shapes.push((name.len(), shape)),
                None => outcome.failed += 1,
            }
        }
        calibration.push((suffix.clone(), NotFound::of(&shapes)));
    }
    outcome.not_found = calibration
        .first()
        .map(|(_, not_found)| *not_found)
        .filter(|not_found| *not_found != NotFound::Unknown);
    if outcome.failed == calibration.len() * 2 {
        // Nothing answered at all: the directory is down or hangs; no word is worth asking.
        return outcome;
    }
    let candidates: Vec<(String, NotFound)> = words
        .iter()
        .flat_map(|word| {
            calibration
                .iter()
                .map(move |(suffix, not_found)| (format!("{word}{suffix}"), *not_found))
        })
        .collect();
    let window = &Window::new(options.concurrency.max(1));
    let mut answers = stream::iter(candidates)
        .map(|(name, calibrated)| async move {
            let permit = window.acquire().await;
            admit().await;
            let ticket = window.send(permit);
            let answer = ask(client, directory, &name, options, deadline).await;
            window.release(ticket, answer.pushed_back(deadline));
            (name, calibrated, answer)
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((name, calibrated, answer)) = answers.next().await {
        outcome.requests += answer.requests;
        outcome.throttled += answer.throttled;
        let Some(shape) = answer.shape else {
            outcome.failed += 1;
            continue;
        };
        if shape.status == 404 || calibrated.matches(&name, &shape) {
            continue;
        }
        if let Ok(url) = directory.join(&name) {
            outcome.hits.push(Hit {
                url: url.to_string(),
                shape,
            });
        }
    }
    outcome.hits.sort_by(|a, b| a.url.cmp(&b.url));
    outcome.least_concurrency = window.least();
    outcome
}

/// How many of a directory's requests may be in flight: the configured concurrency at first,
/// halved when an answer shows the server pushing back (429 or 503, or no answer at all), and
/// one more after as many calm answers in a row as the window holds (additive increase,
/// multiplicative decrease, as TCP's congestion window): a server that copes gets the
/// configured pace, one that does not gets what it copes with. Like TCP, one overload halves
/// the window once: the pushback of requests sent before the last halving does not count
/// again.
struct Window {
    permits: Semaphore,
    state: std::sync::Mutex<WindowState>,
}

struct WindowState {
    limit: usize,
    max: usize,
    least: usize,
    /// Permits to take out of use as they come back (the window shrank below those in flight).
    debt: usize,
    /// Calm answers since the window last moved.
    calm: usize,
    /// Halvings so far.
    halvings: u64,
}

/// A request's place in the window.
struct Ticket<'a> {
    permit: Option<SemaphorePermit<'a>>,
    /// The window's halvings when it was sent.
    halvings: u64,
}

impl Window {
    fn new(max: usize) -> Window {
        Window {
            permits: Semaphore::new(max),
            state: std::sync::Mutex::new(WindowState {
                limit: max,
                max,
                least: max,
                debt: 0,
                calm: 0,
                halvings: 0,
            }),
        }
    }

    async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        // Never closed: `None` cannot happen, and a request without a permit is still bounded
        // by the stream's own concurrency.
        self.permits.acquire().await.ok()
    }

    /// The request is being sent now: it belongs to the window as it is.
    fn send<'a>(&self, permit: Option<SemaphorePermit<'a>>) -> Ticket<'a> {
        Ticket {
            permit,
            halvings: self.lock().halvings,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, ticket: Ticket<'_>, pushed_back: bool) {
        let mut state = self.lock();
        if pushed_back && ticket.halvings < state.halvings {
            // Sent into the overload the window has already answered.
        } else if pushed_back {
            state.halvings += 1;
            let smaller = (state.limit / 2).max(1);
            // Permits not in use go at once; those in flight as they come back.
            let unused = self.permits.forget_permits(state.limit - smaller);
            state.debt += state.limit - smaller - unused;
            state.limit = smaller;
            state.least = state.least.min(smaller);
            state.calm = 0;
        } else {
            state.calm += 1;
            if state.calm >= state.limit && state.limit < state.max {
                state.calm = 0;
                state.limit += 1;
                if state.debt > 0 {
                    state.debt -= 1;
                } else {
                    self.permits.add_permits(1);
                }
            }
        }
        if let Some(permit) = ticket.permit
            && state.debt > 0
        {
            state.debt -= 1;
            permit.forget();
        }
    }

    fn least(&self) -> usize {
        self.lock().least
    }
}

struct Answer {
    shape: Option<Shape>,
    requests: usize,
    throttled: usize,
}

impl Answer {
    /// Whether the server pushed back: it asked for time (429 or 503, asked again or not), or
    /// the request failed (a timeout, a reset) while the directory still had time.
    fn pushed_back(&self, deadline: Instant) -> bool {
        let overloaded = |shape: &Shape| matches!(shape.status, 429 | 503);
        self.throttled > 0
            || self.shape.as_ref().is_some_and(overloaded)
            || (self.shape.is_none() && Instant::now() < deadline)
    }
}

/// One name asked, again after a growing wait while the server says it is overloaded.
async fn ask(
    client: &Pinned,
    directory: &Url,
    name: &str,
    options: &FuzzOptions,
    deadline: Instant,
) -> Answer {
    let mut answer = Answer {
        shape: None,
        requests: 0,
        throttled: 0,
    };
    let Ok(url) = directory.join(name) else {
        return answer;
    };
    let request = Request::new(Method::GET, options.body_limit);
    let mut wait = Duration::from_millis(250);
    for attempt in 0..=options.retries {
        let request_deadline = deadline.min(Instant::now() + options.timeout);
        answer.requests += 1;
        let sent: Result<_, ReachError> = client
            .send(&url, &request, request_deadline, options.timeout)
            .await;
        let Ok(fetched) = sent else {
            return answer;
        };
        let status = fetched.raw.status;
        if matches!(status, 429 | 503) && attempt < options.retries {
            answer.throttled += 1;
            let retry_after = fetched
                .headers
                .get("retry-after")
                .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
                .map(Duration::from_secs);
            // Spread out: the requests one overload refused must not all come back at once.
            let spread =
                wait.mul_f64(0.5 + (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0);
            tokio::time::sleep(retry_after.unwrap_or(spread).min(Duration::from_secs(10))).await;
            wait *= 2;
            continue;
        }
        answer.shape = Some(Shape::of(status, &fetched.body));
        return answer;
    }
    answer
}

/// A name no site has: lowercase letters and digits from a fresh UUID.
fn random_name(length: usize) -> String {
    let mut name = uuid::Uuid::new_v4().simple().to_string();
    name.push_str(&uuid::Uuid::new_v4().simple().to_string());
    name.truncate(length);
    name
}
