//! Integration tests of the checks against real servers on 127.0.0.1.
//!
//! One test binary (modules below) rather than one per file: each binary links reqwest,
//! rustls and axum again.

mod api_operations;
mod dns;
mod egress;
mod exposure;
mod failures;
mod headers;
mod ownership;
mod ports;
mod probes;
mod subdomains;
mod support;
mod tls;
mod tls_cert;
mod tls_protocols;
