//! An OpenAPI 3 or Swagger 2 document (JSON or YAML) read into what the check needs: where
//! the API is served and its operations, each with whether it needs parameters and whether
//! it declares a security requirement. Anything else in the document is left alone.

use serde_json::Value;
use url::Url;

/// The HTTP methods an operation may be under, in a path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiDocument {
    /// `3.0.3`, `3.1.0`, `2.0`.
    pub version: String,
    /// Where the operations' paths are appended.
    pub base: Url,
    pub operations: Vec<Operation>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Uppercase.
    pub method: String,
    pub path: String,
    /// Parameters it requires (path parameters always are), by name.
    pub required: Vec<String>,
    /// A security requirement applies to it (its own, or the document's), and it is not
    /// optional (no empty requirement `{}` among the alternatives).
    pub secured: bool,
}

/// Reads `text` (JSON, else YAML) fetched from `url`; what is wrong with it otherwise.
pub fn parse(text: &str, url: &Url) -> Result<ApiDocument, String> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(json_error) => serde_norway::from_str(text)
            .map_err(|yaml_error| format!("neither JSON ({json_error}) nor YAML ({yaml_error})"))?,
    };
    let version =
        match (value.get("openapi"), value.get("swagger")) {
            (Some(Value::String(version)), _) if version.starts_with('3') => version.clone(),
            (_, Some(Value::String(version))) if version.starts_with('2') => version.clone(),
            _ => return Err(
                "not an OpenAPI 3 or Swagger 2 document (no `openapi: 3…` or `swagger: \"2.0\"`)"
                    .into(),
            ),
        };
    let base = if version.starts_with('3') {
        openapi_base(&value, url)?
    } else {
        swagger_base(&value, url)?
    };
    let paths = value
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("no `paths` object")?;
    let global_security = value.get("security");
    let mut operations = Vec::new();
    for (path, item) in paths {
        if !path.starts_with('/') {
            return Err(format!("path {path:?} does not start with /"));
        }
        let Some(item) = item.as_object() else {
            return Err(format!("path {path:?} is not an object"));
        };
        let shared = item.get("parameters");
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let mut required = required_parameters(shared);
            for name in required_parameters(operation.get("parameters")) {
                if !required.contains(&name) {
                    required.push(name);
                }
            }
            // Path templates name parameters whether or not they are declared.
            for segment in path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
                    && !required.iter().any(|known| known == name)
                {
                    required.push(name.to_string());
                }
            }
            if version.starts_with('3')
                && operation
                    .get("requestBody")
                    .and_then(|body| body.get("required"))
                    == Some(&Value::Bool(true))
            {
                required.push("(request body)".into());
            }
            let security = operation.get("security").or(global_security);
            operations.push(Operation {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                required,
                secured: secured(security),
            });
        }
    }
    Ok(ApiDocument {
        version,
        base,
        operations,
    })
}

fn required_parameters(parameters: Option<&Value>) -> Vec<String> {
    parameters
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|parameter| {
            parameter.get("required") == Some(&Value::Bool(true))
                || parameter.get("in").and_then(Value::as_str) == Some("path")
        })
        .filter_map(|parameter| parameter.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// A list of requirement objects applies unless it is empty or offers `{}` (anonymous).
fn secured(security: Option<&Value>) -> bool {
    match security.and_then(Value::as_array) {
        Some(requirements) => {
            !requirements.is_empty()
                && !requirements
                    .iter()
                    .any(|requirement| requirement.as_object().is_some_and(|o| o.is_empty()))
        }
        None => false,
    }
}

/// OpenAPI 3: the first server's URL (relative to the document, variables at their
/// defaults), else the document's own origin.
fn openapi_base(value: &Value, url: &Url) -> Result<Url, String> {
    let Some(server) = value
        .get("servers")
        .and_then(Value::as_array)
        .and_then(|servers| servers.first())
    else {
        return url.join("/").map_err(|error| error.to_string());
    };
    let mut template = server
        .get("url")
        .and_then(Value::as_str)
        .ok_or("servers[0] has no url")?
        .to_string();
    if let Some(variables) = server.get("variables").and_then(Value::as_object) {
        for (name, variable) in variables {
            let default = variable
                .get("default")
                .and_then(Value::as_str)
                .unwrap_or_default();
            template = template.replace(&format!("{{{name}}}"), default);
        }
    }
    url.join(&template)
        .map_err(|error| format!("servers[0].url {template:?}: {error}"))
}

/// Swagger 2: `schemes[0]://host/basePath`, each defaulting to the document's own.
fn swagger_base(value: &Value, url: &Url) -> Result<Url, String> {
    let scheme = value
        .get("schemes")
        .and_then(Value::as_array)
        .and_then(|schemes| schemes.first())
        .and_then(Value::as_str)
        .unwrap_or(url.scheme());
    let host = match value.get("host").and_then(Value::as_str) {
        Some(host) => host.to_string(),
        None => match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        },
    };
    let base_path = value.get("basePath").and_then(Value::as_str).unwrap_or("/");
    Url::parse(&format!("{scheme}://{host}{base_path}"))
        .map_err(|error| format!("schemes, host, basePath: {error}"))
}

/// `base` with `path` appended (`/v1` + `/users` is `/v1/users`).
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_url() -> Url {
        Url::parse("https://api.example.test/docs/openapi.yaml").unwrap()
    }

    #[test]
    fn an_openapi_3_document_in_yaml() {
        let text = r#"
openapi: 3.0.3
info: {title: shop, version: "1"}
servers:
  - url: /{stage}
    variables: {stage: {default: v1}}
security:
  - bearer: []
paths:
  /health:
    get:
      security: []
  /orders:
    get: {}
    post:
      requestBody: {required: true}
  /orders/{id}:
    parameters:
      - {name: id, in: path, required: true}
    get: {}
  /search:
    get:
      security: [{}, {bearer: []}]
      parameters:
        - {name: q, in: query, required: true}
"#;
        let document = parse(text, &doc_url()).unwrap();
        assert_eq!(document.version, "3.0.3");
        assert_eq!(document.base.as_str(), "https://api.example.test/v1");
        let summary: Vec<(String, String, usize, bool)> = document
            .operations
            .iter()
            .map(|o| {
                (
                    o.method.clone(),
                    o.path.clone(),
                    o.required.len(),
                    o.secured,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("GET".into(), "/health".into(), 0, false),
                ("GET".into(), "/orders".into(), 0, true),
                ("POST".into(), "/orders".into(), 1, true),
                ("GET".into(), "/orders/{id}".into(), 1, true),
                ("GET".into(), "/search".into(), 1, false),
            ]
        );
        assert_eq!(
            endpoint(&document.base, "/orders").as_str(),
            "https://api.example.test/v1/orders"
        );
    }

    #[test]
    fn a_swagger_2_document_in_json() {
        let text = r#"{"swagger": "2.0", "basePath": "/api", "schemes": ["http"],
            "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
            "paths": {"/users": {"get": {"security": [{"key": []}]}}, "/ping": {"get": {}}}}"#;
        let document = parse(text, &doc_url()).unwrap();
        assert_eq!(document.base.as_str(), "http://api.example.test/api");
        assert_eq!(document.operations.len(), 2);
        assert!(
            document
                .operations
                .iter()
                .any(|o| o.path == "/users" && o.secured)
        );
        assert!(
            document
                .operations
                .iter()
                .any(|o| o.path == "/ping" && !o.secured)
        );
    }

    #[test]
    fn invalid_documents_say_what_is_wrong() {
        for (text, says) in [
            ("<html>not a document</html>", "not an OpenAPI"),
            ("paths: [unclosed", "neither JSON"),
            (r#"{"openapi": "3.0.0"}"#, "paths"),
            (r#"{"info": {}}"#, "not an OpenAPI"),
            (
                r#"{"openapi": "3.1.0", "paths": {"users": {}}}"#,
                "does not start with /",
            ),
        ] {
            let error = parse(text, &doc_url()).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
