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
//! Each render gets a browser context of its own (cookies and storage die with it), so no
//! site, and no organization, sees another's state. One Chromium serves the replica; it is
//! started at the first render and again after it dies.

mod cdp;

use std::path::PathBuf;
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

/// How long a page must make no request after its `load` to count as settled.
const QUIET: Duration = Duration::from_millis(500);

/// The most links read back from one rendered document.
const DOCUMENT_LINKS: usize = 5_000;

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
    running: Mutex<Option<std::sync::Arc<Cdp>>>,
    renders: Semaphore,
}

impl Browser {
    /// A browser run from `program` (Chromium), at most `renders` pages at once.
    pub fn new(program: PathBuf, renders: usize) -> Browser {
        Browser {
            program,
            running: Mutex::new(None),
            renders: Semaphore::new(renders.max(1)),
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
        let running = self.running.lock().await.take();
        if let Some(cdp) = running {
            cdp.close().await;
        }
    }

    async fn connection(&self) -> Result<std::sync::Arc<Cdp>, CdpError> {
        let mut running = self.running.lock().await;
        if let Some(cdp) = running.as_ref().filter(|cdp| !cdp.is_closed()) {
            return Ok(cdp.clone());
        }
        let cdp = std::sync::Arc::new(Cdp::launch(&self.program, &chromium_arguments())?);
        *running = Some(cdp.clone());
        Ok(cdp)
    }

    /// Loads `document` until it settles or `limit` passes, answering its requests in `scope`
    /// with `fetch`, and reads back what it requested and linked to.
    pub async fn render<F, Fut>(
        &self,
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
        let context = cdp
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
        let rendered = Page {
            cdp: &cdp,
            scope,
            document,
            deadline,
        }
        .load(&context, fetch)
        .await;
        // Closes its page and forgets its cookies and storage, whatever happened.
        let _ = cdp
            .call(
                None,
                "Target.disposeBrowserContext",
                json!({ "browserContextId": context }),
            )
            .await;
        rendered
    }
}

/// Chromium's switches: headless, nothing of its own in the background, and the network
/// walled off behind the interception.
fn chromium_arguments() -> Vec<String> {
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
        // A container's /dev/shm is small: shared memory goes to the profile's /tmp instead.
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    ]
    .map(String::from)
    .to_vec();
    // Chromium refuses its sandbox to root; a crawler in a container often runs as root.
    if runs_as_root() {
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

impl Page<'_> {
    async fn load<F, Fut>(&self, context: &str, fetch: F) -> Result<Rendered, CdpError>
    where
        F: Fn(Url) -> Fut,
        Fut: Future<Output = Option<Answer>>,
    {
        let target = self
            .cdp
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context }),
            )
            .await?;
        let session = self
            .cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await?;
        let session = session["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut events = self.cdp.events(&session);
        let rendered = self.drive(&session, &mut events, fetch).await;
        self.cdp.forget(&session);
        rendered
    }

    async fn drive<F, Fut>(
        &self,
        session: &str,
        events: &mut tokio::sync::mpsc::Receiver<Event>,
        fetch: F,
    ) -> Result<Rendered, CdpError>
    where
        F: Fn(Url) -> Fut,
        Fut: Future<Output = Option<Answer>>,
    {
        let session = Some(session);
        let call = |method: &'static str, params: Value| self.cdp.call(session, method, params);
        call(
            "Fetch.enable",
            json!({ "patterns": [{ "urlPattern": "*", "requestStage": "Request" }] }),
        )
        .await?;
        call("Page.enable", json!({})).await?;
        let navigate = call(
            "Page.navigate",
            json!({ "url": self.document.url.as_str() }),
        );
        tokio::pin!(navigate);
        let mut navigated = false;
        let mut document_served = false;
        let mut settle_at: Option<Instant> = None;
        let mut subrequests = 0;
        let mut rendered = Rendered::default();
        loop {
            let wake = settle_at.map_or(self.deadline, |settle| settle.min(self.deadline));
            tokio::select! {
                answer = &mut navigate, if !navigated => {
                    navigated = true;
                    let answer = answer?;
                    if let Some(error) = answer.get("errorText").and_then(Value::as_str) {
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
                            let params = &event.params;
                            let id = params["requestId"].clone();
                            let url = params["request"]["url"].as_str().and_then(|url| Url::parse(url).ok());
                            let method = params["request"]["method"].as_str().unwrap_or_default();
                            let kind = params["resourceType"].as_str().unwrap_or_default();
                            if settle_at.is_some() {
                                settle_at = Some(Instant::now() + QUIET);
                            }
                            let Some(url) = url else {
                                self.refuse(session, id).await;
                                rendered.refused += 1;
                                continue;
                            };
                            if !document_served && kind == "Document" && same_document(&url, self.document.url) {
                                document_served = true;
                                let answer = Answer {
                                    status: self.document.status,
                                    headers: self.document.headers.to_vec(),
                                    body: self.document.body.to_vec(),
                                };
                                self.fulfill(session, id, &answer).await;
                                continue;
                            }
                            // The browser's own request for the site's icon is no page's.
                            if kind == "Other" && url.path() == "/favicon.ico" {
                                self.refuse(session, id).await;
                                continue;
                            }
                            if url.scheme() == "data" || url.scheme() == "blob" {
                                let _ = call("Fetch.continueRequest", json!({ "requestId": id })).await;
                                continue;
                            }
                            rendered.requested.push(url.clone());
                            let fetched = method == "GET"
                                && FETCHED_KINDS.contains(&kind)
                                && subrequests < SUBREQUESTS
                                && self.scope.contains(&url);
                            if !fetched {
                                self.refuse(session, id).await;
                                rendered.refused += 1;
                                continue;
                            }
                            subrequests += 1;
                            match tokio::time::timeout_at(self.deadline, fetch(url)).await {
                                Ok(Some(answer)) => self.fulfill(session, id, &answer).await,
                                _ => self.refuse(session, id).await,
                            }
                        }
                        "Page.loadEventFired" => settle_at = Some(Instant::now() + QUIET),
                        _ => {}
                    }
                }
                () = tokio::time::sleep_until(wake) => break,
            }
        }
        rendered.links = self.document_links(session).await;
        Ok(rendered)
    }

    /// The links of the document as the page's scripts left it, resolved by the browser.
    async fn document_links(&self, session: Option<&str>) -> Vec<Url> {
        let expression = format!(
            "Array.from(document.querySelectorAll('a[href],area[href],iframe[src],frame[src],form[action],button[formaction]'), \
             e => e.href || e.src || e.action || e.formAction || '').slice(0, {DOCUMENT_LINKS})"
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
        let _ = self
            .cdp
            .call(
                session,
                "Fetch.fulfillRequest",
                json!({ "requestId": id, "responseCode": status, "responseHeaders": headers, "body": body }),
            )
            .await;
    }

    async fn refuse(&self, session: Option<&str>, id: Value) {
        let _ = self
            .cdp
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
