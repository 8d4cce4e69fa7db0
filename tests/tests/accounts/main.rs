//! People at the gateway, against the real fleet, PostgreSQL and Redis: sign-up and sign-in with
//! Argon2id passwords, cookie sessions with CSRF tokens, logout everywhere, password changes,
//! roles and invitations, scoped keys, sign-in throttling, and the audit log.
//!
//! `support` holds the shared browser and sign-in helpers; each other module tests one area.

mod api_keys;
mod assigned_assets;
mod audit;
mod roles;
mod sessions;
mod support;
mod totp;
