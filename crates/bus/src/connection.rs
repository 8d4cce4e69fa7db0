//! The supervised connection: one task owns it, reconnects after loss, and publishes the
//! current link to publishers and consumers through a watch channel.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::ConfirmSelectOptions;
use lapin::types::{LongString, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, Event};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::BusError;
use crate::topology::{self, Topology};

#[derive(Clone, Debug)]
pub struct BusOptions {
    /// How long a publisher waits for the broker (connection and confirm) before failing.
    pub publish_timeout: Duration,
    /// How long [`Bus::connect`] waits for the first connection.
    pub connect_timeout: Duration,
    /// The longest a message whose handler wants it retried waits in a delay queue, whatever
    /// its queue's [`RetryPolicy`](crate::RetryPolicy) says (rounded down to a delay queue's
    /// wait; the shortest, 250 ms, at least). With the policy's tries this sets how long a
    /// dependency may be away before its messages are dead-lettered.
    pub retry_delay_cap: Duration,
}

impl Default for BusOptions {
    fn default() -> Self {
        Self {
            publish_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(60),
            // No shorter than the policies' longest wait: they decide.
            retry_delay_cap: Duration::from_secs(30),
        }
    }
}

/// One live connection and its confirm-mode publishing channel.
#[derive(Clone)]
pub(crate) struct Link {
    pub connection: Arc<Connection>,
    pub publisher: Channel,
    pub generation: u64,
    /// Asks the supervisor for a new connection: the broker can close the publishing channel
    /// and keep the connection, and a closed channel never reopens by itself.
    pub broken: Arc<tokio::sync::Notify>,
}

#[derive(Clone)]
pub struct Bus {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub topology: Topology,
    pub options: BusOptions,
    pub link: watch::Receiver<Option<Link>>,
    /// Stops the supervisor; cancelled by [`Bus::close`].
    supervisor: CancellationToken,
}

impl Bus {
    /// Connects, declares the topology and starts supervising the connection. Fails when no
    /// connection could be made within `connect_timeout`.
    pub async fn connect(
        url: &str,
        namespace: &str,
        options: BusOptions,
    ) -> Result<Self, BusError> {
        let topology = Topology::new(namespace);
        let (sender, mut receiver) = watch::channel(None);
        let supervisor = CancellationToken::new();
        tokio::spawn(supervise(
            url.to_string(),
            topology.clone(),
            sender,
            supervisor.clone(),
        ));
        let connected =
            tokio::time::timeout(options.connect_timeout, receiver.wait_for(Option::is_some))
                .await
                .is_ok_and(|result| result.is_ok());
        if !connected {
            supervisor.cancel();
            return Err(BusError::Unavailable(format!(
                "no connection to the message broker within {:?}",
                options.connect_timeout
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                topology,
                options,
                link: receiver,
                supervisor,
            }),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// True once [`Bus::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.supervisor.is_cancelled()
    }

    /// True while a connection is up (for readiness probes).
    pub fn is_connected(&self) -> bool {
        self.inner
            .link
            .borrow()
            .as_ref()
            .is_some_and(|link| link.connection.status().connected())
    }

    /// The current link, waiting for one up to `timeout`.
    pub(crate) async fn wait_for_link(&self, timeout: Duration) -> Result<Link, BusError> {
        let mut receiver = self.inner.link.clone();
        match tokio::time::timeout(timeout, receiver.wait_for(Option::is_some)).await {
            Ok(Ok(link)) => Ok(link.clone().expect("waited for Some")),
            Ok(Err(_)) => Err(BusError::Unavailable("bus closed".into())),
            Err(_) => Err(BusError::Unavailable(format!(
                "no connection to the message broker within {timeout:?}"
            ))),
        }
    }

    /// Runs `operation` on the connection of link `generation`, giving up as soon as the
    /// supervisor reports that connection lost. lapin can leave an operation queued just as its
    /// connection dies unresolved forever (seen with acks); whatever it was is void anyway: the
    /// broker returns the unsettled messages of a lost connection to their queues.
    pub(crate) async fn while_linked<T>(
        &self,
        generation: u64,
        operation: impl Future<Output = Result<T, lapin::Error>>,
    ) -> Result<T, BusError> {
        let mut receiver = self.inner.link.clone();
        let lost = receiver.wait_for(|current| {
            current
                .as_ref()
                .is_none_or(|link| link.generation != generation)
        });
        tokio::select! {
            biased;
            result = operation => result.map_err(BusError::from),
            _ = lost => Err(BusError::Unavailable(
                "lost the message broker connection".into(),
            )),
        }
    }
    /// Waits, at most `timeout`, until the supervisor has replaced (or dropped) `link`.
    pub(crate) async fn wait_for_replacement(&self, link: &Link, timeout: Duration) {
        let mut receiver = self.inner.link.clone();
        let generation = link.generation;
        let replaced = receiver.wait_for(|current| {
            current
                .as_ref()
                .is_none_or(|current| current.generation != generation)
        });
        let _ = tokio::time::timeout(timeout, replaced).await;
    }

    /// Deletes every queue and exchange of this namespace. For tests and teardown tools.
    pub async fn delete_topology(&self) -> Result<(), BusError> {
        let link = self
            .wait_for_link(self.inner.options.publish_timeout)
            .await?;
        let deleted = async {
            let channel = link.connection.create_channel().await?;
            topology::delete(&channel, &self.inner.topology).await?;
            let _ = channel.close(200, ShortString::from("done")).await;
            Ok(())
        };
        self.while_linked(link.generation, deleted).await
    }

    /// Stops supervising and closes the connection. Consumers should be drained first.
    pub async fn close(&self) {
        self.inner.supervisor.cancel();
        let link = self.inner.link.borrow().clone();
        if let Some(link) = link {
            let _ = link
                .connection
                .close(200, ShortString::from("shutting down"))
                .await;
        }
    }
}

async fn supervise(
    url: String,
    topology: Topology,
    sender: watch::Sender<Option<Link>>,
    stop: CancellationToken,
) {
    let mut generation = 0u64;
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        match establish(&url, &topology, generation + 1).await {
            Ok(link) => {
                generation += 1;
                failures = 0;
                tracing::info!(generation, "connected to the message broker");
                let connection = link.connection.clone();
                let broken = link.broken.clone();
                sender.send_replace(Some(link));
                tokio::select! {
                    reason = connection_lost(&connection) => {
                        tracing::warn!(%reason, "lost the message broker connection");
                    }
                    _ = broken.notified() => {
                        tracing::warn!("publishing channel closed, reconnecting");
                        let _ = connection.close(200, ShortString::from("reconnecting")).await;
                    }
                    _ = stop.cancelled() => {}
                }
                sender.send_replace(None);
            }
            Err(error) => {
                let wait = retry_delay(failures);
                failures += 1;
                tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "cannot connect to the message broker");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => {}
                }
            }
        }
    }
}

fn retry_delay(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(5)).min(3_000))
}

async fn establish(url: &str, topology: &Topology, generation: u64) -> Result<Link, BusError> {
    let properties = ConnectionProperties::default()
        .with_connection_name(LongString::from(format!("s4e-{}", topology.namespace())));
    let connection = tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(url, properties),
    )
    .await
    .map_err(|_| BusError::Unavailable("connect timed out".into()))??;
    declare(&connection, topology).await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(Link {
        connection: Arc::new(connection),
        publisher,
        generation,
        broken: Arc::default(),
    })
}

/// Declares the topology on a channel of its own, closed afterwards.
async fn declare(connection: &Connection, topology: &Topology) -> Result<(), BusError> {
    let channel = connection.create_channel().await?;
    topology::declare(&channel, topology).await?;
    let _ = channel.close(200, ShortString::from("declared")).await;
    Ok(())
}

/// Resolves when the connection reports an error or stops being connected. The status poll
/// covers losses that surface without an event.
async fn connection_lost(connection: &Connection) -> String {
    let mut events = connection.events_listener();
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Error(error)) => return error.to_string(),
                Some(_) => {}
                None => return "event stream ended".into(),
            },
            _ = poll.tick() => {
                if !connection.status().connected() {
                    return "connection no longer connected".to_string();
                }
            }
        }
    }
}
