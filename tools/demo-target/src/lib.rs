//! A tiny "vulnerable demo shop" to point S4E scans at.
//!
//! By default every response deliberately lacks the usual security headers (no
//! `Content-Security-Policy`, `X-Content-Type-Options`, `X-Frame-Options` or `Referrer-Policy`)
//! and leaks its software versions through `Server: Apache/2.4.41 (Ubuntu)` and
//! `X-Powered-By: PHP/7.4.3`. The shop also sets its session cookie without `HttpOnly` or
//! `SameSite`, echoes TRACE requests, serves its `.git/HEAD` and `.env`, and answers unknown
//! paths with 200 and a shop page (a soft-404) instead of a 404.
//!
//! With `hardened` the same pages are served with good headers and cookie attributes, real
//! 404s and no TRACE; over plain HTTP ([`router`]) a hardened site only redirects to HTTPS,
//! and [`tls_router`] serves the pages for a TLS listener. A scan of both modes shows what the
//! checks find and what they must not.
//!
//! It is meant for loopback only: it serves static pages and holds no data (the `.env` it
//! exposes is made up).

use axum::Router;
use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{Next, from_fn, map_response};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

/// Where the binary listens unless `--listen` / `S4E_DEMO_LISTEN` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";

/// `Server` header of the vulnerable mode (an outdated Apache).
pub const VULNERABLE_SERVER: &str = "Apache/2.4.41 (Ubuntu)";
/// `X-Powered-By` header of the vulnerable mode (an outdated PHP).
pub const VULNERABLE_POWERED_BY: &str = "PHP/7.4.3";
/// `Content-Security-Policy` of the hardened mode.
pub const HARDENED_CSP: &str = "default-src 'self'; frame-ancestors 'none'";
/// The session cookie the home page sets (attributes are added by the hardened mode).
pub const SESSION_COOKIE: &str = "shop_session=demo-session-0001; Path=/";
/// What the hardened mode adds to every cookie.
const HARDENED_COOKIE_ATTRIBUTES: &str = "; Secure; HttpOnly; SameSite=Lax";

const X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");

/// The demo shop served over plain HTTP. `hardened == false` serves it with missing security
/// headers, leaky version banners and exposed files on every response; `hardened == true`
/// redirects every request to the same URL over HTTPS, as a hardened site does.
pub fn router(hardened: bool) -> Router {
    if hardened {
        Router::new()
            .fallback(redirect_to_https)
            .layer(map_response(hardened_headers))
    } else {
        shop(false)
    }
}

/// Serves the file at `path` (read at each request) as the site's ownership verification file,
/// `/.well-known/s4e-verification.txt`, so the owner of the demo can prove it is theirs.
pub fn verification_file(path: std::path::PathBuf) -> Router {
    Router::new().route(
        "/.well-known/s4e-verification.txt",
        axum::routing::get(move || {
            let path = path.clone();
            async move {
                match tokio::fs::read_to_string(&path).await {
                    Ok(token) => (axum::http::StatusCode::OK, token),
                    Err(_) => (axum::http::StatusCode::NOT_FOUND, String::new()),
                }
            }
        }),
    )
}

/// The demo shop for a TLS listener: the pages themselves in both modes.
pub fn tls_router(hardened: bool) -> Router {
    shop(hardened)
}

fn shop(hardened: bool) -> Router {
    let routes = Router::new()
        .route("/", get(index))
        .route("/index.php", get(index))
        .route("/login", get(login))
        .route("/robots.txt", get(robots));
    if hardened {
        routes
            .fallback(not_found)
            .layer(map_response(hardened_headers))
    } else {
        routes
            .route("/.git/HEAD", get(git_head))
            .route("/.env", get(dotenv))
            .fallback(soft_not_found)
            .layer(from_fn(echo_trace))
            .layer(map_response(vulnerable_headers))
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
    harden_cookies(headers);
    response
}

/// Every `Set-Cookie` gains `Secure`, `HttpOnly` and `SameSite=Lax`.
fn harden_cookies(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| {
            let value = value.to_str().ok()?;
            HeaderValue::from_str(&format!("{value}{HARDENED_COOKIE_ATTRIBUTES}")).ok()
        })
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
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

/// The same URL over HTTPS, on the host the client asked for.
async fn redirect_to_https(headers: HeaderMap, uri: Uri) -> Redirect {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    Redirect::permanent(&format!("https://{host}{path}"))
}

/// Answers TRACE with the request it received, as Apache does with `TraceEnable on`.
async fn echo_trace(request: Request, next: Next) -> Response {
    if request.method() != Method::TRACE {
        return next.run(request).await;
    }
    let mut echo = format!("TRACE {} {:?}\r\n", request.uri(), request.version());
    for (name, value) in request.headers() {
        echo.push_str(&format!(
            "{name}: {}\r\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    ([(header::CONTENT_TYPE, "message/http")], echo).into_response()
}

async fn index() -> impl IntoResponse {
    ([(header::SET_COOKIE, SESSION_COOKIE)], Html(INDEX_HTML))
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

/// A shop page with 200 for any unknown path, naming it: what many shops do instead of a 404.
async fn soft_not_found(uri: Uri) -> Html<String> {
    let path = uri
        .path()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    Html(SOFT_NOT_FOUND_HTML.replace("{path}", &path))
}

async fn git_head() -> &'static str {
    "ref: refs/heads/main\n"
}

/// Made-up values: the demo holds no secrets.
async fn dotenv() -> &'static str {
    "APP_ENV=production\nAPP_DEBUG=true\nAPP_KEY=base64:ZGVtby1zaG9wLWtleS1ub3QtcmVhbA==\n\
     DB_HOST=127.0.0.1\nDB_USERNAME=shop\nDB_PASSWORD=demo-password-not-real\n"
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

const SOFT_NOT_FOUND_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Demo Shop - cheap gadgets</title>
</head>
<body>
  <header>
    <h1>Demo Shop</h1>
    <nav><a href="/">Home</a> | <a href="/login">Log in</a></nav>
  </header>
  <main>
    <p>Sorry, we could not find {path}. Have a look at our bestsellers instead:</p>
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
