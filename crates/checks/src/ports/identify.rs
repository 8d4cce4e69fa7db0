//! Service identification on an open port: listen for a greeting, then probe. The I/O only;
//! what the bytes mean is decided in `banner.rs`, `probes.rs` and the protocol modules.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::connect::{self, Outcome};
use super::excerpt::printable;
use super::probes::{Probe, Target};
use super::{Service, Verdict, banner};

/// The most reply bytes read per exchange: a greeting or a probe answer is recognised in far
/// less; an HTTP body beyond this is not needed.
const MAX_REPLY: usize = 16 * 1024;

/// What identification found: the service, and the bytes that identified it (else whatever
/// the port said, its greeting or the first reply to a probe), as printable text.
pub struct Identified {
    pub service: Option<Service>,
    pub banner: Option<String>,
}

pub struct Timeouts {
    pub connect: Duration,
    /// Bounds each exchange: the wait for a greeting, and each probe's request and reply.
    pub exchange: Duration,
}

/// Identifies the service behind `stream`, the scan's own connection to `addr`.
///
/// Many services speak first (SSH, SMTP, FTP, MySQL, VNC), so the greeting is read on the
/// connection we already have before anything is sent. A silent port gets the probes in
/// [`Probe::order`], each on a fresh connection since a wrong request may leave the service
/// waiting for the rest of it, or make it hang up. The worst case, a port that accepts and
/// never says anything, costs one greeting wait plus one exchange per probe.
pub async fn identify(
    mut stream: TcpStream,
    addr: SocketAddr,
    target: &Target<'_>,
    timeouts: &Timeouts,
) -> Identified {
    let port = addr.port();
    let (greeting, verdict) = exchange(&mut stream, None, timeouts.exchange, |bytes, end| {
        banner::parse(port, bytes, end)
    })
    .await;
    drop(stream);
    let greeting = (!greeting.is_empty()).then(|| printable(&greeting));
    if let Verdict::Is(service) = verdict {
        return Identified {
            service: Some(service),
            banner: greeting,
        };
    }
    let mut first_reply = None;
    for probe in Probe::order(port) {
        let mut stream = match connect::connect(addr, timeouts.connect).await {
            Outcome::Open(stream) => stream,
            // Identification is best effort: a port that stopped answering, or a machine out
            // of sockets, leaves the port open and unidentified.
            _ => continue,
        };
        let request = probe.request(target);
        let (reply, verdict) =
            exchange(&mut stream, Some(&request), timeouts.exchange, |b, end| {
                probe.parse(b, end)
            })
            .await;
        if let Verdict::Is(service) = verdict {
            tracing::debug!(%addr, ?probe, service = service.name, "ports: identified");
            return Identified {
                service: Some(service),
                banner: Some(printable(&reply)),
            };
        }
        if first_reply.is_none() && !reply.is_empty() {
            first_reply = Some(printable(&reply));
        }
    }
    Identified {
        service: None,
        banner: greeting.or(first_reply),
    }
}

/// Sends `request` (if any), then reads until `judge` decides, the peer closes, `wait` has
/// passed or [`MAX_REPLY`] bytes have arrived; returns the bytes and the final verdict, never
/// [`Verdict::More`].
async fn exchange(
    stream: &mut TcpStream,
    request: Option<&[u8]>,
    wait: Duration,
    judge: impl Fn(&[u8], bool) -> Verdict,
) -> (Vec<u8>, Verdict) {
    let deadline = Instant::now() + wait;
    if let Some(request) = request
        && !matches!(
            timeout_at(deadline, stream.write_all(request)).await,
            Ok(Ok(()))
        )
    {
        return (Vec::new(), Verdict::Not);
    }
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // A timeout, a reset and a close all end the reply: judge what came.
        let read = match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(read)) => read,
            Ok(Err(_)) | Err(_) => 0,
        };
        let room = MAX_REPLY - reply.len();
        reply.extend_from_slice(&chunk[..read.min(room)]);
        let end = read == 0 || reply.len() >= MAX_REPLY;
        match judge(&reply, end) {
            Verdict::More if end => return (reply, Verdict::Not),
            Verdict::More => {}
            verdict => return (reply, verdict),
        }
    }
}
