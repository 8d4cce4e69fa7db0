//! The API operations check's rules.

use s4e_types::Severity;

use crate::Rule;

pub const UNAUTHENTICATED: Rule = Rule {
    id: "api_operation_without_authentication",
    title: "API operation answers without credentials",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(306),
    description: "The API's own document says this operation requires credentials, yet it \
                  answered a request that carried none with success: whatever it returns is \
                  open to anyone.",
    remediation: "Enforce the operation's security requirement in the service (or the gateway \
                  in front of it) for every request, and add a test that calls it without \
                  credentials and expects 401.",
};

pub const SERVER_ERROR: Rule = Rule {
    id: "api_operation_server_error",
    title: "API operation fails with a server error",
    severity: Severity::Low,
    score: 3.1,
    cwe: Some(755),
    description: "A plain request to a documented operation made the service fail (5xx): an \
                  unhandled case, and error pages often carry stack traces or internal names.",
    remediation: "Handle the case (validate the request and answer 4xx) and return error bodies \
                  without internal details.",
};
