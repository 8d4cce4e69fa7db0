//! Integration tests against a real RabbitMQ (`S4E_TEST_AMQP_URL`, by default the local broker).
//!
//! Every test works in its own namespace and deletes that namespace's topology at the end, also
//! when it fails. Nothing sleeps for a fixed time: tests wait for conditions with deadlines, and
//! the few checks that something does *not* happen wait a short, bounded time.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use s4e_bus::topology::{DELIVERY_LIMIT, DISPATCH_ROUTING_KEY};
use s4e_bus::{Bus, BusError, BusOptions, DeadLetter, Exchange, Incoming, Outcome, Queue};
use s4e_types::{AssetId, CheckKind, Envelope, JobId, JobSpec, Message, OrgId, RunId};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

/// How long a test waits for something that should happen.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long a test waits to be sure something does not happen.
const QUIET: Duration = Duration::from_millis(750);
/// How often conditions without a notification (connection state, queue state) are polled.
const POLL: Duration = Duration::from_millis(25);

fn amqp_url() -> String {
    std::env::var("S4E_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string())
}

fn options() -> BusOptions {
    BusOptions {
        publish_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(10),
        // Short, so the delivery-limit test takes seconds, not minutes.
        retry_delay_cap: Duration::from_millis(20),
    }
}

async fn connect(namespace: &str) -> Bus {
    Bus::connect(&amqp_url(), namespace, options())
        .await
        .expect("connect to the test broker")
}

/// Logs go to the test's captured output (shown when it fails); `RUST_LOG` overrides the filter.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("s4e_bus=debug,bus=debug,lapin=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Runs `test` in a fresh namespace, then deletes the namespace's topology — also when the
/// test panics (the panic is resumed after the cleanup).
async fn in_namespace<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    init_logs();
    let namespace = format!("t{}", uuid::Uuid::now_v7().simple());
    tracing::info!(%namespace, "test namespace");
    let outcome = AssertUnwindSafe(test(namespace.clone()))
        .catch_unwind()
        .await;
    // A bus of its own: the test's bus may be the broken one.
    let cleanup = async {
        let bus = Bus::connect(&amqp_url(), &namespace, options()).await?;
        let deleted = bus.delete_topology().await;
        bus.close().await;
        deleted
    }
    .await;
    match outcome {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(()) => cleanup.expect("delete the test topology"),
    }
}

fn job() -> Envelope {
    Envelope::new(
        OrgId::new(),
        Message::ScanJob(JobSpec {
            job_id: JobId::new(),
            run_id: RunId::new(),
            asset_id: AssetId::new(),
            check: CheckKind::HttpHeaders,
            target: "https://example.com/".into(),
            ports: None,
        }),
    )
}

async fn publish_job(bus: &Bus, envelope: &Envelope) {
    bus.publish(Exchange::Dispatch, DISPATCH_ROUTING_KEY, envelope)
        .await
        .expect("publish");
}

/// A consumer whose handler reports every message to the returned receiver and answers with
/// `outcome(call number, message)` (call numbers start at 1).
fn recording_consumer<O>(
    bus: &Bus,
    queue: Queue,
    shutdown: &CancellationToken,
    outcome: O,
) -> (JoinHandle<()>, mpsc::UnboundedReceiver<Incoming>)
where
    O: Fn(u32, &Incoming) -> Outcome + Send + Sync + 'static,
{
    let (sender, receiver) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicU32::new(0));
    let outcome = Arc::new(outcome);
    let handle = bus.consume(queue, 4, shutdown.clone(), move |incoming| {
        let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let result = outcome(call, &incoming);
        let _ = sender.send(incoming);
        async move { result }
    });
    (handle, receiver)
}

async fn next<T>(receiver: &mut mpsc::UnboundedReceiver<T>, within: Duration, what: &str) -> T {
    match timeout(within, receiver.recv()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("the handler went away while waiting for {what}"),
        Err(_) => panic!("no {what} within {within:?}"),
    }
}

/// Asserts that nothing arrives within [`QUIET`].
async fn assert_quiet<T: std::fmt::Debug>(receiver: &mut mpsc::UnboundedReceiver<T>, what: &str) {
    if let Ok(Some(item)) = timeout(QUIET, receiver.recv()).await {
        panic!("{what}: unexpected {item:?}");
    }
}

async fn wait_until(within: Duration, what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "not {what} within {within:?}");
        tokio::time::sleep(POLL).await;
    }
}

async fn stop(shutdown: &CancellationToken, consumer: JoinHandle<()>) {
    shutdown.cancel();
    timeout(DEADLINE, consumer)
        .await
        .expect("the consumer stops in time")
        .expect("the consumer task does not panic");
}

async fn wait_for_dead_letter(bus: &Bus, within: Duration) -> DeadLetter {
    let deadline = Instant::now() + within;
    loop {
        if let Some(dead) = bus.take_dead_letter().await.expect("read dead letters") {
            return dead;
        }
        assert!(
            Instant::now() < deadline,
            "no dead letter within {within:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A plain lapin connection to the broker, for what the bus does not offer on purpose.
async fn raw_channel() -> (Connection, lapin::Channel) {
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .expect("raw connection");
    let channel = connection.create_channel().await.expect("raw channel");
    (connection, channel)
}

/// Ready messages and consumers of a queue, as the broker reports them.
async fn queue_state(queue: &str) -> (u32, u32) {
    let (connection, channel) = raw_channel().await;
    let state = channel
        .queue_declare(
            ShortString::from(queue),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("passive queue declare");
    let _ = connection.close(200, ShortString::from("done")).await;
    (state.message_count(), state.consumer_count())
}

async fn wait_for_consumers(queue: &str, count: u32) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, consumers) = queue_state(queue).await;
        if consumers == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{queue} has {consumers} consumers, not {count}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Starts a second consumer on the queue and asserts it receives nothing, the dead-letter
/// queue is empty and no message is ready: the earlier messages were settled for good.
async fn assert_queue_drained(bus: &Bus, queue: Queue) {
    let queue_name = bus.topology().queue(queue);
    let shutdown = CancellationToken::new();
    let (consumer, mut received) = recording_consumer(bus, queue, &shutdown, |_, _| Outcome::Ack);
    wait_for_consumers(&queue_name, 1).await;
    assert_quiet(&mut received, "a second consumer").await;
    stop(&shutdown, consumer).await;
    assert!(
        bus.take_dead_letter()
            .await
            .expect("read dead letters")
            .is_none(),
        "nothing was dead-lettered"
    );
    assert_eq!(
        queue_state(&queue_name).await,
        (0, 0),
        "{queue_name} is empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_envelope_is_consumed_and_acked() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let shutdown = CancellationToken::new();
        let (consumer, mut received) =
            recording_consumer(&bus, Queue::Dispatch, &shutdown, |_, _| Outcome::Ack);

        let envelope = job();
        publish_job(&bus, &envelope).await;
        let incoming = next(&mut received, DEADLINE, "the published envelope").await;
        assert_eq!(incoming.envelope, envelope);
        assert!(!incoming.redelivered);
        assert_quiet(&mut received, "after the only message").await;

        stop(&shutdown, consumer).await;
        assert_queue_drained(&bus, Queue::Dispatch).await;
        bus.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_is_dead_lettered_and_consuming_goes_on() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let queue_name = bus.topology().queue(Queue::Dispatch);
        let shutdown = CancellationToken::new();
        let (consumer, mut received) =
            recording_consumer(&bus, Queue::Dispatch, &shutdown, |_, _| Outcome::Ack);

        // Raw bytes the bus itself would never publish.
        let (connection, channel) = raw_channel().await;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm mode");
        let confirmation = channel
            .basic_publish(
                ShortString::from(bus.topology().exchange(Exchange::Dispatch)),
                ShortString::from(DISPATCH_ROUTING_KEY),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                b"{not json",
                BasicProperties::default(),
            )
            .await
            .expect("raw publish")
            .await
            .expect("raw publish confirm");
        assert!(
            matches!(confirmation, lapin::Confirmation::Ack(None)),
            "routed and confirmed: {confirmation:?}"
        );
        let _ = connection.close(200, ShortString::from("done")).await;

        let envelope = job();
        publish_job(&bus, &envelope).await;
        let incoming = next(&mut received, DEADLINE, "the valid envelope").await;
        assert_eq!(
            incoming.envelope, envelope,
            "the handler never sees the malformed body"
        );

        let dead = wait_for_dead_letter(&bus, DEADLINE).await;
        assert_eq!(dead.body, b"{not json");
        assert!(
            dead.reason.starts_with("malformed message"),
            "reason: {}",
            dead.reason
        );
        assert_eq!(dead.source_queue.as_deref(), Some(queue_name.as_str()));
        assert_quiet(&mut received, "after the valid message").await;

        stop(&shutdown, consumer).await;
        assert_queue_drained(&bus, Queue::Dispatch).await;
        bus.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_can_dead_letter_with_a_reason() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let queue_name = bus.topology().queue(Queue::Dispatch);
        let shutdown = CancellationToken::new();
        let (consumer, mut received) =
            recording_consumer(&bus, Queue::Dispatch, &shutdown, |_, _| {
                Outcome::DeadLetter("nope".into())
            });

        let envelope = job();
        publish_job(&bus, &envelope).await;
        let incoming = next(&mut received, DEADLINE, "the envelope").await;
        assert_eq!(incoming.envelope, envelope);

        let dead = wait_for_dead_letter(&bus, DEADLINE).await;
        assert_eq!(dead.reason, "nope");
        assert_eq!(dead.source_queue.as_deref(), Some(queue_name.as_str()));
        let body: Envelope = serde_json::from_slice(&dead.body).expect("the original body");
        assert_eq!(body, envelope);
        assert_quiet(&mut received, "after dead-lettering").await;

        stop(&shutdown, consumer).await;
        assert_queue_drained(&bus, Queue::Dispatch).await;
        bus.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_message_comes_back_once_more() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let shutdown = CancellationToken::new();
        let (consumer, mut received) =
            recording_consumer(&bus, Queue::Dispatch, &shutdown, |call, _| {
                if call == 1 {
                    Outcome::Retry("not yet".into())
                } else {
                    Outcome::Ack
                }
            });

        let envelope = job();
        publish_job(&bus, &envelope).await;
        let first = next(&mut received, DEADLINE, "the first delivery").await;
        assert_eq!(first.envelope, envelope);
        assert!(!first.redelivered);
        assert_eq!(first.envelope.attempt, 0);

        let second = next(&mut received, DEADLINE, "the retried delivery").await;
        assert_eq!(second.envelope.id, envelope.id);
        assert!(
            second.redelivered || second.envelope.attempt >= 1,
            "the second delivery is marked as such: {second:?}"
        );
        assert_eq!(second.envelope.message, envelope.message);
        assert_quiet(&mut received, "after the acked retry").await;

        stop(&shutdown, consumer).await;
        assert_queue_drained(&bus, Queue::Dispatch).await;
        bus.close().await;
    })
    .await;
}

/// A consumer whose handler reports every message to the returned receiver and then panics,
/// as a handler that crashes on a message would.
fn crashing_consumer(
    bus: &Bus,
    queue: Queue,
    shutdown: &CancellationToken,
) -> (JoinHandle<()>, mpsc::UnboundedReceiver<Incoming>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let handle = bus.consume(queue, 4, shutdown.clone(), move |incoming| {
        let _ = sender.send(incoming);
        async move { panic!("the handler crashed") }
    });
    (handle, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_failing_is_dead_lettered_by_the_broker() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let queue_name = bus.topology().queue(Queue::Dispatch);
        let shutdown = CancellationToken::new();
        // Deliveries that end without a verdict are the broker's to count.
        let (consumer, mut received) = crashing_consumer(&bus, Queue::Dispatch, &shutdown);

        let envelope = job();
        let started = Instant::now();
        publish_job(&bus, &envelope).await;

        let dead = wait_for_dead_letter(&bus, Duration::from_secs(30)).await;
        assert_eq!(dead.reason, "delivery_limit");
        assert_eq!(dead.source_queue.as_deref(), Some(queue_name.as_str()));
        let body: Envelope = serde_json::from_slice(&dead.body).expect("the original body");
        assert_eq!(body.id, envelope.id);
        eprintln!("dead-lettered after {:?}", started.elapsed());

        let mut deliveries = Vec::new();
        while let Ok(incoming) = received.try_recv() {
            deliveries.push(incoming);
        }
        assert_quiet(&mut received, "after the broker dead-lettered the message").await;
        let limit = DELIVERY_LIMIT as usize;
        assert_eq!(
            deliveries.len(),
            limit + 1,
            "handed out once and redelivered {limit} times"
        );
        for (attempt, incoming) in deliveries.iter().enumerate() {
            assert_eq!(incoming.envelope.id, envelope.id);
            assert_eq!(incoming.envelope.attempt as usize, attempt);
            assert_eq!(incoming.redelivered, attempt > 0);
        }

        stop(&shutdown, consumer).await;
        assert_queue_drained(&bus, Queue::Dispatch).await;
        bus.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waits_in_a_delay_queue_and_only_retries_count() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let queue = Queue::Jobs(CheckKind::HttpHeaders);
        let shutdown = CancellationToken::new();
        let (consumer, mut received) =
            recording_consumer(&bus, queue, &shutdown, |call, _| match call {
                1 => Outcome::Later("cap reached".into()),
                2 => Outcome::Retry("dependency away".into()),
                _ => Outcome::Ack,
            });
        let envelope = job();
        bus.publish(Exchange::Jobs, CheckKind::HttpHeaders.as_str(), &envelope)
            .await
            .expect("publish");
        let first = next(&mut received, DEADLINE, "the first delivery").await;
        let handed_out = Instant::now();
        assert_eq!(first.envelope.attempt, 0);
        // Back from the one-second delay queue, to the same queue, not counted as a try.
        let second = next(&mut received, DEADLINE, "the deferred delivery").await;
        assert!(handed_out.elapsed() >= Duration::from_millis(900));
        assert_eq!(second.envelope, first.envelope);
        // Back from the shortest delay queue, counted.
        let third = next(&mut received, DEADLINE, "the retried delivery").await;
        assert_eq!(third.envelope.id, envelope.id);
        assert_eq!(third.envelope.attempt, 1);
        assert_quiet(&mut received, "after the ack").await;
        stop(&shutdown, consumer).await;
        assert_queue_drained(&bus, queue).await;
        bus.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_is_dead_lettered_after_its_tries() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let queue = Queue::Jobs(CheckKind::HttpHeaders);
        let shutdown = CancellationToken::new();
        let (consumer, mut received) = recording_consumer(&bus, queue, &shutdown, |_, _| {
            Outcome::Retry("always failing".into())
        });
        let envelope = job();
        bus.publish(Exchange::Jobs, CheckKind::HttpHeaders.as_str(), &envelope)
            .await
            .expect("publish");
        let dead = wait_for_dead_letter(&bus, Duration::from_secs(30)).await;
        assert_eq!(dead.reason, "gave up after 10 tries: always failing");
        let body: Envelope = serde_json::from_slice(&dead.body).expect("the original body");
        assert_eq!(body.id, envelope.id);
        let mut tries = 0;
        while received.try_recv().is_ok() {
            tries += 1;
        }
        assert_eq!(Some(tries), queue.retry_policy().tries);
        stop(&shutdown, consumer).await;
        bus.close().await;
    })
    .await;
}

/// Not only job queues: an event that cannot be handled yet waits in a delay queue, so the one
/// delivery slot goes to the next event at once, and it is dead-lettered after its tries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_waits_in_a_delay_queue_without_holding_its_slot() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let queue = Queue::TriggerEvents;
        let shutdown = CancellationToken::new();
        let failing = job();
        let failing_id = failing.id;
        let (sender, mut received) = mpsc::unbounded_channel();
        // One message in flight at a time.
        let consumer = bus.consume(queue, 1, shutdown.clone(), move |incoming: Incoming| {
            let outcome = if incoming.envelope.id == failing_id {
                Outcome::Retry("receiver away".into())
            } else {
                Outcome::Ack
            };
            let _ = sender.send(incoming.envelope.id);
            async move { outcome }
        });
        let next_event = job();
        for envelope in [&failing, &next_event] {
            bus.publish(Exchange::Events, "scan.completed", envelope)
                .await
                .expect("publish");
        }
        let first = next(&mut received, DEADLINE, "the failing event").await;
        assert_eq!(first, failing_id);
        // The failing event's retry waits elsewhere: the next event is handled meanwhile.
        let second = next(&mut received, DEADLINE, "the next event").await;
        assert_eq!(second, next_event.id);
        let dead = wait_for_dead_letter(&bus, Duration::from_secs(30)).await;
        assert_eq!(dead.reason, "gave up after 10 tries: receiver away");
        let body: Envelope = serde_json::from_slice(&dead.body).expect("the original body");
        assert_eq!(body.id, failing_id);
        let mut tries = 1;
        while let Ok(id) = received.try_recv() {
            assert_eq!(id, failing_id);
            tries += 1;
        }
        assert_eq!(Some(tries), queue.retry_policy().tries);
        stop(&shutdown, consumer).await;
        bus.close().await;
    })
    .await;
}

/// A TCP proxy in front of the broker that can cut every live connection and stop accepting.
struct Proxy {
    address: SocketAddr,
    upstream: String,
    acceptor: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let links = Arc::new(Mutex::new(Vec::new()));
        let acceptor = Some(Self::accept(listener, upstream.clone(), links.clone()));
        Self {
            address,
            upstream,
            acceptor,
            links,
        }
    }

    fn accept(
        listener: TcpListener,
        upstream: String,
        links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        })
    }

    /// Closes every proxied connection, on both sides (like a broker going away).
    async fn cut(&self) {
        let links: Vec<_> = self.links.lock().unwrap().drain(..).collect();
        for link in links {
            link.abort();
            let _ = link.await;
        }
    }

    /// Closes the listener (connections are refused) and cuts every live connection.
    async fn refuse(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
            let _ = acceptor.await;
        }
        self.cut().await;
    }

    /// Listens again on the same port.
    fn resume(&mut self) {
        assert!(self.acceptor.is_none(), "the proxy is accepting already");
        let socket = TcpSocket::new_v4().expect("proxy socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.address).expect("rebind the proxy port");
        let listener = socket.listen(128).expect("listen");
        self.acceptor = Some(Self::accept(
            listener,
            self.upstream.clone(),
            self.links.clone(),
        ));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

/// Splits `amqp://user:pass@host:port/vhost` into `host:port` and a function that rewrites the
/// URL to another address.
fn split_amqp_url(url: &str) -> (String, impl Fn(SocketAddr) -> String + use<>) {
    let (scheme, rest) = url.split_once("://").expect("amqp URL with a scheme");
    let (credentials, rest) = match rest.rsplit_once('@') {
        Some((credentials, rest)) => (format!("{credentials}@"), rest),
        None => (String::new(), rest),
    };
    let (host_port, path) = match rest.split_once('/') {
        Some((host_port, path)) => (host_port, format!("/{path}")),
        None => (rest, String::new()),
    };
    let upstream = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5672")
    };
    let scheme = scheme.to_string();
    (upstream, move |address: SocketAddr| {
        format!("{scheme}://{credentials}{address}{path}")
    })
}

/// Receives deliveries until `expected` arrives. Earlier messages may come back once more
/// (their ack can be lost with the connection) but only flagged as redelivered.
async fn next_matching(
    received: &mut mpsc::UnboundedReceiver<Incoming>,
    expected: &Envelope,
    earlier: &[&Envelope],
    within: Duration,
) -> Incoming {
    let deadline = Instant::now() + within;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let incoming = next(received, remaining, "the expected envelope").await;
        if incoming.envelope.id == expected.id {
            return incoming;
        }
        tracing::debug!(
            id = %incoming.envelope.id,
            redelivered = incoming.redelivered,
            "an earlier message again"
        );
        assert!(
            incoming.redelivered && earlier.iter().any(|e| e.id == incoming.envelope.id),
            "unexpected delivery {incoming:?}"
        );
    }
}

/// Asserts that within [`QUIET`] nothing arrives but redeliveries of `earlier` messages.
async fn assert_no_new_deliveries(
    received: &mut mpsc::UnboundedReceiver<Incoming>,
    earlier: &[&Envelope],
) {
    let deadline = Instant::now() + QUIET;
    while let Ok(Some(incoming)) = tokio::time::timeout_at(deadline, received.recv()).await {
        tracing::debug!(
            id = %incoming.envelope.id,
            redelivered = incoming.redelivered,
            "an earlier message again"
        );
        assert!(
            incoming.redelivered && earlier.iter().any(|e| e.id == incoming.envelope.id),
            "unexpected delivery {incoming:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_recovers_from_a_lost_broker() {
    in_namespace(|namespace| async move {
        let (upstream, via) = split_amqp_url(&amqp_url());
        let mut proxy = Proxy::start(upstream).await;
        let bus = Bus::connect(
            &via(proxy.address),
            &namespace,
            BusOptions {
                publish_timeout: Duration::from_secs(1),
                ..options()
            },
        )
        .await
        .expect("connect through the proxy");
        let shutdown = CancellationToken::new();
        let (consumer, mut received) =
            recording_consumer(&bus, Queue::Dispatch, &shutdown, |_, _| Outcome::Ack);

        let first = job();
        publish_job(&bus, &first).await;
        let incoming = next(&mut received, DEADLINE, "the first envelope").await;
        assert_eq!(incoming.envelope, first);

        // The broker goes away and comes back at once.
        proxy.cut().await;
        wait_until(DEADLINE, "disconnected", || !bus.is_connected()).await;
        wait_until(Duration::from_secs(20), "reconnected", || {
            bus.is_connected()
        })
        .await;
        let second = job();
        publish_job(&bus, &second).await;
        let incoming =
            next_matching(&mut received, &second, &[&first], Duration::from_secs(20)).await;
        assert_eq!(incoming.envelope, second);

        // The broker stays away: publishing fails in time instead of hanging.
        proxy.refuse().await;
        wait_until(DEADLINE, "disconnected", || !bus.is_connected()).await;
        let started = Instant::now();
        let refused = timeout(
            Duration::from_secs(5),
            bus.publish(Exchange::Dispatch, DISPATCH_ROUTING_KEY, &job()),
        )
        .await
        .expect("a publish without a broker does not hang");
        assert!(
            matches!(refused, Err(BusError::Unavailable(_))),
            "publishing without a broker: {refused:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "failed after {:?}",
            started.elapsed()
        );
        assert!(!bus.is_connected());

        // The broker is back.
        proxy.resume();
        wait_until(Duration::from_secs(20), "reconnected", || {
            bus.is_connected()
        })
        .await;
        let third = job();
        publish_job(&bus, &third).await;
        let incoming = next_matching(
            &mut received,
            &third,
            &[&first, &second],
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(incoming.envelope, third);
        assert_no_new_deliveries(&mut received, &[&first, &second, &third]).await;

        stop(&shutdown, consumer).await;
        bus.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_handler_in_flight_and_acks() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let release = Arc::new(Notify::new());
        let finished = Arc::new(AtomicU32::new(0));
        let (started, mut handling) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let mut consumer = bus.consume(Queue::Dispatch, 4, shutdown.clone(), {
            let release = release.clone();
            let finished = finished.clone();
            move |incoming: Incoming| {
                let release = release.clone();
                let finished = finished.clone();
                let _ = started.send(incoming);
                async move {
                    release.notified().await;
                    finished.fetch_add(1, Ordering::SeqCst);
                    Outcome::Ack
                }
            }
        });

        let envelope = job();
        publish_job(&bus, &envelope).await;
        let incoming = next(&mut handling, DEADLINE, "the handler to start").await;
        assert_eq!(incoming.envelope, envelope);

        shutdown.cancel();
        assert!(
            timeout(QUIET, &mut consumer).await.is_err(),
            "the consumer finished while its handler was still running"
        );
        assert_eq!(finished.load(Ordering::SeqCst), 0);

        release.notify_one();
        timeout(DEADLINE, consumer)
            .await
            .expect("the consumer finishes once the handler is released")
            .expect("the consumer task does not panic");
        assert_eq!(finished.load(Ordering::SeqCst), 1);
        assert_quiet(&mut handling, "after shutdown").await;

        // Acked: a new consumer does not get it again.
        assert_queue_drained(&bus, Queue::Dispatch).await;
        bus.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_bus_ends_its_consumers() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let queue_name = bus.topology().queue(Queue::Dispatch);
        let (consumer, _received) =
            recording_consumer(&bus, Queue::Dispatch, &CancellationToken::new(), |_, _| {
                Outcome::Ack
            });
        wait_for_consumers(&queue_name, 1).await;
        bus.close().await;
        timeout(DEADLINE, consumer)
            .await
            .expect("the consumer ends with its bus")
            .expect("the consumer task does not panic");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_context_travels_with_the_message() {
    in_namespace(|namespace| async move {
        let bus = connect(&namespace).await;
        let (seen_sender, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let consumer = bus.consume(Queue::Dispatch, 1, shutdown.clone(), move |_incoming| {
            let seen_sender = seen_sender.clone();
            async move {
                let _ = seen_sender.send(s4e_trace::current());
                Outcome::Ack
            }
        });
        let root = s4e_trace::TraceContext::new_root();
        s4e_trace::scope(root, publish_job(&bus, &job())).await;
        let received = timeout(DEADLINE, seen.recv())
            .await
            .expect("the message is handled")
            .expect("a context or none");
        let received = received.expect("the handler runs inside a trace context");
        assert_eq!(received.trace_id(), root.trace_id());
        assert_ne!(received, root, "the next hop gets its own span id");

        // A message published outside any trace still gets a (new) context.
        publish_job(&bus, &job()).await;
        let fresh = timeout(DEADLINE, seen.recv()).await.unwrap().unwrap();
        assert!(fresh.is_some_and(|context| context.trace_id() != root.trace_id()));
        shutdown.cancel();
        consumer.await.unwrap();
        bus.close().await;
    })
    .await;
}
