//! One TCP connect, judged as a port state, and the file-descriptor budget that bounds how
//! many run at once.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

/// What one connect attempt says about a port.
#[derive(Debug)]
pub enum Outcome {
    Open(TcpStream),
    /// Refused (RST): nothing listens.
    Closed,
    /// No answer within the connect timeout: a firewall drops the SYN (nmap's "filtered").
    Filtered,
    /// The network said the host cannot be reached (ICMP host/network unreachable).
    Unreachable,
    /// Our own machine ran out of sockets for longer than [`LOCAL_RETRY_LIMIT`]: nothing was
    /// learnt about the port, so it must not be reported closed.
    Exhausted(io::Error),
}

/// How long a connect that fails for lack of local resources is retried before the scan
/// gives up. Our own scan stays below the descriptor limit, so this only runs out when
/// something else in the process holds nearly all descriptors for that long.
const LOCAL_RETRY_LIMIT: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// Connects to `addr`, waiting at most `wait` for the handshake.
pub async fn connect(addr: SocketAddr, wait: Duration) -> Outcome {
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let err = match timeout(wait, TcpStream::connect(addr)).await {
            Err(_elapsed) => return Outcome::Filtered,
            Ok(Ok(stream)) if is_self_connection(&stream) => return Outcome::Closed,
            Ok(Ok(stream)) => return Outcome::Open(stream),
            Ok(Err(err)) => err,
        };
        if is_local_exhaustion(&err) {
            // EMFILE says nothing about the port: wait for descriptors to free up, try again.
            if started.elapsed() >= LOCAL_RETRY_LIMIT {
                return Outcome::Exhausted(err);
            }
            sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        }
        return match err.kind() {
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                Outcome::Unreachable
            }
            io::ErrorKind::TimedOut => Outcome::Filtered,
            // Refused, reset, and whatever else a peer answers with: nothing to talk to.
            _ => Outcome::Closed,
        };
    }
}

/// Linux can connect a socket to itself: connecting to a closed local port in the ephemeral
/// range, the kernel may pick that very port as the source, and the simultaneous open
/// succeeds with nobody listening. Such a "connection" is a closed port.
fn is_self_connection(stream: &TcpStream) -> bool {
    matches!((stream.local_addr(), stream.peer_addr()), (Ok(local), Ok(peer)) if local == peer)
}

/// EMFILE and ENFILE (out of file descriptors, per process and system-wide; the same numbers
/// on Linux, the BSDs and macOS), ENOMEM, and EADDRNOTAVAIL (no free ephemeral port):
/// failures of our machine, not answers from the target.
fn is_local_exhaustion(err: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(err.raw_os_error(), Some(ENFILE | EMFILE))
        || matches!(
            err.kind(),
            io::ErrorKind::OutOfMemory | io::ErrorKind::AddrNotAvailable
        )
}

/// Descriptors kept free for everything else the process does (its runtime, logs, the
/// connections of a worker to its queues and stores) on top of those already open.
const HEADROOM: usize = 64;

/// The concurrency to scan with: `wanted`, or less when the process may not open that many
/// sockets. Raises the soft RLIMIT_NOFILE (up to the hard limit) first when it is too low,
/// since a default soft limit of 1024 would otherwise cap a large scan needlessly. Each
/// in-flight port holds at most one socket at a time.
pub fn fit_concurrency(wanted: usize) -> usize {
    let wanted = wanted.max(1);
    let in_use = open_descriptors();
    let needed = wanted + in_use + HEADROOM;
    let soft = match rlimit::increase_nofile_limit(needed as u64) {
        Ok(soft) => soft,
        Err(err) => {
            tracing::warn!(error = %err, "ports: could not raise the open-files limit");
            match rlimit::getrlimit(rlimit::Resource::NOFILE) {
                Ok((soft, _hard)) => soft,
                // The limit cannot be read either: trust the caller, and rely on the EMFILE
                // retry in `connect`.
                Err(_) => return wanted,
            }
        }
    };
    let soft = usize::try_from(soft).unwrap_or(usize::MAX);
    let allowed = soft.saturating_sub(in_use + HEADROOM).max(1);
    if allowed < wanted {
        tracing::info!(
            wanted,
            allowed,
            soft_limit = soft,
            "ports: concurrency capped by the open-files limit"
        );
    }
    wanted.min(allowed)
}

/// How many descriptors the process has open now (Linux: `/proc/self/fd`); a guess of
/// [`HEADROOM`] elsewhere.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(HEADROOM, Iterator::count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_not_an_answer() {
        assert!(is_local_exhaustion(&io::Error::from_raw_os_error(24)));
        assert!(is_local_exhaustion(&io::Error::from_raw_os_error(23)));
        assert!(is_local_exhaustion(&io::Error::from(
            io::ErrorKind::AddrNotAvailable
        )));
        assert!(!is_local_exhaustion(&io::Error::from(
            io::ErrorKind::ConnectionRefused
        )));
        assert!(!is_local_exhaustion(&io::Error::from(
            io::ErrorKind::HostUnreachable
        )));
    }

    #[test]
    fn concurrency_fits_the_limit() {
        let fitted = fit_concurrency(64);
        assert!((1..=64).contains(&fitted));
        assert_eq!(fit_concurrency(0), 1);
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let huge = fit_concurrency(10_000_000);
        assert!((huge as u64) < soft, "{huge} vs soft limit {soft}");
    }

    #[tokio::test]
    async fn refused_is_closed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(matches!(
            connect(addr, Duration::from_secs(5)).await,
            Outcome::Open(_)
        ));
        drop(listener);
        assert!(matches!(
            connect(addr, Duration::from_secs(5)).await,
            Outcome::Closed
        ));
    }
}
