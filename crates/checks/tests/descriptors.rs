//! The port scan when the process runs out of file descriptors. In a test binary of its own:
//! it lowers the process's open-files limit, which would disturb tests running beside it.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use s4e_checks::ports::{self, PortScanOptions};
use s4e_checks::{CheckContext, Target};
use s4e_egress::EgressPolicy;
use s4e_types::PortScope;
use tokio::net::TcpListener;

/// Every descriptor is taken by another thread when the scan starts, so its connects fail with
/// EMFILE until that thread lets go. The scan must wait and still report exactly the open
/// ports, never call a port closed because it could not open a socket.
#[tokio::test]
async fn running_out_of_descriptors_delays_ports_instead_of_closing_them() {
    rlimit::setrlimit(rlimit::Resource::NOFILE, 256, 256).expect("lower the limit");
    let ip: IpAddr = "127.0.0.3".parse().expect("ip");
    let mut listeners = Vec::new();
    for _ in 0..30 {
        listeners.push(TcpListener::bind((ip, 0)).await.expect("bind"));
    }
    let open: BTreeSet<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    let mut freed = BTreeSet::new();
    for _ in 0..30 {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        freed.insert(listener.local_addr().expect("addr").port());
    }

    let (full_tx, full_rx) = std::sync::mpsc::channel();
    let hog = std::thread::spawn(move || {
        let mut held = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(file) => held.push(file),
                Err(err) if err.raw_os_error() == Some(24) => break,
                Err(err) => panic!("unexpected error while taking descriptors: {err}"),
            }
        }
        full_tx.send(held.len()).expect("signal");
        // How long the machine stays out of descriptors, not a synchronisation.
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
    });
    let taken = full_rx.recv().expect("descriptors taken");
    assert!(taken > 0);

    let all: Vec<u16> = open.iter().chain(&freed).copied().collect();
    let context = CheckContext {
        egress: EgressPolicy::allowing_private(),
        ports: PortScanOptions {
            concurrency: 64,
            connect_timeout: Duration::from_secs(2),
            banner_timeout: Duration::from_secs(1),
            identify: false,
        },
        ..CheckContext::default()
    };
    let target = Target::with_ports("127.0.0.3", PortScope::List { ports: all });
    let output = ports::run(&target, &context).await.expect("scan");
    hog.join().expect("hog thread");
    let found: BTreeSet<u16> = output.raw.open.iter().map(|p| p.port).collect();
    assert_eq!(found, open);
    println!(
        "scanned in {} ms with {taken} descriptors taken",
        output.raw.elapsed_ms
    );
    drop(listeners);
}
