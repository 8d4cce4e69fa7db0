//! The browser console: the single-page app of `console/` (built by Vite into `console/dist`),
//! embedded into the binary when the `console` feature is on. Files are answered by path;
//! any other GET outside `/api/` is a client route and gets the app's `index.html`. Vite names
//! every asset after a hash of its content, so assets are cached for a year and the index not
//! at all; each text file has a Brotli and a gzip copy made at build time, answered to a browser
//! that accepts them.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../../console/dist"]
struct Files;

/// Where the app's hashed files live (`build.assetsDir` of `console/vite.config.ts`).
const ASSETS_PREFIX: &str = "assets/";
const INDEX: &str = "index.html";

/// The console's answer to a GET or HEAD of `uri`, or `None` when it is not the console's
/// (the API's own paths, or a missing hashed asset: a stale page asking for an old build).
pub fn serve(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path == "api" {
        return None;
    }
    let (name, file) = match Files::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file),
        None if path.starts_with(ASSETS_PREFIX) => return None,
        None => (INDEX, Files::get(INDEX)?),
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if name.starts_with(ASSETS_PREFIX) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (body, encoding) = compressed(name, headers)
            .map_or((file.data, None), |(data, encoding)| (data, Some(encoding)));
        let mut response = Response::new(if method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(body)
        });
        if let Some(encoding) = encoding {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(name)),
        );
        response
    };
    let answer = response.headers_mut();
    answer.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    answer.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        answer.insert(header::ETAG, etag);
    }
    Some(response)
}

/// The build's Brotli or gzip copy of `name`, when the browser accepts that encoding.
fn compressed(
    name: &str,
    headers: &HeaderMap,
) -> Option<(std::borrow::Cow<'static, [u8]>, &'static str)> {
    let accepted = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let accepts = |coding: &str| {
        accepted.split(',').any(|item| {
            let mut parts = item.split(';');
            let named = parts.next().is_some_and(|name| name.trim() == coding);
            // `br;q=0` refuses it.
            named && !parts.any(|param| param.trim().replace(' ', "") == "q=0")
        })
    };
    [("br", "br"), ("gzip", "gz")]
        .into_iter()
        .filter(|(coding, _)| accepts(coding))
        .find_map(|(coding, extension)| {
            Files::get(&format!("{name}.{extension}")).map(|file| (file.data, coding))
        })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map_or("", |(_, extension)| extension) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, accept_encoding: &str) -> Option<Response> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept_encoding).unwrap(),
        );
        serve(&Method::GET, &path.parse().unwrap(), &headers)
    }

    #[test]
    fn client_routes_get_the_index_and_api_paths_are_not_the_consoles() {
        for route in [
            "/",
            "/findings",
            "/scans/0192f3a1-0000-7000-8000-000000000000",
        ] {
            let response = get(route, "").expect("the index");
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        }
        assert!(get("/api/v1/nothing", "").is_none());
        assert!(get("/assets/index-00000000.js", "").is_none());
        assert!(serve(&Method::POST, &"/".parse().unwrap(), &HeaderMap::new()).is_none());
    }

    #[test]
    fn hashed_assets_are_cached_for_good_and_compressed_when_accepted() {
        let script = Files::iter()
            .find(|name| name.starts_with(ASSETS_PREFIX) && name.ends_with(".js"))
            .expect("the build has a script");
        let plain = get(&format!("/{script}"), "").unwrap();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(
            plain.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let brotli = get(&format!("/{script}"), "gzip, deflate, br").unwrap();
        assert_eq!(brotli.headers()[header::CONTENT_ENCODING], "br");
        let gzip = get(&format!("/{script}"), "gzip, br;q=0").unwrap();
        assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
    }
}
