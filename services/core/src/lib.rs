//! s4e-core: the gateway and the only public door. It authenticates callers (API keys and
//! browser sessions), checks their permissions, scopes every request to the caller's
//! organization, records every change in the audit log, and answers from base, scan and Redis.

mod api;
pub mod api_key;
mod audit;
mod auth;
mod client_address;
mod conditional;
mod config;
#[cfg(feature = "console")]
mod console;
mod customer_cache;
mod endpoints;
mod export;
mod idempotency;
mod key_cache;
mod password;
mod permissions;
mod rate_limit;
mod session;
mod step;
pub mod totp;
mod ttl_cache;

use std::time::Duration;

use s4e_client::{BaseClient, DispatcherClient, ScanClient};
use s4e_runtime::{BoxError, CancellationToken, CommonConfig, Metrics, Readiness, Service};
use s4e_store::{Idempotency, LiveStatus, RateLimiter, Redis, SessionStore};
use tokio::net::TcpListener;

pub use config::{Config, Settings};

/// What every handler and middleware shares; cloned per request and per layer, so it is one
/// pointer.
#[derive(Clone)]
pub(crate) struct AppState(std::sync::Arc<AppContext>);

impl std::ops::Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

pub(crate) struct AppContext {
    pub base: BaseClient,
    pub scan: ScanClient,
    pub dispatcher: DispatcherClient,
    pub crawler: s4e_client::CrawlerClient,
    pub trigger: s4e_client::TriggerClient,
    /// The platform's services this gateway knows (its dependencies and itself): a URL asset
    /// naming one is refused when registered.
    pub own_services: s4e_egress::OwnServices,
    pub live: LiveStatus,
    pub limits: rate_limit::RateLimits,
    pub keys: key_cache::KeyCache,
    pub customers: customer_cache::CustomerCache,
    pub sessions: SessionStore,
    pub idempotency: Idempotency,
    pub session_max_age: Duration,
    pub accounts: AccountSettings,
    /// The request metrics (the first of `api::router`'s steps records them).
    pub metrics: Metrics,
    pub secrets: s4e_secrets::SecretBox,
    /// Seals webhook signing secrets for s4e-trigger, under the same key material.
    pub webhook_secrets: s4e_secrets::SecretBox,
    /// Whose `X-Forwarded-For` names the client (`client_address.rs`).
    pub trusted_proxies: client_address::TrustedProxies,
    /// Cancelled when the gateway shuts down: ends long-lived responses (event streams).
    pub shutdown: CancellationToken,
}

/// How people sign up and in.
#[derive(Clone)]
pub(crate) struct AccountSettings {
    pub signup_enabled: bool,
    pub login_attempts_per_account: u32,
    pub login_attempts_per_ip: u32,
    pub login_window: Duration,
}

impl Service for Config {
    const NAME: &'static str = "s4e-core";
    const ABOUT: &'static str = "S4E gateway (the public API)";
    const DEFAULT_PORT: u16 = 8080;

    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'static {
        run(self, listener, shutdown)
    }
}

async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let token = config.common.service_token.clone();
    let base = BaseClient::new(&config.base.url, token.expose())?;
    let scan = ScanClient::new(&config.scan.url, token.expose())?;
    let dispatcher = DispatcherClient::new(&config.dispatcher.url, token.expose())?;
    let trigger = s4e_client::TriggerClient::new(&config.trigger.url, token.expose())?;
    let crawler = s4e_client::CrawlerClient::new(&config.crawler.url, token.expose())?;
    let mut endpoints = vec![
        config.base.url.clone(),
        config.scan.url.clone(),
        config.dispatcher.url.clone(),
        config.trigger.url.clone(),
        config.crawler.url.clone(),
        config.redis.url.clone(),
        listener.local_addr()?.to_string(),
    ];
    endpoints.extend(config.settings.rate_limit_redis_url.clone());
    let own_services = s4e_egress::OwnServices::resolve(endpoints).await;
    // One connection per Redis URL, shared by the stores on it. Calls fail fast: without Redis
    // no session can be checked and no rate decided, and the gateway answers (or fails open)
    // rather than hang.
    let fail_fast = Some(Duration::from_millis(500));
    let redis =
        s4e_runtime::retry::with_retries("redis", Duration::from_secs(60), &shutdown, || {
            Redis::connect(&config.redis.url, fail_fast)
        })
        .await?;
    let limiter_redis = match &config.settings.rate_limit_redis_url {
        Some(url) if *url != config.redis.url => {
            s4e_runtime::retry::with_retries(
                "redis (rate limits)",
                Duration::from_secs(60),
                &shutdown,
                || Redis::connect(url, fail_fast),
            )
            .await?
        }
        _ => redis.clone(),
    };
    let live = LiveStatus::new(&redis, &config.common.namespace);
    let limits = rate_limit::RateLimits {
        limiter: RateLimiter::new(&limiter_redis, &config.common.namespace),
        per_key: config.settings.rate_limit_per_key,
        per_ip: config.settings.rate_limit_per_ip,
        window: Duration::from_secs(config.settings.rate_limit_window_seconds),
        fail_open: config.settings.rate_limit_fail_open,
    };
    let sessions = SessionStore::new(
        &redis,
        &config.common.namespace,
        Duration::from_secs(config.settings.session_idle_seconds),
    );
    let metrics = Metrics::new();
    // Public: say which dependency is down, not how (addresses, errors); those are logged.
    let readiness = Readiness::new()
        .redacted()
        .with_probe(
            "redis",
            live.clone(),
            |live| async move { live.ping().await },
        )
        .with_probe(
            "base",
            base.clone(),
            |base| async move { base.ready().await },
        )
        .with_probe(
            "scan",
            scan.clone(),
            |scan| async move { scan.ready().await },
        );
    let secrets_key = config.settings.secrets.material(&config.common);
    let state = AppState(std::sync::Arc::new(AppContext {
        base,
        scan,
        dispatcher,
        crawler,
        trigger,
        own_services,
        live,
        limits,
        keys: key_cache::KeyCache::new(Duration::from_secs(config.settings.api_key_cache_seconds)),
        customers: customer_cache::CustomerCache::new(Duration::from_secs(
            config.settings.api_key_cache_seconds,
        )),
        sessions,
        idempotency: Idempotency::new(
            &redis,
            &config.common.namespace,
            Duration::from_secs(24 * 60 * 60),
        ),
        session_max_age: Duration::from_secs(config.settings.session_max_age_seconds),
        secrets: s4e_secrets::SecretBox::new(secrets_key, totp::SEALING_PURPOSE),
        webhook_secrets: s4e_secrets::SecretBox::new(
            secrets_key,
            s4e_types::webhook::SEALING_PURPOSE,
        ),
        accounts: AccountSettings {
            signup_enabled: config.settings.signup_enabled,
            login_attempts_per_account: config.settings.login_attempts_per_account,
            login_attempts_per_ip: config.settings.login_attempts_per_ip,
            login_window: Duration::from_secs(config.settings.login_window_seconds),
        },
        trusted_proxies: client_address::TrustedProxies::new(&config.settings.trusted_proxies),
        shutdown: shutdown.clone(),
        metrics: metrics.clone(),
    }));
    let router = api::router(state, readiness);
    // The common layers are the first of the router's own steps.
    let router = router.merge(api::metrics(metrics, token));
    s4e_runtime::serve(listener, router, shutdown).await?;
    Ok(())
}

/// Creates an organization with its first owner, who signs in with `password`; returns the
/// owner's user id. For deployments where self-service sign-up is off.
pub async fn create_organization(
    base_url: &str,
    service_token: &str,
    org_name: &str,
    owner_email: &str,
    password: &str,
    is_partner: bool,
) -> Result<s4e_types::UserId, BoxError> {
    let email = s4e_types::account::normalize_email(owner_email)?;
    password::check_new(password, &email, "S4E_OWNER_PASSWORD").map_err(|error| error.message)?;
    let base = BaseClient::new(base_url, service_token)?;
    let password_hash = password::hash(password.to_string())
        .await
        .map_err(|error| error.message)?;
    let created = base
        .create_organization_with_owner(&s4e_types::account::NewOrganizationWithOwner {
            organization_name: org_name.to_string(),
            email,
            password_hash,
            is_partner,
        })
        .await?;
    tracing::info!(org_id = %created.organization.id, user_id = %created.owner.id, "organization created");
    Ok(created.owner.id)
}

/// Creates an organization and an admin API key for it; returns the key, which is shown once
/// and stored only as a hash.
pub async fn create_admin_key(
    base_url: &str,
    service_token: &str,
    org_name: &str,
) -> Result<String, BoxError> {
    create_admin_key_with(base_url, service_token, org_name, false).await
}

/// As [`create_admin_key`], for a partner organization when `is_partner`.
pub async fn create_admin_key_with(
    base_url: &str,
    service_token: &str,
    org_name: &str,
    is_partner: bool,
) -> Result<String, BoxError> {
    let base = BaseClient::new(base_url, service_token)?;
    let organization = if is_partner {
        base.create_partner(org_name).await?
    } else {
        base.create_organization(org_name).await?
    };
    let generated = api_key::generate();
    base.create_api_key(
        organization.id,
        &s4e_types::api::NewApiKey {
            name: "bootstrap admin".into(),
            prefix: generated.prefix.clone(),
            key_hash: generated.hash.clone(),
            scopes: vec!["admin".into()],
            expires_at: None,
        },
    )
    .await?;
    tracing::info!(org_id = %organization.id, prefix = %generated.prefix, "admin key created");
    Ok(generated.key)
}
