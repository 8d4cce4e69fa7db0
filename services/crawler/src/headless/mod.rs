//! The headless mode: a page the fetch stage fetched is loaded in Chromium, to collect what
//! its scripts request and the links of the document they build (a single-page application's
//! routes, URLs assembled at run time), which reading the page and its scripts as text misses.
//!
//! Chromium never reaches the network itself. Every request it makes is paused
//! (`Fetch.enable`) and answered by us: the page with the body already fetched; a script,
//! style sheet or data request (GET, in the crawl's scope, at most [`SUBREQUESTS`] a page)
//! with an answer fetched through the crawl's own egress client and request budget; anything
//! else refused (`BlockedByClient`), out-of-scope and state-changing requests included, which
//! are recorded, never sent. As a second wall, Chromium is told to resolve no name and to send
//! whatever escaped interception (a WebSocket, WebRTC) to a proxy that is not there.
//!
//! Each crawl renders in tabs of its own, each in a browser context of its own: a crawl's
//! pages share cookies and storage as one visitor's would, no other crawl (and no other
//! organization) sees them, and a tab navigated to the crawl's next page keeps its renderer
//! process. One Chromium serves the replica; it is started at the first render and again
//! after it dies.

mod cdp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;
use url::Url;

pub use cdp::CdpError;
use cdp::{Cdp, Event};

use crate::urls::Scope;

/// The most requests of one page answered with a fetched response (the rest are refused).
pub const SUBREQUESTS: usize = 25;

/// How long a page must make no request after its `load` (or after its last request was
/// answered) to count as settled: every rendered page waits this long at least.
const QUIET: Duration = Duration::from_millis(250);

/// The most links read back from one rendered document, and the most requests of one page
/// recorded.
const DOCUMENT_LINKS: usize = 5_000;
const REQUESTS: usize = 1_000;

/// The longest URL kept (as the crawl's own limit).
const URL_LENGTH: usize = 2_048;

/// How long past its deadline a render waits for Chromium to answer a command before giving
/// the browser up for another.
const GRACE: Duration = Duration::from_secs(5);

/// What the browser is asked to load: a page as the fetch stage received it.
pub struct Document<'a> {
    pub url: &'a Url,
    pub status: u16,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// An answer fetched for the browser.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a render found: every URL the page requested (sent or not) and every link of the
/// document its scripts left, in the order met.
#[derive(Debug, Default)]
pub struct Rendered {
    pub requested: Vec<Url>,
    pub links: Vec<Url>,
    /// Requests refused: out of scope, not GET, past the page's allowance, or of a kind not
    /// fetched for rendering (images, fonts, media, frames).
    pub refused: usize,
}

pub struct Browser {
    program: PathBuf,
    sandbox: bool,
    running: Mutex<Option<Arc<Cdp>>>,
    renders: Semaphore,
    /// Tabs between renders, at most as many as renders at once.
    idle: std::sync::Mutex<Vec<Tab>>,
    capacity: usize,
}

/// A tab kept for the renders of one crawl: its own browser context (cookies and storage, so
/// a crawl's pages share a session as a visitor's would, and no other crawl sees it), its page
/// and session, interception on. Navigating it to the crawl's next page reuses its renderer
/// process, which a new context would start afresh for every page.
struct Tab {
    cdp: Arc<Cdp>,
    owner: String,
    context: String,
    session: String,
    events: tokio::sync::mpsc::Receiver<Event>,
}

impl Browser {
    /// A browser run from `program` (Chromium, in its own sandbox when `sandbox` and the
    /// process is not root), at most `renders` pages at once.
    pub fn new(program: PathBuf, sandbox: bool, renders: usize) -> Browser {
        Browser {
            program,
            sandbox,
            running: Mutex::new(None),
            renders: Semaphore::new(renders.max(1)),
            idle: Default::default(),
            capacity: renders.max(1),
        }
    }

    /// Chromium's product and version, starting it if it is not running: a crawler told to
    /// render checks at startup that it can.
    pub async fn version(&self) -> Result<String, CdpError> {
        let cdp = self.connection().await?;
        let version = cdp.call(None, "Browser.getVersion", json!({})).await?;
        Ok(version["product"].as_str().unwrap_or_default().to_string())
    }

    /// Quits Chromium (a render after it starts a new one).
    pub async fn close(&self) {
        self.idle_tabs().clear();
        let running = self.running.lock().await.take();
        if let Some(cdp) = running {
            cdp.close().await;
        }
    }

    fn idle_tabs(&self) -> std::sync::MutexGuard<'_, Vec<Tab>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An idle tab of `owner`'s on the running Chromium, if there is one.
    fn take_idle(&self, owner: &str, cdp: &Arc<Cdp>) -> Option<Tab> {
        let mut idle = self.idle_tabs();
        idle.retain(|tab| Arc::ptr_eq(&tab.cdp, cdp));
        let mine = idle.iter().position(|tab| tab.owner == owner)?;
        Some(idle.remove(mine))
    }

    /// Keeps `tab` for its crawl's next page; past the capacity, the longest idle goes.
    async fn keep(&self, tab: Tab) {
        let evicted = {
            let mut idle = self.idle_tabs();
            idle.push(tab);
            (idle.len() > self.capacity).then(|| idle.remove(0))
        };
        if let Some(tab) = evicted {
            dispose(tab).await;
        }
    }

    async fn connection(&self) -> Result<Arc<Cdp>, CdpError> {
        let mut running = self.running.lock().await;
        if let Some(cdp) = running.as_ref().filter(|cdp| !cdp.is_closed()) {
            return Ok(cdp.clone());
        }
        let cdp = Arc::new(Cdp::launch(
            &self.program,
            &chromium_arguments(self.sandbox),
        )?);
        *running = Some(cdp.clone());
        Ok(cdp)
    }

    /// Loads `document` in a tab of `owner`'s (the crawl: its pages share cookies and
    /// storage, no one else's do) until it settles or `limit` passes, answering its requests
    /// in `scope` with `fetch`, and reads back what it requested and linked to.
    pub async fn render<F, Fut>(
        &self,
        owner: &str,
        document: Document<'_>,
        scope: &Scope,
        limit: Duration,
        fetch: F,
    ) -> Result<Rendered, CdpError>
    where
        F: Fn(Url) -> Fut,
        Fut: Future<Output = Option<Answer>>,
    {
        let deadline = Instant::now() + limit;
        let _turn = tokio::time::timeout_at(deadline, self.renders.acquire())
            .await
            .map_err(|_| CdpError::Timeout("waiting for a free browser page"))?;
        let cdp = self.connection().await?;
        let page = Page {
            cdp: &cdp,
            scope,
            document,
            deadline,
        };
        let mut tab = match self.take_idle(owner, &cdp) {
            Some(tab) => tab,
            None => page.open_tab(&cdp, owner).await?,
        };
        let rendered = page.drive(&mut tab, fetch).await;
        // A tab that failed is not trusted with another page.
        match rendered {
            Ok(_) => self.keep(tab).await,
            Err(_) => dispose(tab).await,
        }
        rendered
    }
}

/// Closes a tab and forgets its context's cookies and storage.
async fn dispose(tab: Tab) {
    tab.cdp.forget(&tab.session);
    let disposed = tab.cdp.call(
        None,
        "Target.disposeBrowserContext",
        json!({ "browserContextId": tab.context }),
    );
    let _ = tokio::time::timeout(GRACE, disposed).await;
}

/// Chromium's switches: headless, nothing of its own in the background, and the network
/// walled off behind the interception.
fn chromium_arguments(sandbox: bool) -> Vec<String> {
    let mut arguments: Vec<String> = [
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--mute-audio",
        "--hide-scrollbars",
        "--password-store=basic",
        "--disable-crash-reporter",
        // A container's /dev/shm is small: shared memory goes to $TMPDIR instead.
        "--disable-dev-shm-usage",
        // An http:// page stays http://: Chromium would otherwise ask for its https:// twin
        // first, which is not the page the crawl fetched.
        "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    ]
    .map(String::from)
    .to_vec();
    // Chromium refuses its sandbox to root, and it needs user namespaces a cluster's nodes
    // may not give.
    if !sandbox || runs_as_root() {
        arguments.push("--no-sandbox".into());
    }
    arguments
}

fn runs_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// One render in its own browser context.
struct Page<'a> {
    cdp: &'a Cdp,
    scope: &'a Scope,
    document: Document<'a>,
    deadline: Instant,
}

/// Where a render stands while its page loads.
#[derive(Default)]
struct Progress {
    rendered: Rendered,
    document_served: bool,
    subrequests: usize,
    /// Once the page's `load` fired: when it counts as settled if nothing else happens.
    settle_at: Option<Instant>,
}

impl Page<'_> {
    /// A command, answered by the render's deadline (and a grace): a Chromium that stops
    /// answering is given up, and the next render starts another.
    async fn call(
        &self,
        session: Option<&str>,
        method: &'static str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let answered = tokio::time::timeout_at(
            self.deadline + GRACE,
            self.cdp.call(session, method, params),
        )
        .await;
        answered.unwrap_or_else(|_| {
            self.cdp.abandon();
            Err(CdpError::Timeout(method))
        })
    }

    /// A new tab for `owner`: a context of its own, a blank page, its requests intercepted,
    /// the targets it would start (workers, frames of other sites) held paused.
    async fn open_tab(&self, cdp: &Arc<Cdp>, owner: &str) -> Result<Tab, CdpError> {
        let context = self
            .call(
                None,
                "Target.createBrowserContext",
                json!({ "disposeOnDetach": true }),
            )
            .await?;
        let context = context["browserContextId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let target = self
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context }),
            )
            .await;
        let session = match target {
            Ok(target) => {
                self.call(
                    None,
                    "Target.attachToTarget",
                    json!({ "targetId": target["targetId"], "flatten": true }),
                )
                .await
            }
            Err(error) => Err(error),
        };
        let session = session
            .as_ref()
            .ok()
            .and_then(|session| session["sessionId"].as_str())
            .unwrap_or_default()
            .to_string();
        let tab = Tab {
            cdp: cdp.clone(),
            owner: owner.to_string(),
            events: cdp.events(&session),
            context,
            session,
        };
        let session = Some(tab.session.as_str());
        let ready = async {
            self.call(
                session,
                "Fetch.enable",
                json!({ "patterns": [{ "urlPattern": "*", "requestStage": "Request" }] }),
            )
            .await?;
            // Workers and frames of other sites are targets of their own, out of this
            // session's interception: they are attached paused and never resumed, so they
            // never run.
            self.call(
                session,
                "Target.setAutoAttach",
                json!({ "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true }),
            )
            .await?;
            self.call(session, "Page.enable", json!({})).await
        };
        match (tab.session.is_empty(), ready.await) {
            (false, Ok(_)) => Ok(tab),
            (_, result) => {
                dispose(tab).await;
                Err(result
                    .err()
                    .unwrap_or(CdpError::Timeout("opening a browser tab")))
            }
        }
    }

    async fn drive<F, Fut>(&self, tab: &mut Tab, fetch: F) -> Result<Rendered, CdpError>
    where
        F: Fn(Url) -> Fut,
        Fut: Future<Output = Option<Answer>>,
    {
        let session = Some(tab.session.as_str());
        let events = &mut tab.events;
        // What the tab's last page left paused is refused, not taken for this page's.
        while let Ok(stale) = events.try_recv() {
            if stale.method == "Fetch.requestPaused" {
                self.refuse(session, stale.params["requestId"].clone())
                    .await;
            }
        }
        let navigate = self.call(
            session,
            "Page.navigate",
            json!({ "url": self.document.url.as_str() }),
        );
        tokio::pin!(navigate);
        let mut navigated = false;
        let mut progress = Progress::default();
        loop {
            let wake = progress
                .settle_at
                .map_or(self.deadline, |settle| settle.min(self.deadline));
            tokio::select! {
                answer = &mut navigate, if !navigated => {
                    navigated = true;
                    if let Some(error) = answer?.get("errorText").and_then(Value::as_str) {
                        return Err(CdpError::Command {
                            method: "Page.navigate".into(),
                            message: error.to_string(),
                        });
                    }
                }
                event = events.recv() => {
                    let Some(event) = event else { return Err(CdpError::Closed) };
                    match event.method.as_str() {
                        "Fetch.requestPaused" => {
                            self.answer(session, &event.params, &mut progress, &fetch).await;
                        }
                        "Page.loadEventFired" => progress.settle_at = Some(Instant::now() + QUIET),
                        // An alert() would hold the page until the deadline.
                        "Page.javascriptDialogOpening" => {
                            let _ = self
                                .call(session, "Page.handleJavaScriptDialog", json!({ "accept": false }))
                                .await;
                        }
                        _ => {}
                    }
                }
                () = tokio::time::sleep_until(wake) => break,
            }
        }
        let mut rendered = progress.rendered;
        rendered.links = self.document_links(session).await;
        Ok(rendered)
    }

    /// Answers one paused request: the page itself with the body the crawl fetched, an
    /// in-scope GET the page needs with `fetch`'s answer, anything else refused.
    async fn answer<F, Fut>(
        &self,
        session: Option<&str>,
        params: &Value,
        progress: &mut Progress,
        fetch: &F,
    ) where
        F: Fn(Url) -> Fut,
        Fut: Future<Output = Option<Answer>>,
    {
        let id = params["requestId"].clone();
        let url = params["request"]["url"]
            .as_str()
            .filter(|url| url.len() <= URL_LENGTH)
            .and_then(|url| Url::parse(url).ok());
        let method = params["request"]["method"].as_str().unwrap_or_default();
        let kind = params["resourceType"].as_str().unwrap_or_default();
        let Some(url) = url else {
            progress.rendered.refused += 1;
            return self.refuse(session, id).await;
        };
        if !progress.document_served && kind == "Document" && same_document(&url, self.document.url)
        {
            progress.document_served = true;
            let answer = Answer {
                status: self.document.status,
                headers: self.document.headers.to_vec(),
                body: self.document.body.to_vec(),
            };
            return self.fulfill(session, id, &answer).await;
        }
        // The browser's own request for the site's icon is no page's.
        if kind == "Other" && url.path() == "/favicon.ico" {
            return self.refuse(session, id).await;
        }
        if matches!(url.scheme(), "data" | "blob") {
            let _ = self
                .call(session, "Fetch.continueRequest", json!({ "requestId": id }))
                .await;
            return;
        }
        let requested = &mut progress.rendered.requested;
        if requested.len() < REQUESTS && !requested.contains(&url) {
            requested.push(url.clone());
        }
        let fetched = method == "GET"
            && FETCHED_KINDS.contains(&kind)
            && progress.subrequests < SUBREQUESTS
            && self.scope.contains(&url);
        if !fetched {
            progress.rendered.refused += 1;
            return self.refuse(session, id).await;
        }
        progress.subrequests += 1;
        match tokio::time::timeout_at(self.deadline, fetch(url)).await {
            Ok(Some(answer)) => self.fulfill(session, id, &answer).await,
            _ => self.refuse(session, id).await,
        }
        // What the page does with the answer is part of its settling.
        if progress.settle_at.is_some() {
            progress.settle_at = Some(Instant::now() + QUIET);
        }
    }

    /// The links of the document as the page's scripts left it, resolved by the browser.
    async fn document_links(&self, session: Option<&str>) -> Vec<Url> {
        let expression = format!(
            "Array.from(document.querySelectorAll('a[href],area[href],iframe[src],frame[src],form[action],button[formaction]'), \
             e => e.href || e.src || e.action || e.formAction || '').filter(l => l.length <= {URL_LENGTH}).slice(0, {DOCUMENT_LINKS})"
        );
        // A moment past the deadline: a page that spent it all still gives its links.
        let read = self.cdp.call(
            session,
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        let Ok(Ok(answer)) = tokio::time::timeout(Duration::from_secs(2), read).await else {
            return Vec::new();
        };
        answer["result"]["value"]
            .as_array()
            .map(|links| {
                links
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(|link| Url::parse(link).ok())
                    .filter(|link| matches!(link.scheme(), "http" | "https"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Answers a request with `answer`; one Chromium will not take is refused instead (a
    /// request left paused would hold the page until the deadline).
    async fn fulfill(&self, session: Option<&str>, id: Value, answer: &Answer) {
        let headers: Vec<Value> = answer
            .headers
            .iter()
            .filter(|(name, _)| !HOP_HEADERS.iter().any(|hop| name.eq_ignore_ascii_case(hop)))
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        let status = if (200..600).contains(&answer.status) {
            answer.status
        } else {
            502
        };
        let body = base64::engine::general_purpose::STANDARD.encode(&answer.body);
        let fulfilled = self
            .call(
                session,
                "Fetch.fulfillRequest",
                json!({ "requestId": id, "responseCode": status, "responseHeaders": headers, "body": body }),
            )
            .await;
        if fulfilled.is_err() {
            self.refuse(session, id).await;
        }
    }

    async fn refuse(&self, session: Option<&str>, id: Value) {
        let _ = self
            .call(
                session,
                "Fetch.failRequest",
                json!({ "requestId": id, "errorReason": "BlockedByClient" }),
            )
            .await;
    }
}

/// Kinds of request answered for a render: what its scripts need to run and what they ask
/// for. Images, fonts, media and frames are recorded and refused (the crawl fetches frames as
/// pages of their own).
const FETCHED_KINDS: &[&str] = &["Script", "Stylesheet", "XHR", "Fetch", "EventSource"];

/// Headers of the connection, not the answer: the browser gets the body whole.
const HOP_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Whether the browser's request is for the page itself (its fragment aside).
fn same_document(requested: &Url, page: &Url) -> bool {
    let mut requested = requested.clone();
    let mut page = page.clone();
    requested.set_fragment(None);
    page.set_fragment(None);
    requested == page
}
