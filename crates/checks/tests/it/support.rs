//! Real local servers for the integration tests, on 127.0.0.1 and a port the OS picks.
//! Each server stops when its handle is dropped, that is when the test ends.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::serve::{Listener, ListenerExt};
use s4e_checks::CheckContext;
use s4e_egress::EgressPolicy;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Generous: only a bug makes a local request take this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn lax() -> EgressPolicy {
    EgressPolicy::allowing_private()
}

pub fn strict() -> EgressPolicy {
    EgressPolicy::strict()
}

/// What the checks run with here: `egress`, and `timeout` as the time limit of every check.
pub fn context(egress: EgressPolicy, timeout: Duration) -> CheckContext {
    CheckContext {
        egress,
        timeout,
        port_scan_timeout: timeout,
        ..CheckContext::default()
    }
}

/// What a server answers to every request.
#[derive(Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn ok(headers: &[(&'static str, &str)]) -> Self {
        Reply {
            status: StatusCode::OK,
            headers: headers
                .iter()
                .map(|(name, value)| (*name, (*value).to_owned()))
                .collect(),
            body: "<html><body>ok</body></html>".into(),
        }
    }

    fn response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        for (name, value) in &self.headers {
            response.headers_mut().append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("test header value"),
            );
        }
        response
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub user_agent: Option<String>,
    pub origin: Option<String>,
}

/// A running server; stops on drop.
pub struct Server {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Server {
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/", self.addr)
    }

    /// TCP connections accepted so far (counted before any byte is read).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.requests.lock().expect("requests lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plain HTTP server on 127.0.0.1.
pub async fn http(reply: Reply) -> Server {
    http_app(replying(reply)).await
}

/// An HTTPS server on `ip` with a self-signed certificate for `localhost` made for the test.
pub async fn https_on(ip: std::net::IpAddr, reply: Reply) -> Server {
    https_app(ip, replying(reply)).await
}

/// A plain HTTP server on 127.0.0.1 running `app` (for answers that depend on the request).
pub async fn http_app(app: Router) -> Server {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    serve(tcp, app)
}

/// An HTTPS server on `ip` running `app`, with a certificate made for the test.
pub async fn https_app(ip: std::net::IpAddr, app: Router) -> Server {
    let tcp = TcpListener::bind((ip, 0)).await.expect("bind");
    serve(TlsListener::new(tcp), app)
}

/// An app answering every request with `reply`.
fn replying(reply: Reply) -> Router {
    Router::new().fallback(move || {
        let response = reply.response();
        async move { response }
    })
}

fn serve<L>(listener: L, app: Router) -> Server
where
    L: Listener<Addr = SocketAddr>,
{
    let addr = listener.local_addr().expect("local addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let counter = connections.clone();
    let listener = listener.tap_io(move |_io| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let seen = requests.clone();
    let app = app.layer(axum::middleware::map_request(move |request: Request| {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        seen.lock().expect("requests lock").push(Seen {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            user_agent: header("user-agent"),
            origin: header("origin"),
        });
        async move { request }
    }));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Server {
        addr,
        connections,
        requests,
        task,
    }
}

/// A server that accepts connections and never answers.
pub async fn silent() -> Server {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("local addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let task = tokio::spawn(async move {
        // Held, not dropped: a closed socket would answer with an error instead of silence.
        let mut held: Vec<TcpStream> = Vec::new();
        while let Ok((stream, _)) = tcp.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    Server {
        addr,
        connections,
        requests: Arc::default(),
        task,
    }
}

/// A local port nothing listens on: bound by us, then released.
pub async fn closed_port() -> u16 {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    tcp.local_addr().expect("local addr").port()
}

/// TCP plus a TLS handshake, so axum serves HTTPS like any other listener.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsListener {
    fn new(tcp: TcpListener) -> Self {
        TlsListener {
            tcp,
            acceptor: tls_acceptor(),
        }
    }
}

/// A TLS acceptor with a self-signed certificate for `localhost` made for the test.
pub fn tls_acceptor() -> TlsAcceptor {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
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

impl Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

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

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
