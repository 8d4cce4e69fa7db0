//! Extractors whose rejections use the one error body.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::Json`, but a malformed body answers 400 naming the problem (413 when too large).
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(status, "payload_too_large", "request body is too large");
    }
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return ApiError::new(
            status,
            "unsupported_media_type",
            "expected a body with content-type application/json",
        );
    }
    ApiError::bad_request(rejection.body_text())
}

/// `axum::extract::Path` with the one error body.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    // Told apart from a well-formed id that names nothing (404): the caller built the path
    // wrongly.
    ApiError::bad_request(rejection.body_text())
}

/// `axum::extract::Query` with the one error body.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(rejection.body_text())
}

/// Whether `text` holds a character no field of the API means: NUL (which PostgreSQL refuses
/// in text), the other C0 controls but tab, line feed and carriage return, and DEL.
fn has_control_character(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// The path (`items[2].name`) of the first string or key in `value` holding a control
/// character.
fn control_character_at(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(text) => has_control_character(text),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(index, item)| {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(fields) => fields.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let found = has_control_character(key) || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then(|| {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.escape_debug().to_string()
        }
    })
}

/// A deserializer's complaint as a caller should read it: where, and what, without the
/// names of the types behind the body (`expected struct NewAsset with 3 elements`).
fn plain_error(path: &str, error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = match message.find("expected struct") {
        Some(at) => format!("{}expected an object", &message[..at]),
        None => message,
    };
    if path == "." || path.is_empty() {
        message
    } else {
        format!("{path}: {message}")
    }
}

/// [`ApiJson`] for bodies from outside the fleet: a string holding a control character is
/// refused with 400 naming its field before the body reaches a handler, and a body of the
/// wrong shape is answered with the field and the problem, not the types behind it.
pub struct PublicJson<T>(pub T);

impl<T, S> FromRequest<S> for PublicJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(value) = ApiJson::<serde_json::Value>::from_request(request, state).await?;
        // Every public body is an object; serde would otherwise read a struct from an array
        // by position (`[null, null]` as a change of nothing).
        if !value.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        if let Some(field) = control_character_at(&value) {
            return Err(ApiError::bad_request(format!(
                "{field}: must not contain control characters"
            )));
        }
        serde_path_to_error::deserialize(value)
            .map(PublicJson)
            .map_err(|error| {
                ApiError::bad_request(plain_error(&error.path().to_string(), error.inner()))
            })
    }
}

/// [`ApiQuery`] for queries from outside the fleet: a parameter holding a control character
/// (once percent-decoded) is refused with 400 naming it.
pub struct PublicQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for PublicQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|error| ApiError::bad_request(format!("query: {error}")))?;
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, value)| has_control_character(name) || has_control_character(value))
        {
            return Err(ApiError::bad_request(format!(
                "{}: must not contain control characters",
                name.escape_debug()
            )));
        }
        let ApiQuery(value) = ApiQuery::from_request_parts(parts, state).await?;
        Ok(PublicQuery(value))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn control_characters_are_found_with_their_field() {
        assert_eq!(
            control_character_at(&json!({"name": "a\u{0}b"})).as_deref(),
            Some("name")
        );
        assert_eq!(
            control_character_at(&json!({"items": [{"ok": "x"}, {"tag": "\u{1b}[31m"}]}))
                .as_deref(),
            Some("items[1].tag")
        );
        assert_eq!(
            control_character_at(&json!("\u{7f}")).as_deref(),
            Some("body")
        );
        assert_eq!(
            control_character_at(&json!({"note": "two\nlines\tand\r"})),
            None
        );
        assert_eq!(
            control_character_at(&json!({"name": "ünïcode", "n": 1})),
            None
        );
    }

    #[test]
    fn complaints_do_not_name_types() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct NewThing {
            name: String,
            size: u8,
        }
        let error = serde_json::from_value::<NewThing>(json!(["a"])).unwrap_err();
        let plain = plain_error("", &error);
        assert!(!plain.contains("NewThing"), "{plain}");
        assert!(plain.contains("expected an object"), "{plain}");
        let error =
            serde_json::from_value::<NewThing>(json!({"name": "a", "size": 300})).unwrap_err();
        assert!(plain_error("size", &error).starts_with("size: "));
    }
}
