//! A web site for crawl tests: a known structure served over plain HTTP on a loopback port,
//! recording every request it receives, so a test can assert the exact set a crawl found and
//! that nothing outside the crawl's scope was asked for.
//!
//! The shop ([`shop`]) holds every kind of reference a crawler must follow (HTML attributes,
//! CSS, script strings, robots.txt, a sitemap, a redirect, a form), things a crawl must report
//! (a password form over HTTP, a directory listing, a link to another host of the site's
//! domain, contact data, personal data and a cloud key, with look-alikes) and two traps (an endless calendar, a self-nesting relative link).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One answer of the site.
#[derive(Clone, Debug)]
pub struct Page {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Page {
    pub fn html(body: impl Into<String>) -> Page {
        Page::of("text/html; charset=utf-8", body)
    }

    pub fn of(content_type: &'static str, body: impl Into<String>) -> Page {
        Page {
            status: 200,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn status(mut self, status: u16) -> Page {
        self.status = status;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Page {
        self.headers.push((name, value.into()));
        self
    }

    fn not_found() -> Page {
        Page::html("<html><title>Not found</title></html>").status(404)
    }
}

/// Reads an HTTP request's head, through its blank line, from `stream`; `None` when the
/// connection ends first or the head passes 64 KiB.
pub async fn read_request_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
        if request.len() > 64 * 1024 {
            return None;
        }
    }
    Some(request)
}

/// What a site answers for a path and query (`/a?b=c`).
pub type Pages = Arc<dyn Fn(&str) -> Option<Page> + Send + Sync>;

/// A site served on a loopback port (127.0.0.1, and ::1 where it can) until dropped.
pub struct TestSite {
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestSite {
    /// Serves `pages` (404 for what it does not know), each answer after `delay`.
    pub async fn start(pages: Pages, delay: Duration) -> TestSite {
        let listener = crate::listener().await;
        let port = listener.local_addr().expect("a bound port").port();
        // `localhost` may resolve to ::1 first: the same port there too, where IPv6 is up.
        let ipv6 = tokio::net::TcpListener::bind(("::1", port)).await.ok();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let accepted = match &ipv6 {
                    Some(ipv6) => tokio::select! {
                        accepted = listener.accept() => accepted,
                        accepted = ipv6.accept() => accepted,
                    },
                    None => listener.accept().await,
                };
                let Ok((stream, _)) = accepted else { return };
                let pages = pages.clone();
                let recorded = recorded.clone();
                tokio::spawn(serve(stream, pages, recorded, delay));
            }
        });
        TestSite {
            port,
            requests,
            task,
        }
    }

    /// Every request's path and query, in the order received.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    pages: Pages,
    recorded: Arc<Mutex<Vec<String>>>,
    delay: Duration,
) {
    let Some(request) = read_request_head(&mut stream).await else {
        return;
    };
    let head = String::from_utf8_lossy(&request);
    let mut words = head.split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return;
    };
    recorded
        .lock()
        .expect("not poisoned")
        .push(target.to_string());
    tokio::time::sleep(delay).await;
    let page = if method == "GET" {
        pages(target).unwrap_or_else(Page::not_found)
    } else {
        Page::html("").status(405)
    };
    let mut response = format!(
        "HTTP/1.1 {} Status\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        page.status,
        page.content_type,
        page.body.len()
    );
    for (name, value) in &page.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&page.body);
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A single-page application for the headless mode: its navigation and its data exist only
/// when its script runs, assembled from pieces no reading of the text puts together (`/`,
/// `/app.js`, `/api/live`, which links to `/from-data`; the script builds `/rendered-only`).
/// The script also posts to `/api/submit`, loads `/pixel.gif` and asks another site at
/// `outside_port` for `/leak`: none of which a crawl may send.
pub fn single_page_application(outside_port: u16) -> Pages {
    let script = format!(
        r#"
        var parts = ['rend', 'ered'];
        document.addEventListener('DOMContentLoaded', function () {{
            var link = document.createElement('a');
            link.href = '/' + parts.join('') + '-only';
            document.getElementById('nav').appendChild(link);
            fetch('/api/' + ['li', 've'].join(''))
                .then(function (answer) {{ return answer.json(); }})
                .then(function (data) {{
                    var next = document.createElement('a');
                    next.href = data.next;
                    document.body.appendChild(next);
                }});
            fetch('/api/' + 'sub' + 'mit', {{ method: 'POST', body: 'order' }}).catch(function () {{}});
            fetch('http://127.0.0.1:' + {outside_port} + '/leak').catch(function () {{}});
            new Image().src = '/pixel' + '.gif';
        }});
        "#
    );
    Arc::new(move |target: &str| match target {
        "/" => Some(Page::html(
            r#"<html><head><title>App</title><script src="/app.js"></script></head>
               <body><div id="nav"></div><img src="/logo.png"></body></html>"#,
        )),
        "/app.js" => Some(Page::of("application/javascript", script.clone())),
        "/api/live" => Some(Page::of("application/json", r#"{"next": "/from-data"}"#)),
        _ => None,
    })
}

/// How many days of the endless calendar each day's page links to.
pub const CALENDAR_LINKS: u32 = 10;

/// The shop's pages. `host` is the name the site is reached by (links to `api.<host>` and to
/// another domain leave the scope).
pub fn shop(host: &str) -> Pages {
    let host = host.to_string();
    Arc::new(move |target: &str| shop_page(&host, target))
}

fn shop_page(host: &str, target: &str) -> Option<Page> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let page = match (path, query) {
        ("/", "") => Page::html(format!(
            r##"<!doctype html><html><head><title>Test Shop</title>
            <link rel="stylesheet" href="/css/site.css"><script src="/js/app.js"></script></head>
            <body><img src="img/logo.png">
            <a href="/about">About</a> <a href="products/">Products</a>
            <a href="/calendar?day=1">Calendar</a> <a href="/loop/">Loop</a>
            <a href="/login#form">Sign in</a> <a href="/files/">Files</a>
            <a href="http://api.{host}/docs">API</a> <a href="https://elsewhere.example/">Partner</a>
            <a href="mailto:shop@example.com">Mail</a> <a href="javascript:void(0)">Nothing</a>
            <a href="#top">Top</a></body></html>"##
        ))
        // The home page is protected; the rest of the shop is not.
        .header("content-security-policy", "default-src 'self'; frame-ancestors 'none'")
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer"),
        ("/robots.txt", "") => Page::of(
            "text/plain",
            "User-agent: *\nDisallow: /hidden/\nSitemap: /sitemap.xml\n",
        ),
        ("/sitemap.xml", "") => Page::of(
            "application/xml",
            "<?xml version=\"1.0\"?><urlset><url><loc>/from-sitemap</loc></url>\
             <url><loc>/about</loc></url></urlset>",
        ),
        ("/about", "") => Page::html(
            r#"<html><title>About</title><a href="/">Home</a> <a href="/old">Old page</a>
            <a href="/products/item/1">Featured</a> <a href="/contact">Contact</a>
            <a href="/statement">Your statement</a> <a href="/docs/shop-api.yaml">API</a>
            <a href="/docs/broken.json">Old API</a></html>"#,
        ),
        ("/old", "") => Page::html("").status(301).header("location", "/moved-here"),
        ("/moved-here", "") | ("/from-sitemap", "") | ("/hidden/admin.php", "") => {
            Page::html(format!("<html><title>{path}</title></html>"))
        }
        // Contact data (an address, a phone number) and a file name that only looks like an
        // address.
        ("/contact", "") => Page::html(
            "<html><title>Contact</title><p>Write to sales@shop.example or call tel: \
             +90 532 123 45 67. Our team photo: team@2x.png</p></html>",
        ),
        // Personal data that passes its checksums next to words naming it, and look-alikes
        // that do not: a number failing Luhn, an identity number without context.
        ("/statement", "") => Page::html(
            "<html><title>Statement</title><p>Card: 4539 1488 0343 6467, IBAN: \
             TR330006100519786457841326.</p><p>Order 4539 1488 0343 6468, ref 10000000146, \
             tracking 1234567890123456.</p></html>",
        ),
        // An API document away from the usual paths (its operations are crawled), and one
        // that claims to be a document but is not a valid one.
        ("/docs/shop-api.yaml", "") => Page::of(
            "application/yaml",
            "openapi: 3.0.3\ninfo: {title: Shop, version: '1'}\nservers:\n  - url: /api/v1\n\
             paths:\n  /status:\n    get: {}\n  /health:\n    get: {}\n  /orders:\n    get:\n      \
             security: [{key: []}]\n  /items/{id}:\n    get:\n      parameters:\n        \
             - {name: id, in: path, required: true}\n",
        ),
        ("/docs/broken.json", "") => Page::of(
            "application/json",
            r#"{"openapi": "3.0.0", "paths": "none"}"#,
        ),
        ("/api/v1/health", "") => Page::of("application/json", r#"{"healthy":true}"#),
        // Linked from nowhere: only a fuzzer finds it.
        ("/backup", "") => Page::of("application/zip", "PK\u{3}\u{4} the site's old files"),
        ("/config.json", "") => Page::of(
            "application/json",
            r#"{"region":"eu-west-1","aws_access_key_id":"AKIAIOSFODNN7EXAMPLE"}"#,
        ),
        ("/hidden/", "") => {
            Page::html(r#"<html><title>Admin</title><a href="admin.php">Admin</a></html>"#)
        }
        ("/products/", "") => Page::html(format!(
            "<html><title>Products</title>{}</html>",
            (1..=5)
                .map(|id| format!(r#"<a href="item/{id}">Item {id}</a>"#))
                .collect::<String>()
        )),
        (
            "/products/item/1" | "/products/item/2" | "/products/item/3" | "/products/item/4"
            | "/products/item/5",
            "" | "color=red",
        ) => Page::html(format!(
            r#"<html><title>Item</title><a href="/products/">Back</a>
            <a href="{path}?color=red">Red</a></html>"#
        )),
        ("/css/site.css", "") => Page::of(
            "text/css",
            "body { background: url('/img/bg.png') } @import \"/css/print.css\";",
        ),
        ("/css/print.css", "") => Page::of("text/css", "body { color: black }"),
        ("/js/app.js", "") => Page::of(
            "application/javascript",
            r#"fetch("/api/v1/status").then(r => r.json()); const orders = '/api/v1/orders';
            const settings = "/config.json";"#,
        ),
        ("/api/v1/status", "") => Page::of("application/json", r#"{"ok":true}"#),
        ("/api/v1/orders", "") => {
            Page::of("application/json", r#"{"error":"sign in"}"#).status(401)
        }
        ("/img/logo.png" | "/img/bg.png", "") => Page::of("image/png", "\u{89}PNG"),
        ("/calendar", day) => {
            let day: u32 = day.strip_prefix("day=")?.parse().ok()?;
            Page::html(format!(
                "<html><title>Day {day}</title>{}</html>",
                (1..=CALENDAR_LINKS)
                    .map(|next| format!(r#"<a href="/calendar?day={}">next</a>"#, day + next))
                    .collect::<String>()
            ))
        }
        (loop_path, "") if loop_path.starts_with("/loop/") => {
            Page::html(r#"<html><title>Loop</title><a href="loop/">deeper</a></html>"#)
        }
        ("/login", "") => Page::html(
            r#"<html><title>Sign in</title><form method="post" action="/session">
            <input name="user"><input type="password" name="password"><button>Go</button>
            </form></html>"#,
        )
        // A session cookie scripts can read and other sites' requests carry.
        .header("set-cookie", "shop_session=s3cr3t; Path=/"),
        ("/files/", "") => Page::html(
            r#"<html><head><title>Index of /files</title></head><body><h1>Index of /files</h1>
            <pre><a href="../">../</a>
            <a href="backup.zip">backup.zip</a></pre></body></html>"#,
        ),
        ("/files/backup.zip", "") => Page::of("application/zip", "PK"),
        // Not listed, not linked: found by asking the directory for the exposure check's files.
        ("/files/.env", "") => Page::of(
            "text/plain",
            "APP_ENV=production\nDB_HOST=db.internal\nDB_PASSWORD=shop-db-password\n",
        ),
        // Linked from nowhere and in no wordlist but an organization's own.
        ("/staff-only", "") => Page::html("<html><title>Staff</title></html>"),
        _ => return None,
    };
    Some(page)
}

/// What a crawl of the whole shop must find (paths and queries), calendar days aside: those
/// are counted, since which days fill the calendar's share depends on which pages the crawl
/// fetched first.
pub const SHOP_PAGES: &[&str] = &[
    "/",
    "/robots.txt",
    "/sitemap.xml",
    "/about",
    "/contact",
    "/statement",
    "/config.json",
    "/backup",
    "/docs/shop-api.yaml",
    "/docs/broken.json",
    "/api/v1/health",
    "/old",
    "/moved-here",
    "/from-sitemap",
    "/hidden/",
    "/hidden/admin.php",
    "/products/",
    "/products/item/1",
    "/products/item/2",
    "/products/item/3",
    "/products/item/4",
    "/products/item/5",
    "/products/item/1?color=red",
    "/products/item/2?color=red",
    "/products/item/3?color=red",
    "/products/item/4?color=red",
    "/products/item/5?color=red",
    "/css/site.css",
    "/css/print.css",
    "/js/app.js",
    "/api/v1/status",
    "/api/v1/orders",
    "/img/logo.png",
    "/img/bg.png",
    "/loop/",
    "/loop/loop/",
    "/loop/loop/loop/",
    "/login",
    "/session",
    "/files/",
    "/files/backup.zip",
    "/files/.env",
];
