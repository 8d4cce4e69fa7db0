//! The internal routes, each declared once: the callee's router serves it (`s4e_runtime`'s
//! `InternalRouter::at`) and `s4e-client` calls it, so a path cannot be spelt two ways. Paths
//! are axum templates; every tenant route carries the organization as `{org_id}`.

use std::fmt::Display;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// One internal endpoint: a method and a path template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub verb: Verb,
    pub path: &'static str,
}

impl Route {
    /// The path with its `{…}` parameters replaced by `params`, in order.
    ///
    /// # Panics
    /// When `params` has more or fewer values than the template has parameters: a
    /// programming error that every test calling the route would meet.
    pub fn fill(&self, params: &[&(dyn Display + Sync)]) -> String {
        let mut path = String::with_capacity(self.path.len() + 36 * params.len());
        let mut params = params.iter();
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let close = open + rest[open..].find('}').expect("a parameter is closed");
            let value = params
                .next()
                .unwrap_or_else(|| panic!("{}: no value for {}", self.path, &rest[open..=close]));
            path.push_str(&value.to_string());
            rest = &rest[close + 1..];
        }
        assert!(params.next().is_none(), "{}: too many values", self.path);
        path.push_str(rest);
        path
    }
}

/// Declares each route as a constant, and `ALL`, every one of them (what the routing test
/// walks).
macro_rules! routes {
    ($($(#[$doc:meta])* $name:ident = $verb:ident $path:literal;)*) => {
        $($(#[$doc])* pub const $name: Route = Route { verb: Verb::$verb, path: $path };)*
        /// Every route of this service.
        pub const ALL: &[Route] = &[$($name),*];
    };
}

/// s4e-base, the owner of PostgreSQL.
pub mod base {
    use super::{Route, Verb};

    routes! {
        CREATE_ORGANIZATION = Post "/internal/v1/orgs";
        ORGANIZATION = Get "/internal/v1/orgs/{org_id}";
        SET_RATE_TIER = Post "/internal/v1/orgs/{org_id}/rate-tier";
        CREATE_CUSTOMER = Post "/internal/v1/orgs/{org_id}/customers";
        CUSTOMERS = Get "/internal/v1/orgs/{org_id}/customers";
        CUSTOMER = Get "/internal/v1/orgs/{org_id}/customers/{customer_id}";
        PORTFOLIO = Get "/internal/v1/orgs/{org_id}/portfolio";
        CREATE_API_KEY = Post "/internal/v1/orgs/{org_id}/api-keys";
        API_KEYS = Get "/internal/v1/orgs/{org_id}/api-keys";
        REVOKE_API_KEY = Post "/internal/v1/orgs/{org_id}/api-keys/{key_id}/revoke";
        /// The key whose SHA-256 is `{key_hash}`, whatever its organization.
        API_KEY_BY_HASH = Get "/internal/v1/api-keys/{key_hash}";
        SIGNUP = Post "/internal/v1/signups";
        CREDENTIALS = Post "/internal/v1/credentials";
        ACCEPT_INVITATION = Post "/internal/v1/invitations/accept";
        USERS = Get "/internal/v1/orgs/{org_id}/users";
        USER = Get "/internal/v1/orgs/{org_id}/users/{user_id}";
        UPDATE_USER = Patch "/internal/v1/orgs/{org_id}/users/{user_id}";
        DELETE_USER = Delete "/internal/v1/orgs/{org_id}/users/{user_id}";
        SET_ASSET_SCOPE = Post "/internal/v1/orgs/{org_id}/users/{user_id}/asset-scope";
        SET_PASSWORD = Post "/internal/v1/orgs/{org_id}/users/{user_id}/password";
        SET_PENDING_TOTP = Post "/internal/v1/orgs/{org_id}/users/{user_id}/totp";
        DISABLE_TOTP = Delete "/internal/v1/orgs/{org_id}/users/{user_id}/totp";
        ENABLE_TOTP = Post "/internal/v1/orgs/{org_id}/users/{user_id}/totp/enable";
        INVITE = Post "/internal/v1/orgs/{org_id}/invitations";
        INVITATIONS = Get "/internal/v1/orgs/{org_id}/invitations";
        APPEND_AUDIT = Post "/internal/v1/orgs/{org_id}/audit";
        AUDIT = Get "/internal/v1/orgs/{org_id}/audit";
        CREATE_ASSET = Post "/internal/v1/orgs/{org_id}/assets";
        ASSETS = Get "/internal/v1/orgs/{org_id}/assets";
        ASSET = Get "/internal/v1/orgs/{org_id}/assets/{asset_id}";
        UPDATE_ASSET = Patch "/internal/v1/orgs/{org_id}/assets/{asset_id}";
        ARCHIVE_ASSET = Post "/internal/v1/orgs/{org_id}/assets/{asset_id}/archive";
        SERVICES = Get "/internal/v1/orgs/{org_id}/services";
        TECHNOLOGIES = Get "/internal/v1/orgs/{org_id}/technologies";
        CANDIDATES = Get "/internal/v1/orgs/{org_id}/candidates";
        APPROVE_CANDIDATE = Post "/internal/v1/orgs/{org_id}/candidates/{candidate_id}/approve";
        DISMISS_CANDIDATE = Post "/internal/v1/orgs/{org_id}/candidates/{candidate_id}/dismiss";
        IMPORT_ASSETS = Post "/internal/v1/orgs/{org_id}/assets/import";
        SURFACE_CHANGES = Get "/internal/v1/orgs/{org_id}/surface/changes";
        SURFACE_DIFF = Get "/internal/v1/orgs/{org_id}/surface/diff";
        SET_ASSET_TAGS = Put "/internal/v1/orgs/{org_id}/assets/{asset_id}/tags";
        BULK_TAG_ASSETS = Post "/internal/v1/orgs/{org_id}/assets/bulk-tags";
        RECORD_VERIFICATION = Post "/internal/v1/orgs/{org_id}/assets/{asset_id}/verification";
        VERIFIED_DOMAINS = Get "/internal/v1/orgs/{org_id}/verified-domains";
        /// Verified assets of every organization whose proof is due again.
        DUE_FOR_REVERIFICATION = Get "/internal/v1/assets/reverification-due";
        SCAN_SETTINGS = Get "/internal/v1/orgs/{org_id}/scan-settings";
        PUT_SCAN_SETTINGS = Put "/internal/v1/orgs/{org_id}/scan-settings";
        FUZZ_WORDLIST = Get "/internal/v1/orgs/{org_id}/scan-settings/wordlist";
        PUT_FUZZ_WORDLIST = Put "/internal/v1/orgs/{org_id}/scan-settings/wordlist";
        CREATE_SCHEDULE = Post "/internal/v1/orgs/{org_id}/schedules";
        SCHEDULES = Get "/internal/v1/orgs/{org_id}/schedules";
        SCHEDULE = Get "/internal/v1/orgs/{org_id}/schedules/{schedule_id}";
        UPDATE_SCHEDULE = Patch "/internal/v1/orgs/{org_id}/schedules/{schedule_id}";
        DELETE_SCHEDULE = Delete "/internal/v1/orgs/{org_id}/schedules/{schedule_id}";
        /// Leases the schedules of every organization that are due at the caller's `now`.
        CLAIM_DUE_SCHEDULES = Post "/internal/v1/schedules/claim-due";
        SCHEDULE_FIRED = Post "/internal/v1/orgs/{org_id}/schedules/{schedule_id}/fired";
        CREATE_WEBHOOK = Post "/internal/v1/orgs/{org_id}/webhooks";
        WEBHOOKS = Get "/internal/v1/orgs/{org_id}/webhooks";
        WEBHOOK = Get "/internal/v1/orgs/{org_id}/webhooks/{endpoint_id}";
        UPDATE_WEBHOOK = Patch "/internal/v1/orgs/{org_id}/webhooks/{endpoint_id}";
        DELETE_WEBHOOK = Delete "/internal/v1/orgs/{org_id}/webhooks/{endpoint_id}";
        ROTATE_WEBHOOK_SECRET = Post "/internal/v1/orgs/{org_id}/webhooks/{endpoint_id}/secret";
        WEBHOOK_DELIVERIES = Get "/internal/v1/orgs/{org_id}/webhooks/{endpoint_id}/deliveries";
        WEBHOOK_DELIVERY = Get "/internal/v1/orgs/{org_id}/webhook-deliveries/{delivery_id}";
        REDELIVER_WEBHOOK = Post "/internal/v1/orgs/{org_id}/webhook-deliveries/{delivery_id}/redeliver";
        /// One delivery per endpoint of the organization that asks for the event's type.
        RECORD_WEBHOOK_EVENT = Post "/internal/v1/orgs/{org_id}/webhook-events";
        /// Leases the deliveries of every organization that are due at the caller's `now`.
        CLAIM_DUE_DELIVERIES = Post "/internal/v1/webhook-deliveries/claim-due";
        WEBHOOK_ATTEMPTED = Post "/internal/v1/orgs/{org_id}/webhook-deliveries/{delivery_id}/attempts";
        CREATE_INBOUND_HOOK = Post "/internal/v1/orgs/{org_id}/inbound-hooks";
        INBOUND_HOOKS = Get "/internal/v1/orgs/{org_id}/inbound-hooks";
        INBOUND_HOOK = Get "/internal/v1/orgs/{org_id}/inbound-hooks/{hook_id}";
        UPDATE_INBOUND_HOOK = Patch "/internal/v1/orgs/{org_id}/inbound-hooks/{hook_id}";
        DELETE_INBOUND_HOOK = Delete "/internal/v1/orgs/{org_id}/inbound-hooks/{hook_id}";
        /// The hook called at its public URL, whatever its organization, with its sealed secret.
        INBOUND_HOOK_BY_ID = Get "/internal/v1/inbound-hooks/{hook_id}";
        RECORD_INBOUND_MESSAGE = Post "/internal/v1/orgs/{org_id}/inbound-hooks/{hook_id}/messages";
        CREATE_RULE = Post "/internal/v1/orgs/{org_id}/rules";
        RULES = Get "/internal/v1/orgs/{org_id}/rules";
        RULE = Get "/internal/v1/orgs/{org_id}/rules/{rule_id}";
        UPDATE_RULE = Patch "/internal/v1/orgs/{org_id}/rules/{rule_id}";
        DELETE_RULE = Delete "/internal/v1/orgs/{org_id}/rules/{rule_id}";
        RULE_FIRINGS = Get "/internal/v1/orgs/{org_id}/rules/{rule_id}/firings";
        RECORD_RULE_FIRING = Post "/internal/v1/orgs/{org_id}/rules/{rule_id}/firings";
        /// The enabled rules of the organization that fire on one event type.
        RULES_FOR_EVENT = Get "/internal/v1/orgs/{org_id}/rule-events/{event_type}/rules";
        /// Leases events base's own changes recorded, for s4e-trigger to publish.
        CLAIM_OUTBOX = Post "/internal/v1/outbox/claim";
        OUTBOX_PUBLISHED = Post "/internal/v1/outbox/published";
        CREATE_RUN = Post "/internal/v1/orgs/{org_id}/runs";
        RUNS = Get "/internal/v1/orgs/{org_id}/runs";
        RUN = Get "/internal/v1/orgs/{org_id}/runs/{run_id}";
        FAIL_RUN = Post "/internal/v1/orgs/{org_id}/runs/{run_id}/fail";
        CANCEL_RUN = Post "/internal/v1/orgs/{org_id}/runs/{run_id}/cancel";
        RUN_JOBS = Get "/internal/v1/orgs/{org_id}/runs/{run_id}/jobs";
        JOB = Get "/internal/v1/orgs/{org_id}/jobs/{job_id}";
        START_JOB = Post "/internal/v1/orgs/{org_id}/jobs/{job_id}/start";
        FINISH_JOB = Post "/internal/v1/orgs/{org_id}/jobs/{job_id}/finish";
        FINDINGS = Get "/internal/v1/orgs/{org_id}/findings";
        COUNT_FINDINGS = Get "/internal/v1/orgs/{org_id}/findings/count";
        BULK_CHANGE_STATUS = Post "/internal/v1/orgs/{org_id}/findings/bulk-status";
        FINDING = Get "/internal/v1/orgs/{org_id}/findings/{finding_id}";
        CHANGE_STATUS = Patch "/internal/v1/orgs/{org_id}/findings/{finding_id}";
        SUMMARY = Get "/internal/v1/orgs/{org_id}/summary";
    }
}

/// s4e-scan, the catalog and the scan starter.
pub mod scan {
    use super::{Route, Verb};

    routes! {
        CATALOG = Get "/internal/v1/catalog";
        START_SCAN = Post "/internal/v1/orgs/{org_id}/scans";
        /// A schedule's scan for one due time; one run per schedule and due time.
        START_SCHEDULED_SCAN = Post "/internal/v1/orgs/{org_id}/scheduled-scans";
        /// A rule's scan for one event; one run per rule and event.
        START_RULE_SCAN = Post "/internal/v1/orgs/{org_id}/rule-scans";
        VERIFY_ASSET = Post "/internal/v1/orgs/{org_id}/assets/{asset_id}/verify";
    }
}

/// s4e-trigger, which judges calls to inbound hooks.
pub mod trigger {
    use super::{Route, Verb};

    routes! {
        /// A call the gateway received at `POST /api/v1/hooks/{hook_id}`.
        RECEIVE_HOOK = Post "/internal/v1/hooks/{hook_id}";
    }
}

/// s4e-dispatcher, the keeper of dead letters.
pub mod dispatcher {
    use super::{Route, Verb};

    routes! {
        /// Every organization's letters (operators).
        ALL_DEAD_LETTERS = Get "/internal/v1/dead-letters";
        REPLAY_ANY_DEAD_LETTER = Post "/internal/v1/dead-letters/{letter_id}/replay";
        DEAD_LETTERS = Get "/internal/v1/orgs/{org_id}/dead-letters";
        REPLAY_DEAD_LETTER = Post "/internal/v1/orgs/{org_id}/dead-letters/{letter_id}/replay";
        RAW_OUTPUT = Get "/internal/v1/orgs/{org_id}/raw-outputs/{output_id}";
    }
}

/// s4e-crawler: what its crawls recorded.
pub mod crawler {
    use super::{Route, Verb};

    routes! {
        /// The pages a run's crawl fetched, in URL order.
        SITE_PAGES = Get "/internal/v1/orgs/{org_id}/runs/{run_id}/site-map";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_filled_in_order() {
        assert_eq!(
            base::CUSTOMER.fill(&[&"a", &7]),
            "/internal/v1/orgs/a/customers/7"
        );
        assert_eq!(base::SIGNUP.fill(&[]), "/internal/v1/signups");
    }

    #[test]
    #[should_panic(expected = "no value for {customer_id}")]
    fn a_missing_parameter_is_a_programming_error() {
        base::CUSTOMER.fill(&[&"a"]);
    }

    #[test]
    fn no_route_is_declared_twice() {
        for all in [base::ALL, scan::ALL, dispatcher::ALL, crawler::ALL] {
            for (i, route) in all.iter().enumerate() {
                assert!(!all[..i].contains(route), "{route:?} declared twice");
            }
        }
    }
}
