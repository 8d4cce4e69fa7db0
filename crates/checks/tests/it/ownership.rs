//! Ownership verification against local sites: the file and the meta tag, followed redirects,
//! and redirects the egress policy refuses.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use s4e_egress::ReachError;
use s4e_egress::ownership::{self, WELL_KNOWN_PATH};

use crate::support::{TIMEOUT, http_app, https_app, lax, strict};

const TOKEN: &str = "5f0c0ffee5f0c0ffee";

fn site(file: &'static str, page: &'static str) -> Router {
    Router::new()
        .route(WELL_KNOWN_PATH, get(move || async move { file }))
        .route("/", get(move || async move { axum::response::Html(page) }))
}

#[tokio::test]
async fn the_file_and_the_meta_tag_prove_ownership() {
    let page =
        r#"<html><head><meta name="s4e-verification" content="5f0c0ffee5f0c0ffee"></head></html>"#;
    let server = http_app(site("other\n5f0c0ffee5f0c0ffee\n", page)).await;
    let url = server.url("http");
    let file = ownership::http_file(&url, TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap();
    assert!(file.proven, "{file:?}");
    let meta = ownership::meta_tag(&url, TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap();
    assert!(meta.proven, "{meta:?}");
    // The file is looked up from the site's root, whatever the asset URL's path.
    let deep = format!("{url}shop/cart?x=1");
    let file = ownership::http_file(&deep, TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap();
    assert!(file.proven, "{file:?}");
}

#[tokio::test]
async fn another_token_or_a_missing_file_proves_nothing() {
    let server = http_app(site(
        "5f0c0ffee5f0c0ffee-but-longer",
        r#"<meta name="s4e-verification" content="someone-else">"#,
    ))
    .await;
    let url = server.url("http");
    let file = ownership::http_file(&url, TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap();
    assert!(!file.proven);
    let meta = ownership::meta_tag(&url, TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap();
    assert!(!meta.proven);
    // A site that answers 404 (or a soft page) for the file is not proof either.
    let empty = http_app(Router::new()).await;
    let missing = ownership::http_file(&empty.url("http"), TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap();
    assert!(!missing.proven);
    assert!(missing.detail.contains("404"), "{}", missing.detail);
}

#[tokio::test]
async fn redirects_are_followed_to_an_approved_address() {
    let secure = https_app(
        "127.0.0.1".parse().unwrap(),
        site("5f0c0ffee5f0c0ffee", "<html></html>"),
    )
    .await;
    let target = format!("https://{}", secure.addr);
    let moved = http_app(Router::new().fallback(move |uri: axum::http::Uri| {
        let location = format!("{target}{}", uri.path());
        async move {
            (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, location)],
            )
                .into_response()
        }
    }))
    .await;
    let proof = ownership::http_file(&moved.url("http"), TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap();
    assert!(proof.proven, "{proof:?}");
}

#[tokio::test]
async fn a_redirect_into_a_refused_range_is_refused() {
    // The metadata address is refused even by the lax policy, before any connection.
    let sneaky = http_app(Router::new().fallback(|| async {
        (
            StatusCode::FOUND,
            [(header::LOCATION, "http://169.254.169.254/latest/meta-data/")],
        )
    }))
    .await;
    let error = ownership::http_file(&sneaky.url("http"), TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(error, ReachError::Egress(_)), "{error}");
    // And the strict policy refuses the local site itself.
    let error = ownership::meta_tag(&sneaky.url("http"), TOKEN, &strict(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(error, ReachError::Egress(_)), "{error}");
}

#[tokio::test]
async fn endless_redirects_end() {
    let looping = http_app(
        Router::new().fallback(|| async { (StatusCode::FOUND, [(header::LOCATION, "/again")]) }),
    )
    .await;
    let error = ownership::meta_tag(&looping.url("http"), TOKEN, &lax(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("redirects"), "{error}");
}
