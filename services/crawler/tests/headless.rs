//! The headless mode against Debian's Chromium (`scripts/test.sh` installs it; `CHROMIUM`
//! names it): a page whose links exist only once its scripts ran is rendered, what the
//! scripts request and build is found, and nothing leaves the scope or changes state on the
//! way: the test's sites record every request they receive. A hostile page (a WebSocket, a
//! worker, a sandboxed frame, a beacon, an alert) reaches nothing outside either, a page by
//! name is rendered under that name, and a page that never settles ends at its deadline.

use std::sync::Arc;
use std::time::Duration;

use s4e_crawler::headless::{Answer, Browser, Document};
use s4e_crawler::urls::Scope;
use s4e_test_support::site::{self, Page, TestSite};
use url::Url;

fn chromium() -> std::path::PathBuf {
    std::env::var_os("CHROMIUM")
        .unwrap_or_else(|| "chromium".into())
        .into()
}

/// What the crawl's fetch stage would answer the browser with: a plain GET of the site.
async fn get(url: Url) -> Option<Answer> {
    let response = reqwest::get(url).await.ok()?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let body = response.bytes().await.ok()?.to_vec();
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// Chromium started before a test's clock runs: its first start is no page's time.
async fn started_browser(renders: usize) -> Browser {
    let browser = Browser::new(chromium(), true, renders);
    browser.version().await.unwrap();
    browser
}

/// The site's root page and the crawl scope it starts.
fn root_of(site: &TestSite) -> (Url, Scope) {
    let root = Url::parse(&format!("http://127.0.0.1:{}/", site.port)).unwrap();
    let scope = Scope::of(&root).unwrap();
    (root, scope)
}

fn html_headers() -> Vec<(String, String)> {
    vec![("content-type".to_string(), "text/html".to_string())]
}

/// A page as the fetch stage would hand it to the browser (200, `headers`, `body`).
fn page_of<'a>(url: &'a Url, headers: &'a [(String, String)], body: &'a [u8]) -> Document<'a> {
    Document {
        url,
        status: 200,
        headers,
        body,
    }
}

fn paths(urls: &[Url], port: u16) -> Vec<String> {
    let mut paths: Vec<String> = urls
        .iter()
        .map(|url| match url.port() {
            Some(p) if p == port => url.path().to_string(),
            _ => url.to_string(),
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[tokio::test]
async fn a_rendered_page_gives_what_its_scripts_build_and_request_and_nothing_leaves_the_scope() {
    let outside = TestSite::start(
        Arc::new(|_: &str| Some(Page::html("outside"))),
        Duration::ZERO,
    )
    .await;
    let pages = site::single_page_application(outside.port);
    let site = TestSite::start(pages.clone(), Duration::ZERO).await;
    let (page_url, scope) = root_of(&site);
    let page = pages("/").unwrap();
    let headers = vec![("content-type".to_string(), page.content_type.to_string())];

    // Read as text, the page and its script give neither the route nor the data's link.
    let script = pages("/app.js").unwrap().body;
    let script_url = page_url.join("/app.js").unwrap();
    let js_headers = vec![(
        "content-type".to_string(),
        "application/javascript".to_string(),
    )];
    let read = s4e_crawler::extract::response(&script_url, &js_headers, script.as_bytes());
    let read: Vec<Url> = read.links.into_iter().map(|(url, _)| url).collect();
    assert!(
        !paths(&read, site.port).contains(&"/rendered-only".to_string()),
        "{read:?}"
    );
    assert!(
        !paths(&read, site.port).contains(&"/api/live".to_string()),
        "{read:?}"
    );

    let browser = started_browser(2).await;
    let rendered = browser
        .render(
            "a crawl",
            page_of(&page_url, &headers, page.body.as_bytes()),
            &scope,
            Duration::from_secs(15),
            get,
        )
        .await
        .unwrap();

    // Every request the page made, sent or refused.
    assert_eq!(
        paths(&rendered.requested, site.port),
        vec![
            "/api/live".to_string(),
            "/api/submit".to_string(),
            "/app.js".to_string(),
            "/logo.png".to_string(),
            "/pixel.gif".to_string(),
            format!("http://127.0.0.1:{}/leak", outside.port),
        ]
    );
    // The document its scripts built, the link the data brought included.
    let links = paths(&rendered.links, site.port);
    assert!(links.contains(&"/rendered-only".to_string()), "{links:?}");
    assert!(links.contains(&"/from-data".to_string()), "{links:?}");
    // Only the script and the data were fetched (the page was not: it was given); the POST,
    // the images and the other host were refused and never sent.
    let mut asked = site.requests();
    asked.sort();
    assert_eq!(asked, vec!["/api/live", "/app.js"]);
    assert_eq!(rendered.refused, 4);
    assert!(outside.requests().is_empty(), "{:?}", outside.requests());
    browser.close().await;
}

#[tokio::test]
async fn a_page_that_never_settles_ends_at_its_deadline_with_what_it_found() {
    // A script asking again and again, and a request whose answer never comes.
    let pages: site::Pages = Arc::new(|target: &str| match target {
        "/" => Some(Page::html(
            r#"<html><body><a href="/static">s</a><script>
                   var n = 0;
                   setInterval(function () { fetch('/poll?n=' + (n++)).catch(function () {}); }, 50);
                   fetch('/hang').catch(function () {});
                   </script></body></html>"#,
        )),
        _ => Some(Page::of("application/json", "{}")),
    });
    let site = TestSite::start(pages.clone(), Duration::ZERO).await;
    let (page_url, scope) = root_of(&site);
    let headers = html_headers();
    let body = pages("/").unwrap().body;
    let browser = started_browser(1).await;
    let began = std::time::Instant::now();
    let rendered = browser
        .render(
            "a crawl",
            page_of(&page_url, &headers, body.as_bytes()),
            &scope,
            Duration::from_secs(3),
            |url: Url| async move {
                if url.path() == "/hang" {
                    std::future::pending::<()>().await;
                }
                get(url).await
            },
        )
        .await
        .unwrap();
    let took = began.elapsed();
    assert!(took < Duration::from_secs(8), "{took:?}");
    // What it found before the deadline is kept: the static link, read from the document.
    let links = paths(&rendered.links, site.port);
    assert!(links.contains(&"/static".to_string()), "{links:?}");
    // And the browser serves the next page as well.
    let rendered = browser
        .render(
            "a crawl",
            page_of(&page_url, &headers, b"<a href=\"/next\">n</a>"),
            &scope,
            Duration::from_secs(5),
            get,
        )
        .await
        .unwrap();
    assert_eq!(paths(&rendered.links, site.port), vec!["/next"]);
    browser.close().await;
}

#[tokio::test]
async fn what_a_hostile_page_tries_reaches_nothing_and_an_alert_holds_nothing() {
    let outside = TestSite::start(
        Arc::new(|_: &str| Some(Page::html("outside"))),
        Duration::ZERO,
    )
    .await;
    let out = format!("127.0.0.1:{}", outside.port);
    // A frame, a worker, a socket and a beacon: some are paused and refused like the page's
    // own requests, others are targets or protocols of their own that the page's interception
    // does not see (held paused, or sent into Chromium's walled-off network). Whichever layer
    // stops each, `outside` must hear nothing.
    let body = format!(
        r#"<html><body>
        <iframe sandbox="allow-scripts" srcdoc="<script>fetch('http://{out}/frame')</script>"></iframe>
        <script>
        try {{ new WebSocket('ws://{out}/socket'); }} catch (e) {{}}
        try {{
            var code = new Blob(["fetch('http://{out}/worker')"], {{ type: 'text/javascript' }});
            new Worker(URL.createObjectURL(code));
        }} catch (e) {{}}
        try {{ navigator.sendBeacon('http://{out}/beacon', 'x'); }} catch (e) {{}}
        alert('held');
        document.body.insertAdjacentHTML('beforeend', '<a href="/after-alert">a</a>');
        </script></body></html>"#
    );
    let site = TestSite::start(Arc::new(|_: &str| None), Duration::ZERO).await;
    let (page_url, scope) = root_of(&site);
    let headers = html_headers();
    let browser = started_browser(1).await;
    let rendered = browser
        .render(
            "a crawl",
            page_of(&page_url, &headers, body.as_bytes()),
            &scope,
            Duration::from_secs(5),
            get,
        )
        .await
        .unwrap();
    // The alert was dismissed and the script went on.
    let links = paths(&rendered.links, site.port);
    assert!(links.contains(&"/after-alert".to_string()), "{links:?}");
    // A second page rendered after the first: anything that escaped has had its time.
    let again = browser
        .render(
            "a crawl",
            page_of(&page_url, &headers, b"<a href=\"/next\">n</a>"),
            &scope,
            Duration::from_secs(5),
            get,
        )
        .await
        .unwrap();
    assert_eq!(paths(&again.links, site.port), vec!["/next"]);
    assert!(outside.requests().is_empty(), "{:?}", outside.requests());
    browser.close().await;
}

#[tokio::test]
async fn a_page_by_name_is_rendered_under_that_name() {
    // `app.example` resolves nowhere: every answer comes from the crawl (here, the site on
    // 127.0.0.1), so only the name and scheme the crawl fetched matter.
    let site = TestSite::start(site::single_page_application(9), Duration::ZERO).await;
    let page_url = Url::parse(&format!("http://app.example:{}/", site.port)).unwrap();
    let scope = Scope::of(&page_url).unwrap();
    let page = site::single_page_application(9)("/").unwrap();
    let headers = vec![("content-type".to_string(), page.content_type.to_string())];
    let local = site.port;
    let browser = started_browser(1).await;
    let rendered = browser
        .render(
            "a crawl",
            page_of(&page_url, &headers, page.body.as_bytes()),
            &scope,
            Duration::from_secs(15),
            |mut url: Url| async move {
                url.set_host(Some("127.0.0.1")).ok()?;
                url.set_port(Some(local)).ok()?;
                get(url).await
            },
        )
        .await
        .unwrap();
    let links: Vec<String> = rendered.links.iter().map(Url::to_string).collect();
    let built = format!("http://app.example:{}/rendered-only", site.port);
    assert!(links.contains(&built), "{links:?}");
    let mut asked = site.requests();
    asked.sort();
    assert_eq!(asked, vec!["/api/live", "/app.js"]);
    browser.close().await;
}

#[tokio::test]
async fn a_crawls_pages_share_a_session_and_no_other_crawl_sees_it() {
    // The page links to what its cookie says, then sets it.
    let body = r#"<html><body><script>
        var seen = document.cookie.indexOf('visited=yes') >= 0 ? 'again' : 'first';
        document.body.insertAdjacentHTML('beforeend', '<a href="/' + seen + '">x</a>');
        document.cookie = 'visited=yes; path=/';
        </script></body></html>"#;
    let site = TestSite::start(Arc::new(|_: &str| None), Duration::ZERO).await;
    let (page_url, scope) = root_of(&site);
    let headers = html_headers();
    let browser = started_browser(2).await;
    let mut seen = Vec::new();
    for owner in ["one crawl", "one crawl", "another crawl", "one crawl"] {
        let rendered = browser
            .render(
                owner,
                page_of(&page_url, &headers, body.as_bytes()),
                &scope,
                Duration::from_secs(5),
                get,
            )
            .await
            .unwrap();
        seen.push(paths(&rendered.links, site.port));
    }
    assert_eq!(
        seen,
        vec![
            vec!["/first"],
            vec!["/again"],
            vec!["/first"],
            vec!["/again"]
        ]
    );
    browser.close().await;
}
