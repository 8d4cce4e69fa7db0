//! The OpenAPI document of the public API, generated: each handler's annotation gives its
//! operation, the bodies' types give the schemas, and the endpoint table adds what the
//! gateway's steps answer for every endpoint of a kind (401 without a key, 429 over the rate,
//! 415 for a body that is not JSON, the idempotency answers of a replayable creation), so
//! that the document says what the router does.

use std::sync::LazyLock;

use axum::http::{Method, header};
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};

use super::{
    accounts, api_keys, asset_import, assets, audit_log, candidates, catalog, dashboard,
    dead_letters, findings, inbound_hooks, partners, rules, scan_settings, scans, schedules,
    surface, users, webhooks,
};
use crate::endpoints::{Caller, Endpoint};

const DESCRIPTION: &str = "The public API of S4E: register assets, scan them, read findings.

Authenticate with an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`, or sign in \
(`POST /api/v1/auth/login`) and use the `s4e_session` cookie, sending the session's CSRF token as \
`X-CSRF-Token` with every state-changing request. Each operation needs a permission \
(`assets:write`, `audit:read` …) from the user's role or the key's scopes; without it the answer \
is 403. Every state-changing request is recorded in the audit log.

Errors have one body, `{\"error\": {\"code\", \"message\"}}`, with a stable `code` for programs and \
a message naming the field at fault. Another organization's ids answer 404. Strings holding \
control characters (other than tab, line feed and carriage return) are refused with 400.

Requests are rate limited per API key and per client address (fixed window): answers carry \
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds); over the limit \
the answer is 429 with `Retry-After` and code `rate_limited`.

A partner's callers act inside one of its customer organizations by sending \
`X-Organization-Id: <customer id>` (customers:read for reads, customers:write for changes); any \
other organization's id answers 404, and the customer's audit log records the partner as acting.";

#[derive(OpenApi)]
#[openapi(
    info(title = "S4E API", version = "1.0.0", description = DESCRIPTION),
    servers((url = "/")),
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    paths(
        accounts::signup, accounts::login, accounts::accept_invitation, accounts::logout,
        accounts::me, accounts::sessions, accounts::revoke_all_sessions, accounts::revoke_session,
        accounts::change_password, accounts::enrol_totp, accounts::confirm_totp,
        accounts::disable_totp,
        assets::list, assets::create, assets::get, assets::update, assets::archive, assets::verify,
        assets::set_tags, assets::bulk_tags, assets::services, assets::all_services,
        assets::technologies, assets::all_technologies,
        asset_import::import, asset_import::export, surface::timeline, surface::changes,
        surface::diff, candidates::list, candidates::approve, candidates::dismiss,
        scans::list, scans::create, scans::get, scans::cancel, scans::jobs, scans::events,
        scans::site_map,
        catalog::get, scan_settings::get, scan_settings::put, scan_settings::wordlist,
        scan_settings::put_wordlist,
        schedules::list, schedules::create, schedules::get, schedules::update, schedules::delete,
        inbound_hooks::call, inbound_hooks::list, inbound_hooks::create, inbound_hooks::get,
        inbound_hooks::update, inbound_hooks::delete,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::deliveries, webhooks::delivery, webhooks::redeliver,
        rules::list, rules::create, rules::dry_run, rules::get, rules::update, rules::delete,
        rules::firings,
        findings::list, findings::export, findings::bulk_update_status, findings::get,
        findings::raw_output,
        findings::update_status,
        api_keys::list, api_keys::create, api_keys::revoke,
        users::list, users::set_asset_scope, users::update, users::delete, users::invitations,
        users::invite,
        audit_log::list, dashboard::summary, dead_letters::list, dead_letters::replay,
        partners::list, partners::create, partners::portfolio,
        openapi,
    ),
    tags(
        (name = "assets", description = "What the organization owns and scans"),
        (name = "scans", description = "Scan runs, their jobs, the catalog of checks and the scan settings"),
        (name = "schedules", description = "Recurring scans"),
        (name = "webhooks", description = "Events delivered to the organization's endpoints"),
        (name = "rules", description = "Automation: actions run when events happen"),
        (name = "findings", description = "What the scans found, triage and exports"),
        (name = "account", description = "Signing up and in, the caller, sessions, second factor"),
        (name = "users", description = "The organization's people and invitations"),
        (name = "api-keys", description = "Keys for programs"),
        (name = "audit", description = "Who changed what"),
        (name = "dashboard", description = "The organization at a glance"),
        (name = "dead-letters", description = "Messages the platform could not handle"),
        (name = "partners", description = "A partner's customer organizations"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// This document (OpenAPI 3.1)
#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "openapi", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", body = serde_json::Value)))]
pub async fn openapi() -> impl IntoResponse {
    // The same for everyone, and changed only by a new release.
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        JSON.as_str(),
    )
}

/// The document as served, made once.
static JSON: LazyLock<String> = LazyLock::new(|| {
    let mut json = document()
        .to_pretty_json()
        .expect("the document serializes");
    json.push('\n');
    json
});

/// The whole document: the annotations, completed from the endpoint table.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    let components = document.components.get_or_insert_with(Default::default);
    components.security_schemes.extend(security_schemes());
    components.responses.extend(
        ANSWERS
            .iter()
            .map(|answer| (answer.name.to_string(), RefOr::T(answer.response()))),
    );
    for (path, methods) in super::endpoints().table() {
        let Some(item) = document.paths.paths.get_mut(*path) else {
            continue;
        };
        for (method, endpoint) in methods {
            let Some(operation) = operation_mut(item, method) else {
                continue;
            };
            add_answers(operation, method, endpoint);
        }
    }
    document
}

fn security_schemes() -> [(String, SecurityScheme); 3] {
    let mut session = ApiKeyValue::new("s4e_session");
    session.description = Some(
        "The browser session from sign-in. State-changing requests must also send X-CSRF-Token."
            .into(),
    );
    [
        (
            "bearer".into(),
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        ),
        (
            "apiKey".into(),
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        ),
        (
            "session".into(),
            SecurityScheme::ApiKey(ApiKey::Cookie(session)),
        ),
    ]
}

/// An error answer every endpoint of a kind can give, kept once under `components.responses`.
struct Answer {
    status: &'static str,
    name: &'static str,
    description: &'static str,
    header: Option<(&'static str, &'static str)>,
}

impl Answer {
    const fn new(status: &'static str, name: &'static str, description: &'static str) -> Self {
        Answer {
            status,
            name,
            description,
            header: None,
        }
    }

    const fn with_header(mut self, name: &'static str, description: &'static str) -> Self {
        self.header = Some((name, description));
        self
    }
}

const BAD_REQUEST: Answer = Answer::new(
    "400",
    "BadRequest",
    "The request is malformed: a body, parameter or path id that does not parse or breaks a \
     rule; the message names the field",
);
const UNAUTHORIZED: Answer = Answer::new("401", "Unauthorized", "No valid API key or session")
    .with_header(
        "WWW-Authenticate",
        "The scheme to authenticate with: `Bearer realm=\"s4e\"`",
    );
const FORBIDDEN: Answer = Answer::new(
    "403",
    "Forbidden",
    "The caller lacks the permission, or a session's state-changing request lacks its \
     X-CSRF-Token",
);
const NOT_FOUND: Answer = Answer::new(
    "404",
    "NotFound",
    "No such resource in the organization (another organization's ids answer the same)",
);
const PAYLOAD_TOO_LARGE: Answer = Answer::new(
    "413",
    "PayloadTooLarge",
    "The body is larger than the gateway accepts",
);
const UNSUPPORTED_MEDIA_TYPE: Answer = Answer::new(
    "415",
    "UnsupportedMediaType",
    "The body is not sent as application/json",
);
const RATE_LIMITED: Answer = Answer::new(
    "429",
    "RateLimited",
    "Too many requests in the window (`rate_limited`)",
)
.with_header("Retry-After", "Seconds until the window resets");
const UNAVAILABLE: Answer = Answer::new(
    "503",
    "Unavailable",
    "A service the request needs is unavailable for now; try again (`unavailable`)",
);
const IDEMPOTENCY_KEY_IN_USE: Answer = Answer::new(
    "409",
    "IdempotencyKeyInUse",
    "The first request with this Idempotency-Key is still running (`idempotency_key_in_use`)",
);
const IDEMPOTENCY_KEY_REUSED: Answer = Answer::new(
    "422",
    "IdempotencyKeyReused",
    "This Idempotency-Key was used for another request (`idempotency_key_reused`)",
);

const ANSWERS: &[Answer] = &[
    BAD_REQUEST,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    RATE_LIMITED,
    UNAVAILABLE,
    IDEMPOTENCY_KEY_IN_USE,
    IDEMPOTENCY_KEY_REUSED,
];

impl Answer {
    fn response(&self) -> Response {
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build();
        let mut response = ResponseBuilder::new()
            .description(self.description)
            .content("application/json", content);
        if let Some((name, description)) = self.header {
            response = response.header(name, string_header(description));
        }
        response.build()
    }
}

/// What the gateway's steps answer for this kind of endpoint, added where the handler's
/// annotation does not already name the status (its description then says both).
fn add_answers(operation: &mut Operation, method: &Method, endpoint: &Endpoint) {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_path = parameters
        .iter()
        .any(|parameter| parameter.parameter_in == ParameterIn::Path);
    let in_query = parameters
        .iter()
        .any(|parameter| parameter.parameter_in == ParameterIn::Query);
    let mut answers = Vec::new();
    match endpoint.caller {
        Caller::Anyone => operation.security = Some(Vec::new()),
        Caller::Unauthenticated => {
            operation.security = Some(Vec::new());
            answers.extend([&RATE_LIMITED, &UNAVAILABLE]);
        }
        Caller::Authenticated => {
            answers.extend([&UNAUTHORIZED, &FORBIDDEN, &RATE_LIMITED, &UNAVAILABLE]);
        }
    }
    if operation.request_body.is_some() {
        answers.extend([&BAD_REQUEST, &PAYLOAD_TOO_LARGE, &UNSUPPORTED_MEDIA_TYPE]);
    }
    if in_path {
        answers.extend([&BAD_REQUEST, &NOT_FOUND]);
    }
    if in_query {
        answers.push(&BAD_REQUEST);
    }
    if endpoint.replayable {
        answers.extend([&IDEMPOTENCY_KEY_IN_USE, &IDEMPOTENCY_KEY_REUSED]);
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(idempotency_key());
        for (status, response) in &mut operation.responses.responses {
            if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                let header =
                    string_header("`true` when this is the first answer to the key, replayed");
                response
                    .headers
                    .insert("Idempotent-Replayed".to_string(), header);
            }
        }
    }
    if let Some(RefOr::T(read)) = operation.responses.responses.get_mut("200")
        && read.content.contains_key("application/json")
        && *method == Method::GET
    {
        let header = string_header(
            "The answer's entity tag, for `If-None-Match`; on answers of 1 KiB and more",
        );
        read.headers.insert("ETag".to_string(), header);
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(if_none_match());
        operation.responses.responses.insert(
            "304".to_string(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "The answer has not changed since the tag named in `If-None-Match`",
                    )
                    .build(),
            ),
        );
    }
    for answer in answers {
        let responses = &mut operation.responses.responses;
        match responses.get_mut(answer.status) {
            None => {
                responses.insert(
                    answer.status.to_string(),
                    RefOr::Ref(Ref::from_response_name(answer.name)),
                );
            }
            Some(RefOr::T(own)) if !own.description.contains(answer.description) => {
                own.description = format!("{}; or: {}", own.description, answer.description);
            }
            Some(_) => {}
        }
    }
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

fn if_none_match() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("If-None-Match")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "The `ETag` of an earlier answer: when the answer is still the same it is 304, \
             with no body.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn idempotency_key() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes a retry safe: the first answer to a key is kept for 24 hours per organization \
             and a retry of the same request (method, path, body) gets it back with \
             `Idempotent-Replayed: true`, creating nothing. The same key with another request \
             answers 422 (`idempotency_key_reused`); while the first is running, 409 \
             (`idempotency_key_in_use`).",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$")),
        ))
        .build()
}

fn operation_mut<'a>(item: &'a mut PathItem, method: &Method) -> Option<&'a mut Operation> {
    match *method {
        Method::GET => item.get.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PUT => item.put.as_mut(),
        Method::PATCH => item.patch.as_mut(),
        Method::DELETE => item.delete.as_mut(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn documented(document: &serde_json::Value) -> BTreeSet<(String, String)> {
        let mut operations = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if method != "parameters" {
                    operations.insert((path.clone(), method.to_uppercase()));
                }
            }
        }
        operations
    }

    /// The router's routes and the document's operations are the same set: a route added
    /// without its annotation, or an annotation left behind by a removed route, fails here.
    #[test]
    fn the_document_describes_every_route_and_nothing_else() {
        let document: serde_json::Value = serde_json::from_str(&JSON).unwrap();
        let routed: BTreeSet<(String, String)> = super::super::endpoints()
            .table()
            .iter()
            .flat_map(|(path, methods)| {
                methods
                    .iter()
                    .map(|(method, _)| (path.to_string(), method.to_string()))
            })
            .collect();
        assert_eq!(routed, documented(&document));
    }

    /// Every operation names its answers, each error with the one error body, and every
    /// authenticated one the answers of the steps before its handler.
    #[test]
    fn every_error_answer_has_the_error_body() {
        let document: serde_json::Value = serde_json::from_str(&JSON).unwrap();
        let responses = &document["components"]["responses"];
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let answers = operation["responses"].as_object().unwrap();
                assert!(
                    answers.keys().any(|status| status.starts_with('2')),
                    "{method} {path}"
                );
                for (status, answer) in answers {
                    if status.starts_with('2') || status == "304" {
                        continue;
                    }
                    let answer = match answer["$ref"].as_str() {
                        Some(name) => &responses[name.rsplit('/').next().unwrap()],
                        None => answer,
                    };
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
                if operation.get("security").is_none() {
                    for status in ["401", "403", "429"] {
                        assert!(answers.contains_key(status), "{method} {path} {status}");
                    }
                }
            }
        }
    }

    /// Every reference names something the document holds.
    #[test]
    fn every_reference_resolves() {
        fn walk(value: &serde_json::Value, document: &serde_json::Value) {
            match value {
                serde_json::Value::Object(fields) => {
                    if let Some(target) = fields.get("$ref").and_then(|target| target.as_str()) {
                        let pointer = target.trim_start_matches('#');
                        assert!(document.pointer(pointer).is_some(), "{target} is dangling");
                    }
                    fields.values().for_each(|field| walk(field, document));
                }
                serde_json::Value::Array(items) => {
                    items.iter().for_each(|item| walk(item, document))
                }
                _ => {}
            }
        }
        let document: serde_json::Value = serde_json::from_str(&JSON).unwrap();
        walk(&document, &document);
    }

    /// The scope pattern (written in `s4e-types`, which cannot see the gateway's permissions)
    /// names exactly the gateway's permission families.
    #[test]
    fn the_documented_scopes_are_the_gateways() {
        let document: serde_json::Value = serde_json::from_str(&JSON).unwrap();
        let pattern = document["components"]["schemas"]["Scope"]["pattern"]
            .as_str()
            .unwrap();
        let families = pattern
            .split_once("|(")
            .and_then(|(_, rest)| rest.split_once("):"))
            .map(|(families, _)| families)
            .unwrap();
        let documented: BTreeSet<&str> = families.split('|').collect();
        let gateway: BTreeSet<&str> = crate::permissions::Resource::ALL
            .iter()
            .map(|resource| resource.as_str())
            .collect();
        assert_eq!(documented, gateway);
    }

    /// The document in the repository, for generators of clients (the console, the command
    /// line) that read it without starting the gateway, is the one the gateway serves.
    /// `S4E_WRITE_OPENAPI=1 cargo test -p s4e-core document` writes it anew.
    #[test]
    fn the_document_in_the_repository_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        if std::env::var_os("S4E_WRITE_OPENAPI").is_some() {
            std::fs::write(path, JSON.as_str()).unwrap();
        }
        let stored = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            stored == *JSON,
            "services/core/openapi.json is not the generated document; write it anew with \
             `S4E_WRITE_OPENAPI=1 cargo test -p s4e-core document`"
        );
    }

    /// The findings filters are read by hand (`FindingQuery::from_pairs`, which also takes
    /// comma-separated lists), so the document's names are checked against what it knows.
    #[test]
    fn the_documented_finding_filters_are_the_ones_read() {
        let document: serde_json::Value = serde_json::from_str(&JSON).unwrap();
        for path in ["/api/v1/findings", "/api/v1/findings/export"] {
            for parameter in document["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
            {
                let name = parameter["name"].as_str().unwrap();
                if name == "format" || parameter["in"] != "query" {
                    continue;
                }
                let pairs = [(name.to_string(), "\u{1}".to_string())];
                if let Err(refused) = s4e_types::FindingQuery::from_pairs(&pairs, "scan_id") {
                    assert!(
                        !refused.contains("unknown query parameter"),
                        "{path}: {name} is documented and not read"
                    );
                }
            }
        }
    }
}
