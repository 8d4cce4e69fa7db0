//! A tiny "vulnerable demo shop" to point S4E scans at.
//!
//! By default every response deliberately lacks the usual security headers (no
//! `Content-Security-Policy`, `X-Content-Type-Options`, `X-Frame-Options` or `Referrer-Policy`)
//! and leaks its software versions through `Server: Apache/2.4.41 (Ubuntu)` and
//! `X-Powered-By: PHP/7.4.3`. With `hardened` the same pages are served with good headers, so a
//! scan of both shows what the checks find and what they must not.
//!
//! It is meant for loopback only: it serves static pages and holds no data.

use axum::Router;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::map_response;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

/// Where the binary listens unless `--listen` / `S4E_DEMO_LISTEN` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";

/// `Server` header of the vulnerable mode (an outdated Apache).
pub const VULNERABLE_SERVER: &str = "Apache/2.4.41 (Ubuntu)";
/// `X-Powered-By` header of the vulnerable mode (an outdated PHP).
pub const VULNERABLE_POWERED_BY: &str = "PHP/7.4.3";
/// `Content-Security-Policy` of the hardened mode.
pub const HARDENED_CSP: &str = "default-src 'self'; frame-ancestors 'none'";

const X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");

/// The demo shop. `hardened == false` serves it with missing security headers and leaky
/// version banners on every response (404s included); `hardened == true` with good headers.
pub fn router(hardened: bool) -> Router {
    let routes = Router::new()
        .route("/", get(index))
        .route("/index.php", get(index))
        .route("/login", get(login))
        .route("/robots.txt", get(robots))
        .fallback(not_found);
    if hardened {
        routes.layer(map_response(hardened_headers))
    } else {
        routes.layer(map_response(vulnerable_headers))
    }
}

async fn vulnerable_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    strip_security_headers(headers);
    headers.insert(header::SERVER, HeaderValue::from_static(VULNERABLE_SERVER));
    headers.insert(
        X_POWERED_BY,
        HeaderValue::from_static(VULNERABLE_POWERED_BY),
    );
    response
}

async fn hardened_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.remove(X_POWERED_BY);
    headers.insert(header::SERVER, HeaderValue::from_static("demo"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(HARDENED_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn strip_security_headers(headers: &mut HeaderMap) {
    for name in [
        header::CONTENT_SECURITY_POLICY,
        header::X_CONTENT_TYPE_OPTIONS,
        header::X_FRAME_OPTIONS,
        header::REFERRER_POLICY,
        header::STRICT_TRANSPORT_SECURITY,
    ] {
        headers.remove(name);
    }
}

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn login() -> Html<&'static str> {
    Html(LOGIN_HTML)
}

async fn robots() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "User-agent: *\nDisallow: /admin/\nDisallow: /backup/\n",
    )
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, Html(NOT_FOUND_HTML))
}

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Demo Shop - cheap gadgets</title>
  <meta name="generator" content="DemoShop 1.0">
</head>
<body>
  <header>
    <h1>Demo Shop</h1>
    <nav><a href="/">Home</a> | <a href="/login">Log in</a></nav>
  </header>
  <main>
    <form action="/search" method="get">
      <input type="text" name="q" placeholder="Search products">
      <button type="submit">Search</button>
    </form>
    <ul class="products">
      <li><a href="/product?id=1">USB cable</a> - $4.99</li>
      <li><a href="/product?id=2">Phone charger</a> - $12.50</li>
      <li><a href="/product?id=3">Bluetooth speaker</a> - $39.00</li>
    </ul>
  </main>
  <footer><p>This shop is a deliberately insecure demo target for S4E scans.</p></footer>
</body>
</html>
"#;

const LOGIN_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Demo Shop - log in</title>
</head>
<body>
  <h1>Log in</h1>
  <form action="/login" method="post">
    <label>User <input type="text" name="user"></label>
    <label>Password <input type="password" name="password"></label>
    <button type="submit">Log in</button>
  </form>
  <p><a href="/">Back to the shop</a></p>
</body>
</html>
"#;

const NOT_FOUND_HTML: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>404 Not Found</title></head>
<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body>
</html>
"#;
