//! Client of s4e-base, the only service with a PostgreSQL connection.

use s4e_types::Envelope;
use s4e_types::account::{
    AcceptInvitation, CredentialsLookup, Invitation, NewInvitation, NewOrganizationWithOwner,
    NewPasswordHash, OrganizationWithOwner, PendingTotp, SetAssetScope, UserCredentials,
    UserUpdate,
};
use s4e_types::api::{
    ApiKeyRecord, CreateCustomer, CustomerFindings, DashboardSummary, FailRun, FinishJob,
    FuzzWordlist, JobFinished, List, NewApiKey, NewOrganization, NewScanRun, Organization, Page,
    PageQuery, RateTier, RecordVerification, ScanRunWithJobs, ScanSettings, SetRateTier,
};
use s4e_types::audit::{AuditPage, AuditQuery};
use s4e_types::envelope::{ClaimOutbox, OutboxPublished};
use s4e_types::finding_query::FindingCount;
use s4e_types::rule::{NewRule, RecordFiring, Rule, RuleEvent, RuleFiring, UpdateRule};
use s4e_types::schedule::{ClaimDueSchedules, DueSchedule, ScheduleFired};
use s4e_types::webhook::{
    ClaimDueDeliveries, DeliveryAttempted, DeliveryPage, DeliveryQuery, DueDelivery, InboundHook,
    InboundMessage, RotateWebhookSecret, SealedInboundHook, StoreInboundHook, StoreWebhookEndpoint,
    UpdateInboundHook, UpdateWebhookEndpoint, WebhookDelivery, WebhookDeliveryWithAttempts,
    WebhookEndpoint, WebhookEvent,
};
use s4e_types::{
    ApiKeyId, Asset, AssetId, AssetListQuery, AssetTags, BulkAssetTags, BulkAssetTagsResult,
    BulkStatusChange, BulkStatusResult, FindingId, FindingPage, FindingQuery, FindingWithHistory,
    JobId, NewAsset, OrgId, RuleId, RunId, RunPage, RunQuery, ScanJob, ScanRun, StatusChange,
    UpdateAsset,
};
use s4e_types::{AuditEntry, NewAuditEntry, Role, User, UserId};
use s4e_types::{InboundHookId, WebhookDeliveryId, WebhookEndpointId};
use s4e_types::{NewSchedule, Schedule, ScheduleId, UpdateSchedule};

use crate::error::ClientError;
use s4e_types::routes::base as routes;

use crate::http::InternalHttp;

#[derive(Clone)]
pub struct BaseClient {
    http: InternalHttp,
}

impl BaseClient {
    pub fn new(base_url: &str, service_token: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: InternalHttp::new(base_url, service_token)?,
        })
    }

    pub async fn ready(&self) -> Result<(), ClientError> {
        self.http.ready().await
    }

    pub async fn create_organization(&self, name: &str) -> Result<Organization, ClientError> {
        let body = NewOrganization {
            name: name.to_string(),
            is_partner: false,
        };
        self.http
            .call_with_body(routes::CREATE_ORGANIZATION, &[], &body)
            .await
    }

    /// A partner organization: it creates and manages customer organizations.
    pub async fn create_partner(&self, name: &str) -> Result<Organization, ClientError> {
        let body = NewOrganization {
            name: name.to_string(),
            is_partner: true,
        };
        self.http
            .call_with_body(routes::CREATE_ORGANIZATION, &[], &body)
            .await
    }

    /// Sets the organization's rate-limit tier.
    pub async fn set_rate_tier(
        &self,
        org_id: OrgId,
        rate_tier: RateTier,
    ) -> Result<Organization, ClientError> {
        self.http
            .call_with_body(
                routes::SET_RATE_TIER,
                &[&org_id],
                &SetRateTier { rate_tier },
            )
            .await
    }

    pub async fn get_organization(&self, org_id: OrgId) -> Result<Organization, ClientError> {
        self.http.call(routes::ORGANIZATION, &[&org_id]).await
    }

    /// A new customer of `partner_id`; `NotFound` when `partner_id` is not a partner.
    pub async fn create_customer(
        &self,
        partner_id: OrgId,
        name: &str,
    ) -> Result<Organization, ClientError> {
        self.http
            .call_with_body(
                routes::CREATE_CUSTOMER,
                &[&partner_id],
                &CreateCustomer {
                    name: name.to_string(),
                },
            )
            .await
    }

    pub async fn list_customers(
        &self,
        partner_id: OrgId,
    ) -> Result<Vec<Organization>, ClientError> {
        let list: List<Organization> = self.http.call(routes::CUSTOMERS, &[&partner_id]).await?;
        Ok(list.items)
    }

    /// The customer, when it is `partner_id`'s; `NotFound` otherwise.
    pub async fn get_customer(
        &self,
        partner_id: OrgId,
        customer_id: OrgId,
    ) -> Result<Organization, ClientError> {
        self.http
            .call(routes::CUSTOMER, &[&partner_id, &customer_id])
            .await
    }

    /// Every customer with its open findings by severity, in one call.
    pub async fn portfolio(&self, partner_id: OrgId) -> Result<Vec<CustomerFindings>, ClientError> {
        let list: List<CustomerFindings> =
            self.http.call(routes::PORTFOLIO, &[&partner_id]).await?;
        Ok(list.items)
    }

    pub async fn create_api_key(
        &self,
        org_id: OrgId,
        key: &NewApiKey,
    ) -> Result<ApiKeyRecord, ClientError> {
        self.http
            .call_with_body(routes::CREATE_API_KEY, &[&org_id], key)
            .await
    }

    /// A page of the organization's keys, newest first.
    pub async fn list_api_keys(
        &self,
        org_id: OrgId,
        query: &PageQuery,
    ) -> Result<Page<ApiKeyRecord>, ClientError> {
        self.http
            .call_with_query(routes::API_KEYS, &[&org_id], &query.pairs())
            .await
    }

    pub async fn revoke_api_key(
        &self,
        org_id: OrgId,
        key_id: ApiKeyId,
    ) -> Result<ApiKeyRecord, ClientError> {
        self.http
            .call_with_body(
                routes::REVOKE_API_KEY,
                &[&org_id, &key_id],
                &serde_json::json!({}),
            )
            .await
    }

    /// The key whose SHA-256 is `key_hash`, revoked or not.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<ApiKeyRecord, ClientError> {
        self.http.call(routes::API_KEY_BY_HASH, &[&key_hash]).await
    }

    pub async fn create_asset(
        &self,
        org_id: OrgId,
        asset: &NewAsset,
    ) -> Result<Asset, ClientError> {
        self.http
            .call_with_body(routes::CREATE_ASSET, &[&org_id], asset)
            .await
    }

    /// A page of the organization's assets (oldest first; archived ones when asked for).
    pub async fn list_assets(
        &self,
        org_id: OrgId,
        query: &AssetListQuery,
    ) -> Result<Page<Asset>, ClientError> {
        self.http
            .call_with_query(routes::ASSETS, &[&org_id], &query.pairs())
            .await
    }

    pub async fn update_asset(
        &self,
        org_id: OrgId,
        asset_id: AssetId,
        change: &UpdateAsset,
    ) -> Result<Asset, ClientError> {
        self.http
            .call_with_body(routes::UPDATE_ASSET, &[&org_id, &asset_id], change)
            .await
    }

    /// Registers many assets, each judged on its own; one report row per asset, in order.
    pub async fn import_assets(
        &self,
        org_id: OrgId,
        assets: Vec<NewAsset>,
    ) -> Result<Vec<s4e_types::ImportRow>, ClientError> {
        let list: List<s4e_types::ImportRow> = self
            .http
            .call_with_body(routes::IMPORT_ASSETS, &[&org_id], &List { items: assets })
            .await?;
        Ok(list.items)
    }

    /// How the organization's surface changed, newest first, in pages.
    pub async fn surface_changes(
        &self,
        org_id: OrgId,
        query: &s4e_types::surface::SurfaceQuery,
    ) -> Result<s4e_types::surface::SurfacePage, ClientError> {
        self.http
            .call_with_query(routes::SURFACE_CHANGES, &[&org_id], &query.pairs())
            .await
    }

    /// How the organization's surface at one date differs from another.
    pub async fn surface_diff(
        &self,
        org_id: OrgId,
        query: &s4e_types::surface::SurfaceDiffQuery,
    ) -> Result<s4e_types::surface::SurfaceDiff, ClientError> {
        self.http
            .call_with_query(routes::SURFACE_DIFF, &[&org_id], &query.pairs())
            .await
    }

    /// The organization's services, filtered, in pages.
    pub async fn list_services(
        &self,
        org_id: OrgId,
        query: &s4e_types::inventory::ServiceQuery,
    ) -> Result<Page<s4e_types::inventory::AssetService>, ClientError> {
        self.http
            .call_with_query(routes::SERVICES, &[&org_id], &query.pairs())
            .await
    }

    /// The organization's technologies, filtered, in pages.
    pub async fn list_technologies(
        &self,
        org_id: OrgId,
        query: &s4e_types::inventory::TechnologyQuery,
    ) -> Result<Page<s4e_types::inventory::AssetTechnology>, ClientError> {
        self.http
            .call_with_query(routes::TECHNOLOGIES, &[&org_id], &query.pairs())
            .await
    }

    /// The organization's candidate assets, filtered, in pages.
    pub async fn list_candidates(
        &self,
        org_id: OrgId,
        query: &s4e_types::discovery::CandidateQuery,
    ) -> Result<Page<s4e_types::discovery::Candidate>, ClientError> {
        self.http
            .call_with_query(routes::CANDIDATES, &[&org_id], &query.pairs())
            .await
    }

    /// Makes a candidate an asset; the asset.
    pub async fn approve_candidate(
        &self,
        org_id: OrgId,
        candidate_id: s4e_types::CandidateId,
    ) -> Result<Asset, ClientError> {
        self.http
            .call(routes::APPROVE_CANDIDATE, &[&org_id, &candidate_id])
            .await
    }

    pub async fn dismiss_candidate(
        &self,
        org_id: OrgId,
        candidate_id: s4e_types::CandidateId,
    ) -> Result<s4e_types::discovery::Candidate, ClientError> {
        self.http
            .call(routes::DISMISS_CANDIDATE, &[&org_id, &candidate_id])
            .await
    }

    pub async fn set_asset_tags(
        &self,
        org_id: OrgId,
        asset_id: AssetId,
        tags: &AssetTags,
    ) -> Result<Asset, ClientError> {
        self.http
            .call_with_body(routes::SET_ASSET_TAGS, &[&org_id, &asset_id], tags)
            .await
    }

    /// Adds and removes tags of many assets, all or none.
    pub async fn bulk_tag_assets(
        &self,
        org_id: OrgId,
        change: &BulkAssetTags,
    ) -> Result<BulkAssetTagsResult, ClientError> {
        self.http
            .call_with_body(routes::BULK_TAG_ASSETS, &[&org_id], change)
            .await
    }

    pub async fn archive_asset(
        &self,
        org_id: OrgId,
        asset_id: AssetId,
    ) -> Result<Asset, ClientError> {
        self.http
            .call(routes::ARCHIVE_ASSET, &[&org_id, &asset_id])
            .await
    }

    pub async fn create_schedule(
        &self,
        org_id: OrgId,
        schedule: &NewSchedule,
    ) -> Result<Schedule, ClientError> {
        self.http
            .call_with_body(routes::CREATE_SCHEDULE, &[&org_id], schedule)
            .await
    }

    pub async fn list_schedules(&self, org_id: OrgId) -> Result<Vec<Schedule>, ClientError> {
        let list: List<Schedule> = self.http.call(routes::SCHEDULES, &[&org_id]).await?;
        Ok(list.items)
    }

    pub async fn get_schedule(
        &self,
        org_id: OrgId,
        schedule_id: ScheduleId,
    ) -> Result<Schedule, ClientError> {
        self.http
            .call(routes::SCHEDULE, &[&org_id, &schedule_id])
            .await
    }

    pub async fn update_schedule(
        &self,
        org_id: OrgId,
        schedule_id: ScheduleId,
        change: &UpdateSchedule,
    ) -> Result<Schedule, ClientError> {
        self.http
            .call_with_body(routes::UPDATE_SCHEDULE, &[&org_id, &schedule_id], change)
            .await
    }

    pub async fn delete_schedule(
        &self,
        org_id: OrgId,
        schedule_id: ScheduleId,
    ) -> Result<Schedule, ClientError> {
        self.http
            .call(routes::DELETE_SCHEDULE, &[&org_id, &schedule_id])
            .await
    }

    /// Leases the schedules due at `claim.now`, of every organization.
    pub async fn claim_due_schedules(
        &self,
        claim: &ClaimDueSchedules,
    ) -> Result<Vec<DueSchedule>, ClientError> {
        let list: List<DueSchedule> = self
            .http
            .call_with_body(routes::CLAIM_DUE_SCHEDULES, &[], claim)
            .await?;
        Ok(list.items)
    }

    /// Records what was done with a due time; `Conflict` (`moved_on`) when the schedule had
    /// moved on meanwhile.
    pub async fn schedule_fired(
        &self,
        org_id: OrgId,
        schedule_id: ScheduleId,
        fired: &ScheduleFired,
    ) -> Result<Schedule, ClientError> {
        self.http
            .call_with_body(routes::SCHEDULE_FIRED, &[&org_id, &schedule_id], fired)
            .await
    }

    pub async fn create_rule(&self, org_id: OrgId, rule: &NewRule) -> Result<Rule, ClientError> {
        self.http
            .call_with_body(routes::CREATE_RULE, &[&org_id], rule)
            .await
    }

    pub async fn list_rules(&self, org_id: OrgId) -> Result<Vec<Rule>, ClientError> {
        let list: List<Rule> = self.http.call(routes::RULES, &[&org_id]).await?;
        Ok(list.items)
    }

    /// The organization's enabled rules that fire on `event`.
    pub async fn rules_for_event(
        &self,
        org_id: OrgId,
        event: RuleEvent,
    ) -> Result<Vec<Rule>, ClientError> {
        let list: List<Rule> = self
            .http
            .call(routes::RULES_FOR_EVENT, &[&org_id, &event.as_str()])
            .await?;
        Ok(list.items)
    }

    pub async fn get_rule(&self, org_id: OrgId, rule_id: RuleId) -> Result<Rule, ClientError> {
        self.http.call(routes::RULE, &[&org_id, &rule_id]).await
    }

    pub async fn update_rule(
        &self,
        org_id: OrgId,
        rule_id: RuleId,
        change: &UpdateRule,
    ) -> Result<Rule, ClientError> {
        self.http
            .call_with_body(routes::UPDATE_RULE, &[&org_id, &rule_id], change)
            .await
    }

    pub async fn delete_rule(&self, org_id: OrgId, rule_id: RuleId) -> Result<Rule, ClientError> {
        self.http
            .call(routes::DELETE_RULE, &[&org_id, &rule_id])
            .await
    }

    pub async fn rule_firings(
        &self,
        org_id: OrgId,
        rule_id: RuleId,
    ) -> Result<Vec<RuleFiring>, ClientError> {
        let list: List<RuleFiring> = self
            .http
            .call(routes::RULE_FIRINGS, &[&org_id, &rule_id])
            .await?;
        Ok(list.items)
    }

    /// Records what a rule did with an event; once per rule and event.
    pub async fn record_rule_firing(
        &self,
        org_id: OrgId,
        rule_id: RuleId,
        firing: &RecordFiring,
    ) -> Result<RuleFiring, ClientError> {
        self.http
            .call_with_body(routes::RECORD_RULE_FIRING, &[&org_id, &rule_id], firing)
            .await
    }

    /// Leases events base's own changes recorded, for publishing.
    pub async fn claim_outbox(&self, claim: &ClaimOutbox) -> Result<Vec<Envelope>, ClientError> {
        let list: List<Envelope> = self
            .http
            .call_with_body(routes::CLAIM_OUTBOX, &[], claim)
            .await?;
        Ok(list.items)
    }

    /// Forgets recorded events now on the bus.
    pub async fn outbox_published(&self, published: &OutboxPublished) -> Result<u64, ClientError> {
        self.http
            .call_with_body(routes::OUTBOX_PUBLISHED, &[], published)
            .await
    }

    pub async fn create_webhook(
        &self,
        org_id: OrgId,
        endpoint: &StoreWebhookEndpoint,
    ) -> Result<WebhookEndpoint, ClientError> {
        self.http
            .call_with_body(routes::CREATE_WEBHOOK, &[&org_id], endpoint)
            .await
    }

    pub async fn list_webhooks(&self, org_id: OrgId) -> Result<Vec<WebhookEndpoint>, ClientError> {
        let list: List<WebhookEndpoint> = self.http.call(routes::WEBHOOKS, &[&org_id]).await?;
        Ok(list.items)
    }

    pub async fn get_webhook(
        &self,
        org_id: OrgId,
        endpoint_id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, ClientError> {
        self.http
            .call(routes::WEBHOOK, &[&org_id, &endpoint_id])
            .await
    }

    pub async fn update_webhook(
        &self,
        org_id: OrgId,
        endpoint_id: WebhookEndpointId,
        change: &UpdateWebhookEndpoint,
    ) -> Result<WebhookEndpoint, ClientError> {
        self.http
            .call_with_body(routes::UPDATE_WEBHOOK, &[&org_id, &endpoint_id], change)
            .await
    }

    pub async fn delete_webhook(
        &self,
        org_id: OrgId,
        endpoint_id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, ClientError> {
        self.http
            .call(routes::DELETE_WEBHOOK, &[&org_id, &endpoint_id])
            .await
    }

    pub async fn rotate_webhook_secret(
        &self,
        org_id: OrgId,
        endpoint_id: WebhookEndpointId,
        rotation: &RotateWebhookSecret,
    ) -> Result<WebhookEndpoint, ClientError> {
        self.http
            .call_with_body(
                routes::ROTATE_WEBHOOK_SECRET,
                &[&org_id, &endpoint_id],
                rotation,
            )
            .await
    }

    pub async fn webhook_deliveries(
        &self,
        org_id: OrgId,
        endpoint_id: WebhookEndpointId,
        query: &DeliveryQuery,
    ) -> Result<DeliveryPage, ClientError> {
        let mut pairs = Vec::new();
        if let Some(before) = query.before {
            pairs.push(("before", before.to_string()));
        }
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        self.http
            .call_with_query(routes::WEBHOOK_DELIVERIES, &[&org_id, &endpoint_id], &pairs)
            .await
    }

    pub async fn webhook_delivery(
        &self,
        org_id: OrgId,
        delivery_id: WebhookDeliveryId,
    ) -> Result<WebhookDeliveryWithAttempts, ClientError> {
        self.http
            .call(routes::WEBHOOK_DELIVERY, &[&org_id, &delivery_id])
            .await
    }

    pub async fn redeliver_webhook(
        &self,
        org_id: OrgId,
        delivery_id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery, ClientError> {
        self.http
            .call(routes::REDELIVER_WEBHOOK, &[&org_id, &delivery_id])
            .await
    }

    /// Records an event for the organization's webhook endpoints; how many deliveries it made.
    pub async fn record_webhook_event(
        &self,
        org_id: OrgId,
        event: &WebhookEvent,
    ) -> Result<u64, ClientError> {
        self.http
            .call_with_body(routes::RECORD_WEBHOOK_EVENT, &[&org_id], event)
            .await
    }

    /// Leases the deliveries due at `claim.now`, of every organization.
    pub async fn claim_due_deliveries(
        &self,
        claim: &ClaimDueDeliveries,
    ) -> Result<Vec<DueDelivery>, ClientError> {
        let list: List<DueDelivery> = self
            .http
            .call_with_body(routes::CLAIM_DUE_DELIVERIES, &[], claim)
            .await?;
        Ok(list.items)
    }

    pub async fn webhook_attempted(
        &self,
        org_id: OrgId,
        delivery_id: WebhookDeliveryId,
        attempt: &DeliveryAttempted,
    ) -> Result<WebhookDelivery, ClientError> {
        self.http
            .call_with_body(routes::WEBHOOK_ATTEMPTED, &[&org_id, &delivery_id], attempt)
            .await
    }

    pub async fn create_inbound_hook(
        &self,
        org_id: OrgId,
        hook: &StoreInboundHook,
    ) -> Result<InboundHook, ClientError> {
        self.http
            .call_with_body(routes::CREATE_INBOUND_HOOK, &[&org_id], hook)
            .await
    }

    pub async fn list_inbound_hooks(&self, org_id: OrgId) -> Result<Vec<InboundHook>, ClientError> {
        let list: List<InboundHook> = self.http.call(routes::INBOUND_HOOKS, &[&org_id]).await?;
        Ok(list.items)
    }

    pub async fn get_inbound_hook(
        &self,
        org_id: OrgId,
        hook_id: InboundHookId,
    ) -> Result<InboundHook, ClientError> {
        self.http
            .call(routes::INBOUND_HOOK, &[&org_id, &hook_id])
            .await
    }

    pub async fn update_inbound_hook(
        &self,
        org_id: OrgId,
        hook_id: InboundHookId,
        change: &UpdateInboundHook,
    ) -> Result<InboundHook, ClientError> {
        self.http
            .call_with_body(routes::UPDATE_INBOUND_HOOK, &[&org_id, &hook_id], change)
            .await
    }

    pub async fn delete_inbound_hook(
        &self,
        org_id: OrgId,
        hook_id: InboundHookId,
    ) -> Result<InboundHook, ClientError> {
        self.http
            .call(routes::DELETE_INBOUND_HOOK, &[&org_id, &hook_id])
            .await
    }

    /// The hook called at its public URL, whatever its organization, with its sealed secret.
    pub async fn inbound_hook_by_id(
        &self,
        hook_id: InboundHookId,
    ) -> Result<SealedInboundHook, ClientError> {
        self.http
            .call(routes::INBOUND_HOOK_BY_ID, &[&hook_id])
            .await
    }

    /// Records a call's message id; `Conflict` when it was recorded before (a replay).
    pub async fn record_inbound_message(
        &self,
        org_id: OrgId,
        hook_id: InboundHookId,
        message: &InboundMessage,
    ) -> Result<(), ClientError> {
        let _recorded: bool = self
            .http
            .call_with_body(
                routes::RECORD_INBOUND_MESSAGE,
                &[&org_id, &hook_id],
                message,
            )
            .await?;
        Ok(())
    }

    pub async fn get_asset(&self, org_id: OrgId, asset_id: AssetId) -> Result<Asset, ClientError> {
        self.http.call(routes::ASSET, &[&org_id, &asset_id]).await
    }

    /// Records a verification attempt: proven by `proven_by`, or not proven (`None`; see
    /// `RecordVerification` for when a proof is kept all the same).
    pub async fn record_verification(
        &self,
        org_id: OrgId,
        asset_id: AssetId,
        record: &RecordVerification,
    ) -> Result<Asset, ClientError> {
        self.http
            .call_with_body(routes::RECORD_VERIFICATION, &[&org_id, &asset_id], record)
            .await
    }

    /// The organization's verified domains (whose subdomains and URLs inherit verification).
    pub async fn verified_domains(&self, org_id: OrgId) -> Result<Vec<String>, ClientError> {
        let list: List<String> = self.http.call(routes::VERIFIED_DOMAINS, &[&org_id]).await?;
        Ok(list.items)
    }

    /// Verified assets of every organization whose last proof is older than `older_than`.
    pub async fn due_for_reverification(
        &self,
        older_than: std::time::Duration,
        limit: u16,
    ) -> Result<Vec<Asset>, ClientError> {
        let query = [
            ("older_than_seconds", older_than.as_secs().to_string()),
            ("limit", limit.to_string()),
        ];
        let list: List<Asset> = self
            .http
            .call_with_query(routes::DUE_FOR_REVERIFICATION, &[], &query)
            .await?;
        Ok(list.items)
    }

    /// The organization's scan settings (the defaults when it never changed them).
    pub async fn scan_settings(&self, org_id: OrgId) -> Result<ScanSettings, ClientError> {
        self.http.call(routes::SCAN_SETTINGS, &[&org_id]).await
    }

    /// Replaces the organization's scan settings; invalid ones are `BadRequest`.
    pub async fn put_scan_settings(
        &self,
        org_id: OrgId,
        settings: &ScanSettings,
    ) -> Result<ScanSettings, ClientError> {
        self.http
            .call_with_body(routes::PUT_SCAN_SETTINGS, &[&org_id], settings)
            .await
    }

    /// The organization's own fuzzing words (none, extending the bundled list, when it never
    /// set them).
    pub async fn fuzz_wordlist(&self, org_id: OrgId) -> Result<FuzzWordlist, ClientError> {
        self.http.call(routes::FUZZ_WORDLIST, &[&org_id]).await
    }

    /// Replaces the organization's fuzzing words; an invalid list is `BadRequest`.
    pub async fn put_fuzz_wordlist(
        &self,
        org_id: OrgId,
        wordlist: &FuzzWordlist,
    ) -> Result<FuzzWordlist, ClientError> {
        self.http
            .call_with_body(routes::PUT_FUZZ_WORDLIST, &[&org_id], wordlist)
            .await
    }

    pub async fn create_run(
        &self,
        org_id: OrgId,
        run: &NewScanRun,
    ) -> Result<ScanRunWithJobs, ClientError> {
        self.http
            .call_with_body(routes::CREATE_RUN, &[&org_id], run)
            .await
    }

    pub async fn list_runs(
        &self,
        org_id: OrgId,
        filter: &RunQuery,
    ) -> Result<RunPage, ClientError> {
        let mut query = Vec::new();
        let mut push = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                query.push((name, value));
            }
        };
        push("asset_id", filter.asset_id.map(|id| id.to_string()));
        push(
            "status",
            filter.status.map(|status| status.as_str().to_string()),
        );
        push("profile", filter.profile.clone());
        push("since", filter.since.map(|at| at.to_rfc3339()));
        push("until", filter.until.map(|at| at.to_rfc3339()));
        push("before", filter.before.map(|id| id.to_string()));
        push("limit", filter.limit.map(|limit| limit.to_string()));
        self.http
            .call_with_query(routes::RUNS, &[&org_id], &query)
            .await
    }

    pub async fn get_run(&self, org_id: OrgId, run_id: RunId) -> Result<ScanRun, ClientError> {
        self.http.call(routes::RUN, &[&org_id, &run_id]).await
    }

    /// Ends a run that could not be carried out (its jobs could not be queued, say).
    pub async fn fail_run(
        &self,
        org_id: OrgId,
        run_id: RunId,
        error: &str,
    ) -> Result<ScanRun, ClientError> {
        self.http
            .call_with_body(
                routes::FAIL_RUN,
                &[&org_id, &run_id],
                &FailRun {
                    error: error.to_owned(),
                },
            )
            .await
    }

    /// Cancels a run that has not ended, with its unfinished jobs; `Conflict` once it has.
    pub async fn cancel_run(&self, org_id: OrgId, run_id: RunId) -> Result<ScanRun, ClientError> {
        self.http
            .call_with_body(
                routes::CANCEL_RUN,
                &[&org_id, &run_id],
                &serde_json::json!({}),
            )
            .await
    }

    /// The jobs of a run, in creation order.
    pub async fn run_jobs(
        &self,
        org_id: OrgId,
        run_id: RunId,
    ) -> Result<Vec<ScanJob>, ClientError> {
        let list: List<ScanJob> = self
            .http
            .call(routes::RUN_JOBS, &[&org_id, &run_id])
            .await?;
        Ok(list.items)
    }

    pub async fn get_job(&self, org_id: OrgId, job_id: JobId) -> Result<ScanJob, ClientError> {
        self.http.call(routes::JOB, &[&org_id, &job_id]).await
    }

    /// Marks a job running and counts the attempt. A job already finished comes back as it is,
    /// so a worker can tell a redelivery from new work.
    pub async fn start_job(&self, org_id: OrgId, job_id: JobId) -> Result<ScanJob, ClientError> {
        self.http
            .call_with_body(
                routes::START_JOB,
                &[&org_id, &job_id],
                &serde_json::json!({}),
            )
            .await
    }

    pub async fn finish_job(
        &self,
        org_id: OrgId,
        job_id: JobId,
        report: &FinishJob,
    ) -> Result<JobFinished, ClientError> {
        self.http
            .call_with_body(routes::FINISH_JOB, &[&org_id, &job_id], report)
            .await
    }

    /// One page of findings; `query.cursor` continues a previous page.
    pub async fn list_findings(
        &self,
        org_id: OrgId,
        query: &FindingQuery,
    ) -> Result<FindingPage, ClientError> {
        self.http
            .call_with_query(routes::FINDINGS, &[&org_id], &query.to_pairs("run_id"))
            .await
    }

    /// How many findings match the query's filters.
    pub async fn count_findings(
        &self,
        org_id: OrgId,
        query: &FindingQuery,
    ) -> Result<u64, ClientError> {
        let count: FindingCount = self
            .http
            .call_with_query(
                routes::COUNT_FINDINGS,
                &[&org_id],
                &query.to_pairs("run_id"),
            )
            .await?;
        Ok(count.count)
    }

    /// A finding with its status history.
    pub async fn get_finding(
        &self,
        org_id: OrgId,
        finding_id: FindingId,
    ) -> Result<FindingWithHistory, ClientError> {
        self.http
            .call(routes::FINDING, &[&org_id, &finding_id])
            .await
    }

    /// Changes a finding's status in the name of `change.actor`; `BadRequest` names the field
    /// at fault (a missing reason, say).
    pub async fn change_finding_status(
        &self,
        org_id: OrgId,
        finding_id: FindingId,
        change: &StatusChange,
    ) -> Result<FindingWithHistory, ClientError> {
        self.http
            .call_with_body(routes::CHANGE_STATUS, &[&org_id, &finding_id], change)
            .await
    }

    /// Changes many findings at once, all or none; `NotFound` when an id is not one of the
    /// organization's findings.
    pub async fn bulk_change_finding_status(
        &self,
        org_id: OrgId,
        bulk: &BulkStatusChange,
    ) -> Result<BulkStatusResult, ClientError> {
        self.http
            .call_with_body(routes::BULK_CHANGE_STATUS, &[&org_id], bulk)
            .await
    }

    /// A new organization with its owner, together or not at all.
    pub async fn create_organization_with_owner(
        &self,
        body: &NewOrganizationWithOwner,
    ) -> Result<OrganizationWithOwner, ClientError> {
        self.http.call_with_body(routes::SIGNUP, &[], body).await
    }

    /// The user with this e-mail and their password hash; `NotFound` when there is none.
    pub async fn credentials(&self, email: &str) -> Result<UserCredentials, ClientError> {
        let body = CredentialsLookup {
            email: email.to_string(),
        };
        self.http
            .call_with_body(routes::CREDENTIALS, &[], &body)
            .await
    }

    /// A page of the organization's users, oldest first.
    pub async fn list_users(
        &self,
        org_id: OrgId,
        query: &PageQuery,
    ) -> Result<Page<User>, ClientError> {
        self.http
            .call_with_query(routes::USERS, &[&org_id], &query.pairs())
            .await
    }

    pub async fn get_user(&self, org_id: OrgId, user_id: UserId) -> Result<User, ClientError> {
        self.http.call(routes::USER, &[&org_id, &user_id]).await
    }

    /// Changes a user's role; `Conflict` when it would leave the organization without an owner.
    pub async fn set_user_role(
        &self,
        org_id: OrgId,
        user_id: UserId,
        role: Role,
    ) -> Result<User, ClientError> {
        self.http
            .call_with_body(
                routes::UPDATE_USER,
                &[&org_id, &user_id],
                &UserUpdate { role },
            )
            .await
    }

    /// Limits a member or viewer to `asset_ids`, or lifts the limit (`None`).
    pub async fn set_asset_scope(
        &self,
        org_id: OrgId,
        user_id: UserId,
        asset_ids: Option<Vec<AssetId>>,
    ) -> Result<User, ClientError> {
        self.http
            .call_with_body(
                routes::SET_ASSET_SCOPE,
                &[&org_id, &user_id],
                &SetAssetScope { asset_ids },
            )
            .await
    }

    pub async fn delete_user(&self, org_id: OrgId, user_id: UserId) -> Result<User, ClientError> {
        self.http
            .call(routes::DELETE_USER, &[&org_id, &user_id])
            .await
    }

    pub async fn set_password(
        &self,
        org_id: OrgId,
        user_id: UserId,
        password_hash: &str,
    ) -> Result<User, ClientError> {
        self.http
            .call_with_body(
                routes::SET_PASSWORD,
                &[&org_id, &user_id],
                &NewPasswordHash {
                    password_hash: password_hash.to_string(),
                },
            )
            .await
    }

    /// Stores a sealed TOTP secret being enrolled; `Conflict` while one is active.
    pub async fn set_pending_totp(
        &self,
        org_id: OrgId,
        user_id: UserId,
        sealed_secret: &str,
    ) -> Result<User, ClientError> {
        self.http
            .call_with_body(
                routes::SET_PENDING_TOTP,
                &[&org_id, &user_id],
                &PendingTotp {
                    sealed_secret: sealed_secret.to_string(),
                },
            )
            .await
    }

    /// Activates the pending secret; `Conflict` when none is pending.
    pub async fn enable_totp(&self, org_id: OrgId, user_id: UserId) -> Result<User, ClientError> {
        self.http
            .call_with_body(
                routes::ENABLE_TOTP,
                &[&org_id, &user_id],
                &serde_json::json!({}),
            )
            .await
    }

    pub async fn disable_totp(&self, org_id: OrgId, user_id: UserId) -> Result<User, ClientError> {
        self.http
            .call(routes::DISABLE_TOTP, &[&org_id, &user_id])
            .await
    }

    pub async fn invite(
        &self,
        org_id: OrgId,
        invitation: &NewInvitation,
    ) -> Result<Invitation, ClientError> {
        self.http
            .call_with_body(routes::INVITE, &[&org_id], invitation)
            .await
    }

    pub async fn list_invitations(&self, org_id: OrgId) -> Result<Vec<Invitation>, ClientError> {
        let list: List<Invitation> = self.http.call(routes::INVITATIONS, &[&org_id]).await?;
        Ok(list.items)
    }

    /// Creates the invited user; `NotFound` for an unknown, spent or expired invitation.
    pub async fn accept_invitation(&self, body: &AcceptInvitation) -> Result<User, ClientError> {
        self.http
            .call_with_body(routes::ACCEPT_INVITATION, &[], body)
            .await
    }

    /// The organization's dashboard counts, in one call.
    pub async fn dashboard(&self, org_id: OrgId) -> Result<DashboardSummary, ClientError> {
        self.http.call(routes::SUMMARY, &[&org_id]).await
    }

    pub async fn append_audit(
        &self,
        org_id: OrgId,
        entry: &NewAuditEntry,
    ) -> Result<AuditEntry, ClientError> {
        self.http
            .call_with_body(routes::APPEND_AUDIT, &[&org_id], entry)
            .await
    }

    pub async fn query_audit(
        &self,
        org_id: OrgId,
        filter: &AuditQuery,
    ) -> Result<AuditPage, ClientError> {
        let mut query = Vec::new();
        let mut push = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                query.push((name, value));
            }
        };
        push("actor_id", filter.actor_id.map(|id| id.to_string()));
        push("action", filter.action.clone());
        push("resource_type", filter.resource_type.clone());
        push("resource_id", filter.resource_id.clone());
        push("failed", filter.failed.map(|failed| failed.to_string()));
        push("since", filter.since.map(|at| at.to_rfc3339()));
        push("until", filter.until.map(|at| at.to_rfc3339()));
        push("before", filter.before.map(|id| id.to_string()));
        push("limit", filter.limit.map(|limit| limit.to_string()));
        self.http
            .call_with_query(routes::AUDIT, &[&org_id], &query)
            .await
    }
}
