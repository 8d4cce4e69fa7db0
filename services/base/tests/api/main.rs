//! s4e-base against a real PostgreSQL: a fresh database per test, the service on port 0.
//!
//! `support` starts the service and holds the shared helpers; each other module tests one area.

mod api_keys;
mod assets;
mod audit;
mod dashboard;
mod errors;
mod finding_filters;
mod findings;
mod organizations;
mod partners;
mod runs;
mod support;
mod totp;
