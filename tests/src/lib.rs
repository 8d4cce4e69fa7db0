//! The whole fleet in one process, against the real PostgreSQL, RabbitMQ, Redis and MongoDB,
//! isolated per [`Fleet`] (see `s4e_test_support::TestEnv`). Used by the end-to-end tests in
//! `tests/` and by the benchmark programs in `src/bin/`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use s4e_runtime::{CommonConfig, Served, ServiceToken};
use s4e_test_dns::TestDns;
use s4e_test_support::{TestEnv, listener, wait_for};
use s4e_types::api::ScanView;
use serde_json::Value;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

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
    CommonConfig {
        listen: None,
        service_token: ServiceToken::new(&env.service_token).expect("test token is long enough"),
        namespace: env.namespace.clone(),
        log_format: "json".into(),
    }
}

/// The scan service's configuration in a fleet: local targets are reachable, and ownership is
/// not required (tests that verify ownership turn it on with [`Fleet::restart_scan`]).
fn scan_config(env: &TestEnv, base: &Served, dns: &TestDns) -> s4e_scan::Config {
    s4e_scan::Config {
        common: common(env),
        base_url: base.url(),
        amqp_url: env.amqp_url.clone(),
        egress_allow_private: true,
        require_ownership_verification: false,
        verification_timeout_seconds: 5,
        dns_servers: vec![dns.addr()],
    }
}

/// The dispatcher's configuration in a fleet: local targets are reachable, the fleet's DNS
/// server is the only resolver, cancellations are noticed within 200 ms.
fn dispatcher_config(env: &TestEnv, base: &Served, dns: &TestDns) -> s4e_dispatcher::Config {
    s4e_dispatcher::Config {
        common: common(env),
        base_url: base.url(),
        amqp_url: env.amqp_url.clone(),
        redis_url: env.redis_url.clone(),
        mongodb_url: env.mongodb_url.clone(),
        mongodb_database: env.namespace.clone(),
        // The targets are local servers the tests start.
        egress_allow_private: true,
        worker_concurrency: 16,
        router_prefetch: 64,
        check_timeout_seconds: 5,
        port_scan_timeout_seconds: 120,
        retry_delay_cap_milliseconds: 30_000,
        max_jobs_per_org: 0,
        max_jobs_per_host: 0,
        cancel_poll_milliseconds: 200,
        dns_servers: vec![dns.addr()],
    }
}

/// The gateway's configuration in a fleet: rates high enough never to limit a test.
fn core_config(
    env: &TestEnv,
    base: &Served,
    scan: &Served,
    dispatcher: &Served,
) -> s4e_core::Config {
    s4e_core::Config {
        common: common(env),
        base_url: base.url(),
        scan_url: scan.url(),
        dispatcher_url: dispatcher.url(),
        redis_url: env.redis_url.clone(),
        rate_limit_per_key: 1_000_000,
        rate_limit_per_ip: 1_000_000,
        rate_limit_window_seconds: 60,
        rate_limit_fail_open: true,
        rate_limit_redis_url: None,
        api_key_cache_seconds: 5,
        session_idle_seconds: 24 * 3600,
        session_max_age_seconds: 7 * 24 * 3600,
        signup_enabled: true,
        login_attempts_per_account: 10,
        login_attempts_per_ip: 1_000_000,
        login_window_seconds: 900,
        secrets_key: None,
    }
}

impl Fleet {
    /// Starts all seven services on port 0 and waits until each is ready.
    pub async fn start() -> anyhow::Result<Fleet> {
        let env = TestEnv::new().await?;
        let dns = TestDns::start().await?;
        let base = s4e_base::spawn(
            s4e_base::Config {
                common: common(&env),
                database_url: env.database_url.clone(),
                database_max_connections: 10,
                migrate_on_start: true,
            },
            listener().await,
        )?;
        let scan = s4e_scan::spawn(scan_config(&env, &base, &dns), listener().await)?;
        let dispatcher =
            s4e_dispatcher::spawn(dispatcher_config(&env, &base, &dns), listener().await)?;
        let core = s4e_core::spawn(
            core_config(&env, &base, &scan, &dispatcher),
            listener().await,
        )?;
        let crawler = s4e_crawler::spawn(
            s4e_crawler::Config {
                common: common(&env),
                amqp_url: env.amqp_url.clone(),
                mongodb_url: env.mongodb_url.clone(),
                mongodb_database: env.namespace.clone(),
            },
            listener().await,
        )?;
        let scheduler = s4e_scheduler::spawn(
            s4e_scheduler::Config {
                common: common(&env),
                base_url: base.url(),
                scan_url: scan.url(),
                // Tests that re-verify start a scheduler of their own with short periods.
                reverify_after_seconds: 24 * 3600,
                reverify_poll_seconds: 3600,
                reverify_grace_seconds: 7 * 24 * 3600,
            },
            listener().await,
        )?;
        let trigger = s4e_trigger::spawn(
            s4e_trigger::Config {
                common: common(&env),
                amqp_url: env.amqp_url.clone(),
            },
            listener().await,
        )?;
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
            let url = format!("{}/readyz", served.url());
            wait_for(&url, Duration::from_secs(60), || async {
                let response = http.get(&url).send().await.ok()?;
                response.status().is_success().then_some(())
            })
            .await?;
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

    /// Replaces the gateway with one whose config is the fleet's (unlimited rates) changed by
    /// `configure`, and waits until it is ready.
    pub async fn restart_core(
        &mut self,
        configure: impl FnOnce(&mut s4e_core::Config),
    ) -> anyhow::Result<()> {
        let mut config = core_config(&self.env, &self.base, &self.scan, &self.dispatcher);
        configure(&mut config);
        let core = s4e_core::spawn(config, listener().await)?;
        let previous = std::mem::replace(&mut self.core, core);
        previous
            .stop()
            .await
            .map_err(|error| anyhow::anyhow!(error))?;
        let url = format!("{}/readyz", self.core.url());
        wait_for(&url, Duration::from_secs(60), || async {
            let response = self.http.get(&url).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await
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
        let scan = s4e_scan::spawn(config, listener().await)?;
        let previous = std::mem::replace(&mut self.scan, scan);
        previous
            .stop()
            .await
            .map_err(|error| anyhow::anyhow!(error))?;
        let url = format!("{}/readyz", self.scan.url());
        wait_for(&url, Duration::from_secs(60), || async {
            let response = self.http.get(&url).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await?;
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
        let previous = std::mem::replace(
            &mut self.dispatcher,
            s4e_dispatcher::spawn(config, listener().await)?,
        );
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
        for served in [
            self.core,
            self.scan,
            self.scheduler,
            self.trigger,
            self.crawler,
            self.dispatcher,
            self.base,
        ] {
            served
                .stop()
                .await
                .map_err(|error| anyhow::anyhow!(error))?;
        }
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

/// A local HTTP server for scans to target; stops when dropped.
pub struct Target {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Target {
    /// The demo shop over plain HTTP, misconfigured or hardened (which only redirects to HTTPS).
    pub async fn demo(hardened: bool) -> Target {
        let listener = listener().await;
        let url = format!("http://{}/", listener.local_addr().expect("local addr"));
        Self::serve(listener, url, s4e_demo_target::router(hardened))
    }

    /// The demo shop over plain HTTP answering every request `delay` late: scans of it take
    /// long enough to watch.
    pub async fn demo_slow(delay: Duration) -> Target {
        let listener = listener().await;
        let url = format!("http://{}/", listener.local_addr().expect("local addr"));
        let router = s4e_demo_target::router(false).layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                tokio::time::sleep(delay).await;
                next.run(request).await
            },
        ));
        Self::serve(listener, url, router)
    }

    /// The demo shop over HTTPS, with a self-signed certificate for 127.0.0.1.
    pub async fn demo_https(hardened: bool) -> Target {
        let listener = listener().await;
        let url = format!("https://{}/", listener.local_addr().expect("local addr"));
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("generate certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .expect("server certificate");
        let tls = TlsListener {
            tcp: listener,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        };
        Self::serve(tls, url, s4e_demo_target::tls_router(hardened))
    }

    fn serve<L>(listener: L, url: String, router: axum::Router) -> Target
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Target {
            url,
            stop: Some(stop),
        }
    }
}

/// An HTTP server that answers every request after a delay, recording when each request
/// started and ended and how many were in progress at once. Stops when dropped.
pub struct Slow {
    pub url: String,
    record: Arc<std::sync::Mutex<SlowRecord>>,
    stop: s4e_runtime::CancellationToken,
}

#[derive(Default)]
struct SlowRecord {
    in_progress: usize,
    max_in_progress: usize,
    starts: Vec<tokio::time::Instant>,
}

impl Slow {
    pub async fn start(delay: Duration) -> Slow {
        Self::start_on([127, 0, 0, 1], delay).await
    }

    /// On another loopback address (another host, as far as caps per host are concerned).
    pub async fn start_on(ip: [u8; 4], delay: Duration) -> Slow {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::from(ip), 0))
            .await
            .expect("bind a loopback address");
        let url = format!("http://{}/", listener.local_addr().expect("local addr"));
        let record = Arc::new(std::sync::Mutex::new(SlowRecord::default()));
        let stop = s4e_runtime::CancellationToken::new();
        let (shared, token) = (record.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = token.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut stream, _)) = accepted else {
                    continue;
                };
                let record = shared.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    {
                        let mut record = record.lock().expect("record");
                        record.in_progress += 1;
                        record.max_in_progress = record.max_in_progress.max(record.in_progress);
                        record.starts.push(tokio::time::Instant::now());
                    }
                    tokio::time::sleep(delay).await;
                    record.lock().expect("record").in_progress -= 1;
                    let body = "<html><body>slow</body></html>";
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        Slow { url, record, stop }
    }

    /// The most requests that were in progress at once.
    pub fn max_in_progress(&self) -> usize {
        self.record.lock().expect("record").max_in_progress
    }

    /// When each request arrived, in order.
    pub fn starts(&self) -> Vec<tokio::time::Instant> {
        self.record.lock().expect("record").starts.clone()
    }
}

impl Drop for Slow {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A target that accepts connections and never answers: a check against it can only end by
/// its time limit or by cancellation. Stops when dropped.
pub struct Hanging {
    pub url: String,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    stop: s4e_runtime::CancellationToken,
}

impl Hanging {
    pub async fn start() -> Hanging {
        let listener = listener().await;
        let url = format!("http://{}/", listener.local_addr().expect("local addr"));
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = s4e_runtime::CancellationToken::new();
        let (count, token) = (accepted.clone(), stop.clone());
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    accepted = listener.accept() => if let Ok((stream, _)) = accepted {
                        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        held.push(stream);
                    },
                }
            }
        });
        Hanging {
            url,
            accepted,
            stop,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// TCP plus a TLS handshake, so axum serves HTTPS like any other listener.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // A failed accept or handshake concerns one client; keep serving the others.
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A TCP proxy in front of Redis that the test can cut: it stops accepting (its port is
/// closed) and drops the connections it carries.
pub struct RedisProxy {
    pub url: String,
    cut: s4e_runtime::CancellationToken,
}

impl RedisProxy {
    pub async fn start(redis_url: &str) -> RedisProxy {
        let (scheme, rest) = redis_url.split_once("://").expect("redis url scheme");
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, upstream) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (format!("{userinfo}@"), host.to_string()),
            None => (String::new(), authority.to_string()),
        };
        let listener = listener().await;
        let url = format!(
            "{scheme}://{userinfo}{}{path}",
            listener.local_addr().unwrap()
        );
        let cut = s4e_runtime::CancellationToken::new();
        let token = cut.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = token.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                let token = token.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
            // The listener is dropped here: new connections are refused.
        });
        RedisProxy { url, cut }
    }

    pub fn cut(&self) {
        self.cut.cancel();
    }
}
