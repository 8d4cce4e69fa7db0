//! The demo target's two modes, exercised in-process.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt as _;

/// A request to the shop as served over plain HTTP (vulnerable) or TLS (hardened).
async fn get(hardened: bool, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let router = if hardened {
        s4e_demo_target::tls_router(true)
    } else {
        s4e_demo_target::router(false)
    };
    send(router, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn send(
    router: axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

const SECURITY_HEADERS: [header::HeaderName; 4] = [
    header::CONTENT_SECURITY_POLICY,
    header::X_CONTENT_TYPE_OPTIONS,
    header::X_FRAME_OPTIONS,
    header::REFERRER_POLICY,
];

#[tokio::test]
async fn vulnerable_mode_lacks_security_headers_and_leaks_versions() {
    for path in ["/", "/login", "/robots.txt", "/no-such-page"] {
        let (status, headers, _) = get(false, path).await;
        // Unknown paths too: the shop answers them with a page (a soft-404).
        assert_eq!(status, StatusCode::OK, "{path}");
        for name in &SECURITY_HEADERS {
            assert!(headers.get(name).is_none(), "{path} has {name}");
        }
        assert_eq!(headers[header::SERVER], "Apache/2.4.41 (Ubuntu)", "{path}");
        assert_eq!(headers["x-powered-by"], "PHP/7.4.3", "{path}");
    }
    let (_, headers, body) = get(false, "/").await;
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("Demo Shop"));
}

#[tokio::test]
async fn vulnerable_mode_exposes_files_cookies_and_trace() {
    let (status, _, head) = get(false, "/.git/HEAD").await;
    assert_eq!(
        (status, head.as_str()),
        (StatusCode::OK, "ref: refs/heads/main\n")
    );
    let (status, _, env) = get(false, "/.env").await;
    assert_eq!(status, StatusCode::OK);
    assert!(env.starts_with("APP_ENV=production\n"), "{env}");
    let (_, headers, _) = get(false, "/").await;
    assert_eq!(
        headers[header::SET_COOKIE],
        "shop_session=demo-session-0001; Path=/"
    );
    // A soft-404: 200 and a shop page naming the path, escaped.
    let (status, _, page) = get(false, "/no-such&page").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("could not find /no-such&amp;page."), "{page}");
    // TRACE echoes the request, headers included.
    let trace = Request::builder()
        .method("TRACE")
        .uri("/")
        .header("x-probe", "echo-me")
        .body(Body::empty())
        .unwrap();
    let (status, headers, echo) = send(s4e_demo_target::router(false), trace).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "message/http");
    assert!(echo.starts_with("TRACE / HTTP/1.1\r\n"), "{echo}");
    assert!(echo.contains("x-probe: echo-me\r\n"), "{echo}");
}

#[tokio::test]
async fn hardened_mode_redirects_plain_http_to_https() {
    let request = Request::get("/login?next=%2F")
        .header(header::HOST, "127.0.0.1:8090")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(s4e_demo_target::router(true), request).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        headers[header::LOCATION],
        "https://127.0.0.1:8090/login?next=%2F"
    );
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
}

#[tokio::test]
async fn hardened_mode_has_no_exposures_and_good_cookies() {
    for path in ["/.git/HEAD", "/.env", "/no-such-page"] {
        let (status, _, _) = get(true, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, headers, _) = get(true, "/").await;
    assert_eq!(
        headers[header::SET_COOKIE],
        "shop_session=demo-session-0001; Path=/; Secure; HttpOnly; SameSite=Lax"
    );
    let trace = Request::builder()
        .method("TRACE")
        .uri("/")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(s4e_demo_target::tls_router(true), trace).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn hardened_mode_sends_good_headers() {
    for path in ["/", "/login", "/no-such-page"] {
        let (_, headers, _) = get(true, path).await;
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'; frame-ancestors 'none'"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::SERVER], "demo");
        assert!(headers.get("x-powered-by").is_none());
    }
    let (_, _, body) = get(true, "/").await;
    assert!(body.contains("Demo Shop"));
}

#[tokio::test]
async fn serves_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, s4e_demo_target::router(false))
            .await
            .unwrap();
    });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    server.abort();
    let head = raw.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{raw}");
    assert!(head.contains("server: apache/2.4.41 (ubuntu)\r\n"), "{raw}");
    assert!(head.contains("x-powered-by: php/7.4.3\r\n"), "{raw}");
    assert!(raw.contains("Demo Shop"));
}
