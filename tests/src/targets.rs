//! Local servers that scans and tests aim at: the demo shop (plain or TLS), a slow server, a
//! server that never answers, and a Redis proxy that can be cut.

use std::sync::Arc;
use std::time::Duration;

use s4e_test_support::listener;
use s4e_test_support::site::read_request_head;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

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
        let tls = TlsListener {
            tcp: listener,
            acceptor: self_signed_acceptor(&["127.0.0.1"]),
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

/// A TLS acceptor presenting a self-signed certificate for `names`, made anew each call.
fn self_signed_acceptor(names: &[&str]) -> TlsAcceptor {
    let certified = rcgen::generate_simple_self_signed(
        names
            .iter()
            .map(|name| (*name).to_string())
            .collect::<Vec<_>>(),
    )
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
    TlsAcceptor::from(Arc::new(config))
}

/// A TLS server on 127.0.0.1:`port` (0: any) presenting a self-signed certificate for `names`,
/// made anew at each start, that completes handshakes and nothing more; runs until the task
/// is aborted.
pub async fn tls_handshakes(port: u16, names: &[&str]) -> (u16, tokio::task::JoinHandle<()>) {
    let acceptor = self_signed_acceptor(names);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the TLS port");
    let port = listener.local_addr().expect("local addr").port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    (port, task)
}

/// TLS in front of the plain HTTP server at `upstream`, as an ingress terminates it: a
/// self-signed certificate for 127.0.0.1, every connection relayed byte for byte. Returns the
/// HTTPS URL; runs until the task is aborted.
pub async fn tls_front(upstream: std::net::SocketAddr) -> (String, tokio::task::JoinHandle<()>) {
    let acceptor = self_signed_acceptor(&["127.0.0.1"]);
    let listener = listener().await;
    let url = format!("https://{}/", listener.local_addr().expect("local addr"));
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let (Ok(mut outside), Ok(mut inside)) = (
                    acceptor.accept(stream).await,
                    tokio::net::TcpStream::connect(upstream).await,
                ) else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut outside, &mut inside).await;
            });
        }
    });
    (url, task)
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
        use tokio::io::AsyncWriteExt;
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
                    if read_request_head(&mut stream).await.is_none() {
                        return;
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

/// A webhook receiver: records every request it gets (headers and body) and answers each with
/// the next status it was told to give, 204 once those run out. Stops when dropped.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    _server: Target,
}

#[derive(Default)]
struct ReceiverState {
    received: std::sync::Mutex<Vec<Received>>,
    answers: std::sync::Mutex<std::collections::VecDeque<u16>>,
    delay: std::sync::Mutex<Option<std::time::Duration>>,
}

/// One request a [`Receiver`] got; header names in lower case.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: std::collections::HashMap<String, String>,
    pub body: Vec<u8>,
    /// When its body had arrived.
    pub at: std::time::Instant,
}

impl Received {
    /// Whether it carries a valid Standard Webhooks signature under `secret`, computed here
    /// from the specification: base64(HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")).
    pub fn signed_with(&self, secret: &str) -> bool {
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD;
        let Some(key) = secret
            .strip_prefix("whsec_")
            .and_then(|key| STANDARD.decode(key).ok())
        else {
            return false;
        };
        let header = |name: &str| self.headers.get(name).map(String::as_str).unwrap_or("");
        let mut content =
            format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).into_bytes();
        content.extend_from_slice(&self.body);
        let tag = ::ring::hmac::sign(
            &::ring::hmac::Key::new(::ring::hmac::HMAC_SHA256, &key),
            &content,
        );
        let expected = format!("v1,{}", STANDARD.encode(tag.as_ref()));
        header("webhook-signature")
            .split(' ')
            .any(|signature| signature == expected)
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let shared = state.clone();
        let router = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let state = shared.clone();
                async move {
                    let headers = headers
                        .iter()
                        .map(|(name, value)| {
                            (
                                name.as_str().to_string(),
                                value.to_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect();
                    state.received.lock().unwrap().push(Received {
                        headers,
                        body: body.to_vec(),
                        at: std::time::Instant::now(),
                    });
                    let status = state.answers.lock().unwrap().pop_front().unwrap_or(204);
                    let delay = *state.delay.lock().unwrap();
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        );
        let listener = listener().await;
        let url = format!(
            "http://{}/hooks",
            listener.local_addr().expect("local addr")
        );
        let server = Target::serve(listener, url.clone(), router);
        Receiver {
            url,
            state,
            _server: server,
        }
    }

    /// The next requests are answered with these statuses, in order.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.answers.lock().unwrap().extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// How many requests it got so far.
    pub fn count(&self) -> usize {
        self.state.received.lock().unwrap().len()
    }

    /// Every answer from now on comes this late (a slow endpoint).
    pub fn answer_after(&self, delay: std::time::Duration) {
        *self.state.delay.lock().unwrap() = Some(delay);
    }
}
