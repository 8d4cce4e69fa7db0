//! The seven services started in-process against one isolated `TestEnv`, and what tests ask
//! of them through the gateway.

use std::time::Duration;

use anyhow::Context;
use s4e_egress::EgressArgs;
use s4e_runtime::{
    AmqpArgs, BaseUrl, CommonConfig, CrawlerUrl, DispatcherUrl, MongoArgs, RedisArgs, ScanUrl,
    Served, Service, ServiceToken, TriggerUrl,
};
use s4e_test_dns::TestDns;
use s4e_test_support::{TestEnv, listener, wait_for};
use s4e_types::api::ScanView;
use serde_json::Value;

pub struct Fleet {
    pub env: TestEnv,
    pub base: Served,
    pub scan: Served,
    pub core: Served,
    pub dispatcher: Served,
    pub crawler: Served,
    pub scheduler: Served,
    pub trigger: Served,
    /// The only resolver the DNS check asks: scans never query the internet. Tests add the
    /// records of the domains they scan.
    pub dns: TestDns,
    /// An admin API key of a fresh organization.
    pub admin_key: String,
    pub http: reqwest::Client,
}

fn common(env: &TestEnv) -> CommonConfig {
    let token = ServiceToken::new(&env.service_token).expect("test token is long enough");
    CommonConfig::new(token, &env.namespace)
}

/// The fleet's egress: local targets are reachable, and the fleet's DNS server is the only
/// resolver.
fn egress(dns: &TestDns) -> EgressArgs {
    EgressArgs {
        allow_private: true,
        dns_servers: vec![dns.addr()],
    }
}

fn mongo(env: &TestEnv) -> MongoArgs {
    MongoArgs {
        url: env.mongodb_url.clone(),
        database: env.namespace.clone(),
    }
}

/// The scan service's configuration in a fleet: ownership is not required (tests that verify
/// ownership turn it on with [`Fleet::restart_scan`]).
fn scan_config(env: &TestEnv, base: &Served, dns: &TestDns) -> s4e_scan::Config {
    s4e_scan::Config {
        common: common(env),
        base: BaseUrl { url: base.url() },
        amqp: AmqpArgs {
            url: env.amqp_url.clone(),
        },
        egress: egress(dns),
        require_ownership_verification: false,
        verification_timeout_seconds: 5,
        // The tests' own loopback range, as an on-prem operator vouches for its networks.
        operator_verified_ranges: vec!["127.64.0.0/16".parse().expect("a range")],
    }
}

/// The dispatcher's configuration in a fleet: short check limits, cancellations noticed within
/// 200 ms.
fn dispatcher_config(env: &TestEnv, base: &Served, dns: &TestDns) -> s4e_dispatcher::Config {
    s4e_dispatcher::Config {
        common: common(env),
        base: BaseUrl { url: base.url() },
        amqp: AmqpArgs {
            url: env.amqp_url.clone(),
        },
        redis: RedisArgs {
            url: env.redis_url.clone(),
        },
        mongo: mongo(env),
        egress: egress(dns),
        settings: s4e_dispatcher::Settings {
            check_timeout_seconds: 5,
            port_scan_timeout_seconds: 120,
            cancel_poll_milliseconds: 200,
            ..Default::default()
        },
    }
}

/// The gateway's configuration in a fleet: rates high enough never to limit a test, and
/// sign-up open.
fn core_config(
    env: &TestEnv,
    base: &Served,
    scan: &Served,
    dispatcher: &Served,
    trigger: &Served,
    crawler: &Served,
) -> s4e_core::Config {
    s4e_core::Config {
        common: common(env),
        base: BaseUrl { url: base.url() },
        scan: ScanUrl { url: scan.url() },
        dispatcher: DispatcherUrl {
            url: dispatcher.url(),
        },
        trigger: TriggerUrl { url: trigger.url() },
        crawler: CrawlerUrl { url: crawler.url() },
        redis: RedisArgs {
            url: env.redis_url.clone(),
        },
        settings: s4e_core::Settings {
            rate_limit_per_key: 1_000_000,
            rate_limit_per_ip: 1_000_000,
            login_attempts_per_ip: 1_000_000,
            signup_enabled: true,
            ..Default::default()
        },
    }
}

/// The crawler's configuration in a fleet: the dispatcher's egress (loopback targets, the
/// test resolver), a shorter time limit, and no request budget (every test target is on
/// 127.0.0.1, one host to the budget; the budgets have tests of their own).
fn crawler_config(env: &TestEnv, base: &Served, dns: &TestDns) -> s4e_crawler::Config {
    s4e_crawler::Config {
        common: common(env),
        base: BaseUrl { url: base.url() },
        amqp: AmqpArgs {
            url: env.amqp_url.clone(),
        },
        redis: RedisArgs {
            url: env.redis_url.clone(),
        },
        mongo: mongo(env),
        egress: egress(dns),
        settings: s4e_crawler::Settings {
            time_limit_seconds: 120,
            request_timeout_seconds: 5,
            host_requests_per_second: 0,
            ..Default::default()
        },
    }
}

/// The scheduler's configuration in a fleet: nothing due during a test (tests that re-verify
/// start a scheduler of their own with short periods).
fn scheduler_config(env: &TestEnv, base: &Served, scan: &Served) -> s4e_scheduler::Config {
    s4e_scheduler::Config {
        common: common(env),
        base: BaseUrl { url: base.url() },
        scan: ScanUrl { url: scan.url() },
        reverify_after_seconds: 24 * 3600,
        reverify_poll_seconds: 3600,
        reverify_grace_seconds: 7 * 24 * 3600,
        // Tests drive recurring scans with a clock of their own (`Scheduler::pass`).
        schedule_poll_seconds: 3600,
        schedule_lease_seconds: 120,
    }
}

/// The trigger's configuration in a fleet: local receivers are reachable, and deliveries are
/// looked for once an hour (tests deliver with a `Deliverer` on a clock of their own).
fn trigger_config(
    env: &TestEnv,
    base: &Served,
    scan: &Served,
    dns: &TestDns,
) -> s4e_trigger::Config {
    s4e_trigger::Config {
        common: common(env),
        amqp: AmqpArgs {
            url: env.amqp_url.clone(),
        },
        base: BaseUrl { url: base.url() },
        scan: ScanUrl { url: scan.url() },
        egress: egress(dns),
        webhooks: s4e_trigger::WebhookSettings {
            webhook_poll_milliseconds: 3_600_000,
            webhook_timeout_seconds: 5,
            ..Default::default()
        },
        outbox_poll_milliseconds: 50,
    }
}

/// Stops services one after another, callers before what they call.
async fn stop_in_order(services: [Served; 7]) -> anyhow::Result<()> {
    for served in services {
        served
            .stop()
            .await
            .map_err(|error| anyhow::anyhow!(error))?;
    }
    Ok(())
}

/// Waits until a service answers its readiness probe.
async fn wait_until_ready(http: &reqwest::Client, served: &Served) -> anyhow::Result<()> {
    let url = format!("{}/readyz", served.url());
    wait_for(&url, Duration::from_secs(60), || async {
        let response = http.get(&url).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await
}

/// A second replica of each of the fleet's services ([`Fleet::start_replicas`]).
pub struct Replicas {
    pub base: Served,
    pub scan: Served,
    pub core: Served,
    pub dispatcher: Served,
    pub crawler: Served,
    pub scheduler: Served,
    pub trigger: Served,
}

impl Replicas {
    pub fn services(&self) -> [(&'static str, &Served); 7] {
        [
            ("base", &self.base),
            ("scan", &self.scan),
            ("core", &self.core),
            ("dispatcher", &self.dispatcher),
            ("crawler", &self.crawler),
            ("scheduler", &self.scheduler),
            ("trigger", &self.trigger),
        ]
    }

    /// Stops every replica, gateway first and base last; the fleet's own keep running.
    pub async fn stop(self) -> anyhow::Result<()> {
        stop_in_order([
            self.core,
            self.scan,
            self.scheduler,
            self.trigger,
            self.crawler,
            self.dispatcher,
            self.base,
        ])
        .await
    }
}

impl Fleet {
    /// Starts all seven services on port 0 and waits until each is ready.
    pub async fn start() -> anyhow::Result<Fleet> {
        let env = TestEnv::new().await?;
        let dns = TestDns::start().await?;
        let base = s4e_base::Config {
            common: common(&env),
            database_url: env.database_url.clone(),
            database_max_connections: 10,
            migrate_on_start: true,
        }
        .spawn(listener().await)?;
        let scan = scan_config(&env, &base, &dns).spawn(listener().await)?;
        let dispatcher = dispatcher_config(&env, &base, &dns).spawn(listener().await)?;
        let trigger = trigger_config(&env, &base, &scan, &dns).spawn(listener().await)?;
        let crawler = crawler_config(&env, &base, &dns).spawn(listener().await)?;
        let core = core_config(&env, &base, &scan, &dispatcher, &trigger, &crawler)
            .spawn(listener().await)?;
        let scheduler = scheduler_config(&env, &base, &scan).spawn(listener().await)?;
        let http = reqwest::Client::new();
        for served in [
            &base,
            &scan,
            &core,
            &dispatcher,
            &crawler,
            &scheduler,
            &trigger,
        ] {
            wait_until_ready(&http, served).await?;
        }
        let admin_key = s4e_core::create_admin_key(&base.url(), &env.service_token, "e2e")
            .await
            .map_err(|error| anyhow::anyhow!(error))?;
        Ok(Fleet {
            env,
            base,
            scan,
            core,
            dispatcher,
            crawler,
            scheduler,
            trigger,
            dns,
            admin_key,
            http,
        })
    }

    /// A second replica of every service, against the same database, broker, Redis and
    /// MongoDB, as a deployment scaled to two would run them: the second gateway calls the
    /// second base, scan service and dispatcher, and so do the second scan service and
    /// scheduler. Ready when returned.
    pub async fn start_replicas(&self) -> anyhow::Result<Replicas> {
        let env = &self.env;
        let base = s4e_base::Config {
            common: common(env),
            database_url: env.database_url.clone(),
            database_max_connections: 10,
            migrate_on_start: false,
        }
        .spawn(listener().await)?;
        let scan = scan_config(env, &base, &self.dns).spawn(listener().await)?;
        let dispatcher = dispatcher_config(env, &base, &self.dns).spawn(listener().await)?;
        let trigger = trigger_config(env, &base, &scan, &self.dns).spawn(listener().await)?;
        let crawler = crawler_config(env, &base, &self.dns).spawn(listener().await)?;
        let core = core_config(env, &base, &scan, &dispatcher, &trigger, &crawler)
            .spawn(listener().await)?;
        let scheduler = scheduler_config(env, &base, &scan).spawn(listener().await)?;
        let replicas = Replicas {
            base,
            scan,
            core,
            dispatcher,
            crawler,
            scheduler,
            trigger,
        };
        for (_, served) in replicas.services() {
            wait_until_ready(&self.http, served).await?;
        }
        Ok(replicas)
    }

    /// Replaces the gateway with one whose config is the fleet's (unlimited rates) changed by
    /// `configure`, and waits until it is ready.
    pub async fn restart_core(
        &mut self,
        configure: impl FnOnce(&mut s4e_core::Config),
    ) -> anyhow::Result<()> {
        let mut config = core_config(
            &self.env,
            &self.base,
            &self.scan,
            &self.dispatcher,
            &self.trigger,
            &self.crawler,
        );
        configure(&mut config);
        let core = config.spawn(listener().await)?;
        let previous = std::mem::replace(&mut self.core, core);
        previous
            .stop()
            .await
            .map_err(|error| anyhow::anyhow!(error))?;
        wait_until_ready(&self.http, &self.core).await
    }

    /// Replaces the scan service with one whose config is the fleet's changed by `configure`,
    /// then the gateway (which holds the scan service's address), and waits until both are
    /// ready.
    pub async fn restart_scan(
        &mut self,
        configure: impl FnOnce(&mut s4e_scan::Config),
    ) -> anyhow::Result<()> {
        let mut config = scan_config(&self.env, &self.base, &self.dns);
        configure(&mut config);
        let scan = config.spawn(listener().await)?;
        let previous = std::mem::replace(&mut self.scan, scan);
        previous
            .stop()
            .await
            .map_err(|error| anyhow::anyhow!(error))?;
        wait_until_ready(&self.http, &self.scan).await?;
        self.restart_core(|_| {}).await
    }

    /// Replaces the dispatcher with one whose config is the fleet's changed by `configure`,
    /// then the gateway (which holds the dispatcher's address). Waits until the new dispatcher
    /// serves (not until it is ready: a test may point it at a dependency that is away).
    pub async fn restart_dispatcher(
        &mut self,
        configure: impl FnOnce(&mut s4e_dispatcher::Config),
    ) -> anyhow::Result<()> {
        let mut config = dispatcher_config(&self.env, &self.base, &self.dns);
        configure(&mut config);
        let previous = std::mem::replace(&mut self.dispatcher, config.spawn(listener().await)?);
        previous
            .stop()
            .await
            .map_err(|error| anyhow::anyhow!(error))?;
        let url = format!("{}/healthz", self.dispatcher.url());
        wait_for(&url, Duration::from_secs(60), || async {
            let response = self.http.get(&url).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await?;
        self.restart_core(|_| {}).await
    }

    /// A webhook deliverer configured as the fleet's trigger is, for a test to drive on a clock
    /// of its own (`Deliverer::pass`).
    pub async fn deliverer(&self) -> anyhow::Result<s4e_trigger::Deliverer> {
        trigger_config(&self.env, &self.base, &self.scan, &self.dns)
            .deliverer(s4e_runtime::Metrics::new())
            .await
            .map_err(|error| anyhow::anyhow!(error))
    }

    /// The settings every service of this fleet shares, for a test that starts one more.
    pub fn common(&self) -> CommonConfig {
        common(&self.env)
    }

    /// Every service, for checks that apply to all of them.
    pub fn services(&self) -> [(&'static str, &Served); 7] {
        [
            ("base", &self.base),
            ("scan", &self.scan),
            ("core", &self.core),
            ("dispatcher", &self.dispatcher),
            ("crawler", &self.crawler),
            ("scheduler", &self.scheduler),
            ("trigger", &self.trigger),
        ]
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.core.url())
    }

    /// The Prometheus text of the service served at `service_url` (with the service token,
    /// which the gateway's metrics need); `None` while it cannot be read, for polling.
    pub async fn metrics_text(&self, service_url: &str) -> Option<String> {
        self.http
            .get(format!("{service_url}/metrics"))
            .header("x-s4e-service-token", &self.env.service_token)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()
    }

    /// A request to the gateway with the admin key.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.api(path))
            .bearer_auth(&self.admin_key)
    }

    /// A `GET` of `path` with the admin key, its JSON body read; panics on a failed request
    /// or a body that is not JSON (a test's failure either way).
    pub async fn get_json(&self, path: &str) -> Value {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
            .json()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// Registers a URL asset and returns its id.
    pub async fn create_url_asset(&self, url: &str) -> anyhow::Result<String> {
        self.create_asset("url", url).await
    }

    /// Registers an asset of `kind` (`url`, `domain`, `ip`) and returns its id.
    pub async fn create_asset(&self, kind: &str, value: &str) -> anyhow::Result<String> {
        let response = self
            .request(reqwest::Method::POST, "/assets")
            .json(&serde_json::json!({"kind": kind, "value": value}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 201,
            "create asset: {}",
            response.status()
        );
        let asset: Value = response.json().await?;
        Ok(asset["id"].as_str().context("asset id")?.to_string())
    }

    /// Starts a scan of an asset and returns the run id.
    pub async fn start_scan(&self, asset_id: &str) -> anyhow::Result<String> {
        let response = self
            .request(reqwest::Method::POST, "/scans")
            .json(&serde_json::json!({"asset_id": asset_id}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 202,
            "start scan: {}",
            response.status()
        );
        let run: Value = response.json().await?;
        Ok(run["id"].as_str().context("run id")?.to_string())
    }

    /// Polls the run until it is completed or failed.
    pub async fn wait_for_scan(
        &self,
        run_id: &str,
        deadline: Duration,
    ) -> anyhow::Result<ScanView> {
        wait_for(&format!("scan {run_id} to finish"), deadline, || async {
            let response = self
                .request(reqwest::Method::GET, &format!("/scans/{run_id}"))
                .send()
                .await
                .ok()?;
            let view: ScanView = response.json().await.ok()?;
            view.run.status.is_final().then_some(view)
        })
        .await
    }

    /// Reads a scan's event stream until the server closes it (an error past `deadline`);
    /// keep-alive comments are skipped.
    pub async fn scan_events(
        &self,
        run_id: &str,
        deadline: Duration,
    ) -> anyhow::Result<Vec<ScanEvent>> {
        let mut response = self
            .request(reqwest::Method::GET, &format!("/scans/{run_id}/events"))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "events: {}", response.status());
        anyhow::ensure!(
            response.headers()["content-type"] == "text/event-stream",
            "events: {:?}",
            response.headers()["content-type"]
        );
        let mut text = String::new();
        tokio::time::timeout(deadline, async {
            while let Some(chunk) = response.chunk().await? {
                text.push_str(std::str::from_utf8(&chunk)?);
            }
            anyhow::Ok(())
        })
        .await
        .context("the stream did not close when the run ended")??;
        Ok(text
            .split("\n\n")
            .filter_map(|block| {
                let mut event = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event: ") {
                        event = Some(name.to_string());
                    } else if let Some(json) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(json).ok();
                    }
                }
                Some(ScanEvent {
                    event: event?,
                    data: data?,
                })
            })
            .collect())
    }

    /// The findings a run saw, every page of them.
    pub async fn findings(&self, run_id: &str) -> anyhow::Result<Vec<Value>> {
        let mut findings = Vec::new();
        let mut path = format!("/findings?scan_id={run_id}&limit=1000");
        loop {
            let response = self.request(reqwest::Method::GET, &path).send().await?;
            anyhow::ensure!(response.status() == 200, "findings: {}", response.status());
            let body: Value = response.json().await?;
            findings.extend(body["items"].as_array().context("items")?.iter().cloned());
            match body["next_cursor"].as_str() {
                Some(cursor) => {
                    path = format!("/findings?scan_id={run_id}&limit=1000&cursor={cursor}")
                }
                None => return Ok(findings),
            }
        }
    }

    /// Stops every service (gateway first, base last) and removes the test's data.
    pub async fn stop(self) -> anyhow::Result<()> {
        stop_in_order([
            self.core,
            self.scan,
            self.scheduler,
            self.trigger,
            self.crawler,
            self.dispatcher,
            self.base,
        ])
        .await?;
        self.env.cleanup().await
    }
}

/// The session cookie (`name=value`, without its attributes) a sign-in, sign-up or accepted
/// invitation set, to send back as `Cookie`.
pub fn session_cookie(response: &reqwest::Response) -> String {
    let set_cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .expect("a readable cookie");
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

/// One Server-Sent Event of a scan's stream: its name and its data as JSON.
#[derive(Debug)]
pub struct ScanEvent {
    pub event: String,
    pub data: Value,
}
