//! The gateway's API over HTTP: the key on every request, `X-Organization-Id` when acting for
//! a customer, and its error body turned into a [`CliError`].

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::config::Resolved;
use crate::error::CliError;

const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Api {
    http: reqwest::Client,
    base: url::Url,
    token: String,
    org: Option<String>,
}

impl Api {
    pub fn new(credential: &Resolved, org: Option<String>) -> Result<Api, CliError> {
        let base = url::Url::parse(&credential.url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| {
                CliError::Usage(format!("{:?} is not an http(s) URL", credential.url))
            })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("s4e-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| CliError::Other(error.to_string()))?;
        Ok(Api {
            http,
            base,
            token: credential.token.clone(),
            org,
        })
    }

    pub fn url(&self) -> &url::Url {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}/api/v1{path}", self.base.as_str().trim_end_matches('/'));
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(org) = &self.org {
            request = request.header("X-Organization-Id", org);
        }
        request
    }

    /// Sends the request and hands back the response when it succeeded.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CliError> {
        let response = request
            .send()
            .await
            .map_err(|error| CliError::Unreachable {
                url: self.base.to_string(),
                detail: reason(&error),
            })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or("error")
            .to_string();
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                CliError::Auth(format!("{message} ({} {code})", status.as_u16()))
            }
            _ => CliError::Api {
                status: status.as_u16(),
                code,
                message,
            },
        })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, CliError> {
        let response = self
            .send(
                self.request(Method::GET, path)
                    .query(query)
                    .timeout(TIMEOUT),
            )
            .await?;
        json(response).await
    }

    pub async fn get_text(&self, path: &str, query: &[(&str, String)]) -> Result<String, CliError> {
        let response = self
            .send(self.request(Method::GET, path).query(query))
            .await?;
        response
            .text()
            .await
            .map_err(|error| CliError::Unreachable {
                url: self.base.to_string(),
                detail: reason(&error),
            })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let mut request = self.request(method, path).timeout(TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        json(self.send(request).await?).await
    }

    /// A Server-Sent Events stream (no overall timeout: it lasts as long as the scan).
    pub async fn stream(&self, path: &str) -> Result<reqwest::Response, CliError> {
        self.send(
            self.request(Method::GET, path)
                .header("Accept", "text/event-stream"),
        )
        .await
    }
}

async fn json(response: reqwest::Response) -> Result<Value, CliError> {
    if response.status() == StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    response
        .json()
        .await
        .map_err(|error| CliError::Other(format!("the gateway's answer is not JSON: {error}")))
}

/// The innermost cause: "connection refused" rather than reqwest's outer wrapping.
fn reason(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(inner) = source.source() {
        source = inner;
    }
    if error.is_timeout() {
        return "no answer in time".into();
    }
    source.to_string()
}
