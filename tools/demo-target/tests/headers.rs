//! The demo target's two modes, exercised in-process.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt as _;

async fn get(hardened: bool, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = s4e_demo_target::router(hardened)
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
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
        if path == "/no-such-page" {
            assert_eq!(status, StatusCode::NOT_FOUND);
        } else {
            assert_eq!(status, StatusCode::OK, "{path}");
        }
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
